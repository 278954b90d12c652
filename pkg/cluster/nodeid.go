package cluster

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const nodeIDFile = "node_id"

// LoadOrCreateNodeID returns the node id kept in dir, creating a random one
// (never 0) on first start. A node keeps its id across restarts, which is
// what lets the cluster recognise it when it returns.
func LoadOrCreateNodeID(dir string) (uint64, error) {
	path := filepath.Join(dir, nodeIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || id == 0 {
			return 0, fmt.Errorf("read node id %s: bad content %q", path, b)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("read node id: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("create data dir: %w", err)
	}
	var id uint64
	for id == 0 {
		var buf [8]byte
		if _, err := rand.Read(buf[:]); err != nil {
			return 0, fmt.Errorf("generate node id: %w", err)
		}
		// Keep ids below 2^53 so they survive JSON clients that use doubles.
		id = binary.LittleEndian.Uint64(buf[:]) >> 11
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(id, 10)+"\n"), 0o644); err != nil {
		return 0, fmt.Errorf("write node id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, fmt.Errorf("write node id: %w", err)
	}
	return id, nil
}
