// Package apikey checks the API keys of the public APIs (REST and gRPC
// alike): service.api_key allows everything, service.read_only_api_key
// allows the requests that only read. A key comes in the `api-key` header
// or as `Authorization: Bearer <key>`.
package apikey

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// Keys are the configured keys; with both empty every request passes.
type Keys struct {
	Full     string
	ReadOnly string
}

// Enabled reports whether any key is configured.
func (k Keys) Enabled() bool { return k.Full != "" || k.ReadOnly != "" }

// Check authorises a request carrying headers h; write says whether the
// request changes anything. It returns an Unauthorized error for a missing
// or wrong key and a Forbidden one for the read-only key on a write.
func (k Keys) Check(h http.Header, write bool) error {
	if !k.Enabled() {
		return nil
	}
	key := h.Get("api-key")
	if key == "" {
		if b, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok {
			key = strings.TrimSpace(b)
		}
	}
	equal := func(a, b string) bool { return b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	switch {
	case equal(key, k.Full):
		return nil
	case equal(key, k.ReadOnly):
		if write {
			return apierr.New(apierr.Forbidden, "Forbidden: read-only API key used for a write request")
		}
		return nil
	}
	return apierr.New(apierr.Unauthorized, "Must provide an API key or an Authorization bearer token")
}
