package rest

import (
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"google.golang.org/protobuf/proto"
)

func TestDecodeVectorNameConfig(t *testing.T) {
	f := func(body string, want *shoalv1.VectorParams, kind apierr.Kind) {
		t.Helper()
		got, err := decodeVectorNameConfig([]byte(body))
		if want != nil {
			if err != nil || !proto.Equal(got, want) {
				t.Fatalf("%s: %v %v, want %v", body, got, err, want)
			}
			return
		}
		if err == nil || apierr.KindOf(err) != kind {
			t.Fatalf("%s: %v %v, want a %v error", body, got, err, kind)
		}
	}
	f(`{"dense":{"size":3,"distance":"Cosine"}}`, &shoalv1.VectorParams{Size: 3, Distance: shoalv1.Distance_DISTANCE_COSINE}, 0)
	f(`{"dense":{"size":65536,"distance":"Manhattan","datatype":"float32","multivector_config":null}}`, &shoalv1.VectorParams{Size: 65536, Distance: shoalv1.Distance_DISTANCE_MANHATTAN}, 0)
	f(`{"dense":{"size":0,"distance":"Dot"}}`, nil, apierr.Validation)
	f(`{"dense":{"size":65537,"distance":"Dot"}}`, nil, apierr.Validation)
	f(`{"dense":{"size":3}}`, nil, apierr.BadRequest)
	f(`{"dense":{"distance":"Dot"}}`, nil, apierr.BadRequest)
	f(`{"dense":{"size":3,"distance":"Hamming"}}`, nil, apierr.BadRequest)
	f(`{"dense":{"size":3,"distance":"Dot","datatype":"uint8"}}`, nil, apierr.BadRequest)
	f(`{"dense":{"size":3,"distance":"Dot","multivector_config":{"comparator":"max_sim"}}}`, nil, apierr.BadRequest)
	f(`{"dense":{"size":3,"distance":"Dot","on_disk":true}}`, nil, apierr.BadRequest)
	f(`{"sparse":{"modifier":"idf"}}`, nil, apierr.BadRequest)
	f(`{}`, nil, apierr.BadRequest)
	f(``, nil, apierr.BadRequest)
	f(`[1]`, nil, apierr.BadRequest)
}

func TestDecodeQuotaConfig(t *testing.T) {
	f := func(body, want string, kind apierr.Kind) {
		t.Helper()
		got, err := decodeQuotaConfig([]byte(body))
		if want != "" {
			if err != nil || string(got) != want {
				t.Fatalf("%s: %s %v, want %s", body, got, err, want)
			}
			return
		}
		if err == nil || apierr.KindOf(err) != kind {
			t.Fatalf("%s: %s %v, want a %v error", body, got, err, kind)
		}
	}
	f(`{}`, `{}`, 0)
	f(``, `{}`, 0)
	f(`{"enabled":true,"max_resident_memory_percent":100,"max_disk_usage_percent":1,"release_margin_percent":0}`,
		`{"enabled":true,"max_disk_usage_percent":1,"max_resident_memory_percent":100,"release_margin_percent":0}`, 0)
	f(`{"enabled":null,"max_disk_usage_percent":null}`, `{}`, 0)
	f(`{"max_disk_usage_percent":0}`, "", apierr.Validation)
	f(`{"max_resident_memory_percent":101}`, "", apierr.Validation)
	f(`{"release_margin_percent":-1}`, "", apierr.BadRequest)
	f(`{"max_disk_usage_percent":1000}`, "", apierr.BadRequest)
	f(`{"enabled":"yes"}`, "", apierr.BadRequest)
	f(`{"max_cpu":1}`, "", apierr.BadRequest)
}
