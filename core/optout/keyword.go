package optout

import (
	"strings"
	"unicode/utf8"
)

// Keyword is the family an inbound text belongs to. The zero value is None, so an
// unclassified text does nothing.
type Keyword string

const (
	None  Keyword = ""
	Stop  Keyword = "stop"
	Start Keyword = "start"
	Help  Keyword = "help"
)

// longestKeyword is len("UNSUBSCRIBE"); it bounds the work Classify does on long texts.
const longestKeyword = 11

// Classify returns the keyword family of an inbound text under the v1 policy (API.md §2).
//
// The whole message must be one keyword. Surrounding whitespace is trimmed as
// strings.TrimSpace does (ASCII spaces, \r\n, tabs and Unicode spaces such as U+00A0 and the
// ideographic space U+3000). Matching is ASCII case-insensitive.
//
// Fullwidth forms (U+FF01–U+FF5E) are folded to ASCII first, so "ＳＴＯＰ" is Stop: phones with
// Asian input methods send them, carriers such as Twilio honour them, and a STOP we failed to
// see is a compliance failure. Only that block is folded (x/text is off limits in core); other
// lookalikes, such as the Kelvin sign or long s that Unicode case folding maps to ASCII, are
// not keywords, because nobody types them.
//
// Punctuation is not stripped: "STOP." and "STOP!" are None. Twilio documents that only the
// exact keyword counts, and following it keeps our block list in step with the carrier's.
func Classify(text string) Keyword {
	text = strings.TrimSpace(text)
	// Every keyword rune folds to one ASCII letter and takes at most utf8.UTFMax bytes, so
	// anything longer cannot match.
	if text == "" || len(text) > longestKeyword*utf8.UTFMax {
		return None
	}
	var buf [longestKeyword]byte
	n := 0
	for _, r := range text {
		if r >= 0xFF01 && r <= 0xFF5E {
			r -= 0xFF01 - 0x21
		}
		switch {
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		case r >= 'A' && r <= 'Z':
		default:
			// Keywords are letters only: an inner space, a digit, punctuation or any other
			// rune means the text is not a keyword.
			return None
		}
		if n == len(buf) {
			return None
		}
		buf[n] = byte(r)
		n++
	}
	switch string(buf[:n]) {
	case "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT":
		return Stop
	case "START", "YES", "UNSTOP":
		return Start
	case "HELP", "INFO":
		return Help
	}
	return None
}

// IsLegacyStop reports whether an inbound smsapp text is that dialect's STOP (API.md §8.1):
// after trimming surrounding whitespace it is exactly "STOP", case-sensitive, with no
// fullwidth folding. It is deliberately narrower than Classify because the legacy service
// behaved that way and its clients depend on it.
func IsLegacyStop(text string) bool {
	return strings.TrimSpace(text) == "STOP"
}
