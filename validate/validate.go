// Package validate checks the fields people type about a contact. The web forms and the
// command line share it, so both refuse the same input with the same words.
package validate

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on field lengths: generous for real names, small enough to keep pages and exports sane.
const (
	MaxNameLength     = 100
	MaxEmailLength    = 254
	MaxPhoneLength    = 40
	MaxJobTitleLength = 100
)

// Problem is a refusal written for the person who typed the value: a whole sentence,
// shown next to the field as it is.
type Problem string

func (p Problem) Error() string { return string(p) }

// Name checks a first or last name; label names the field in the message.
func Name(label, s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return Problem("Enter the " + strings.ToLower(label) + ".")
	case utf8.RuneCountInString(s) > MaxNameLength:
		return Problem(label + " can have at most 100 characters.")
	case hasControl(s) || !utf8.ValidString(s):
		return Problem(label + " contains characters that can't be used.")
	}
	return nil
}

// Email checks an address that will receive mail and serve as a user name.
func Email(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return Problem("Enter the email address.")
	}
	if len(s) > MaxEmailLength || hasControl(s) {
		return Problem("Enter a valid email address, like name@example.com.")
	}
	addr, err := mail.ParseAddress(s)
	// Only a bare address is accepted: no display names, no comments, no brackets.
	if err != nil || addr.Address != s || addr.Name != "" {
		return Problem("Enter a valid email address, like name@example.com.")
	}
	local, domain, _ := strings.Cut(s, "@")
	if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.ContainsAny(s, "\"()<>[],;:\\ ") {
		return Problem("Enter a valid email address, like name@example.com.")
	}
	return nil
}

// Phone checks an optional phone number: digits and the usual separators.
func Phone(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if len(s) > MaxPhoneLength {
		return Problem("Phone can have at most 40 characters.")
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-() ./x", r):
		default:
			return Problem("Phone can contain digits, spaces and + - ( ) . / x only.")
		}
	}
	if digits < 3 {
		return Problem("Enter a phone number with at least 3 digits, or leave it empty.")
	}
	return nil
}

// JobTitle checks an optional job title.
func JobTitle(s string) error {
	if utf8.RuneCountInString(s) > MaxJobTitleLength {
		return Problem("Job title can have at most 100 characters.")
	}
	if hasControl(s) || !utf8.ValidString(s) {
		return Problem("Job title contains characters that can't be used.")
	}
	return nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
