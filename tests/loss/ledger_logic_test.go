package loss

import "testing"

// TestCheckRules pins what the checker accepts: the last acknowledged
// value or a later unanswered one, never an older value or a lost point.
func TestCheckRules(t *testing.T) {
	l := newLedger()
	l.record(1, 1, true) // v1 acked
	l.record(1, 2, false)
	l.record(1, 2, true) // v2 acked after a retry
	l.record(2, 1, true)
	l.record(2, deleted, true) // deleted
	l.record(3, 5, false)      // never answered
	l.record(4, 1, true)
	l.record(4, 2, false) // unanswered after the last ack
	l.record(5, 7, true)

	cases := []struct {
		name string
		got  map[uint64]observed
		want map[uint64]string // id -> finding kind; absent: none
	}{
		{"all as acknowledged", map[uint64]observed{1: {value: 2}, 4: {value: 1}, 5: {value: 7}}, nil},
		{"uncertain writes applied", map[uint64]observed{1: {value: 2}, 3: {value: 5}, 4: {value: 2}, 5: {value: 7}}, nil},
		{"acknowledged point missing", map[uint64]observed{1: {value: 2}, 4: {value: 1}}, map[uint64]string{5: "lost"}},
		{"older value", map[uint64]observed{1: {value: 1}, 4: {value: 1}, 5: {value: 7}}, map[uint64]string{1: "stale"}},
		{"deleted point back", map[uint64]observed{1: {value: 2}, 2: {value: 1}, 4: {value: 1}, 5: {value: 7}}, map[uint64]string{2: "resurrected"}},
		{"never written", map[uint64]observed{1: {value: 2}, 4: {value: 1}, 5: {value: 7}, 9: {value: 3}}, map[uint64]string{9: "phantom"}},
		{"bad vector", map[uint64]observed{1: {value: 2, bad: "vector"}, 4: {value: 1}, 5: {value: 7}}, map[uint64]string{1: "corrupt"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := check([]*ledger{l}, tc.got, []uint64{1, 2, 3, 4, 5, 9})
			got := map[uint64]string{}
			for _, f := range fs {
				got[f.id] = f.kind
			}
			if len(got) != len(tc.want) {
				t.Fatalf("findings %+v, want %v", fs, tc.want)
			}
			for id, k := range tc.want {
				if got[id] != k {
					t.Fatalf("findings %+v, want %v", fs, tc.want)
				}
			}
		})
	}
}
