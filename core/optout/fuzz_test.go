package optout

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzClassify checks invariants of Classify and IsLegacyStop that hold for every input.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"STOP", "STOP\r\n", " stop ", "STOP please", "ＳＴＯＰ", "ｓｔｏｐ", "UNSUBSCRIBE",
		"yes", "info", "STOP.", "S TOP", "", " ", "\u00a0STOP\u00a0", "\u3000ＨＥＬＰ\u3000",
		"ST\xffOP", "\u017ftop", "ＵＮＳＵＢＳＣＲＩＢＥ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Classify(s)
		switch got {
		case None, Stop, Start, Help:
		default:
			t.Fatalf("Classify(%q) = %q, not a Keyword constant", s, got)
		}
		trimmed := strings.TrimSpace(s)
		if g := Classify(trimmed); g != got {
			t.Errorf("Classify(%q) = %q but Classify(TrimSpace) = %q", s, got, g)
		}
		if g := Classify(mapASCII(s, unicode.ToUpper)); g != got {
			t.Errorf("Classify(%q) = %q but its ASCII upper case gives %q", s, got, g)
		}
		if g := Classify(mapASCII(s, unicode.ToLower)); g != got {
			t.Errorf("Classify(%q) = %q but its ASCII lower case gives %q", s, got, g)
		}
		if g := Classify(toFullwidth(s)); g != got {
			t.Errorf("Classify(%q) = %q but its fullwidth form gives %q", s, got, g)
		}
		if IsLegacyStop(s) && got != Stop {
			t.Errorf("IsLegacyStop(%q) but Classify = %q", s, got)
		}
		if strings.IndexFunc(trimmed, unicode.IsSpace) >= 0 && got != None {
			t.Errorf("Classify(%q) = %q, want None for text with an inner space", s, got)
		}
		if IsLegacyStop(s) != (trimmed == "STOP") {
			t.Errorf("IsLegacyStop(%q) = %v, want exact trimmed STOP", s, IsLegacyStop(s))
		}
	})
}

// mapASCII applies f to ASCII letters only; strings.ToUpper would also change runes such as
// U+017F (long s → S) and so test a different property.
func mapASCII(s string, f func(rune) rune) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 {
			return f(r)
		}
		return r
	}, s)
}

// toFullwidth maps printable non-space ASCII to its fullwidth form, the inverse of the folding
// Classify applies. Invalid UTF-8 is left alone (strings.Map would replace it with U+FFFD).
func toFullwidth(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x21 && c <= 0x7E {
			b.WriteRune(rune(c) + 0xFEE0)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
