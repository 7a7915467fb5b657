package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestPolicy(t *testing.T) {
	p := NewPolicy()
	ctxWords := ContextWords("anna.kowalski@northwind.example", "Northwind Traders", "Anna", "Kowalski")
	tests := []struct {
		name     string
		password string
		ok       bool
		reason   string // a word the refusal must contain
	}{
		{"14 characters", "glacier-umber1", false, "15 characters"},
		{"15 characters", "glacier-umber12", true, ""},
		{"64 characters", ofLength("raven glacier umber ", 64), true, ""},
		{"128 characters", ofLength("kestrel quartz timber ", 128), true, ""},
		{"129 characters", ofLength("kestrel quartz timber ", 129), false, "128"},
		{"unicode counted as characters", "Zoë Łukasz Ærø Š", true, ""},
		{"14 unicode characters", "ŁŁŁŁŁŁŁ-ÆÆÆÆÆÆ", false, "15 characters"},
		{"emoji and spaces allowed", "🐧 penguins march on ice", true, ""},
		{"blocklisted", "123456789987654321", false, "common"},
		{"blocklisted in another case", "Q1W2E3R4T5Y6U7I8", false, "common"},
		{"common word padded with digits", "password12345678", false, "common"},
		{"one character repeated", strings.Repeat("a", 20), false, "common"},
		{"short unit repeated", strings.Repeat("abc", 6), false, "common"},
		{"keyboard run", "qwertyuiopasdfgh", false, "common"},
		{"common password twice", "passwordpassword", false, "common"},
		{"common password twice with a space", "password password", false, "common"},
		{"common password three times", "monkeymonkeymonkey", false, "common"},
		{"common password twice, padded", "letmeinletmein1", false, "common"},
		{"two common passwords glued", "iloveyoutrustno1", false, "common"},
		{"mostly symbols", "!!!!!!!!!!!!!!!!ab", false, "common"},
		{"a real passphrase", "purple ferry lantern quietly", true, ""},
		{"a famous passphrase (issue 14)", "correct horse battery staple", false, "common"},
		{"a famous passphrase, other spacing", "Correct-Horse-Battery-Staple!", false, "common"},
		{"a breached password of 15+", "momsanaladventure", false, "common"},
		{"14 characters typed decomposed", "Zoe\u0308e\u0301e\u0301e\u0301 abcdefg", false, "15 characters"},
		{"contains the account name", "my northwind password 77", false, "organization"},
		{"contains the email's local part", "anna.kowalski is the best", false, "email"},
		{"contains the last name", "kowalski-glacier-umber", false, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Check(tt.password, MinPasswordLength, ctxWords...)
			if tt.ok {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tt.password, err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check(%q) = %v, want a *PolicyError", tt.password, err)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("Check(%q) reason %q, want it to mention %q", tt.password, pe.Reason, tt.reason)
			}
		})
	}
}

// ofLength repeats words until the result has exactly n characters.
func ofLength(words string, n int) string {
	r := []rune(strings.Repeat(words, n/len([]rune(words))+1))
	return string(r[:n])
}

// With a second factor the minimum is 8 (NIST SP 800-63B rev. 4); everything else holds as
// for a password alone.
func TestPolicyWithASecondFactor(t *testing.T) {
	p := NewPolicy()
	words := ContextWords("anna.kowalski@northwind.example", "Northwind Traders", "Anna", "Kowalski")
	for _, tt := range []struct {
		password string
		reason   string // "" when accepted
	}{
		{"ferry7qz", ""},
		{"Vq7!mZ2p", ""}, // random, with a symbol: 7 letters and digits are enough
		{"xkcd!!!!", "common"},
		{"quokka!!", "common"}, // a word and its padding
		{"plinth12", "common"},
		{"whisker1", "common"},
		{"a!b!c!d!", "common"},
		{"ferry7q", "8 characters"},
		{"password", "common"},
		{"kowalski-fern", "name"},
		{"lantern quietly", ""},
	} {
		err := p.Check(tt.password, MinLength(true), words...)
		var pe *PolicyError
		switch {
		case tt.reason == "" && err != nil:
			t.Errorf("Check(%q) with a second factor = %v, want nil", tt.password, err)
		case tt.reason != "" && (!errors.As(err, &pe) || !strings.Contains(pe.Reason, tt.reason)):
			t.Errorf("Check(%q) with a second factor = %v, want a refusal about %q", tt.password, err, tt.reason)
		}
	}
	if MinLength(false) != 15 || MinLength(true) != 8 {
		t.Errorf("MinLength: %d without, %d with a second factor; want 15 and 8", MinLength(false), MinLength(true))
	}
	if !Short("lantern quietly"[:14]) || Short("lantern quietly") {
		t.Error("Short: wrong about 14 and 15 characters")
	}
}
