package contacts

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"portal/db"
)

// Refusals. The web layer turns each into a sentence; none of them changed anything.
var (
	// ErrNotFound: no such contact in the actor's scope (or no such thing at all: both
	// answer the same, so ids outside a scope reveal nothing).
	ErrNotFound = db.ErrNotFound
	ErrNotAdmin = errors.New("only contact admins can manage contacts")

	ErrMissingCredentials = errors.New("user name or password missing")
	// ErrBadLogin is the one answer for an unknown user, a wrong password and a locked
	// contact; the real reason goes to the audit log.
	ErrBadLogin  = errors.New("invalid user name or password")
	ErrThrottled = errors.New("too many attempts from this address")

	ErrLockSelf      = errors.New("an admin cannot lock themselves")
	ErrLastAdmin     = errors.New("the last active contact admin of an account must stay one")
	ErrAlreadyLocked = errors.New("contact is already locked")
	ErrAlreadyActive = errors.New("contact is not locked")
	ErrDemoteSelf    = errors.New("an admin cannot remove their own Contact admin role")
	// ErrEditConflict: the contact changed after the edit form was filled (see
	// db.Contact.EditVersion); nothing was written.
	ErrEditConflict  = errors.New("contact was changed since the form was filled")
	ErrContactLocked = errors.New("contact is locked out")
	ErrHasPassword   = errors.New("contact has set a password already")
	// ErrNoPasswordYet: a reset link is for a password; an invited contact gets its
	// invitation again instead (as Send reset links skips it).
	ErrNoPasswordYet = errors.New("contact has not set a password yet")

	ErrNotAnEmail       = errors.New("not an email address")
	ErrLinkInvalid      = db.ErrLinkInvalid
	ErrPasswordMissing  = errors.New("no new password given")
	ErrPasswordMismatch = errors.New("the two passwords differ")
)

// FieldErrors are the fields of a contact that can't be saved as typed: form field name →
// a sentence for the person who typed it.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	fields := make([]string, 0, len(f))
	for field := range f {
		fields = append(fields, field)
	}
	sort.Strings(fields)
	var b strings.Builder
	for i, field := range fields {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(f[field])
	}
	return b.String()
}

// EmailTakenError: the email is another contact's user name. Owner is that contact when it
// lies in the actor's scope; outside it nothing about it is revealed (SPEC 3.2).
type EmailTakenError struct{ Owner *db.Contact }

func (e *EmailTakenError) Error() string { return "email already belongs to a contact" }

// TooManyLinksError: the contact was sent Sent password links in the last hour already.
type TooManyLinksError struct{ Sent int }

func (e *TooManyLinksError) Error() string { return "too many password links in the last hour" }

// TooManyRowsError: an export format holds at most Max contacts, and the scope has Total.
type TooManyRowsError struct{ Max, Total int }

func (e *TooManyRowsError) Error() string { return "too many contacts for this format" }

// ErrNothingSelected: a bulk action was asked for without a contact to act on.
var ErrNothingSelected = errors.New("no contacts selected")

// TooManySelectedError: a bulk action was asked for on more contacts than it takes.
type TooManySelectedError struct{ Max int }

func (e *TooManySelectedError) Error() string {
	return fmt.Sprintf("more than %d contacts selected", e.Max)
}
