package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/contacts"
	"portal/db"
)

// TwoFactorAdmin is a contact admin's part of two-step verification: requiring it for the
// organization, and Reset two-step verification on a contact's page.
type TwoFactorAdmin struct {
	contacts *contacts.Service
}

// ShowPolicy is the page that requires two-step verification.
func (h *TwoFactorAdmin) ShowPolicy(c *fiber.Ctx, actor contacts.Actor) error {
	return h.policyPage(c, actor, fiber.StatusOK, "")
}

func (h *TwoFactorAdmin) policyPage(c *fiber.Ctx, actor contacts.Actor, status int, problem string) error {
	p, err := h.contacts.TwoFactorPolicy(c.UserContext(), actor)
	if err != nil {
		return err
	}
	v := components.PolicyView{TwoFactorPolicy: p, Error: problem}
	return render(c, status, components.TwoFactorPolicyPage(shell(c, "Two-step verification", "my-contacts"), v), nil)
}

// SetPolicy requires two-step verification (required=on), or stops requiring it.
func (h *TwoFactorAdmin) SetPolicy(c *fiber.Ctx, actor contacts.Actor) error {
	required := bodyValue(c, "required") == "on"
	err := h.contacts.SetTwoFactorRequired(c.UserContext(), actor, required)
	switch {
	case err == nil && required:
		return flashRedirect(c, flashSuccess, "Two-step verification is now required for "+actor.Contact.AccountName+
			" and its child organizations. Contacts without it set it up at their next sign-in.", "/two-step-verification")
	case err == nil:
		return flashRedirect(c, flashSuccess, "Two-step verification is no longer required. Contacts who use it keep it.", "/two-step-verification")
	case errors.Is(err, contacts.ErrSetUpFirst):
		return h.policyPage(c, actor, fiber.StatusConflict, "Set up two-step verification for yourself first, on Your profile: then you know what you ask of your colleagues, and you are not stopped at your own next sign-in.")
	case errors.Is(err, contacts.ErrRequiredAbove):
		return h.policyPage(c, actor, fiber.StatusConflict, "An organization above yours requires two-step verification; only its contact admins can stop requiring it.")
	}
	return err
}

// ShowReset confirms Reset two-step verification, asking for the admin's password when its
// last proof is older than contacts.ReauthWindow.
func (h *TwoFactorAdmin) ShowReset(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	p, err := h.contacts.TwoFactorResetPage(c.UserContext(), actor, id)
	if err != nil {
		return resetRefused(c, err, p.Contact)
	}
	v := components.ResetTwoFactorView{Contact: p.Contact, Reauth: reauthView(h.contacts, actor, "")}
	return render(c, fiber.StatusOK, components.ResetTwoFactorPage(shell(c, "Reset two-step verification", "my-contacts"), v), nil)
}

// Reset removes every factor of a contact of the admin's scope, ends its sessions and
// mails it.
func (h *TwoFactorAdmin) Reset(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	problem, err := reauthenticate(c, h.contacts, &actor)
	if err != nil {
		return err
	}
	if problem == "" {
		target, err := h.contacts.ResetTwoFactor(c.UserContext(), actor, id)
		switch {
		case err == nil:
			return flashRedirect(c, flashSuccess, "The two-step verification of "+target.Name()+
				" has been reset. Their sessions have ended and they have been emailed.", contactHref(id))
		case errors.Is(err, contacts.ErrNoTwoFactor), errors.Is(err, contacts.ErrResetSelf):
			return resetRefused(c, err, target)
		case errors.Is(err, contacts.ErrReauthRequired):
			problem = "Enter your password to confirm it's you."
		default:
			return err
		}
	}
	p, err := h.contacts.Page(c.UserContext(), actor, id)
	if err != nil {
		return err
	}
	v := components.ResetTwoFactorView{Contact: p.Contact, Reauth: reauthView(h.contacts, actor, problem)}
	return render(c, fiber.StatusUnprocessableEntity, components.ResetTwoFactorPage(shell(c, "Reset two-step verification", "my-contacts"), v), nil)
}

// resetRefused answers a Reset two-step verification that the rules refuse.
func resetRefused(c *fiber.Ctx, err error, contact db.Contact) error {
	switch {
	case errors.Is(err, contacts.ErrNoTwoFactor):
		return flashRedirect(c, flashInfo, contact.Name()+" has no two-step verification to reset.", contactHref(contact.ID))
	case errors.Is(err, contacts.ErrResetSelf):
		return flashRedirect(c, flashInfo, "You manage your own two-step verification on Your profile.", "/profile")
	}
	return err
}

// reauthView is the re-authentication field of a form for actor: shown when its last proof
// is too old, or with problem.
func reauthView(rules *contacts.Service, actor contacts.Actor, problem string) components.ReauthView {
	return components.ReauthView{Needed: !actor.Reauthenticated(rules.Now()), App: actor.Contact.TwoFactor, Error: problem}
}

// reauthenticate checks the form's re-authentication field (the admin's password, or a code
// from its app) when it was filled, and records the time in the session: the rules then see
// a fresh actor. problem is the sentence for a wrong or throttled one.
func reauthenticate(c *fiber.Ctx, rules *contacts.Service, actor *contacts.Actor) (problem string, err error) {
	secret := bodyValue(c, "reauth")
	if secret == "" {
		return "", nil
	}
	err = rules.Reauthenticate(c.UserContext(), *actor, secret)
	switch {
	case errors.Is(err, contacts.ErrWrongPassword):
		return "That is not your password, or a current code from your authenticator app.", nil
	case errors.Is(err, contacts.ErrThrottled):
		return "Too many attempts from your network. Wait a minute and try again.", nil
	case err != nil:
		return "", err
	}
	now := rules.Now()
	v := viewerOf(c)
	v.sess.Authenticated(now)
	if err := v.sess.Save(c); err != nil {
		return "", err
	}
	actor.AuthenticatedAt, v.actor.AuthenticatedAt = now, now
	return "", nil
}
