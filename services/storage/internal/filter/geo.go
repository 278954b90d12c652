package filter

import "math"

// GeoPoint is a location in degrees.
type GeoPoint struct {
	Lat, Lon float64
}

// earthRadius is the mean Earth radius in meters (IUGG), the one Qdrant's
// haversine distance uses.
const earthRadius = 6371008.8

// Haversine returns the great-circle distance between a and b in meters.
func Haversine(a, b GeoPoint) float64 {
	rad := math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	s := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(s)))
}

// GeoRadius matches locations strictly closer than Radius meters to
// Center.
type GeoRadius struct {
	Center GeoPoint
	Radius float64
}

// Contains reports whether p is inside the circle.
func (g *GeoRadius) Contains(p GeoPoint) bool {
	return Haversine(g.Center, p) < g.Radius
}

// BoundingBox returns a box that contains the circle (used to narrow
// index lookups), whole longitudes when the circle reaches a pole.
func (g *GeoRadius) BoundingBox() GeoBoundingBox {
	// A small margin keeps points on the circle's edge inside the box
	// despite rounding.
	dLat := g.Radius/earthRadius*180/math.Pi*(1+1e-9) + 1e-9
	top, bottom := g.Center.Lat+dLat, g.Center.Lat-dLat
	if top >= 90 || bottom <= -90 {
		return GeoBoundingBox{TopLeft: GeoPoint{Lat: math.Min(top, 90), Lon: -180}, BottomRight: GeoPoint{Lat: math.Max(bottom, -90), Lon: 180}}
	}
	// The widest longitude span of the circle is at the latitude nearest
	// the pole; use that latitude's circumference.
	maxLat := math.Max(math.Abs(top), math.Abs(bottom)) * math.Pi / 180
	dLon := g.Radius/(earthRadius*math.Cos(maxLat))*180/math.Pi*(1+1e-9) + 1e-9
	if dLon >= 180 {
		return GeoBoundingBox{TopLeft: GeoPoint{Lat: top, Lon: -180}, BottomRight: GeoPoint{Lat: bottom, Lon: 180}}
	}
	left, right := g.Center.Lon-dLon, g.Center.Lon+dLon
	if left < -180 {
		left += 360
	}
	if right > 180 {
		right -= 360
	}
	return GeoBoundingBox{TopLeft: GeoPoint{Lat: top, Lon: left}, BottomRight: GeoPoint{Lat: bottom, Lon: right}}
}

// GeoBoundingBox matches locations inside a rectangle given by its
// top-left and bottom-right corners, edges included. A box whose left
// longitude is greater than its right one crosses the antimeridian.
type GeoBoundingBox struct {
	TopLeft, BottomRight GeoPoint
}

// Contains reports whether p is inside the box.
func (g *GeoBoundingBox) Contains(p GeoPoint) bool {
	if p.Lat > g.TopLeft.Lat || p.Lat < g.BottomRight.Lat {
		return false
	}
	if g.TopLeft.Lon <= g.BottomRight.Lon {
		return p.Lon >= g.TopLeft.Lon && p.Lon <= g.BottomRight.Lon
	}
	return p.Lon >= g.TopLeft.Lon || p.Lon <= g.BottomRight.Lon
}

// GeoPolygon matches locations inside or on the boundary of Exterior and
// not strictly inside any of Interiors. Rings are closed (first point ==
// last point) and coordinates are treated as planar (lon, lat).
type GeoPolygon struct {
	Exterior  []GeoPoint
	Interiors [][]GeoPoint
}

// Contains reports whether p is in the polygon.
func (g *GeoPolygon) Contains(p GeoPoint) bool {
	if !onRing(g.Exterior, p) && !insideRing(g.Exterior, p) {
		return false
	}
	for _, hole := range g.Interiors {
		if !onRing(hole, p) && insideRing(hole, p) {
			return false
		}
	}
	return true
}

// BoundingBox returns the box around the exterior ring.
func (g *GeoPolygon) BoundingBox() GeoBoundingBox {
	b := GeoBoundingBox{TopLeft: GeoPoint{Lat: -90, Lon: 180}, BottomRight: GeoPoint{Lat: 90, Lon: -180}}
	for _, q := range g.Exterior {
		b.TopLeft.Lat = math.Max(b.TopLeft.Lat, q.Lat)
		b.BottomRight.Lat = math.Min(b.BottomRight.Lat, q.Lat)
		b.TopLeft.Lon = math.Min(b.TopLeft.Lon, q.Lon)
		b.BottomRight.Lon = math.Max(b.BottomRight.Lon, q.Lon)
	}
	return b
}

// insideRing is the even-odd ray casting test (boundary undefined).
func insideRing(ring []GeoPoint, p GeoPoint) bool {
	in := false
	for i, j := 0, len(ring)-1; i < len(ring); j, i = i, i+1 {
		a, b := ring[i], ring[j]
		if (a.Lat > p.Lat) != (b.Lat > p.Lat) {
			x := a.Lon + (p.Lat-a.Lat)*(b.Lon-a.Lon)/(b.Lat-a.Lat)
			if p.Lon < x {
				in = !in
			}
		}
	}
	return in
}

// onRing reports whether p lies on one of the ring's edges.
func onRing(ring []GeoPoint, p GeoPoint) bool {
	const eps = 1e-12
	for i := 1; i < len(ring); i++ {
		a, b := ring[i-1], ring[i]
		cross := (b.Lon-a.Lon)*(p.Lat-a.Lat) - (b.Lat-a.Lat)*(p.Lon-a.Lon)
		if math.Abs(cross) > eps {
			continue
		}
		if p.Lon >= math.Min(a.Lon, b.Lon)-eps && p.Lon <= math.Max(a.Lon, b.Lon)+eps &&
			p.Lat >= math.Min(a.Lat, b.Lat)-eps && p.Lat <= math.Max(a.Lat, b.Lat)+eps {
			return true
		}
	}
	return false
}
