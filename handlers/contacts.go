package handlers

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/contacts"
	"portal/db"
	"portal/validate"
)

// Contacts is the contact admin's part of the portal: My contacts, All Contacts, a contact's
// page, create, edit, lock and unlock. The rules see the admin's scope, so an id outside it
// answers 404 and changes nothing.
type Contacts struct {
	contacts *contacts.Service
}

// PageSize is how many contacts a page of All Contacts shows.
const PageSize = 25

// maxSearchLength bounds what a search may carry; nobody types more to find a contact.
const maxSearchLength = 200

// MyContacts is the start page of contact admins (SPEC 3.1).
func (h *Contacts) MyContacts(c *fiber.Ctx, actor contacts.Actor) error {
	return render(c, fiber.StatusOK, components.MyContactsPage(shell(c, "My contacts", "my-contacts")), nil)
}

// contactID reads the :id route parameter; the route's int constraint already refused others.
func contactID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, db.ErrNotFound
	}
	return id, nil
}

// listView reads search, sort, section and cursor from the query string. Anything odd
// falls back to the default rather than failing: these are links people bookmark.
func listView(c *fiber.Ctx) (components.ListView, db.ListQuery) {
	return viewOf(func(key string) string { return c.Query(key) })
}

// searchInput is the search as typed, trimmed, cut to maxSearchLength; invalid UTF-8 is no
// search.
func searchInput(q string) string {
	q = strings.TrimSpace(q)
	if !utf8.ValidString(q) {
		return ""
	}
	if utf8.RuneCountInString(q) > maxSearchLength {
		q = string([]rune(q)[:maxSearchLength])
	}
	return q
}

// viewOf reads the section, sort, search and cursors of All Contacts from value: the URL's
// query, or a bulk action's form, which carries the view it was started from.
func viewOf(value func(string) string) (components.ListView, db.ListQuery) {
	v := components.ListView{Section: db.StatusActive, Sort: db.SortName}
	if value("section") == "locked" {
		v.Section = db.StatusLocked
	}
	for _, s := range db.Sorts {
		if value("sort") == s {
			v.Sort = s
		}
	}
	v.Search = searchInput(value("q"))
	after, _ := strconv.ParseInt(value("after"), 10, 64)
	before, _ := strconv.ParseInt(value("before"), 10, 64)
	return v, db.ListQuery{Status: v.Section, Sort: v.Sort, Search: v.Search, After: max(after, 0),
		Before: max(before, 0), Limit: PageSize}
}

// List is All Contacts (SPEC 3.3): a full page, or for HTMX only the list it replaces.
func (h *Contacts) List(c *fiber.Ctx, actor contacts.Actor) error {
	v, q := listView(c)
	var err error
	if v.Page, err = h.contacts.List(c.UserContext(), actor, q); err != nil {
		return err
	}
	return render(c, fiber.StatusOK, components.AllContactsPage(shell(c, "All Contacts", "my-contacts"), v),
		components.ContactListFragment(v))
}

// Show is a contact's page.
func (h *Contacts) Show(c *fiber.Ctx, actor contacts.Actor) error {
	p, err := h.page(c, actor)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, components.ContactDetailsPage(shell(c, p.Contact.Name(), "my-contacts"), p),
		components.ContactDetails(p))
}

// Lock is Lock this contact (SPEC 3.4).
func (h *Contacts) Lock(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	p, err := h.contacts.Lock(c.UserContext(), actor, id)
	return lockAnswer(c, p, err, " has been successfully locked out.")
}

// Unlock is Unlock this contact (SPEC 3.4).
func (h *Contacts) Unlock(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	// A contact whose access ended is given a new end, or none, as it is unlocked.
	accessEnds, err := validate.DateTime("Access ends", bodyValue(c, "access_ends"))
	if err != nil {
		return fiber.NewError(fiber.StatusUnprocessableEntity, err.Error())
	}
	p, err := h.contacts.Unlock(c.UserContext(), actor, id, accessEnds)
	return lockAnswer(c, p, err, " has been successfully unlocked.")
}

// lockAnswer answers a lock or unlock the way the request came: HTMX gets the contact's
// details as the attempt left them, with the confirmation swapped in; a plain form gets a
// redirect and the confirmation as a flash. A lock or unlock that changed nothing (another
// admin was faster, or it is not allowed) says so.
func lockAnswer(c *fiber.Ctx, p contacts.Page, err error, done string) error {
	name := p.Contact.Name()
	flash, status := components.Flash{Kind: flashSuccess, Text: name + done}, fiber.StatusOK
	switch {
	case errors.Is(err, contacts.ErrAlreadyLocked):
		flash = components.Flash{Kind: flashInfo, Text: name + " is already locked out."}
	case errors.Is(err, contacts.ErrAlreadyActive):
		flash = components.Flash{Kind: flashInfo, Text: name + " is not locked out."}
	case errors.Is(err, contacts.ErrLockSelf):
		flash, status = components.Flash{Kind: flashError, Text: "You can't lock yourself out."}, fiber.StatusConflict
	case errors.Is(err, contacts.ErrLastAdmin):
		flash, status = components.Flash{Kind: flashError, Text: name + " is the last active contact admin of " +
			p.Contact.AccountName + " and can't be locked out."}, fiber.StatusConflict
	case errors.Is(err, contacts.ErrAccessEndsPast):
		flash, status = components.Flash{Kind: flashError, Text: "Choose a new access end in the future, or leave it empty, to unlock " +
			name + "."}, fiber.StatusUnprocessableEntity
	case err != nil:
		return err
	}
	if !isFragment(c) {
		return flashRedirect(c, flash.Kind, flash.Text, contactHref(p.Contact.ID))
	}
	return render(c, status, components.ContactDetailsFragment(p, &flash), nil)
}

// page reads the page of the contact the route names.
func (h *Contacts) page(c *fiber.Ctx, actor contacts.Actor) (contacts.Page, error) {
	id, err := contactID(c)
	if err != nil {
		return contacts.Page{}, err
	}
	return h.contacts.Page(c.UserContext(), actor, id)
}

func contactHref(id int64) string { return fmt.Sprintf("/contacts/%d", id) }
