package filter

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenizer splits text into tokens for full-text matching. It is the
// configuration of a text payload index; the zero value is not useful,
// use DefaultTokenizer.
type Tokenizer struct {
	// Whitespace splits on white space only; otherwise ("word") tokens
	// are maximal runs of letters and digits.
	Whitespace bool
	// Lowercase folds tokens to lower case.
	Lowercase bool
	// MinLen and MaxLen bound the length of kept tokens in characters
	// (0: no bound).
	MinLen, MaxLen int
}

// DefaultTokenizer is Qdrant's default text index: word tokens, lower
// case, no length bounds.
var DefaultTokenizer = Tokenizer{Lowercase: true}

// Tokens returns s's tokens in order (duplicates kept).
func (t Tokenizer) Tokens(s string) []string {
	var raw []string
	if t.Whitespace {
		raw = strings.Fields(s)
	} else {
		raw = strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	}
	out := raw[:0]
	for _, tok := range raw {
		n := utf8.RuneCountInString(tok)
		if (t.MinLen > 0 && n < t.MinLen) || (t.MaxLen > 0 && n > t.MaxLen) {
			continue
		}
		if t.Lowercase {
			tok = strings.ToLower(tok)
		}
		out = append(out, tok)
	}
	return out
}

// TextMode is how a text condition compares.
type TextMode uint8

const (
	// TextAll (`text`) needs every query token (or the substring).
	TextAll TextMode = iota
	// TextAny (`text_any`) needs one query token.
	TextAny
	// TextPhrase (`phrase`) needs the query tokens in a row.
	TextPhrase
)

// matchText evaluates a text condition over the string leaves of values.
// With a tokenizer (the field has a text index) it compares tokens: all
// query tokens among the union of the values' tokens (TextAll), any of
// them (TextAny), or the query tokens consecutively within one value
// (TextPhrase); a query without tokens matches nothing. Without a
// tokenizer it compares substrings: the whole query within one value
// (TextAll, TextPhrase) or any white-space separated word of it (TextAny).
func matchText(values []any, query string, mode TextMode, tok *Tokenizer) bool {
	if tok == nil {
		words := []string{query}
		if mode == TextAny {
			words = strings.Fields(query)
		}
		return Leaves(values, func(v any) bool {
			s, ok := v.(string)
			if !ok {
				return false
			}
			for _, w := range words {
				if strings.Contains(s, w) {
					return true
				}
			}
			return false
		})
	}
	q := tok.Tokens(query)
	if len(q) == 0 {
		return false
	}
	if mode == TextPhrase {
		return Leaves(values, func(v any) bool {
			s, ok := v.(string)
			return ok && containsRun(tok.Tokens(s), q)
		})
	}
	have := map[string]bool{}
	Leaves(values, func(v any) bool {
		if s, ok := v.(string); ok {
			for _, t := range tok.Tokens(s) {
				have[t] = true
			}
		}
		return false
	})
	if mode == TextAny {
		for _, t := range q {
			if have[t] {
				return true
			}
		}
		return false
	}
	for _, t := range q {
		if !have[t] {
			return false
		}
	}
	return true
}

// containsRun reports whether run occurs consecutively in toks.
func containsRun(toks, run []string) bool {
outer:
	for i := 0; i+len(run) <= len(toks); i++ {
		for j, r := range run {
			if toks[i+j] != r {
				continue outer
			}
		}
		return true
	}
	return false
}
