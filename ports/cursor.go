package ports

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cursor is a position in a list ordered by (created_at, id) descending.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// Encode renders the cursor as an opaque URL-safe string.
func (c Cursor) Encode() string {
	raw := strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "|" + c.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor parses a string made by Encode; anything else wraps ErrInvalid.
func DecodeCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("decode cursor: %w", ErrInvalid)
	}
	micros, id, ok := strings.Cut(string(raw), "|")
	n, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || id == "" {
		return Cursor{}, fmt.Errorf("decode cursor: %w", ErrInvalid)
	}
	return Cursor{CreatedAt: time.UnixMicro(n).UTC(), ID: id}, nil
}
