package validate

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestEmail(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"anna@example.com", true},
		{"anna.kowalski+portal@sub.example.co.uk", true},
		{"  anna@example.com  ", true}, // surrounding space is trimmed, not refused
		{"", false},
		{"anna", false},
		{"anna@", false},
		{"@example.com", false},
		{"anna@localhost", false},
		{"Anna <anna@example.com>", false},
		{"anna@example.com\r\nBcc: x@evil.test", false},
		{"an na@example.com", false},
		{"anna@@example.com", false},
		{"anna@example..com", false},
		{strings.Repeat("a", 250) + "@example.com", false},
		// Look-alike user names (issue 14 item 8): invisible and direction characters, and a
		// local part of mixed alphabets, are refused; one alphabet, of any kind, is not.
		{"an\u200bna@example.com", false}, // zero-width space
		{"an\u200dna@example.com", false}, // zero-width joiner
		{"\ufeffanna@example.com", false}, // byte order mark
		{"an\u00adna@example.com", false}, // soft hyphen
		{"an\u202ena@example.com", false}, // right-to-left override
		{"\u0430nna@example.com", false},  // Cyrillic а among Latin letters
		{"josé@example.com", true},
		{"jose\u0301@example.com", true}, // the same user name as josé (db.EmailKey)
		{"иван@example.com", true},       // all Cyrillic
		{"たなか太郎@example.jp", true},       // Japanese writes three scripts at once
	} {
		if err := Email(tc.in); (err == nil) != tc.ok {
			t.Errorf("Email(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestNamePhoneJobTitle(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"name", Name("First name", "Zoë"), true},
		{"name with apostrophe", Name("Last name", "O'Brien"), true},
		{"empty name", Name("First name", "  "), false},
		{"long name", Name("First name", strings.Repeat("ł", 101)), false},
		{"name with a newline", Name("Last name", "Evil\r\nBcc: x"), false},
		{"name of a zero-width space", Name("First name", "\u200b"), false},
		{"name turned around", Name("Last name", "Zw\u202e"), false},
		{"name with a soft hyphen", Name("Last name", "Ærø\u00ad"), false},
		{"Persian name with its joiner", Name("First name", "نیک\u200cنام"), true},
		{"Hindi name with its joiner", Name("First name", "क्\u200dष"), true},
		{"names of many scripts", Name("Last name", "Nguyễn 김민준 محمد 李 Anne\u2011Marie"), true},
		{"job title with a bidi override", JobTitle("Buyer\u202e"), false},
		{"phone", Phone("+44 (20) 7946-0958 x12"), true},
		{"no phone", Phone(""), true},
		{"phone with letters", Phone("call me maybe"), false},
		{"phone with too few digits", Phone("+-"), false},
		{"job title", JobTitle("Head of IT Services"), true},
		{"job title with a tab", JobTitle("Head\tof IT"), false},
	} {
		if (tc.err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, tc.err, tc.ok)
		}
		if tc.err != nil && !strings.HasSuffix(tc.err.Error(), ".") {
			t.Errorf("%s: message %q is not a sentence for people", tc.name, tc.err)
		}
	}
	if err := Name("First name", ""); err == nil || err.Error() != "Enter the first name." {
		t.Errorf("empty first name message %q, want %q", err, "Enter the first name.")
	}
}

// FuzzContactFields feeds arbitrary input to every field check: none may panic, and whatever
// they accept is safe to store, show and put in a mail header.
func FuzzContactFields(f *testing.F) {
	for _, seed := range []string{"anna@example.com", "Zoë Ærø", "+44 20 7946 0958", "\r\nBcc: x@evil.test",
		"=cmd|' /C calc'!A0", "<img src=x onerror=alert(1)>", "\xff\xfe", "a@b.c", strings.Repeat("x", 300)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Email(s) == nil {
			trimmed := strings.TrimSpace(s)
			if strings.Count(trimmed, "@") != 1 || strings.ContainsFunc(trimmed, unicode.IsSpace) || len(trimmed) > MaxEmailLength {
				t.Errorf("Email accepted %q", s)
			}
		}
		for _, err := range []error{Name("First name", s), JobTitle(s)} {
			if err == nil && (strings.ContainsAny(s, "\r\n\x00") || !utf8.ValidString(s)) {
				t.Errorf("accepted %q with control characters or invalid UTF-8", s)
			}
		}
		if Phone(s) == nil && strings.ContainsAny(strings.TrimSpace(s), "\r\n<>\"'=@") {
			t.Errorf("Phone accepted %q", s)
		}
	})
}
