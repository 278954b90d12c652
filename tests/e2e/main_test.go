package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/shoaldb/shoal/tests/harness"
	"github.com/shoaldb/shoal/tests/openapi"
)

// TestMain checks every REST response the tests receive from the router
// against Qdrant's OpenAPI document: a response that drifts from the
// contract fails the test that received it.
func TestMain(m *testing.M) {
	path, err := openapi.FindSpec()
	if err == nil {
		var v *openapi.Validator
		if v, err = openapi.Load(path); err == nil {
			harness.CheckResponse = v.Check
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot check responses against the OpenAPI contract:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
