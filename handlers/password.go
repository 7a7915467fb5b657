package handlers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"portal/auth"
	"portal/components"
	"portal/contacts"
	"portal/db"
)

// Passwords handles the links that set a password: Forgot password?, the page a link opens,
// the admins' Reset password, Send password reset link and Resend invitation, and a
// contact's own Change password.
type Passwords struct {
	contacts *contacts.Service
}

// noReferrer keeps a link's token out of the Referer of anything the page loads or links to.
func noReferrer(c *fiber.Ctx) error {
	c.Set("Referrer-Policy", "no-referrer")
	return c.Next()
}

// ShowForgot renders the Forgot password? form.
func (h *Passwords) ShowForgot(c *fiber.Ctx) error {
	return h.forgotPage(c, fiber.StatusOK, components.ForgotPasswordForm{})
}

func (h *Passwords) forgotPage(c *fiber.Ctx, status int, f components.ForgotPasswordForm) error {
	return render(c, status, components.ForgotPasswordPage(shell(c, "Forgot password?", "login"), f), nil)
}

// SubmitForgot asks for a reset link; the answer is the same whether or not the address
// belongs to anyone.
func (h *Passwords) SubmitForgot(c *fiber.Ctx) error {
	form := components.ForgotPasswordForm{Email: strings.TrimSpace(bodyValue(c, "email"))}
	err := h.contacts.ForgotPassword(c.UserContext(), form.Email, clientIP(c))
	switch {
	case errors.Is(err, contacts.ErrThrottled):
		form.Error = "Too many requests from your network. Wait a minute and try again."
		return h.forgotPage(c, fiber.StatusTooManyRequests, form)
	case errors.Is(err, contacts.ErrNotAnEmail):
		form.Error = "Enter your user name: the email address you log in with, like name@example.com."
		return h.forgotPage(c, fiber.StatusUnprocessableEntity, form)
	case err != nil:
		return err
	}
	return render(c, fiber.StatusOK, components.ForgotPasswordSentPage(shell(c, "Check your email", "login"), form.Email), nil)
}

// ShowSetPassword renders the form a link opens. It only reads: mail scanners open links,
// and that must not use them up.
func (h *Passwords) ShowSetPassword(c *fiber.Ctx) error {
	link, err := h.contacts.OpenLink(c.UserContext(), c.Params("token"))
	if err != nil {
		return linkAnswer(c, err, h.contacts.InviteTTL())
	}
	return setPasswordPage(c, fiber.StatusOK, components.SetPasswordForm{Token: c.Params("token"),
		Invite: link.Invite, Email: link.Contact.Email, MinLength: link.MinPasswordLength()})
}

// SubmitSetPassword sets the password of a link's contact. It does not sign the contact in:
// logging in with the new password proves it was typed as meant.
func (h *Passwords) SubmitSetPassword(c *fiber.Ctx) error {
	token := c.Params("token")
	link, err := h.contacts.SetPassword(c.UserContext(), token, bodyValue(c, "password"), bodyValue(c, "confirm"), clientIP(c))
	if err == nil {
		return render(c, fiber.StatusOK, components.PasswordSetPage(shell(c, "Your password has been set", "login")), nil)
	}
	if errors.Is(err, contacts.ErrLinkInvalid) {
		return linkAnswer(c, err, h.contacts.InviteTTL())
	}
	form := components.SetPasswordForm{Token: token, Email: link.Contact.Email, Invite: link.Invite,
		MinLength: link.MinPasswordLength()}
	var policy *auth.PolicyError
	status := fiber.StatusUnprocessableEntity
	switch {
	case errors.Is(err, contacts.ErrThrottled):
		form.Error, status = "Too many attempts from your network. Wait a minute and try again.", fiber.StatusTooManyRequests
	case errors.Is(err, contacts.ErrPasswordMissing):
		form.Error = "Enter a new password."
	case errors.Is(err, contacts.ErrPasswordMismatch):
		form.Error = "The two passwords are not the same. Type the new password twice."
	case errors.As(err, &policy):
		form.Error = policy.Reason
	default:
		return err
	}
	return setPasswordPage(c, status, form)
}

// linkAnswer is the one page for a link that can't be used (unknown, expired, used, or
// replaced by a newer link), or the error.
func linkAnswer(c *fiber.Ctx, err error, inviteTTL time.Duration) error {
	if !errors.Is(err, contacts.ErrLinkInvalid) {
		return err
	}
	return render(c, fiber.StatusGone, components.LinkInvalidPage(shell(c, "This link can't be used", "login"), inviteTTL), nil)
}

func setPasswordPage(c *fiber.Ctx, status int, f components.SetPasswordForm) error {
	title := "Set a new password"
	if f.Invite {
		title = "Set your password"
	}
	return render(c, status, components.SetPasswordPage(shell(c, title, "login"), f), nil)
}

// ShowReset renders the admins' Reset password form.
func (h *Passwords) ShowReset(c *fiber.Ctx, actor contacts.Actor) error {
	return h.resetPage(c, fiber.StatusOK, components.ResetPasswordForm{Email: strings.TrimSpace(c.Query("email"))})
}

