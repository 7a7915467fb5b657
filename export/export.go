// Package export writes the contacts list as CSV, Excel and PDF (SPEC R-EXPORT). Every
// format reads the rows of a db.Export one at a time; CSV and Excel stream them out, so
// memory does not grow with the number of contacts. PDF holds its document (see MaxPDFRows).
package export

import (
	"time"

	"portal/db"
)

// Rows feeds an export: it calls fn for each contact in export order and stops at fn's
// first error, which it returns. (*db.Export).Each is one; the fields of the row it passes
// are valid only during the call.
type Rows func(fn func(*db.ExportRow) error) error

// Meta describes an export as a whole.
type Meta struct {
	Account     string    // the admin's own account, named in the PDF's title
	GeneratedAt time.Time // shown in the PDF's title; the file name's date comes from it too
	Total       int       // rows Rows will yield (the snapshot's count), for the PDF's summary
}

// Columns are the header row of every format, in order. The last column is never empty
// (Two-step verification: On or Off): a CSV line that ends in an empty quoted field ("")
// makes LibreOffice, reading the file with ";" as separator, give up on quotes for the
// whole line and split it raw, which runs a formula hidden in a quoted cell such as
// "Bob;=2*21;x" (issue 14). A line that ends in a closing quote keeps every cell whole.
var Columns = []string{
	"First name", "Last name", "Email", "Account", "Roles", "Status", "Lock reason",
	"Phone", "Job title", "Access ends (UTC)", "Last login (UTC)", "Created (UTC)", "Two-step verification",
}

// twoFactorLabel says whether a contact has two-step verification, as the exports word it.
func twoFactorLabel(on bool) string {
	if on {
		return "On"
	}
	return "Off"
}

// dateLayout is how CSV and PDF print times: sortable, unambiguous in every locale, and
// what a person types into a spreadsheet cell (validate.DateTimeLayout). An access end that
// has seconds (the command line can give them) is printed with them, so that an export
// imported back changes nothing (see appendAccessEnds).
const dateLayout = "2006-01-02 15:04"

// NeutralizeCell returns s as a spreadsheet cell that cannot run as a formula: a value
// starting with =, +, -, @, tab, carriage return or line feed gets a leading apostrophe,
// which spreadsheets take as "text follows" (OWASP, CSV Injection). Other values are
// returned unchanged. A phone number such as "+44 20 7946 0958" is neutralised too: that
// is the price of a rule with no exceptions for an attacker to find.
//
// A value that starts with apostrophes before such a character ("'=1") gets one more, so
// that Unneutralize, which takes exactly one off, gives every value back as it was.
func NeutralizeCell(s string) string {
	if neutralized(s) {
		return "'" + s
	}
	return s
}

// neutralized reports whether NeutralizeCell puts an apostrophe before v: v, past any
// apostrophes it starts with, starts like a formula.
func neutralized[T string | []byte](v T) bool {
	i := 0
	for i < len(v) && v[i] == '\'' {
		i++
	}
	return formulaLike(v[i:])
}

// formulaLike reports whether a spreadsheet could read v as the start of a formula.
func formulaLike[T string | []byte](v T) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return true
	}
	return false
}

// statusLabel is a stored status as the UI words it.
func statusLabel(status []byte) string {
	switch string(status) {
	case db.StatusActive:
		return "Active"
	case db.StatusLocked:
		return "Locked"
	}
	return string(status)
}

// appendLockReason appends why a contact is locked, as the UI words it ("" when active).
func appendLockReason(dst []byte, r *db.ExportRow) []byte {
	switch string(r.LockReason) {
	case "":
		return dst
	case db.LockedByAdmin:
		if len(r.LockedBy) == 0 { // the admin who locked it has since been deleted
			return append(dst, "Locked by an admin"...)
		}
		return append(append(dst, "Locked by "...), r.LockedBy...)
	case db.LockedByFailedLogins:
		return append(dst, "Too many failed login attempts"...)
	case db.LockedAccessEnded: // the date is the Access ends column's
		return append(dst, "Access ended"...)
	case db.LockedWithOrganization:
		if len(r.LockedBy) == 0 {
			return append(dst, "Locked with its organization"...)
		}
		return append(append(dst, "Locked with its organization by "...), r.LockedBy...)
	}
	return append(dst, r.LockReason...)
}

// appendDate appends t in dateLayout, or nothing for the zero time (never).
func appendDate(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return dst
	}
	return t.AppendFormat(dst, dateLayout)
}

// appendAccessEnds appends when access ends, to the second when it has seconds.
func appendAccessEnds(dst []byte, t time.Time) []byte {
	if t.IsZero() || t.Second() == 0 {
		return appendDate(dst, t)
	}
	return t.AppendFormat(dst, dateLayout+":05")
}
