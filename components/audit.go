package components

import (
	"net/url"
	"sort"
	"strconv"

	"portal/db"
)

// AuditView is one page of a scope's audit log under the filters the URL asked for.
type AuditView struct {
	Events  []db.Event
	Before  int64 // the cursor this page was read with; 0 for the newest page
	OlderID int64 // cursor of the next, older page; 0 when this is the oldest
	Filter  AuditFilterForm
	// Contact is the contact filtered by (zero without one); Choices are the contacts the
	// filter offers, complete unless the scope has too many (ChoicesComplete false).
	Contact         db.Contact
	Choices         []db.ContactName
	ChoicesComplete bool
	// Errors are the filters that can't be used as typed: field name → a sentence. The page
	// then shows no events.
	Errors map[string]string
}

// AuditFilterForm is the audit log's filters as the URL carries them: a contact id, an
// action, and the first and last days (UTC, YYYY-MM-DD).
type AuditFilterForm struct {
	Contact string
	Action  string
	From    string
	To      string
}

func (f AuditFilterForm) values() url.Values {
	q := url.Values{}
	for key, value := range map[string]string{"contact": f.Contact, "action": f.Action, "from": f.From, "to": f.To} {
		if value != "" {
			q.Set(key, value)
		}
	}
	return q
}

// Filtered reports whether any filter is set.
func (f AuditFilterForm) Filtered() bool { return len(f.values()) > 0 }

// URL is the address of this view's page after the event before (0: the newest), with the
// same filters: Back and reload come back to exactly this.
func (v AuditView) URL(before int64) string {
	q := v.Filter.values()
	if before != 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	if len(q) == 0 {
		return "/audit"
	}
	return "/audit?" + q.Encode()
}

// ExportURL is Export audit log under this view's filters.
func (v AuditView) ExportURL() string {
	if q := v.Filter.values(); len(q) > 0 {
		return "/audit/export.csv?" + q.Encode()
	}
	return "/audit/export.csv"
}

func (v AuditView) err(field string) string { return v.Errors[field] }

// contactDescribedBy is what describes the contact filter: its error, or else the hint that
// the list is missing when the scope has too many contacts to list.
func (v AuditView) contactDescribedBy() string {
	switch {
	case v.err("contact") != "":
		return "audit-contact-error"
	case !v.ChoicesComplete:
		return "audit-contact-hint"
	}
	return ""
}

// contactChoices are the contact filter's options: the scope's contacts, and the contact
// filtered by when the list lacks it (a long list is not shown at all).
func (v AuditView) contactChoices() []db.ContactName {
	choices := v.Choices
	if v.Contact.ID == 0 {
		return choices
	}
	for _, c := range choices {
		if c.ID == v.Contact.ID {
			return choices
		}
	}
	selected := db.ContactName{ID: v.Contact.ID, FirstName: v.Contact.Name(), Email: v.Contact.Email}
	return append([]db.ContactName{selected}, choices...)
}

func (v AuditView) contactSelected(id int64) bool {
	return strconv.FormatInt(id, 10) == v.Filter.Contact
}

// ActionLabel is an audit action as the portal words it (see actionLabels).
func ActionLabel(action string) string { return actionLabel(action) }

// actionChoice is one option of the action filter.
type actionChoice struct{ Action, Label string }

// actionChoices are the actions the filter offers, by label: every action the portal words,
// and the one filtered by if it is not among them (a link from elsewhere).
func actionChoices(current string) []actionChoice {
	out := make([]actionChoice, 0, len(actionLabels)+1)
	for action, label := range actionLabels {
		out = append(out, actionChoice{action, label})
	}
	if _, known := actionLabels[current]; current != "" && !known {
		out = append(out, actionChoice{current, actionLabel(current)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}

// contactChoiceLabel names a contact in the filter: name and email, since names repeat.
func contactChoiceLabel(c db.ContactName) string {
	switch {
	case c.Name() == "":
		return c.Email
	case c.Email == "": // a removed contact, "Removed contact #id"
		return c.Name()
	}
	return c.Name() + " (" + c.Email + ")"
}
