package handlers

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/contacts"
)

// Sessions is what a contact admin does about where a contact is signed in.
type Sessions struct {
	contacts *contacts.Service
}

// SignOutEverywhere is Sign out everywhere on a contact's page (SPEC R-LIFECYCLE): every
// session of the contact ends, its next request goes to the login page. On their own page
// an admin keeps the session they clicked from. HTMX gets the contact's details again with
// the confirmation; a plain form a redirect and the confirmation as a flash.
func (h *Sessions) SignOutEverywhere(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	p, ended, err := h.contacts.SignOutEverywhere(c.UserContext(), actor, id, viewerOf(c).sess.IDHash())
	if err != nil {
		return err
	}
	name := p.Contact.Name()
	flash := components.Flash{Kind: flashSuccess, Text: fmt.Sprintf("%s has been signed out everywhere (%s ended).", name, components.Count(int(ended), "session"))}
	switch {
	case ended == 0 && id == actor.ID():
		flash = components.Flash{Kind: flashInfo, Text: "You are not signed in anywhere else."}
	case ended == 0:
		flash = components.Flash{Kind: flashInfo, Text: name + " was not signed in anywhere."}
	case id == actor.ID():
		flash.Text = fmt.Sprintf("You have been signed out everywhere else (%s ended); this browser stays signed in.", components.Count(int(ended), "session"))
	}
	if !isFragment(c) {
		return flashRedirect(c, flash.Kind, flash.Text, contactHref(id))
	}
	return render(c, fiber.StatusOK, components.ContactDetailsFragment(p, &flash), nil)
}
