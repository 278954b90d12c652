package payloadindex

import (
	"github.com/shoaldb/shoal/services/storage/internal/filter"
)

// textIndex is an inverted index of the tokens of a field's strings.
type textIndex struct {
	tok     filter.Tokenizer
	forward map[string]map[string]struct{} // point -> its tokens
	points  map[string]map[string]struct{} // token -> points
}

func newText(tok filter.Tokenizer) *textIndex {
	return &textIndex{tok: tok, forward: map[string]map[string]struct{}{}, points: map[string]map[string]struct{}{}}
}

func (t *textIndex) set(key string, leaves []any) {
	t.remove(key)
	toks := map[string]struct{}{}
	for _, l := range leaves {
		if s, ok := l.(string); ok {
			for _, tok := range t.tok.Tokens(s) {
				toks[tok] = struct{}{}
			}
		}
	}
	if len(toks) == 0 {
		return
	}
	t.forward[key] = toks
	for tok := range toks {
		set := t.points[tok]
		if set == nil {
			set = map[string]struct{}{}
			t.points[tok] = set
		}
		set[key] = struct{}{}
	}
}

func (t *textIndex) remove(key string) {
	for tok := range t.forward[key] {
		if set := t.points[tok]; set != nil {
			delete(set, key)
			if len(set) == 0 {
				delete(t.points, tok)
			}
		}
	}
	delete(t.forward, key)
}

func (t *textIndex) count() int { return len(t.forward) }

// textQuery is a text condition's tokens and whether one suffices.
type textQuery struct {
	toks []string
	any  bool
}

func (t *textIndex) query(m *filter.Match) (textQuery, bool) {
	switch m.Kind {
	case filter.MatchText, filter.MatchPhrase:
		return textQuery{toks: t.tok.Tokens(m.Text)}, true
	case filter.MatchTextAny:
		return textQuery{toks: t.tok.Tokens(m.Text), any: true}, true
	}
	return textQuery{}, false
}

// estimate: for "all tokens", the rarest token's points; for "any", the
// sum. A query without tokens matches nothing.
func (t *textIndex) estimate(q textQuery) int {
	if len(q.toks) == 0 {
		return 0
	}
	if q.any {
		n := 0
		for _, tok := range q.toks {
			n += len(t.points[tok])
		}
		return n
	}
	n := -1
	for _, tok := range q.toks {
		if c := len(t.points[tok]); n < 0 || c < n {
			n = c
		}
	}
	return n
}

func (t *textIndex) keys(q textQuery) []string {
	if len(q.toks) == 0 {
		return nil
	}
	if q.any {
		seen := map[string]struct{}{}
		var out []string
		for _, tok := range q.toks {
			for k := range t.points[tok] {
				if _, dup := seen[k]; !dup {
					seen[k] = struct{}{}
					out = append(out, k)
				}
			}
		}
		return out
	}
	rarest := q.toks[0]
	for _, tok := range q.toks[1:] {
		if len(t.points[tok]) < len(t.points[rarest]) {
			rarest = tok
		}
	}
	check := t.checker(q)
	var out []string
	for k := range t.points[rarest] {
		if check(k) {
			out = append(out, k)
		}
	}
	return out
}

func (t *textIndex) checker(q textQuery) func(string) bool {
	return func(key string) bool {
		if len(q.toks) == 0 {
			return false
		}
		have := t.forward[key]
		for _, tok := range q.toks {
			_, ok := have[tok]
			if ok && q.any {
				return true
			}
			if !ok && !q.any {
				return false
			}
		}
		return !q.any
	}
}
