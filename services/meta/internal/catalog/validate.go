package catalog

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// Limits on what a collection may ask for.
const (
	// MaxNameBytes is the longest collection name, as in Qdrant.
	MaxNameBytes = 255
	// MaxVectorSize is the largest vector dimension, as in Qdrant.
	MaxVectorSize = 65536
	// MaxShards bounds shard_number.
	MaxShards = 10000
	// MaxReplicas bounds shard_number × placed replicas per shard, so that
	// a shard map stays far below etcd's 1.5 MiB request limit.
	MaxReplicas = 20000
)

// Defaults are the values used for what a create request leaves at 0
// (storage.collection.* in the configuration).
type Defaults struct {
	ReplicationFactor      uint32
	WriteConsistencyFactor uint32
	// TransferLimits bound the transfers in flight per storage node: a
	// replicate_shard or move_shard beyond them is queued.
	TransferLimits cluster.TransferLimits
}

// ValidateName checks a collection name: 1 to 255 bytes, no '/', no
// control characters, and neither "." nor "..", since names become parts
// of etcd keys and of storage nodes' file names.
func ValidateName(name string) error {
	f := func(msg string, args ...any) error {
		return fmt.Errorf("Validation error in path parameters: [name: %s]", fmt.Sprintf(msg, args...))
	}
	switch {
	case name == "":
		return f("collection name must not be empty")
	case len(name) > MaxNameBytes:
		return f("collection name must be at most %d bytes long, got %d", MaxNameBytes, len(name))
	case name == "." || name == "..":
		return f("collection name cannot be %q", name)
	case strings.Contains(name, "/"):
		return f("collection name cannot contain \"/\" char")
	case !utf8.ValidString(name):
		return f("collection name must be valid UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return f("collection name cannot contain control characters")
		}
	}
	return nil
}

// ValidateConfig checks the parts of a collection configuration that do
// not depend on the cluster: at least one vector, each with a size in
// 1..65536 and a known distance; an unnamed configuration has exactly one
// vector under the name ""; shard_number at most MaxShards. Zero
// shard_number, replication_factor and write_consistency_factor are left
// for applyDefaults.
func ValidateConfig(c *shoalv1.CollectionConfig) error {
	f := func(field, msg string, args ...any) error {
		return fmt.Errorf("Validation error in JSON body: [%s: %s]", field, fmt.Sprintf(msg, args...))
	}
	if c == nil || len(c.Vectors) == 0 {
		return f("vectors", "at least one vector must be configured")
	}
	if !c.Named {
		if _, ok := c.Vectors[""]; !ok || len(c.Vectors) != 1 {
			return f("vectors", "an unnamed vector configuration holds exactly one vector")
		}
	}
	names := make([]string, 0, len(c.Vectors))
	for name := range c.Vectors {
		names = append(names, name)
	}
	sort.Strings(names) // report the same error for the same request
	for _, name := range names {
		p := c.Vectors[name]
		field := "vectors"
		if c.Named {
			field = "vectors." + name
		}
		if p == nil {
			return f(field, "vector parameters are missing")
		}
		if p.Size < 1 || p.Size > MaxVectorSize {
			return f(field+".size", "value %d invalid, must be from 1 to %d", p.Size, MaxVectorSize)
		}
		if _, known := shoalv1.Distance_name[int32(p.Distance)]; !known || p.Distance == shoalv1.Distance_DISTANCE_UNSPECIFIED {
			return f(field+".distance", "must be one of Cosine, Euclid, Dot, Manhattan")
		}
	}
	if c.ShardNumber > MaxShards {
		return f("shard_number", "value %d invalid, must be from 1 to %d", c.ShardNumber, MaxShards)
	}
	return nil
}

// applyDefaults fills replication_factor and write_consistency_factor
// left at 0 and checks that the write consistency factor does not exceed
// the replication factor. An unset write_consistency_factor is the
// configured default capped at the replication factor, so that asking
// only for fewer replicas than the default consistency never fails.
// shard_number is left alone: its default depends on the cluster.
func applyDefaults(c *shoalv1.CollectionConfig, d Defaults) error {
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = max(d.ReplicationFactor, 1)
	}
	if c.WriteConsistencyFactor == 0 {
		c.WriteConsistencyFactor = min(max(d.WriteConsistencyFactor, 1), c.ReplicationFactor)
	}
	if c.WriteConsistencyFactor > c.ReplicationFactor {
		return fmt.Errorf("Wrong input: write_consistency_factor (%d) must not be greater than replication_factor (%d)", c.WriteConsistencyFactor, c.ReplicationFactor)
	}
	return nil
}
