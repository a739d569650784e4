package message

// gsmBasic is the GSM 03.38 default alphabet (one septet each).
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension are the characters of the extension table: escape + char, two septets.
const gsmExtension = "\f^{}\\[~]|€"

// gsmSeptets returns how many septets r takes in GSM-7 (1 or 2), or 0 if it has none.
func gsmSeptets(r rune) int {
	if r == '\x1b' { // the escape itself is not a character a user can send
		return 0
	}
	for _, c := range gsmBasic {
		if c == r {
			return 1
		}
	}
	for _, c := range gsmExtension {
		if c == r {
			return 2
		}
	}
	return 0
}

// Segments returns the number of SMS segments text needs and the encoding used: GSM-7
// (160 septets single, 153 per part; extension characters count 2 and are never split across
// parts) when every character is in the GSM default alphabet or its extension table, else
// UCS-2 (70 UTF-16 units single, 67 per part; a surrogate pair is never split).
// The empty text is one segment.
func Segments(text string) (int, Encoding) {
	units, enc := make([]int, 0, len(text)), GSM7
	for _, r := range text {
		n := gsmSeptets(r)
		if n == 0 {
			enc = UCS2
			break
		}
		units = append(units, n)
	}
	single, part := 160, 153
	if enc == UCS2 {
		units, single, part = units[:0], 70, 67
		for _, r := range text {
			if r >= 0x10000 {
				units = append(units, 2)
			} else {
				units = append(units, 1)
			}
		}
	}
	total := 0
	for _, u := range units {
		total += u
	}
	if total <= single {
		return 1, enc
	}
	// Greedy packing: a character that does not fit whole starts the next part.
	segments, used := 1, 0
	for _, u := range units {
		if used+u > part {
			segments++
			used = 0
		}
		used += u
	}
	return segments, enc
}
