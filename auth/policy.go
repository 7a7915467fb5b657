package auth

import (
	_ "embed"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length limits of SPEC R-RESET and 3.11 (NIST SP 800-63B rev. 4): 15 when the password is
// the only factor, 8 for a contact with a second factor; 128 accepts every passphrase a
// person types and bounds the hashing work an attacker can ask for.
const (
	MinPasswordLength                 = 15
	MinPasswordLengthWithSecondFactor = 8
	MaxPasswordLength                 = 128
)

// MinLength is the shortest password a contact may choose: shorter with a second factor.
func MinLength(secondFactor bool) int {
	if secondFactor {
		return MinPasswordLengthWithSecondFactor
	}
	return MinPasswordLength
}

// The blocklist, embedded so that the binary needs no file at run time: common passwords
// (zxcvbn's frequency list, 6+ characters), the most common passwords of the breach lists
// attackers start with (see the file's header), and passphrases that are long but famous.
var (
	//go:embed common-passwords.txt
	commonPasswordsText string
	//go:embed breached-passwords.txt
	breachedPasswordsText string
	//go:embed known-passphrases.txt
	knownPassphrasesText string
)

// Policy checks new passwords. No composition rules, no expiry: length, a blocklist, and
// words from the contact's own context.
type Policy struct {
	blocked map[string]bool
}

// NewPolicy builds the policy with the embedded blocklist. Each entry is kept as written
// (lower case) and as its letters and digits alone, the form guessable compares.
func NewPolicy() *Policy {
	p := &Policy{blocked: make(map[string]bool, 80000)}
	for _, list := range []string{commonPasswordsText, breachedPasswordsText, knownPassphrasesText} {
		for _, w := range strings.Split(list, "\n") {
			w = strings.ToLower(strings.TrimSpace(w))
			if w == "" || strings.HasPrefix(w, "#") {
				continue
			}
			p.blocked[w] = true
			p.blocked[lettersAndDigits(w)] = true
		}
	}
	return p
}

// lettersAndDigits drops everything else: spaces and punctuation between words make no
// password harder to guess.
func lettersAndDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}

// PolicyError is a password the policy refuses; its message is meant for the user.
type PolicyError struct{ Reason string }

func (e *PolicyError) Error() string { return e.Reason }

// Check returns nil when password is acceptable, or a *PolicyError saying why not.
// minLength is MinLength for the contact. contextWords are words an attacker would try
// first for this contact: the account name, the email's local part, the contact's names.
func (p *Policy) Check(password string, minLength int, contextWords ...string) error {
	// Count what the user sees as characters, in the form that is hashed: "é" typed either
	// way counts once.
	normalized := Normalize(password)
	n := utf8.RuneCountInString(normalized)
	switch {
	case n < minLength:
		return &PolicyError{Reason: fmt.Sprintf("Use at least %d characters. A few unrelated words make a password that is long and easy to remember.", minLength)}
	case n > MaxPasswordLength:
		return &PolicyError{Reason: "Use at most 128 characters."}
	}
	folded := strings.ToLower(normalized)
	if p.guessable(folded) {
		return &PolicyError{Reason: "This password is too common or too easy to guess. Choose another one."}
	}
	for _, w := range contextWords {
		w = strings.ToLower(strings.TrimSpace(w))
		if utf8.RuneCountInString(w) >= 4 && strings.Contains(folded, w) {
			return &PolicyError{Reason: "The password must not contain your name, your email address or your organization's name."}
		}
	}
	return nil
}

// Short reports whether password is shorter than a password alone may be: a contact with a
// second factor may keep it only while it has one.
func Short(password string) bool {
	return utf8.RuneCountInString(Normalize(password)) < MinPasswordLength
}

// guessable reports what an attacker's word list would try early: a common password, one
// repeated ("passwordpassword", "password password"), two glued together, or any of these
// padded with digits and symbols ("password12345678"). Spaces and punctuation between the
// parts don't help, so they are ignored.
func (p *Policy) guessable(folded string) bool {
	if p.blocked[folded] || isRepetitive(folded) {
		return true
	}
	// The letters and digits alone, without padding digits at either end.
	core := lettersAndDigits(folded)
	if trimmed := strings.TrimFunc(core, unicode.IsDigit); len(trimmed) >= 4 {
		core = trimmed
	}
	// Under 8 letters and digits, once padding digits are cut, is a word list's try
	// ("quokka!!", "plinth12"), unless symbols between the letters make the part inside the
	// padding 8 long: "Vq7!mZ2p" is random, not padded.
	inside := strings.TrimFunc(folded, func(r rune) bool { return !unicode.IsLetter(r) })
	if utf8.RuneCountInString(core) < 8 && utf8.RuneCountInString(inside) < 8 {
		return true
	}
	if p.blocked[core] || isRepetitive(core) {
		return true
	}
	for _, unit := range []int{2, 3} { // the same word two or three times
		if n := len(core); n%unit == 0 && strings.Repeat(core[:n/unit], unit) == core {
			return true
		}
	}
	for i := 1; i < len(core); i++ { // two common passwords glued together
		if p.blocked[core[:i]] && p.blocked[core[i:]] {
			return true
		}
	}
	return false
}

// isRepetitive catches passwords made of one short unit repeated ("aaaaaaaaaaaaaaa",
// "abcabcabcabcabc") or a plain run of the keyboard or alphabet.
func isRepetitive(s string) bool {
	runes := []rune(s)
	for unit := 1; unit <= 4 && unit < len(runes); unit++ {
		same := true
		for i := unit; i < len(runes); i++ {
			if runes[i] != runes[i-unit] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	for _, run := range []string{"abcdefghijklmnopqrstuvwxyz", "01234567890123456789", "qwertyuiopasdfghjklzxcvbnm"} {
		if strings.Contains(run, s) {
			return true
		}
	}
	return false
}

// ContextWords lists the words of a contact's own context that a password must not contain.
func ContextWords(email, accountName, firstName, lastName string) []string {
	local, _, _ := strings.Cut(email, "@")
	words := []string{local, accountName, firstName, lastName}
	// Parts of the local part ("anna.kowalski") and of the account name count too.
	words = append(words, strings.FieldsFunc(local, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })...)
	words = append(words, strings.Fields(accountName)...)
	return words
}
