// Package openapi checks REST responses against Qdrant's OpenAPI document
// (the contract Shoal's router implements), so that drift from the
// contract fails the tests that exercise it.
package openapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// SpecFile is the contract's file name; it lives in shared/api next to
// the repository (<repo>/../shared/api).
const SpecFile = "qdrant-openapi-1.19.0.json"

// Validator checks responses against the document.
type Validator struct {
	router routers.Router
}

// FindSpec locates the OpenAPI document: $SHOAL_OPENAPI_SPEC if set, else
// <repo>/../shared/api/SpecFile, where <repo> is the nearest directory
// above the working directory that holds go.work.
func FindSpec() (string, error) {
	if p := os.Getenv("SHOAL_OPENAPI_SPEC"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("locate the OpenAPI document: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			p := filepath.Join(dir, "..", "shared", "api", SpecFile)
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("the OpenAPI contract is missing: expected %s next to the repository (%s): %w", filepath.Clean(p), dir, err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("locate the OpenAPI document: no go.work above the working directory")
		}
		dir = parent
	}
}

// Load reads the document at path.
func Load(path string) (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	// The document's server is http://localhost:6333; test clusters listen
	// on other ports, so match paths on any host.
	doc.Servers = nil
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", path, err)
	}
	return &Validator{router: r}, nil
}

// Check validates one response to req. Requests outside the document (an
// unknown path or method) are not checked. Every documented status must
// be declared by the operation and the body must match its schema.
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := v.router.FindRoute(req)
	if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("route %s %s: %w", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s → %d does not match the OpenAPI contract (%s %s): %w\nbody: %.2000s", req.Method, req.URL.Path, status, route.Method, route.Path, err, body)
	}
	return nil
}
