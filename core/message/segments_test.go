package message

import (
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

func TestSegments(t *testing.T) {
	emoji := "😀" // one code point, a surrogate pair in UTF-16
	tests := []struct {
		name string
		text string
		want int
		enc  Encoding
	}{
		{"empty", "", 1, GSM7},
		{"short", "hello", 1, GSM7},
		{"160 gsm", strings.Repeat("a", 160), 1, GSM7},
		{"161 gsm", strings.Repeat("a", 161), 2, GSM7},
		{"306 gsm", strings.Repeat("a", 306), 2, GSM7},
		{"307 gsm", strings.Repeat("a", 307), 3, GSM7},
		{"80 extension chars = 160 septets", strings.Repeat("€", 80), 1, GSM7},
		{"81 extension chars", strings.Repeat("€", 81), 2, GSM7},
		// 152 basic + one extension char: 154 septets > 153, and the escape pair is not split.
		{"extension never split", strings.Repeat("a", 152) + "{" + strings.Repeat("a", 7), 2, GSM7},
		{"extension at the boundary", strings.Repeat("a", 151) + "{" + strings.Repeat("a", 8), 2, GSM7},
		{"gsm specials", "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¡ÄÖÑÜ§¿äöñüà", 1, GSM7},
		{"accent outside gsm -> ucs2", "café à la crème ç", 1, UCS2}, // ç is not GSM (only Ç)
		{"70 ucs2", strings.Repeat("ж", 70), 1, UCS2},
		{"71 ucs2", strings.Repeat("ж", 71), 2, UCS2},
		{"134 ucs2", strings.Repeat("ж", 134), 2, UCS2},
		{"135 ucs2", strings.Repeat("ж", 135), 3, UCS2},
		{"35 emoji = 70 units", strings.Repeat(emoji, 35), 1, UCS2},
		{"36 emoji", strings.Repeat(emoji, 36), 2, UCS2},
		// 66 units then a pair: 68 > 67, so the pair moves whole to part 2.
		{"surrogate never split", strings.Repeat("ж", 66) + emoji + strings.Repeat("ж", 5), 2, UCS2},
		{"escape char is not gsm text", "\x1b", 1, UCS2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, enc := Segments(tt.text)
			if got != tt.want || enc != tt.enc {
				t.Fatalf("Segments = %d %s, want %d %s", got, enc, tt.want, tt.enc)
			}
		})
	}
}

// FuzzSegments checks the counter against its invariants: enough capacity, never absurdly
// many segments, and the encoding matches the alphabet.
func FuzzSegments(f *testing.F) {
	for _, s := range []string{"", "hi", "€{}[]", "😀ж", strings.Repeat("a", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		n, enc := Segments(s)
		if n < 1 {
			t.Fatalf("segments %d < 1", n)
		}
		gsm := true
		septets := 0
		for _, r := range s {
			k := gsmSeptets(r)
			if k == 0 {
				gsm = false
			}
			septets += k
		}
		if gsm != (enc == GSM7) {
			t.Fatalf("encoding %s for gsm=%v", enc, gsm)
		}
		units := len(utf16.Encode([]rune(s)))
		if enc == GSM7 {
			units = septets
		}
		single, part := 160, 153
		if enc == UCS2 {
			single, part = 70, 67
		}
		if n == 1 && units > single {
			t.Fatalf("%d units in one segment", units)
		}
		if n > 1 {
			if units > n*part {
				t.Fatalf("%d units cannot fit %d parts", units, n)
			}
			// Greedy packing wastes at most one unit per part (a 2-unit char that didn't fit).
			if units <= (n-1)*(part-1) {
				t.Fatalf("%d units needed %d parts", units, n)
			}
		}
	})
}
