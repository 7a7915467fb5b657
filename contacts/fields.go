package contacts

import (
	"strings"
	"time"

	"portal/db"
	"portal/validate"
)

// clean trims what people typed around the text fields.
func clean(f db.ContactFields) db.ContactFields {
	f.FirstName = strings.TrimSpace(f.FirstName)
	f.LastName = strings.TrimSpace(f.LastName)
	f.Email = strings.TrimSpace(f.Email)
	f.Phone = strings.TrimSpace(f.Phone)
	f.JobTitle = strings.TrimSpace(f.JobTitle)
	return f
}

// check returns what is wrong with f for a contact in sc, by form field name, or nil. The
// account must be one of the scope's, whatever the form said: a hand-made form can't reach
// another tenant. A role that is none of the roles is refused, never dropped silently.
// Access ends must lie ahead of now, unless it is stored (the access end a contact already
// has, passed or not, is kept by saving the form again).
func check(f db.ContactFields, sc db.Scope, now, stored time.Time) error {
	problems := FieldErrors{}
	note := func(field string, err error) {
		if err != nil {
			problems[field] = err.Error()
		}
	}
	note("first_name", validate.Name("First name", f.FirstName))
	note("last_name", validate.Name("Last name", f.LastName))
	note("email", validate.Email(f.Email))
	note("phone", validate.Phone(f.Phone))
	note("job_title", validate.JobTitle(f.JobTitle))
	if !sc.Contains(f.AccountID) {
		problems["account_id"] = "Choose an account from the list."
	}
	for _, r := range f.Roles {
		if !r.Known() {
			problems["role"] = "Choose Contact admin, Incident contact, or neither."
		}
	}
	if !f.AccessEnds.IsZero() && !f.AccessEnds.After(now) && !f.AccessEnds.Equal(stored) {
		problems["access_ends"] = "Choose a date and time in the future, or leave Access ends empty."
	}
	if len(problems) > 0 {
		return problems
	}
	return nil
}

// changedFields names the fields that differ between a stored contact and new values, for
// the audit log.
func changedFields(before db.Contact, after db.ContactFields) []string {
	var changed []string
	note := func(field string, differs bool) {
		if differs {
			changed = append(changed, field)
		}
	}
	note("first name", before.FirstName != after.FirstName)
	note("last name", before.LastName != after.LastName)
	note("email", before.Email != after.Email)
	note("phone", before.Phone != after.Phone)
	note("job title", before.JobTitle != after.JobTitle)
	note("account", before.AccountID != after.AccountID)
	note("access ends", !before.AccessEndsAt.Equal(after.AccessEnds))
	note("roles", db.RolesDetail(before.Roles) != db.RolesDetail(after.Roles))
	return changed
}
