package session

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestUserAgentAsStored(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes
	tests := []struct{ name, in, want string }{
		{"as sent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"},
		{"empty", "", ""},
		{"invalid UTF-8", "curl\xff/8", "curl\uFFFD/8"},
		{"cut at a character boundary", long, strings.Repeat("é", 256)},
	}
	for _, tc := range tests {
		got := userAgent(tc.in)
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
		if len(got) > maxUserAgentLength || !utf8.ValidString(got) {
			t.Errorf("%s: stored %d bytes, valid UTF-8 %v; want at most %d valid bytes", tc.name, len(got), utf8.ValidString(got), maxUserAgentLength)
		}
	}
}
