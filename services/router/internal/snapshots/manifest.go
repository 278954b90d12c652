// Package snapshots is the router's side of collection and full
// snapshots (docs/DESIGN.md §13): their manifests, the records kept in
// etcd, and the deterministic tar files clients download and upload.
//
// A collection snapshot is one shard snapshot file per shard, kept by the
// storage node that was the shard's primary when it was taken, plus a
// manifest (the collection config, the shard list with each file's node,
// size and sha256). The downloadable file is a tar: manifest.json, then
// shards/<id>.snapshot in shard order; every header has fixed mode, owner
// and mtime, so the same snapshot always streams the same bytes, and its
// size and sha256 (computed once, at creation, by streaming it) are the
// ones the list reports. A full snapshot is a tar of collection snapshots:
// manifest.json, then <collection>.snapshot per collection by name.
package snapshots

import (
	"encoding/json"
	"fmt"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// FormatVersion is the manifest format this package writes and reads.
const FormatVersion = 1

// Shard is one shard file of a collection snapshot.
type Shard struct {
	ID uint32 `json:"id"`
	// Node holds File (the storage snapshot file name).
	Node     uint64 `json:"node"`
	File     string `json:"file"`
	Size     uint64 `json:"size"`
	Checksum string `json:"checksum"`
	// Term and Seq are the replica position the file holds.
	Term uint64 `json:"term"`
	Seq  uint64 `json:"seq"`
	// Offset is where the file starts in a tar ReadCollection read (not
	// part of the manifest).
	Offset int64 `json:"-"`
}

// Manifest is a collection snapshot's manifest.json.
type Manifest struct {
	Format     int       `json:"format"`
	Name       string    `json:"name"`
	Collection string    `json:"collection"`
	Created    time.Time `json:"created"`
	// Config is the collection's shoal.v1.CollectionConfig in protojson.
	Config json.RawMessage `json:"config"`
	Shards []Shard         `json:"shards"`
}

// SetConfig stores cfg in the manifest.
func (m *Manifest) SetConfig(cfg *shoalv1.CollectionConfig) error {
	raw, err := protojson.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode collection config: %w", err)
	}
	m.Config = raw
	return nil
}

// CollectionConfig decodes the manifest's collection config.
func (m *Manifest) CollectionConfig() (*shoalv1.CollectionConfig, error) {
	cfg := &shoalv1.CollectionConfig{}
	if err := protojson.Unmarshal(m.Config, cfg); err != nil {
		return nil, fmt.Errorf("%w: collection config: %v", ErrBadFile, err)
	}
	return cfg, nil
}

// Validate checks what a reader relies on: the format, a collection,
// and shards with distinct ids, in increasing order.
func (m *Manifest) Validate() error {
	if m.Format != FormatVersion {
		return fmt.Errorf("%w: manifest format %d, expected %d", ErrBadFile, m.Format, FormatVersion)
	}
	if m.Collection == "" || len(m.Config) == 0 {
		return fmt.Errorf("%w: manifest without collection or config", ErrBadFile)
	}
	for i, s := range m.Shards {
		if i > 0 && s.ID <= m.Shards[i-1].ID {
			return fmt.Errorf("%w: manifest shards out of order", ErrBadFile)
		}
		if len(s.Checksum) != 64 {
			return fmt.Errorf("%w: shard %d has no sha256", ErrBadFile, s.ID)
		}
	}
	return nil
}

// Description is what the API reports of a snapshot (Qdrant's
// SnapshotDescription).
type Description struct {
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`
	Size     uint64    `json:"size"`
	Checksum string    `json:"checksum"`
}

// CollectionRecord is a collection snapshot's etcd record: its manifest
// and the size and sha256 of its tar.
type CollectionRecord struct {
	Description
	Manifest Manifest `json:"manifest"`
	// Full names the full snapshot this one was taken for; such records
	// are part of it and not listed, downloaded or deleted on their own.
	Full string `json:"full,omitempty"`
}

// FullEntry is one collection snapshot inside a full snapshot.
type FullEntry struct {
	Collection string `json:"collection"`
	// Snapshot names the collection snapshot (its own record).
	Snapshot string `json:"snapshot"`
	Size     uint64 `json:"size"`
	Checksum string `json:"checksum"`
}

// FullManifest is a full snapshot's manifest.json.
type FullManifest struct {
	Format      int         `json:"format"`
	Name        string      `json:"name"`
	Created     time.Time   `json:"created"`
	Collections []FullEntry `json:"collections"`
}

// FullRecord is a full snapshot's etcd record.
type FullRecord struct {
	Description
	Manifest FullManifest `json:"manifest"`
}
