package ports

import (
	"errors"
	"testing"
	"time"
)

func TestCursorRoundTrip(t *testing.T) {
	tests := []Cursor{
		{CreatedAt: time.Date(2026, 11, 22, 8, 0, 0, 123456000, time.UTC), ID: "01a20267-ee6c-70cd-90b0-bb30e6382bd5"},
		{CreatedAt: time.Unix(0, 0).UTC(), ID: "x"},
		{CreatedAt: time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC), ID: "id|with|bars"},
	}
	for _, c := range tests {
		got, err := DecodeCursor(c.Encode())
		if err != nil {
			t.Fatalf("DecodeCursor(%v): %v", c, err)
		}
		if !got.CreatedAt.Equal(c.CreatedAt) || got.ID != c.ID || got.CreatedAt.Location() != time.UTC {
			t.Fatalf("round trip %v → %v", c, got)
		}
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	for _, s := range []string{"", "!!!", "bm9iYXI", "MTIz", "MTIzfA", "YWJjfGlk"} {
		if _, err := DecodeCursor(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeCursor(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

// FuzzDecodeCursor: any input either fails with ErrInvalid or decodes to a cursor that
// encodes back to a string decoding to the same position.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(Cursor{CreatedAt: time.Unix(1795336695, 429000000), ID: "abc"}.Encode())
	f.Add("")
	f.Add("MTIzfA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		again, err := DecodeCursor(c.Encode())
		if err != nil || !again.CreatedAt.Equal(c.CreatedAt) || again.ID != c.ID {
			t.Fatalf("re-encoding %q: %v %v", s, again, err)
		}
	})
}
