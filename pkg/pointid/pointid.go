// Package pointid converts point ids between their JSON form (an unsigned
// integer or a UUID string), their protobuf form and the byte key under
// which storage orders them. Integers sort before UUIDs, each ascending,
// which is the order scroll returns.
package pointid

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

const (
	tagNum  = 0x00
	tagUUID = 0x01
)

// Num returns the id for an unsigned integer.
func Num(n uint64) *shoalv1.PointID {
	return &shoalv1.PointID{Kind: &shoalv1.PointID_Num{Num: n}}
}

// UUID returns the id for a UUID.
func UUID(u uuid.UUID) *shoalv1.PointID {
	return &shoalv1.PointID{Kind: &shoalv1.PointID_Uuid{Uuid: u.String()}}
}

// Parse decodes a JSON id. It accepts a non-negative integer or a string
// holding a UUID in any of its usual spellings.
func Parse(raw json.RawMessage) (*shoalv1.PointID, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, fmt.Errorf("point id is empty")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("point id %s: %w", raw, err)
		}
		return ParseString(s)
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("point id %s is neither an unsigned integer nor a UUID", raw)
	}
	return Num(n), nil
}

// ParseString decodes an id given as text (a URL path element): digits are
// an integer, anything else must be a UUID.
func ParseString(s string) (*shoalv1.PointID, error) {
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return Num(n), nil
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("unable to parse UUID: %s", s)
	}
	return UUID(u), nil
}

// JSON returns the value to encode: uint64 or the UUID string.
func JSON(id *shoalv1.PointID) any {
	if u, ok := id.GetKind().(*shoalv1.PointID_Uuid); ok {
		return u.Uuid
	}
	return id.GetNum()
}

// String formats id for messages.
func String(id *shoalv1.PointID) string {
	if u, ok := id.GetKind().(*shoalv1.PointID_Uuid); ok {
		return u.Uuid
	}
	return strconv.FormatUint(id.GetNum(), 10)
}

// Key returns the ordered byte key of id: a tag byte, then the integer
// big-endian or the 16 UUID bytes. An unparsable UUID (which Parse never
// produces) is keyed by its text so that it still round-trips.
func Key(id *shoalv1.PointID) []byte {
	if u, ok := id.GetKind().(*shoalv1.PointID_Uuid); ok {
		parsed, err := uuid.Parse(u.Uuid)
		if err != nil {
			return append([]byte{0x02}, u.Uuid...)
		}
		return append([]byte{tagUUID}, parsed[:]...)
	}
	k := make([]byte, 9)
	k[0] = tagNum
	binary.BigEndian.PutUint64(k[1:], id.GetNum())
	return k
}

// FromKey is the inverse of Key.
func FromKey(k []byte) (*shoalv1.PointID, error) {
	switch {
	case len(k) == 9 && k[0] == tagNum:
		return Num(binary.BigEndian.Uint64(k[1:])), nil
	case len(k) == 17 && k[0] == tagUUID:
		u, _ := uuid.FromBytes(k[1:])
		return UUID(u), nil
	case len(k) > 0 && k[0] == 0x02:
		return &shoalv1.PointID{Kind: &shoalv1.PointID_Uuid{Uuid: string(k[1:])}}, nil
	}
	return nil, fmt.Errorf("bad point key %x", k)
}

// Compare orders ids as scroll does: -1, 0 or 1.
func Compare(a, b *shoalv1.PointID) int {
	return bytes.Compare(Key(a), Key(b))
}