func (h *Passwords) resetPage(c *fiber.Ctx, status int, f components.ResetPasswordForm) error {
	return render(c, status, components.ResetPasswordPage(shell(c, "Reset password", "my-contacts"), f), nil)
}

// SubmitReset sends a reset link to an active contact in the admin's scope. Anyone else
// gets a clear error and nothing is queued; contacts outside the scope are refused in the
// same words as unknown ones.
func (h *Passwords) SubmitReset(c *fiber.Ctx, actor contacts.Actor) error {
	form := components.ResetPasswordForm{Email: strings.TrimSpace(bodyValue(c, "email"))}
	contact, err := h.contacts.SendResetLink(c.UserContext(), actor, form.Email)
	var tooMany *contacts.TooManyLinksError
	switch {
	case err == nil:
		return flashRedirect(c, flashSuccess, ResetSentMessage(contact.Email), "/reset-password")
	case errors.Is(err, contacts.ErrNotAnEmail):
		form.Error = "Enter the user name (email address) of the contact, like name@example.com."
	case errors.Is(err, contacts.ErrNotFound):
		form.Error = "None of your contacts has the user name " + form.Email + ". Check the spelling, or look the contact up in Manage your contacts."
	case errors.Is(err, contacts.ErrContactLocked):
		form.Error = lockedNoLink(contact.Name())
	case errors.Is(err, contacts.ErrNoPasswordYet):
		form.Error = noPasswordNoLink(contact.Name())
	case errors.As(err, &tooMany):
		form.Error = tooManyLinks(tooMany, contact.Email)
	default:
		return err
	}
	return h.resetPage(c, fiber.StatusUnprocessableEntity, form)
}

func lockedNoLink(name string) string {
	return name + " is locked out, so no reset link was sent. Unlock the contact first."
}

func noPasswordNoLink(name string) string {
	return name + " has not set a password yet, so no reset link was sent. Resend the invitation from their page instead."
}

// ResetSentMessage is the confirmation an admin sees, word for word from SPEC R-RESET.
func ResetSentMessage(email string) string {
	return "A password reset link has been sent to " + email + ". The link is valid for " + components.Duration(db.ResetLinkTTL) + "."
}

// SendResetLink is "Send password reset link" on a contact's page.
func (h *Passwords) SendResetLink(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	contact, err := h.contacts.SendResetLinkTo(c.UserContext(), actor, id)
	var tooMany *contacts.TooManyLinksError
	switch {
	case err == nil:
		return flashRedirect(c, flashSuccess, ResetSentMessage(contact.Email), contactHref(id))
	case errors.Is(err, contacts.ErrContactLocked):
		return flashRedirect(c, flashError, lockedNoLink(contact.Name()), contactHref(id))
	case errors.Is(err, contacts.ErrNoPasswordYet):
		return flashRedirect(c, flashError, noPasswordNoLink(contact.Name()), contactHref(id))
	case errors.As(err, &tooMany):
		return flashRedirect(c, flashError, tooManyLinks(tooMany, contact.Email), contactHref(id))
	}
	return err
}

// ResendInvitation sends a contact without a password a new set-your-password link; the
// older one stops working.
func (h *Passwords) ResendInvitation(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	contact, err := h.contacts.ResendInvitation(c.UserContext(), actor, id)
	var tooMany *contacts.TooManyLinksError
	switch {
	case err == nil:
		return flashRedirect(c, flashSuccess, InvitationSentMessage(contact.Email, h.contacts.InviteTTL()), contactHref(id))
	case errors.Is(err, contacts.ErrHasPassword):
		return flashRedirect(c, flashError, contact.Name()+" has already set a password. Use Send password reset link instead.", contactHref(id))
	case errors.Is(err, contacts.ErrContactLocked):
		return flashRedirect(c, flashError, contact.Name()+" is locked out, so no invitation was sent. Unlock the contact first.", contactHref(id))
	case errors.As(err, &tooMany):
		return flashRedirect(c, flashError, tooManyLinks(tooMany, contact.Email), contactHref(id))
	}
	return err
}

// InvitationSentMessage confirms a set-your-password link, in the words of the reset one.
func InvitationSentMessage(email string, ttl time.Duration) string {
	return "A set-your-password link has been sent to " + email + ". The link is valid for " + components.Duration(ttl) + "."
}

// MailOwnResetLink mails the signed-in contact a reset link ("Forgot your current password?"
// on Change password), under the same hourly limit as Forgot password?.
func (h *Passwords) MailOwnResetLink(c *fiber.Ctx, actor contacts.Actor) error {
	err := h.contacts.MailOwnResetLink(c.UserContext(), actor)
	var tooMany *contacts.TooManyLinksError
	switch {
	case err == nil:
		return flashRedirect(c, flashSuccess, ResetSentMessage(actor.Contact.Email), "/profile/password")
	case errors.As(err, &tooMany):
		return flashRedirect(c, flashError, tooManyLinks(tooMany, actor.Contact.Email), "/profile/password")
	}
	return err
}

// tooManyLinks says why no link was sent to email: it had its hourly share of them.
func tooManyLinks(e *contacts.TooManyLinksError, email string) string {
	return fmt.Sprintf("%d emails with links were sent to %s in the last hour, the most the portal sends in an hour. "+
		"Use the newest link, or try again later.", e.Sent, email)
}
