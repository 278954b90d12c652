package filter

import (
	"strings"
	"time"
)

// datetimeLayouts are the forms Qdrant accepts for datetime payloads and
// range bounds, after normalisation (upper-case T and Z, T as separator).
var datetimeLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04Z0700",
	"2006-01-02T15:04Z07",
	"2006-01-02T15:04",
	"2006-01-02",
}

// ParseDatetime parses a datetime the way Qdrant documents it: RFC 3339
// (`2023-02-08T10:49:00Z`, `2023-02-08T11:49:00+01:00`), without a timezone
// (UTC is assumed), without seconds (`2023-02-08T10:49`), or a date alone
// (midnight UTC). `T` may be a space; `T` and `Z` are case-insensitive; a
// timezone is `±HH:MM`, `±HHMM`, `±HH` or `Z`. It returns the time in
// microseconds since the Unix epoch (Qdrant's granularity).
func ParseDatetime(s string) (int64, bool) {
	if len(s) < 10 || len(s) > 64 {
		return 0, false
	}
	b := []byte(s)
	if len(b) > 10 && (b[10] == ' ' || b[10] == 't') {
		b[10] = 'T'
	}
	if n := len(b); b[n-1] == 'z' {
		b[n-1] = 'Z'
	}
	norm := string(b)
	if strings.ContainsAny(norm, " \t") {
		return 0, false
	}
	for _, layout := range datetimeLayouts {
		if t, err := time.Parse(layout, norm); err == nil {
			return t.UnixMicro(), true
		}
	}
	return 0, false
}

// FormatDatetime formats microseconds since the epoch as RFC 3339 (UTC).
func FormatDatetime(us int64) string {
	return time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
}
