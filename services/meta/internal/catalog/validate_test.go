package catalog

import (
	"strings"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

func TestValidateName(t *testing.T) {
	f := func(name, wantErr string) {
		t.Helper()
		err := ValidateName(name)
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("ValidateName(%q) = %v, want an error containing %q", name, err, wantErr)
		}
	}
	f("test_collection", "")
	f("Ünïcode-名前.v2", "")
	f("..a", "")
	f(strings.Repeat("a", 255), "")
	f("", "must not be empty")
	f(strings.Repeat("a", 256), "at most 255 bytes")
	f(strings.Repeat("é", 128), "at most 255 bytes") // 256 bytes
	f(".", `cannot be "."`)
	f("..", `cannot be ".."`)
	f("a/b", `cannot contain "/" char`)
	f("/", `cannot contain "/" char`)
	f("tab\there", "control characters")
	f("nul\x00", "control characters")
	f("del\x7f", "control characters")
	f("bad\xffutf8", "valid UTF-8")
	if err := ValidateName("a/b"); !strings.HasPrefix(err.Error(), "Validation error in path parameters: [name: ") {
		t.Errorf("error %q does not read like Qdrant's validation errors", err)
	}
}

func vec(size uint64, d shoalv1.Distance) *shoalv1.VectorParams {
	return &shoalv1.VectorParams{Size: size, Distance: d}
}

func unnamed(size uint64) *shoalv1.CollectionConfig {
	return &shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"": vec(size, shoalv1.Distance_DISTANCE_COSINE)}}
}

func TestValidateConfig(t *testing.T) {
	f := func(c *shoalv1.CollectionConfig, wantErr string) {
		t.Helper()
		err := ValidateConfig(c)
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("ValidateConfig(%v) = %v, want nil", c, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("ValidateConfig(%v) = %v, want an error containing %q", c, err, wantErr)
		}
	}
	cos, dot := shoalv1.Distance_DISTANCE_COSINE, shoalv1.Distance_DISTANCE_DOT
	f(unnamed(4), "")
	f(unnamed(1), "")
	f(unnamed(65536), "")
	f(&shoalv1.CollectionConfig{Named: true, Vectors: map[string]*shoalv1.VectorParams{"image": vec(512, dot), "text": vec(384, cos)}}, "")
	f(nil, "[vectors: at least one vector must be configured]")
	f(&shoalv1.CollectionConfig{}, "[vectors: at least one vector must be configured]")
	f(&shoalv1.CollectionConfig{Named: true}, "at least one vector")
	f(unnamed(0), "Validation error in JSON body: [vectors.size: value 0 invalid, must be from 1 to 65536]")
	f(unnamed(65537), "[vectors.size: value 65537 invalid, must be from 1 to 65536]")
	f(&shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"": vec(4, shoalv1.Distance_DISTANCE_UNSPECIFIED)}}, "[vectors.distance: must be one of")
	f(&shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"": vec(4, shoalv1.Distance(42))}}, "[vectors.distance: must be one of")
	f(&shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"": nil}}, "vector parameters are missing")
	f(&shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"a": vec(4, cos)}}, "exactly one vector")
	f(&shoalv1.CollectionConfig{Vectors: map[string]*shoalv1.VectorParams{"": vec(4, cos), "a": vec(4, cos)}}, "exactly one vector")
	f(&shoalv1.CollectionConfig{Named: true, Vectors: map[string]*shoalv1.VectorParams{"a": vec(4, cos), "b": vec(0, cos)}}, "[vectors.b.size: value 0 invalid")
	tooMany := unnamed(4)
	tooMany.ShardNumber = MaxShards + 1
	f(tooMany, "[shard_number: value 10001 invalid")
}

func TestApplyDefaults(t *testing.T) {
	f := func(rf, wcf uint32, d Defaults, wantRF, wantWCF uint32, wantErr string) {
		t.Helper()
		c := unnamed(4)
		c.ReplicationFactor, c.WriteConsistencyFactor = rf, wcf
		err := applyDefaults(c, d)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("applyDefaults(rf=%d, wcf=%d, %+v) = %v, want an error containing %q", rf, wcf, d, err, wantErr)
			}
			return
		}
		if err != nil || c.ReplicationFactor != wantRF || c.WriteConsistencyFactor != wantWCF {
			t.Errorf("applyDefaults(rf=%d, wcf=%d, %+v) = rf %d wcf %d err %v, want rf %d wcf %d", rf, wcf, d, c.ReplicationFactor, c.WriteConsistencyFactor, err, wantRF, wantWCF)
		}
	}
	f(0, 0, Defaults{ReplicationFactor: 1, WriteConsistencyFactor: 1}, 1, 1, "")
	f(0, 0, Defaults{ReplicationFactor: 3, WriteConsistencyFactor: 2}, 3, 2, "")
	f(2, 0, Defaults{ReplicationFactor: 3, WriteConsistencyFactor: 3}, 2, 2, "") // default wcf capped at the asked rf
	f(1, 0, Defaults{ReplicationFactor: 3, WriteConsistencyFactor: 2}, 1, 1, "") // same
	f(3, 3, Defaults{ReplicationFactor: 1, WriteConsistencyFactor: 1}, 3, 3, "") // explicit values win
	f(0, 2, Defaults{ReplicationFactor: 3, WriteConsistencyFactor: 1}, 3, 2, "") // default rf, explicit wcf
	f(0, 0, Defaults{ReplicationFactor: 0, WriteConsistencyFactor: 0}, 1, 1, "") // zero defaults still give valid values
	f(2, 3, Defaults{ReplicationFactor: 1, WriteConsistencyFactor: 1}, 0, 0, "Wrong input: write_consistency_factor (3) must not be greater than replication_factor (2)")
	f(0, 2, Defaults{ReplicationFactor: 1, WriteConsistencyFactor: 1}, 0, 0, "write_consistency_factor (2) must not be greater than replication_factor (1)")
}
