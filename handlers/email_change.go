package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/contacts"
	"portal/db"
)

// EmailChanges handles the two links of an email change (SPEC R-EDIT): the new address
// confirms it, the old one can cancel it; and a contact admin's Resend and Cancel.
type EmailChanges struct {
	contacts *contacts.Service
}

// ShowConfirm renders the page the confirmation link opens. It only reads: mail scanners
// open links, and that must not confirm anything.
func (h *EmailChanges) ShowConfirm(c *fiber.Ctx) error {
	link, err := h.contacts.OpenEmailChangeLink(c.UserContext(), c.Params("token"), true)
	if err != nil {
		return emailLinkAnswer(c, err)
	}
	return render(c, fiber.StatusOK, components.ConfirmEmailPage(shell(c, "Confirm your new email address", "login"),
		c.Params("token"), link.Change.NewEmail, link.Contact.Email), nil)
}

// Confirm makes the new address the contact's user name.
func (h *EmailChanges) Confirm(c *fiber.Ctx) error {
	link, err := h.contacts.ConfirmEmailChange(c.UserContext(), c.Params("token"), clientIP(c))
	switch {
	case err == nil:
		return render(c, fiber.StatusOK, components.EmailConfirmedPage(shell(c, "Your email address has been changed", "login"),
			link.Change.NewEmail), nil)
	case errors.Is(err, contacts.ErrEmailInUse):
		return render(c, fiber.StatusConflict, components.EmailInUsePage(shell(c, "This email address can't be used", "login"),
			link.Change.NewEmail), nil)
	}
	return emailLinkAnswer(c, err)
}

// ShowCancel renders the page the link mailed to the old address opens.
func (h *EmailChanges) ShowCancel(c *fiber.Ctx) error {
	link, err := h.contacts.OpenEmailChangeLink(c.UserContext(), c.Params("token"), false)
	if err != nil {
		return emailLinkAnswer(c, err)
	}
	return render(c, fiber.StatusOK, components.CancelEmailChangePage(shell(c, "Cancel the change of your email address", "login"),
		c.Params("token"), link.Change.NewEmail, link.Contact.Email), nil)
}

// Cancel cancels the change from the old address.
func (h *EmailChanges) Cancel(c *fiber.Ctx) error {
	if err := h.contacts.CancelEmailChangeByLink(c.UserContext(), c.Params("token"), clientIP(c)); err != nil {
		return emailLinkAnswer(c, err)
	}
	return render(c, fiber.StatusOK, components.EmailChangeCancelledPage(shell(c, "The change has been cancelled", "login")), nil)
}

// emailLinkAnswer is the one page for an email change link that can't be used, or err.
func emailLinkAnswer(c *fiber.Ctx, err error) error {
	if !errors.Is(err, contacts.ErrLinkInvalid) {
		return err
	}
	return render(c, fiber.StatusGone, components.EmailLinkInvalidPage(shell(c, "This link can't be used", "login")), nil)
}

// Resend is Resend on a contact's page: the new address is asked again with a fresh link.
func (h *EmailChanges) Resend(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	ch, err := h.contacts.ResendEmailChange(c.UserContext(), actor, id)
	var tooMany *contacts.TooManyLinksError
	switch {
	case err == nil:
		return flashRedirect(c, flashSuccess, "A confirmation link has been sent to "+ch.NewEmail+" again. The link is valid for "+components.Duration(db.EmailChangeTTL)+".", contactHref(id))
	case errors.Is(err, contacts.ErrNoEmailChange):
		return flashRedirect(c, flashInfo, "No change of the email address is waiting.", contactHref(id))
	case errors.As(err, &tooMany):
		return flashRedirect(c, flashError, tooManyLinks(tooMany, "this contact"), contactHref(id))
	}
	return err
}

// CancelByAdmin is Cancel on a contact's page.
func (h *EmailChanges) CancelByAdmin(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	err = h.contacts.CancelEmailChange(c.UserContext(), actor, id)
	switch {
	case err == nil:
		return flashRedirect(c, flashSuccess, "The change of the email address has been cancelled.", contactHref(id))
	case errors.Is(err, contacts.ErrNoEmailChange):
		return flashRedirect(c, flashInfo, "No change of the email address is waiting.", contactHref(id))
	}
	return err
}
