package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/contacts"
	"portal/db"
	"portal/export"
)

// Lifecycle is a contact's whole life (SPEC 3.10): organizations locked and unlocked at
// once, and contacts removed with their personal data.
type Lifecycle struct {
	log      *slog.Logger
	contacts *contacts.Service
}

// Organizations lists the child organizations of the admin's account with Lock organization
// and Unlock organization.
func (h *Lifecycle) Organizations(c *fiber.Ctx, actor contacts.Actor) error {
	orgs, err := h.contacts.Organizations(c.UserContext(), actor)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, components.OrganizationsPage(shell(c, "Organizations", "my-contacts"), orgs), nil)
}

// organization reads the route's organization.
func (h *Lifecycle) organization(c *fiber.Ctx, actor contacts.Actor) (contacts.Organization, error) {
	id, err := organizationID(c)
	if err != nil {
		return contacts.Organization{}, err
	}
	o, err := h.contacts.Organization(c.UserContext(), actor, id)
	return o, notChild(err)
}

func organizationID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return 0, contacts.ErrNotFound
	}
	return id, nil
}

// notChild says why Lock and Unlock organization refuse the admin's own account.
func notChild(err error) error {
	if errors.Is(err, contacts.ErrNotChildOrganization) {
		return fiber.NewError(fiber.StatusUnprocessableEntity,
			"Lock organization is for the organizations below your own. To lock contacts of your own account, select them in All Contacts.")
	}
	return err
}

// ConfirmLock names what Lock organization will do, and asks.
func (h *Lifecycle) ConfirmLock(c *fiber.Ctx, actor contacts.Actor) error {
	o, err := h.organization(c, actor)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, components.ConfirmOrganizationPage(shell(c, "Lock organization", "my-contacts"), o, true), nil)
}

// ConfirmUnlock names what Unlock organization will do, and asks.
func (h *Lifecycle) ConfirmUnlock(c *fiber.Ctx, actor contacts.Actor) error {
	o, err := h.organization(c, actor)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, components.ConfirmOrganizationPage(shell(c, "Unlock organization", "my-contacts"), o, false), nil)
}

// Lock is Lock organization: one message, and the contacts left as they were, with why.
func (h *Lifecycle) Lock(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := organizationID(c)
	if err != nil {
		return err
	}
	r, err := h.contacts.LockOrganization(c.UserContext(), actor, id)
	if err := stoppedPartWay(h.log, notChild(err)); err != nil {
		return err
	}
	return render(c, fiber.StatusOK, components.BulkResultPage(shell(c, "Lock organization", "my-contacts"),
		"Lock organization: "+actor.Scope.Name(id), BulkMessage(r.Done, "locked out"), r, "/organizations"), nil)
}

// Unlock is Unlock organization.
func (h *Lifecycle) Unlock(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := organizationID(c)
	if err != nil {
		return err
	}
	r, err := h.contacts.UnlockOrganization(c.UserContext(), actor, id)
	if err := stoppedPartWay(h.log, notChild(err)); err != nil {
		return err
	}
	return render(c, fiber.StatusOK, components.BulkResultPage(shell(c, "Unlock organization", "my-contacts"),
		"Unlock organization: "+actor.Scope.Name(id), BulkMessage(r.Done, "unlocked"), r, "/organizations"), nil)
}

// BulkMessage is the one message after a bulk action, in SPEC 3.8's words: "37 contacts
// have been locked out."
func BulkMessage(n int, done string) string {
	switch n {
	case 0: // everyone was skipped: the list below says why
		return "No contacts have been " + done + "."
	case 1:
		return "1 contact has been " + done + "."
	}
	return fmt.Sprintf("%s contacts have been %s.", export.Thousands(n), done)
}

// ConfirmRemove names the contact Remove this contact will erase, and asks.
func (h *Lifecycle) ConfirmRemove(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	p, err := h.contacts.RemovalPage(c.UserContext(), actor, id)
	if err != nil {
		return removeRefused(c, err, p.Contact)
	}
	return render(c, fiber.StatusOK, components.ConfirmRemovePage(shell(c, "Remove "+p.Contact.Name(), "my-contacts"), p.Contact,
		reauthView(h.contacts, actor, "")), nil)
}

// removeRefused answers a Remove this contact that the rules refuse, on contact's page.
func removeRefused(c *fiber.Ctx, err error, contact db.Contact) error {
	switch {
	case errors.Is(err, contacts.ErrRemoveSelf):
		return flashRedirect(c, flashError, "You can't remove yourself.", contactHref(contact.ID))
	case errors.Is(err, contacts.ErrLastAdmin):
		return flashRedirect(c, flashError, contact.Name()+" is the last active contact admin of "+contact.AccountName+
			" and can't be removed. Make someone else a contact admin first.", contactHref(contact.ID))
	}
	return err
}

// Remove is Remove this contact.
func (h *Lifecycle) Remove(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	problem, err := reauthenticate(c, h.contacts, &actor)
	if err != nil {
		return err
	}
	var removed db.Contact
	if problem == "" {
		removed, err = h.contacts.Remove(c.UserContext(), actor, id)
	} else {
		err = contacts.ErrReauthRequired
	}
	switch {
	case err == nil:
		return flashRedirect(c, flashSuccess, removed.Name()+" has been removed, and their personal data erased.", "/contacts")
	case errors.Is(err, contacts.ErrRemoveSelf), errors.Is(err, contacts.ErrLastAdmin):
		return removeRefused(c, err, removed)
	case errors.Is(err, contacts.ErrReauthRequired):
		p, err := h.contacts.Page(c.UserContext(), actor, id)
		if err != nil {
			return err
		}
		if problem == "" {
			problem = "Enter your password to confirm it's you."
		}
		return render(c, fiber.StatusUnprocessableEntity, components.ConfirmRemovePage(shell(c, "Remove "+p.Contact.Name(), "my-contacts"),
			p.Contact, reauthView(h.contacts, actor, problem)), nil)
	}
	return err
}
