package payloadindex

import (
	"math"

	"github.com/shoaldb/shoal/services/storage/internal/filter"
)

// geoLevels are the grid cell sizes in degrees, coarse to fine. Every
// location is in one cell per level; a query covers its bounding box with
// the finest level that needs at most maxCells cells.
var geoLevels = []float64{10, 1, 0.1}

const maxCells = 1024

type cell struct {
	level    int
	lat, lon int32
}

// geoIndex holds geo points in grids of several resolutions.
type geoIndex struct {
	forward map[string][]filter.GeoPoint
	cells   map[cell]map[string]struct{}
}

func newGeo() *geoIndex {
	return &geoIndex{forward: map[string][]filter.GeoPoint{}, cells: map[cell]map[string]struct{}{}}
}

func cellOf(level int, p filter.GeoPoint) cell {
	size := geoLevels[level]
	return cell{level: level, lat: gridIndex(p.Lat+90, size, 180), lon: gridIndex(p.Lon+180, size, 360)}
}

// gridIndex maps x in [0, span] to a cell number, clamping out-of-range
// coordinates (payloads are not validated) to the edge cells.
func gridIndex(x, size, span float64) int32 {
	n := int32(math.Ceil(span/size)) - 1
	i := int32(math.Floor(x / size))
	if math.IsNaN(x) || i < 0 {
		return 0
	}
	return min(i, n)
}

func (g *geoIndex) set(key string, leaves []any) {
	var pts []filter.GeoPoint
	for _, l := range leaves {
		if p, ok := filter.AsGeo(l); ok && !containsValue(pts, p) {
			pts = append(pts, p)
		}
	}
	if old, ok := g.forward[key]; ok && sameValues(old, pts) {
		return
	}
	g.remove(key)
	if len(pts) == 0 {
		return
	}
	g.forward[key] = pts
	for _, p := range pts {
		for level := range geoLevels {
			c := cellOf(level, p)
			set := g.cells[c]
			if set == nil {
				set = map[string]struct{}{}
				g.cells[c] = set
			}
			set[key] = struct{}{}
		}
	}
}

func (g *geoIndex) remove(key string) {
	for _, p := range g.forward[key] {
		for level := range geoLevels {
			c := cellOf(level, p)
			if set := g.cells[c]; set != nil {
				delete(set, key)
				if len(set) == 0 {
					delete(g.cells, c)
				}
			}
		}
	}
	delete(g.forward, key)
}

func (g *geoIndex) count() int { return len(g.forward) }

// cover returns the cells covering box at the finest level with at most
// maxCells cells (the coarsest level otherwise).
func (g *geoIndex) cover(box filter.GeoBoundingBox) []cell {
	// A box crossing the antimeridian is two longitude ranges.
	lonRanges := [][2]float64{{box.TopLeft.Lon, box.BottomRight.Lon}}
	if box.TopLeft.Lon > box.BottomRight.Lon {
		lonRanges = [][2]float64{{box.TopLeft.Lon, 180}, {-180, box.BottomRight.Lon}}
	}
	for level := len(geoLevels) - 1; level >= 0; level-- {
		size := geoLevels[level]
		latLo, latHi := gridIndex(box.BottomRight.Lat+90, size, 180), gridIndex(box.TopLeft.Lat+90, size, 180)
		if box.BottomRight.Lat > box.TopLeft.Lat {
			return nil // an empty box (a negative radius)
		}
		total := 0
		for _, r := range lonRanges {
			total += int(latHi-latLo+1) * int(gridIndex(r[1]+180, size, 360)-gridIndex(r[0]+180, size, 360)+1)
		}
		if total > maxCells && level > 0 {
			continue
		}
		out := make([]cell, 0, total)
		for _, r := range lonRanges {
			lonLo, lonHi := gridIndex(r[0]+180, size, 360), gridIndex(r[1]+180, size, 360)
			for la := latLo; la <= latHi; la++ {
				for lo := lonLo; lo <= lonHi; lo++ {
					out = append(out, cell{level: level, lat: la, lon: lo})
				}
			}
		}
		return out
	}
	return nil
}

// box returns the bounding box of fc's single geo test.
func geoBox(fc *filter.FieldCondition) (filter.GeoBoundingBox, func(filter.GeoPoint) bool, bool) {
	switch {
	case fc.GeoRadius != nil:
		return fc.GeoRadius.BoundingBox(), fc.GeoRadius.Contains, true
	case fc.GeoBoundingBox != nil:
		return *fc.GeoBoundingBox, fc.GeoBoundingBox.Contains, true
	case fc.GeoPolygon != nil:
		return fc.GeoPolygon.BoundingBox(), fc.GeoPolygon.Contains, true
	}
	return filter.GeoBoundingBox{}, nil, false
}

func (g *geoIndex) estimate(box filter.GeoBoundingBox) int {
	n := 0
	for _, c := range g.cover(box) {
		n += len(g.cells[c])
	}
	return n
}

func (g *geoIndex) keys(box filter.GeoBoundingBox) []string {
	seen := map[string]struct{}{}
	var out []string
	for _, c := range g.cover(box) {
		for k := range g.cells[c] {
			if _, dup := seen[k]; !dup {
				seen[k] = struct{}{}
				out = append(out, k)
			}
		}
	}
	return out
}

func (g *geoIndex) checker(contains func(filter.GeoPoint) bool) func(string) bool {
	return func(key string) bool {
		for _, p := range g.forward[key] {
			if contains(p) {
				return true
			}
		}
		return false
	}
}
