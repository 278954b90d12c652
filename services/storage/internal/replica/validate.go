package replica

import (
	"bytes"
	"encoding/json"
	"math"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/filter"
	"github.com/shoaldb/shoal/services/storage/internal/payloadindex"
	"github.com/shoaldb/shoal/services/storage/internal/wal"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// opKind is the kind of a prepared operation.
type opKind uint8

const (
	opUpsert opKind = iota
	opDelete
	opSetPayload
	opOverwritePayload
	opDeletePayload
	opClearPayload
	opUpdateVectors
	opDeleteVectors
	opCreateIndex
	opDeleteIndex
)

// prepared is an operation checked and converted ahead of the commit, in
// the caller's goroutine, so the single committer only resolves selectors
// and writes bytes.
type prepared struct {
	kind    opKind
	encoded []byte // the logged op (vectors already normalised)

	upserts []preparedPoint // opUpsert
	sel     *selector       // opDelete and the payload / vector ops

	// updateFilter (opUpsert, opUpdateVectors) limits the existing points
	// written to those matching it; mode (opUpsert) says whether new and
	// existing points are written. Both are judged at apply time.
	updateFilter *filter.Filter
	mode         shoalv1.UpdateMode

	payload map[string]any        // opSetPayload, opOverwritePayload (never mutated)
	key     *filter.Path          // opSetPayload, opOverwritePayload: nested target
	paths   []filter.Path         // opDeletePayload
	vectors []vectorUpdate        // opUpdateVectors
	names   []string              // opDeleteVectors; the name of opCreateVector, opDeleteVector
	vparams *shoalv1.VectorParams // opCreateVector

	field  filter.Path         // opCreateIndex, opDeleteIndex
	schema payloadindex.Schema // opCreateIndex

	// replicated marks an entry of a primary's log: its vectors are
	// already prepared (kept bit for bit) and it never fails on points
	// the replica lacks (see apply).
	replicated bool
}

// barrier reports whether p resolves a filter at apply time. The
// committer starts a new batch for it, so that the in-memory payload
// indexes it plans with match the state it is applied to.
func (p *prepared) barrier() bool {
	return (p.sel != nil && p.sel.filter != nil) || p.updateFilter != nil || p.vectorOp()
}

type preparedPoint struct {
	key string
	// record is the encoded Point without its version; the committer
	// appends the version field (protobuf allows a field after the others).
	record  []byte
	vectors map[string][]float32 // prepared, per vector name
	payload []byte
}

// vectorUpdate replaces some named vectors of an existing point.
type vectorUpdate struct {
	key     string
	id      *shoalv1.PointID
	vectors map[string][]float32 // prepared
}

// prepare validates op against the collection and returns it ready to
// commit. It never modifies op. An invalid op gives a *ValidationError and
// nothing else happens.
func (r *Replica) prepare(op *shoalv1.Operation) (*prepared, error) {
	return r.prepareOp(op, false)
}

// prepareOp is prepare; replicated prepares an entry of a primary's log
// (see prepared.replicated).
func (r *Replica) prepareOp(op *shoalv1.Operation, replicated bool) (*prepared, error) {
	logged := op
	p := &prepared{replicated: replicated}
	var err error
	switch k := op.GetKind().(type) {
	case *shoalv1.Operation_Upsert:
		p.kind = opUpsert
		if err := p.prepareCondition(k.Upsert.GetUpdateFilter(), k.Upsert.GetUpdateMode()); err != nil {
			return nil, err
		}
		points := make([]*shoalv1.Point, 0, len(k.Upsert.GetPoints()))
		for i, pt := range k.Upsert.GetPoints() {
			norm, pp, err := r.preparePoint(i, pt, replicated)
			if err != nil {
				return nil, err
			}
			points = append(points, norm)
			p.upserts = append(p.upserts, pp)
		}
		logged = &shoalv1.Operation{Kind: &shoalv1.Operation_Upsert{Upsert: &shoalv1.UpsertPoints{
			Points: points, UpdateFilter: k.Upsert.GetUpdateFilter(), UpdateMode: k.Upsert.GetUpdateMode(),
		}}}
	case *shoalv1.Operation_Delete:
		p.kind = opDelete
		p.sel, err = parseSelector(k.Delete.GetIds(), k.Delete.GetFilter(), true)
	case *shoalv1.Operation_SetPayload:
		p.kind = opSetPayload
		err = p.preparePayload(k.SetPayload)
	case *shoalv1.Operation_OverwritePayload:
		p.kind = opOverwritePayload
		err = p.preparePayload(k.OverwritePayload)
	case *shoalv1.Operation_DeletePayload:
		p.kind = opDeletePayload
		err = p.prepareDeletePayload(k.DeletePayload)
	case *shoalv1.Operation_ClearPayload:
		p.kind = opClearPayload
		p.sel, err = parseSelector(k.ClearPayload.GetIds(), k.ClearPayload.GetFilter(), false)
	case *shoalv1.Operation_UpdateVectors:
		p.kind = opUpdateVectors
		logged, err = r.prepareUpdateVectors(p, k.UpdateVectors)
	case *shoalv1.Operation_DeleteVectors:
		p.kind = opDeleteVectors
		err = r.prepareDeleteVectors(p, k.DeleteVectors)
	case *shoalv1.Operation_CreateFieldIndex:
		p.kind = opCreateIndex
		err = p.prepareCreateIndex(k.CreateFieldIndex)
	case *shoalv1.Operation_DeleteFieldIndex:
		p.kind = opDeleteIndex
		p.field, err = parseKeyPath(k.DeleteFieldIndex.GetField(), "field_name")
	case *shoalv1.Operation_CreateVectorName, *shoalv1.Operation_DeleteVectorName:
		err = prepareVectorName(p, op)
	default:
		return nil, invalidf("Wrong input: empty operation")
	}
	if err != nil {
		return nil, err
	}
	enc, err := wal.EncodeOp(logged)
	if err != nil {
		return nil, err
	}
	p.encoded = enc
	return p, nil
}

// preparePoint checks one point and returns the form to log (a new Point
// whose Cosine vectors are normalised copies) and the form to store.
func (r *Replica) preparePoint(i int, pt *shoalv1.Point, raw bool) (*shoalv1.Point, preparedPoint, error) {
	if pt == nil {
		return nil, preparedPoint{}, invalidf("Wrong input: point %d is empty", i)
	}
	key, err := keyOf(pt.GetId())
	if err != nil {
		return nil, preparedPoint{}, err
	}
	name := pointid.String(pt.GetId())
	// A single-vector collection needs the vector; named vectors may be
	// left out individually.
	if vs := r.vs(); !vs.cfg.GetNamed() && vs.spaces[""].params != nil {
		if _, ok := pt.GetVectors()[""]; !ok {
			return nil, preparedPoint{}, invalidf("Wrong input: point %s has no vector", name)
		}
	}
	vecs := make(map[string]*shoalv1.Vector, len(pt.GetVectors()))
	prepVecs := make(map[string][]float32, len(pt.GetVectors()))
	for vname, v := range pt.GetVectors() {
		data, err := r.prepareVector(name, vname, v.GetData(), raw)
		if err != nil {
			return nil, preparedPoint{}, err
		}
		vecs[vname] = &shoalv1.Vector{Data: data}
		prepVecs[vname] = data
	}
	payload := pt.GetPayload()
	if len(payload) > 0 && !isJSONObject(payload) {
		return nil, preparedPoint{}, invalidf("Wrong input: payload of point %s is not a JSON object", name)
	}
	norm := &shoalv1.Point{Id: pt.GetId(), Vectors: vecs, Payload: payload}
	rec, err := proto.MarshalOptions{Deterministic: true}.Marshal(norm)
	if err != nil {
		return nil, preparedPoint{}, invalidf("Wrong input: point %s: %v", name, err)
	}
	return norm, preparedPoint{key: key, record: rec, vectors: prepVecs, payload: payload}, nil
}

// prepareVector checks one named vector of a point and returns it ready
// to store (normalised for Cosine, as a copy). A raw vector (already
// prepared by the primary) is kept as it is.
func (r *Replica) prepareVector(point, vname string, data []float32, raw bool) ([]float32, error) {
	if raw {
		// Checked at apply time against the spaces of its log position
		// (fitsVectors): an earlier entry may create the name.
		return data, nil
	}
	sp, ok := r.vs().spaces[vname]
	if !ok {
		if vname == "" {
			return nil, invalidf("Wrong input: point %s: this collection has only named vectors", point)
		}
		return nil, invalidf("Wrong input: Not existing vector name error: %s", vname)
	}
	if uint64(len(data)) != sp.params.GetSize() {
		return nil, invalidf("Wrong input: Vector dimension error: expected dim: %d, got %d", sp.params.GetSize(), len(data))
	}
	if !finite(data) {
		return nil, invalidf("Wrong input: vector %q of point %s contains NaN or infinite values", vname, point)
	}
	return sp.metric.Prepare(data), nil
}

// withVersion appends the version field to an encoded Point.
func withVersion(record []byte, version uint64) []byte {
	out := make([]byte, 0, len(record)+11)
	out = append(out, record...)
	out = protowire.AppendTag(out, 4, protowire.VarintType)
	return protowire.AppendVarint(out, version)
}

// keyOf returns the storage key of a request's id, refusing an empty id
// or an unparsable UUID.
func keyOf(id *shoalv1.PointID) (string, error) {
	if id.GetKind() == nil {
		return "", invalidf("Wrong input: point id is missing")
	}
	k := pointid.Key(id)
	if k[0] != 0x00 && k[0] != 0x01 {
		return "", invalidf("Wrong input: unable to parse UUID: %s", pointid.String(id))
	}
	return string(k), nil
}

// checkWithVector refuses vector names the collection does not have.
func (r *Replica) checkWithVector(wv *shoalv1.WithVector) error {
	for _, n := range wv.GetNames() {
		if _, ok := r.vs().spaces[n]; !ok {
			return invalidf("Wrong input: Not existing vector name error: %s", n)
		}
	}
	return nil
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

func isJSONObject(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(b)
}
