package components

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"portal/db"
	"portal/export"
)

// ContactFormView is the create or edit form with what was typed and what is wrong with it.
type ContactFormView struct {
	Title       string // "Create contact" or "Edit contact"
	Action      string // where the form posts
	CancelHref  string
	Values      db.ContactFields
	Version     string            // Edit: the EditVersion of the contact the form was filled from
	Errors      map[string]string // field name → message shown beside the field
	Problem     string            // a message about the whole form (shown above it)
	Duplicate   *db.Contact       // the contact in scope that already has the email
	AccountName string            // Account Name: the admin's account on Create, the contact's on Edit
	AccessEnds  string            // Access ends as typed, when the form comes back
	// PendingEmail is the address an open email change waits for (Edit contact).
	PendingEmail string
	Accounts     []db.Account // the Account dropdown: the scope, children indented
	// Reauth asks for the admin's password when a change of the email or the roles would
	// need it (Edit contact).
	Reauth ReauthView
}

func (v ContactFormView) err(field string) string { return v.Errors[field] }

// errID is " FIELD-error" when field has an error, for aria-describedby.
func (v ContactFormView) errID(field string) string {
	if v.err(field) == "" {
		return ""
	}
	return " " + field + "-error"
}

// accessEnds is the value of the Access ends field: as typed, or the stored date.
func (v ContactFormView) accessEnds() string {
	if v.AccessEnds != "" || v.Values.AccessEnds.IsZero() {
		return v.AccessEnds
	}
	return v.Values.AccessEnds.UTC().Format("2006-01-02T15:04")
}

// accountOption indents child organizations by depth, so the tree reads in a plain <select>.
func accountOption(a db.Account) string {
	return strings.Repeat("\u00a0\u00a0\u00a0", a.Depth) + a.Name
}

// ListView is All Contacts: the search, sort and page the URL asked for, and what it found.
type ListView struct {
	Section string // db.StatusActive or db.StatusLocked
	Sort    string
	Search  string
	Page    db.Page // with the counts of both sections
}

// sortLabels names the sort orders on screen.
var sortLabels = map[string]string{
	db.SortName: "Name", db.SortEmail: "Email", db.SortAccount: "Account", db.SortLastLogin: "Last login",
}

// URL is the address of this view with changes: the same search, sort and section unless
// overridden, and the cursor given (if any). Back and reload come back to exactly this.
func (v ListView) URL(section string, after, before int64) string {
	q := url.Values{}
	if v.Search != "" {
		q.Set("q", v.Search)
	}
	if v.Sort != "" && v.Sort != db.SortName {
		q.Set("sort", v.Sort)
	}
	if section == db.StatusLocked {
		q.Set("section", "locked")
	}
	if after != 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if before != 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	if len(q) == 0 {
		return "/contacts"
	}
	return "/contacts?" + q.Encode()
}

// viewName names the section and search shown, as the export menu offers them: "Locked out
// contacts matching “smith”".
func (v ListView) viewName() string {
	name := "Active contacts"
	if v.Section == db.StatusLocked {
		name = "Locked out contacts"
	}
	if v.Search != "" {
		name += " matching “" + v.Search + "”"
	}
	return name
}

// exportURL is the export of the view in format.
func (v ListView) exportURL(format string) string {
	q := url.Values{"section": {"active"}}
	if v.Section == db.StatusLocked {
		q.Set("section", "locked")
	}
	if v.Search != "" {
		q.Set("q", v.Search)
	}
	return "/contacts/export." + format + "?" + q.Encode()
}

// total is how many contacts the section shown holds (under the search, at least).
func (v ListView) total() int {
	if v.Section == db.StatusLocked {
		return v.Page.Counts.Locked
	}
	return v.Page.Counts.Active
}

func (v ListView) sectionCount(section string) string {
	n := v.Page.Counts.Active
	if section == db.StatusLocked {
		n = v.Page.Counts.Locked
	}
	s := export.Thousands(n)
	if v.Page.Counts.AtLeast {
		s += "+"
	}
	return s
}

func contactURL(id int64) templ.SafeURL { return templ.SafeURL(fmt.Sprintf("/contacts/%d", id)) }

func contactPath(id int64, suffix string) string { return fmt.Sprintf("/contacts/%d%s", id, suffix) }

