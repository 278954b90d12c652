package service

import (
	"strings"
	"testing"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

func TestProgressComment(t *testing.T) {
	f := func(p *shoalv1.TransferProgress, want ...string) {
		t.Helper()
		got := progressComment(p)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Fatalf("comment %q lacks %q", got, w)
			}
		}
	}
	f(&shoalv1.TransferProgress{Method: "snapshot", BytesDone: 100 << 20, BytesTotal: 400 << 20, StartedUnixMs: 1000, UpdatedUnixMs: 3000},
		"snapshot: 100.0 MiB of 400.0 MiB (25%)", "50.0 MiB/s", "ETA 6s")
	f(&shoalv1.TransferProgress{Method: "stream_records", RecordsDone: 500, RecordsTotal: 1000, StartedUnixMs: 0, UpdatedUnixMs: 1000},
		"stream_records: 500 records of 1000 (50%)", "500 records/s", "ETA 1s")
	f(&shoalv1.TransferProgress{Method: "snapshot", BytesDone: 1 << 20, BytesTotal: -1, Note: "wal_delta not possible (x): fell back to snapshot"},
		"snapshot: 1.0 MiB", "; wal_delta not possible")
	f(&shoalv1.TransferProgress{Method: "wal_delta", RecordsDone: 20, RecordsTotal: -1}, "wal_delta: 20 records")
}
