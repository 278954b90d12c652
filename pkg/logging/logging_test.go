package logging

import (
	"bytes"
	"encoding/json"
	"testing"

	"go.uber.org/zap"
)

func TestZapBridge(t *testing.T) {
	var buf bytes.Buffer
	log, err := New("meta", "info", &buf)
	if err != nil {
		t.Fatal(err)
	}
	z := Zap(log).With(zap.String("member", "m1"))
	z.Debug("hidden")
	z.Warn("raft", zap.Int("term", 3))
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("want one JSON line, got %q: %v", buf.String(), err)
	}
	if got["level"] != "warn" || got["message"] != "raft" || got["member"] != "m1" || got["term"] != float64(3) || got["service"] != "meta" {
		t.Fatalf("bridged entry = %v", got)
	}
	if _, err := New("x", "loud", nil); err == nil {
		t.Fatal("want an error for a bad level")
	}
}
