package apikey

import (
	"net/http"
	"testing"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

func TestCheck(t *testing.T) {
	f := func(k Keys, header, value string, write bool, want apierr.Kind, ok bool) {
		t.Helper()
		h := http.Header{}
		if header != "" {
			h.Set(header, value)
		}
		err := k.Check(h, write)
		if ok != (err == nil) || (!ok && apierr.KindOf(err) != want) {
			t.Errorf("%+v %s=%q write=%v: got %v", k, header, value, write, err)
		}
	}
	both := Keys{Full: "full", ReadOnly: "ro"}
	f(Keys{}, "", "", true, 0, true)
	f(both, "api-key", "full", true, 0, true)
	f(both, "Authorization", "Bearer full", true, 0, true)
	f(both, "api-key", "ro", false, 0, true)
	f(both, "api-key", "ro", true, apierr.Forbidden, false)
	f(both, "api-key", "wrong", false, apierr.Unauthorized, false)
	f(both, "", "", false, apierr.Unauthorized, false)
	f(Keys{ReadOnly: "ro"}, "api-key", "", false, apierr.Unauthorized, false)
}
