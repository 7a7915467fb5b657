// Package validate checks the fields people type about a contact. The web forms and the
// command line share it, so both refuse the same input with the same words.
package validate

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
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
	case !visible(s):
		return Problem(label + " contains characters that can't be seen or that change the direction of text. Type it again.")
	}
	return nil
}

// visible reports whether s holds only characters that show as themselves: PRECIS's rules
// for nicknames (RFC 8266) refuse those that can't be seen (zero-width spaces, soft
// hyphens, byte order marks) or that turn text around (bidi controls), with which a name can
// look empty or like another, and keep the joiners that Persian or Hindi names need.
func visible(s string) bool {
	_, err := precis.Nickname.String(s)
	return err == nil
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
	// The address is a user name: characters that can't be seen (zero-width spaces and
	// joiners, soft hyphens, byte order marks) or that turn text around (bidi controls) would
	// make two user names look alike. PRECIS's identifier rules (RFC 8264) refuse them.
	if _, err := precis.UsernameCaseMapped.String(s); err != nil {
		return Problem("The email address contains characters that can't be seen or that change the direction of text. Type it again.")
	}
	if mixesScripts(local) {
		return Problem("The part before the @ mixes letters of different alphabets (Latin and Cyrillic, say), which makes user names that look alike. Use one alphabet.")
	}
	return nil
}

// mixesScripts reports whether s has letters of more than one script: a Cyrillic "а" among
// Latin letters looks like "a" but makes another user name. PRECIS has no such rule. The
// scripts that Chinese, Japanese and Korean write together count as one.
func mixesScripts(s string) bool {
	seen := ""
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		for name, table := range unicode.Scripts {
			if name == "Common" || name == "Inherited" || !unicode.Is(table, r) {
				continue
			}
			switch name {
			case "Han", "Hiragana", "Katakana", "Hangul", "Bopomofo":
				name = "CJK"
			}
			if seen != "" && seen != name {
				return true
			}
			seen = name
			break
		}
	}
	return false
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
	if strings.TrimSpace(s) != "" && !visible(s) {
		return Problem("Job title contains characters that can't be seen or that change the direction of text. Type it again.")
	}
	return nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// DateTimeLayout is how the portal writes a date and time in UTC, in forms, files and
// pages: "2026-12-31 17:00".
const DateTimeLayout = "2006-01-02 15:04"

// DateTime reads an optional date and time in UTC, as a form's datetime-local field sends
// it (2026-12-31T17:00) or as a person or a spreadsheet writes it (2026-12-31 17:00, with
// seconds, or a date alone, which means its midnight). Empty is the zero time.
func DateTime(label, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02 15:04:05",
		"2006-01-02T15:04:05Z", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, Problem("Enter " + strings.ToLower(label) + " as a date and time in UTC, like 2026-12-31 17:00, or leave it empty.")
}
