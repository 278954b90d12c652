package rest

import (
	"encoding/json"
	"net/http"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// createVectorName serves PUT /collections/{name}/vectors/{vector_name}
// (create_vector_name): the body is VectorNameConfig, {"dense": {size,
// distance, multivector_config, datatype}} or {"sparse": {...}}.
func (s *Server) createVectorName(r *http.Request, body []byte, wait bool) (service.UpdateResult, error) {
	params, err := decodeVectorNameConfig(body)
	if err != nil {
		return service.UpdateResult{}, err
	}
	return s.svc.CreateVectorName(r.Context(), r.PathValue("name"), r.PathValue("vector"), params, wait)
}

// deleteVectorName serves DELETE /collections/{name}/vectors/{vector_name}
// (delete_vector_name).
func (s *Server) deleteVectorName(r *http.Request, _ []byte, wait bool) (service.UpdateResult, error) {
	return s.svc.DeleteVectorName(r.Context(), r.PathValue("name"), r.PathValue("vector"), wait)
}

// decodeVectorNameConfig decodes VectorNameConfig. Sparse vectors and
// multivectors are refused (not supported yet), as is a datatype other
// than float32 (vectors are stored as float32).
func decodeVectorNameConfig(body []byte) (*shoalv1.VectorParams, error) {
	f, err := object(body, false, "dense", "sparse")
	if err != nil {
		return nil, err
	}
	if f.present("sparse") {
		return nil, apierr.Unsupported("sparse vectors")
	}
	if !f.present("dense") {
		return nil, apierr.Format("data did not match any variant of untagged enum VectorNameConfig: expected `dense` or `sparse`")
	}
	df, err := members(f["dense"], "dense", "size", "distance", "multivector_config", "datatype")
	if err != nil {
		return nil, err
	}
	if df.present("multivector_config") {
		return nil, apierr.Unsupported("multivectors")
	}
	if df.present("datatype") {
		var dt string
		if err := json.Unmarshal(df["datatype"], &dt); err != nil {
			return nil, apierr.Format("dense.datatype: invalid type: %s, expected a string", kindOf(df["datatype"]))
		}
		switch dt {
		case "float32":
		case "float16", "uint8", "turbo4":
			return nil, apierr.Unsupported("datatype " + dt)
		default:
			return nil, apierr.Format("dense.datatype: unknown variant `%s`, expected one of `float32`, `float16`, `uint8`, `turbo4`", dt)
		}
	}
	sd := fields{}
	for _, k := range []string{"size", "distance"} {
		if v, ok := df[k]; ok {
			sd[k] = v
		}
	}
	p, err := vectorParams(sd, "dense")
	if err != nil {
		return nil, err
	}
	if p.Size < 1 || p.Size > 65536 {
		return nil, apierr.Invalid("dense.size", "value %d invalid, must be from 1 to 65536", p.Size)
	}
	return &shoalv1.VectorParams{Size: p.Size, Distance: p.Distance}, nil
}
