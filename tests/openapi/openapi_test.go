package openapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	path, err := FindSpec()
	if err != nil {
		t.Fatal(err)
	}
	v, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	jsonHeader := http.Header{"Content-Type": []string{"application/json"}}
	f := func(method, url string, status int, body, wantErr string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://127.0.0.1:41234"+url, nil)
		err := v.Check(req, status, jsonHeader, []byte(body))
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s %s %d %s: %v", method, url, status, body, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%s %s %d %s: error %v, want %q", method, url, status, body, err, wantErr)
		}
	}
	f("GET", "/collections", 200, `{"result":{"collections":[{"name":"a"}]},"status":"ok","time":0.1}`, "")
	f("GET", "/collections", 200, `{"result":{"collections":[{"nom":"a"}]},"status":"ok","time":0.1}`, "does not match the OpenAPI contract")
	f("GET", "/collections", 200, `{"result":{"collections":"a"},"status":"ok","time":0.1}`, "does not match")
	f("POST", "/collections/c/points/count", 200, `{"result":{"count":-1},"status":"ok","time":0}`, "does not match")
	f("POST", "/collections/c/points/count", 404, `{"status":{"error":"Not found"},"time":0.1,"result":null}`, "")
	f("POST", "/collections/c/points/count", 404, `{"status":"not found"}`, "does not match")
	f("GET", "/collections/c/points/1", 200, `{"result":{"id":1,"payload":{},"vector":[1,2]},"status":"ok","time":0}`, "")
	f("GET", "/collections/c/points/1", 200, `{"result":{"id":-1,"payload":{},"vector":[1,2]},"status":"ok","time":0}`, "does not match")
	f("GET", "/not/in/the/contract", 404, `whatever`, "")
}
