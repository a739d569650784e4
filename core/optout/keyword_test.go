package optout

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Keyword
	}{
		{"stop", "STOP", Stop},
		{"stop crlf", "STOP\r\n", Stop},
		{"lower with spaces", " stop ", Stop},
		{"title case", "Stop", Stop},
		{"tabs", "\tSTOP\t", Stop},
		{"nbsp", "\u00a0STOP\u00a0", Stop},
		{"ideographic space", "\u3000STOP\u3000", Stop},
		{"stop please", "STOP please", None},
		{"fullwidth upper", "ＳＴＯＰ", Stop},
		{"fullwidth lower", "ｓｔｏｐ", Stop},
		{"fullwidth mixed with ascii", "ＳtoＰ", Stop},
		{"fullwidth inner space", "ＳＴＯＰ\u3000ＡＬＬ", None},
		{"stopall", "STOPALL", Stop},
		{"stop all", "STOP ALL", None},
		{"unsubscribe", "unsubscribe", Stop},
		{"cancel", "CANCEL", Stop},
		{"end", "END", Stop},
		{"quit", "QUIT", Stop},
		{"revoke", "REVOKE", Stop},
		{"optout", "OPTOUT", Stop},
		{"opt-out is not listed", "OPT-OUT", None},
		{"start", "START", Start},
		{"yes", "yes", Start},
		{"unstop", "UNSTOP", Start},
		{"help", "HELP", Help},
		{"info", "info", Help},
		{"trailing period", "STOP.", None},
		{"trailing bang", "STOP!", None},
		{"fullwidth bang", "ＳＴＯＰ！", None},
		{"inner space", "S TOP", None},
		{"inner nbsp", "S\u00a0TOP", None},
		{"empty", "", None},
		{"whitespace only", " \t\r\n\u00a0", None},
		{"prefix of keyword", "STO", None},
		{"keyword with suffix", "STOPS", None},
		{"unsubscribe plus letter", "UNSUBSCRIBEX", None},
		{"long text", "please stop sending me these messages, thank you very much", None},
		{"kelvin sign is not k", "\u212aEEP", None},
		{"long s is not s", "\u017fTOP", None},
		{"invalid utf-8", "ST\xffOP", None},
		{"zero width space inside", "ST\u200bOP", None},
		{"digit", "STOP1", None},
		{"hello", "hello", None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.text); got != tt.want {
				t.Errorf("Classify(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestIsLegacyStop(t *testing.T) {
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"stop", "STOP", true},
		{"surrounding whitespace", " STOP\n", true},
		{"crlf", "STOP\r\n", true},
		{"lower", "stop", false},
		{"title", "Stop", false},
		{"stop please", "STOP please", false},
		{"fullwidth", "ＳＴＯＰ", false},
		{"stopall", "STOPALL", false},
		{"unsubscribe", "UNSUBSCRIBE", false},
		{"period", "STOP.", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsLegacyStop(tt.text); got != tt.want {
				t.Errorf("IsLegacyStop(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}
