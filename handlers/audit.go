package handlers

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/contacts"
	"portal/db"
)

// auditPageSize is how many events one page of the audit log shows.
const auditPageSize = 50

// Audit shows contact admins the audit log of the accounts they manage.
type Audit struct {
	contacts *contacts.Service
}

// Show renders one page of the scope's audit log, newest first, under the filters of the
// URL. Filters that can't be used are shown beside their fields (400), as is a contact that
// is not in the scope (404, the same as one that does not exist).
func (h *Audit) Show(c *fiber.Ctx, actor contacts.Actor) error {
	before, err := strconv.ParseInt(c.Query("before", "0"), 10, 64)
	if err != nil || before < 0 {
		return fiber.NewError(fiber.StatusBadRequest, "That page of the audit log does not exist.")
	}
	v := components.AuditView{Before: before}
	var f db.AuditFilter
	v.Filter, f, v.Errors = auditFilter(c)
	status := fiber.StatusOK
	if len(v.Errors) > 0 {
		status = fiber.StatusBadRequest
	} else {
		// One event more than a page tells whether an older page follows.
		events, contact, err := h.contacts.AuditLog(c.UserContext(), actor, f, before, auditPageSize+1)
		switch {
		case errors.Is(err, db.ErrNotFound):
			status, v.Errors = fiber.StatusNotFound, map[string]string{"contact": errNoSuchContact}
		case err != nil:
			return err
		}
		v.Events, v.Contact = events, contact
		if len(events) > auditPageSize {
			v.Events = events[:auditPageSize]
			v.OlderID = v.Events[auditPageSize-1].ID
		}
	}
	if v.Choices, v.ChoicesComplete, err = h.contacts.AuditContacts(c.UserContext(), actor); err != nil {
		return err
	}
	return render(c, status, components.AuditPage(shell(c, "Audit log", "my-contacts"), v), nil)
}

const errNoSuchContact = "There is no such contact in your organization."

// auditAction is what a stored action name looks like; anything else is not one.
var auditAction = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// maxFilterLength bounds what a filter field is shown back with: no real one is longer.
const maxFilterLength = 100

// auditFilter reads the audit log's filters from the query string: contact (an id), action
// (a stored name), from and to (days, UTC, both included). It returns them as typed, for the
// form and the links, as the store's filter, and the fields that can't be used, each with a
// sentence saying why.
func auditFilter(c *fiber.Ctx) (components.AuditFilterForm, db.AuditFilter, map[string]string) {
	query := func(key string) string {
		v := strings.TrimSpace(c.Query(key))
		if !utf8.ValidString(v) {
			v = strings.ToValidUTF8(v, "\uFFFD")
		}
		if utf8.RuneCountInString(v) > maxFilterLength {
			v = string([]rune(v)[:maxFilterLength])
		}
		return v
	}
	form := components.AuditFilterForm{Contact: query("contact"), Action: query("action"), From: query("from"), To: query("to")}
	var f db.AuditFilter
	problems := map[string]string{}
	if form.Contact != "" {
		id, err := strconv.ParseInt(form.Contact, 10, 64)
		if err != nil || id <= 0 {
			problems["contact"] = "Choose a contact from the list."
		}
		f.ContactID = id
	}
	if form.Action != "" {
		if !auditAction.MatchString(form.Action) {
			problems["action"] = "Choose an action from the list."
		}
		f.Action = form.Action
	}
	from, fromOK := parseDay(form.From)
	if !fromOK {
		problems["from"] = "Enter the first day as YYYY-MM-DD, for example 2026-11-30."
	}
	to, toOK := parseDay(form.To)
	if !toOK {
		problems["to"] = "Enter the last day as YYYY-MM-DD, for example 2026-11-30."
	}
	if fromOK && toOK && !from.IsZero() && !to.IsZero() && to.Before(from) {
		problems["to"] = "The last day is before the first day."
	}
	f.From = from
	if !to.IsZero() {
		f.Until = to.AddDate(0, 0, 1) // the last day is included, to its end
	}
	if len(problems) == 0 {
		problems = nil
	}
	return form, f, problems
}

// parseDay reads a day (YYYY-MM-DD, UTC); "" is no day, and fine.
func parseDay(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Year() < 1970 {
		return time.Time{}, false
	}
	return t, true
}
