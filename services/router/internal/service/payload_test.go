package service

import "testing"

func TestSelectPayload(t *testing.T) {
	f := func(raw string, sel PayloadSelector, want string) {
		t.Helper()
		if got := string(selectPayload([]byte(raw), sel)); got != want {
			t.Errorf("select %s with %+v: got %s, want %s", raw, sel, got, want)
		}
	}
	doc := `{"a":1,"b":{"c":2,"d":{"e":3}},"big":12345678901234567890}`
	f(doc, AllPayload, doc)
	f(``, AllPayload, `{}`)
	f(`null`, AllPayload, `{}`)
	f(doc, PayloadSelector{Enabled: true, Include: []string{"a"}}, `{"a":1}`)
	f(doc, PayloadSelector{Enabled: true, Include: []string{"b.d.e", "big"}}, `{"b":{"d":{"e":3}},"big":12345678901234567890}`)
	f(doc, PayloadSelector{Enabled: true, Include: []string{"missing", "a.x"}}, `{}`)
	f(doc, PayloadSelector{Enabled: true, Include: []string{}}, `{}`)
	f(doc, PayloadSelector{Enabled: true, Exclude: []string{"b.c", "a"}}, `{"b":{"d":{"e":3}},"big":12345678901234567890}`)
	f(doc, PayloadSelector{Enabled: true, Exclude: []string{"nothing.here"}}, `{"a":1,"b":{"c":2,"d":{"e":3}},"big":12345678901234567890}`)
	f(`{"a":1}`, PayloadSelector{Enabled: true, Include: []string{"a", "a"}}, `{"a":1}`)
}
