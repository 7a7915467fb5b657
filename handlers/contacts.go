package handlers

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/db"
)

// Contacts is the contact admin's part of the portal: My contacts, All Contacts, a contact's
// page, create, edit, lock and unlock. Every read and write goes through the admin's
// db.Scope, so an id outside it answers 404 and changes nothing.
type Contacts struct {
	log   *slog.Logger
	store *db.Store
	// Tiles are the actions of My contacts after Create contact and Manage your contacts;
	// features that add an action (Reset password) append theirs when wiring.
	Tiles []components.Tile
	// DetailActions and DetailPanels add to a contact's page (see components.DetailsView).
	DetailActions []func(c *fiber.Ctx, contact db.Contact) components.DetailsExtra
	// OnCreated runs in the transaction that creates a contact (the mail feature queues the
	// set-your-password mail there). Nil: nothing more happens.
	OnCreated func(c *fiber.Ctx, tx *db.Tx, created db.Contact) error
}

// NewContacts builds the contact admin's handlers.
func NewContacts(log *slog.Logger, store *db.Store) *Contacts {
	return &Contacts{log: log, store: store}
}

// PageSize is how many contacts a page of All Contacts shows.
const PageSize = 25

// maxSearchLength bounds what a search may carry; nobody types more to find a contact.
const maxSearchLength = 200

// scope is the signed-in admin's scope; requireAdmin has run, so there is a contact.
func (h *Contacts) scope(c *fiber.Ctx) (db.Scope, error) {
	return h.store.ScopeOf(c.UserContext(), viewerOf(c).contact.AccountID)
}

func (h *Contacts) actor(c *fiber.Ctx) db.Actor {
	return db.Actor{ID: viewerOf(c).contact.ID, RemoteIP: c.IP()}
}

// MyContacts is the start page of contact admins (SPEC 3.1).
func (h *Contacts) MyContacts(c *fiber.Ctx) error {
	tiles := append([]components.Tile{
		{Title: "Create contact", Text: "Add a colleague to the portal.", Href: "/contacts/new", TestID: "tile-create-contact"},
		{Title: "Manage your contacts", Text: "Find, lock and unlock contacts, and see their history.", Href: "/contacts", TestID: "tile-manage-contacts"},
	}, h.Tiles...)
	return render(c, fiber.StatusOK, components.MyContactsPage(shell(c, "My contacts", "my-contacts"), tiles), nil)
}

// contactID reads the :id route parameter; the route's int constraint already refused others.
func contactID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, db.ErrNotFound
	}
	return id, nil
}

// routeContact reads the contact the :id route parameter names, in the signed-in admin's
// scope, and returns the scope with it. An id outside the scope is db.ErrNotFound (404),
// before anything else happens.
func (h *Contacts) routeContact(c *fiber.Ctx) (db.Scope, db.Contact, error) {
	id, err := contactID(c)
	if err != nil {
		return db.Scope{}, db.Contact{}, err
	}
	sc, err := h.scope(c)
	if err != nil {
		return db.Scope{}, db.Contact{}, err
	}
	contact, err := h.store.ContactInScope(c.UserContext(), sc, id)
	return sc, contact, err
}

// listView reads search, sort, section and cursor from the query string. Anything odd
// falls back to the default rather than failing: these are links people bookmark.
func listView(c *fiber.Ctx) (components.ListView, db.ListQuery) {
	v := components.ListView{Section: db.StatusActive, Sort: db.SortName}
	if c.Query("section") == "locked" {
		v.Section = db.StatusLocked
	}
	for _, s := range db.Sorts {
		if c.Query("sort") == s {
			v.Sort = s
		}
	}
	v.Search = strings.TrimSpace(c.Query("q"))
	if !utf8.ValidString(v.Search) {
		v.Search = ""
	}
	if utf8.RuneCountInString(v.Search) > maxSearchLength {
		v.Search = string([]rune(v.Search)[:maxSearchLength])
	}
	after, _ := strconv.ParseInt(c.Query("after"), 10, 64)
	before, _ := strconv.ParseInt(c.Query("before"), 10, 64)
	return v, db.ListQuery{Status: v.Section, Sort: v.Sort, Search: v.Search, After: max(after, 0),
		Before: max(before, 0), Limit: PageSize}
}

// List is All Contacts (SPEC 3.3): a full page, or for HTMX only the list it replaces.
func (h *Contacts) List(c *fiber.Ctx) error {
	ctx := c.UserContext()
	sc, err := h.scope(c)
	if err != nil {
		return err
	}
	v, q := listView(c)
	if v.Page, err = h.store.ListContacts(ctx, sc, q); err != nil {
		return err
	}
	v.Counts = v.Page.Counts
	return render(c, fiber.StatusOK, components.AllContactsPage(shell(c, "All Contacts", "my-contacts"), v),
		components.ContactListFragment(v))
}

// historyLength is how many audit events a contact's page shows.
const historyLength = 50

// details reads what the page of contact (read in scope sc) shows besides the contact.
func (h *Contacts) details(c *fiber.Ctx, sc db.Scope, contact db.Contact) (components.DetailsView, error) {
	ctx := c.UserContext()
	history, err := h.store.History(ctx, sc, contact.ID, historyLength)
	if err != nil {
		return components.DetailsView{}, err
	}
	v := components.DetailsView{Contact: contact, History: history, CanLock: contact.ID != viewerOf(c).contact.ID}
	// The last active contact admin of an account can't be locked: offer no button that
	// could only answer with a refusal, and say why.
	if last, err := h.store.IsLastActiveAdmin(ctx, contact); err != nil {
		return components.DetailsView{}, err
	} else if last && v.CanLock {
		v.CanLock = false
		v.NoLock = contact.Name() + " is the last active contact admin of " + contact.AccountName + ", so they can't be locked out."
	}
	for _, extra := range h.DetailActions {
		e := extra(c, contact)
		v.Actions = append(v.Actions, e.Actions...)
		v.Panels = append(v.Panels, e.Panels...)
	}
	return v, nil
}

// Show is a contact's page.
func (h *Contacts) Show(c *fiber.Ctx) error {
	sc, contact, err := h.routeContact(c)
	if err != nil {
		return err
	}
	v, err := h.details(c, sc, contact)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, components.ContactDetailsPage(shell(c, v.Contact.Name(), "my-contacts"), v),
		components.ContactDetails(v))
}

func contactHref(id int64) string { return fmt.Sprintf("/contacts/%d", id) }
