package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Replica files live at <storage_path>/collections/<collection>/<uid>/shard-<id>.db.
// The uid level keeps a collection that was deleted and created again
// under the same name apart from the old one's data.
const collectionsDir = "collections"

// shardKey names a replica slot on this node: one per collection and shard.
type shardKey struct {
	collection string
	shard      uint32
}

func (k shardKey) String() string { return fmt.Sprintf("%s/%d", k.collection, k.shard) }

// replicaPath is the file of one replica.
func replicaPath(root, collection, uid string, shard uint32) string {
	return filepath.Join(root, collection, uid, "shard-"+strconv.FormatUint(uint64(shard), 10)+".db")
}

// safeName reports whether a collection name or uid can be used as one
// path element.
func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// onDisk is a replica file found under root.
type onDisk struct {
	collection, uid string
	shard           uint32
	path            string
}

// scan lists the replica files under root; other files are ignored.
func scan(root string) ([]onDisk, error) {
	var out []onDisk
	colls, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	for _, c := range colls {
		if !c.IsDir() {
			continue
		}
		uids, err := os.ReadDir(filepath.Join(root, c.Name()))
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", c.Name(), err)
		}
		for _, u := range uids {
			if !u.IsDir() {
				continue
			}
			files, err := os.ReadDir(filepath.Join(root, c.Name(), u.Name()))
			if err != nil {
				return nil, fmt.Errorf("scan %s/%s: %w", c.Name(), u.Name(), err)
			}
			for _, f := range files {
				name := f.Name()
				if f.IsDir() || !strings.HasPrefix(name, "shard-") || !strings.HasSuffix(name, ".db") {
					continue
				}
				id, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "shard-"), ".db"), 10, 32)
				if err != nil {
					continue
				}
				out = append(out, onDisk{collection: c.Name(), uid: u.Name(), shard: uint32(id), path: filepath.Join(root, c.Name(), u.Name(), name)})
			}
		}
	}
	return out, nil
}

// removeReplicaFile deletes a replica file and then its uid and collection
// directories if they became empty.
func removeReplicaFile(root, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	pruneDirs(root, filepath.Dir(path))
	return nil
}

func dirOf(path string) string { return filepath.Dir(path) }

// pruneDirs removes dir and its parents up to (not including) root while
// they are empty.
func pruneDirs(root, dir string) {
	for dir != root && strings.HasPrefix(dir, root+string(filepath.Separator)) {
		if os.Remove(dir) != nil { // not empty, or gone
			return
		}
		dir = filepath.Dir(dir)
	}
}
