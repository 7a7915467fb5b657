package contacts

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func TestCodesAsPeopleTypeThem(t *testing.T) {
	for typed, want := range map[string]string{"123456": "123456", " 123 456 ": "123456", "123-456": "123456", "12345": "",
		"1234567": "", "12345a": "", "１２３４５６": "", "": ""} {
		got, ok := normalizeCode(typed)
		if ok != (want != "") || (ok && got != want) {
			t.Errorf("normalizeCode(%q) = %q, %v; want %q", typed, got, ok, want)
		}
	}
	code := newRecoveryCode()
	if len(code) != 19 || strings.Count(code, "-") != 3 {
		t.Fatalf("recovery code %q, want four groups of four", code)
	}
	plain, ok := normalizeRecoveryCode(code)
	for _, typed := range []string{code, strings.ToUpper(code), strings.ReplaceAll(code, "-", " "), strings.ReplaceAll(code, "-", "")} {
		if got, ok2 := normalizeRecoveryCode(typed); !ok || !ok2 || got != plain {
			t.Errorf("recovery code typed %q reads %q, want %q", typed, got, plain)
		}
	}
	// Letters people take for digits read as those digits.
	if got, _ := normalizeRecoveryCode("OIL0-0000-0000-0000"); got != "0110000000000000" {
		t.Errorf("O, I and L read as %q, want 0, 1 and 1", got)
	}
	if _, ok := normalizeRecoveryCode("uuuu-0000-0000-0000"); ok {
		t.Error("a code with U (not in the alphabet) was taken")
	}
	seen := map[string]bool{}
	for range 1000 {
		c := newRecoveryCode()
		if seen[c] {
			t.Fatalf("recovery code %q made twice in 1000", c)
		}
		seen[c] = true
	}
}

// matchTOTP accepts the current step and one either side, and says which matched.
func TestMatchTOTPSteps(t *testing.T) {
	secret := []byte("12345678901234567890") // RFC 6238's test secret
	key := base32NoPadding.EncodeToString(secret)
	now := time.Unix(1111111109, 0) // RFC 6238 appendix B
	for offset, wantOK := range map[int]bool{-2: false, -1: true, 0: true, 1: true, 2: false} {
		at := now.Add(time.Duration(offset) * totpPeriod * time.Second)
		code, err := totp.GenerateCodeCustom(key, at, totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		step, ok := matchTOTP(secret, code, now)
		if ok != wantOK || (ok && step != totpStep(at)) {
			t.Errorf("code of step %+d: matched %v at step %d, want %v at %d", offset, ok, step, wantOK, totpStep(at))
		}
	}
	if code, _ := totp.GenerateCodeCustom(key, now, totp.ValidateOpts{Period: 30, Digits: 6}); code != "081804" {
		t.Errorf("RFC 6238 vector at 1111111109: %s, want 081804", code)
	}
}

// FuzzCodeFields: whatever is typed into a code field, the readers neither panic nor take
// anything but six ASCII digits, or sixteen symbols of the recovery alphabet.
func FuzzCodeFields(f *testing.F) {
	for _, s := range []string{"", "123456", "12 34 56", "1234567", "abcd-efgh-jkmn-pqrs", "ıİ", "\xff", strings.Repeat("0", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		if code, ok := normalizeCode(typed); ok {
			if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
				t.Errorf("normalizeCode(%q) took %q", typed, code)
			}
		}
		if code, ok := normalizeRecoveryCode(typed); ok {
			if !utf8.ValidString(code) || len(code) != recoveryCodeLength || strings.Trim(code, recoveryAlphabet) != "" {
				t.Errorf("normalizeRecoveryCode(%q) took %q", typed, code)
			}
		}
	})
}
