package service

import (
	"fmt"
	"time"
)

// ParseDatetime accepts the datetime forms Qdrant accepts in requests:
// RFC 3339 with or without a zone (UTC then), with a space or a T between
// date and time, or a plain date.
func ParseDatetime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 datetime", s)
}