// whyLocked says why a locked contact is locked, in the words of SPEC 3.4: who locked it
// and when, or how many failed logins locked it and when the last one was.
func whyLocked(l db.Lock) string {
	switch l.LockReason {
	case db.LockedByAdmin:
		return lockedByText(l.LockedByName, l.LockedAt)
	case db.LockedByFailedLogins:
		return fmt.Sprintf("Too many failed login attempts (%d) on %s", l.FailedLogins,
			formatTime(lastFailure(l.LastFailedAt, l.LockedAt)))
	case db.LockedAccessEnded:
		return "Access ended on " + formatTime(l.LockedAt)
	case db.LockedWithOrganization:
		with := "its organization"
		if l.LockedWith != "" {
			with = l.LockedWith
		}
		by := l.LockedByName
		if by == "" {
			by = "a contact admin"
		}
		return fmt.Sprintf("Locked with %s by %s on %s", with, by, formatTime(l.LockedAt))
	}
	return ""
}

func lockedByText(by string, at time.Time) string {
	if by == "" { // the admin who locked it has been deleted since
		by = "a contact admin"
	}
	return fmt.Sprintf("Locked by %s on %s", by, formatTime(at))
}

// lastFailure is when the failed login that locked the contact happened; contacts locked
// before the time was recorded fall back to the lock's time.
func lastFailure(lastFailedAt, lockedAt time.Time) time.Time {
	if lastFailedAt.IsZero() {
		return lockedAt
	}
	return lastFailedAt
}

// actionLabels name audit actions in the history and in the audit log's Action filter, which
// offers exactly these: every action the portal records has one (TestEveryActionHasALabel).
var actionLabels = map[string]string{
	db.ActionContactCreated:   "Created",
	db.ActionContactEdited:    "Edited",
	db.ActionContactLocked:    "Locked out",
	db.ActionContactUnlocked:  "Unlocked",
	db.ActionAutoLocked:       "Locked automatically",
	db.ActionAutoUnlocked:     "Automatic lock lifted",
	db.ActionLoginSucceeded:   "Logged in",
	db.ActionLoginFailed:      "Login failed",
	db.ActionLogout:           "Logged out",
	db.ActionResetRequested:   "Password reset link requested",
	db.ActionResetRefused:     "Password reset link refused",
	db.ActionInvitationSent:   "Invitation sent",
	db.ActionLinkUsed:         "Link used",
	db.ActionPasswordChanged:  "Password changed",
	db.ActionUnlockedByReset:  "Unlocked by a password reset",
	db.ActionMailGivenUp:      "Email given up",
	db.ActionAccessDenied:     "Access refused",
	db.ActionContactsExported: "Contacts exported",

	db.ActionPasswordAccepted:       "Password accepted",
	db.ActionSecondStepPassed:       "Second step passed",
	db.ActionSignInExpired:          "Sign-in timed out",
	db.ActionTwoFactorAdded:         "Two-step verification added",
	db.ActionTwoFactorRemoved:       "Two-step verification removed",
	db.ActionRecoveryCodesGenerated: "New recovery codes",
	db.ActionTwoFactorReset:         "Two-step verification reset",
	db.ActionTwoFactorRequired:      "Two-step verification required",
	db.ActionTwoFactorNotRequired:   "Two-step verification no longer required",
	db.ActionReauthenticated:        "Confirmed who they are",
	db.ActionSignedOutEverywhere:    "Signed out everywhere",
	db.ActionAuditExported:          "Audit log exported",

	db.ActionCreateRefused:        "Create refused",
	db.ActionAccessEnded:          "Access ended",
	db.ActionOrganizationLocked:   "Organization locked",
	db.ActionOrganizationUnlocked: "Organization unlocked",
	db.ActionContactRemoved:       "Removed",
	db.ActionContactsImported:     "Contacts imported",
	db.ActionEmailChangeRequested: "Email change requested",
	db.ActionEmailChangeConfirmed: "Email change confirmed",
	db.ActionEmailChangeCancelled: "Email change cancelled",
	db.ActionEmailChangeFailed:    "Email change failed",
	db.ActionEmailKeyConflict:     "User name conflict",
}

func actionLabel(action string) string {
	if l, ok := actionLabels[action]; ok {
		return l
	}
	s := strings.ReplaceAll(action, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func actorName(e db.Event) string {
	switch {
	case e.ActorName != "":
		return e.ActorName
	case e.ActorID == 0:
		return "System"
	}
	return "A deleted contact"
}

func lastLogin(c db.ListRow) string { return formatTime(c.LastLoginAt) }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
