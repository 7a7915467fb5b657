package handlers

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"portal/auth"
	"portal/components"
	"portal/contacts"
	"portal/db"
)

// Profile is Your profile (SPEC 3.11) and the home page: every signed-in contact's own
// name, password, sessions and two-step verification.
type Profile struct {
	contacts *contacts.Service
}

// Home is where a signed-in contact lands.
func (h *Profile) Home(c *fiber.Ctx, actor contacts.Actor) error {
	p, err := h.contacts.Profile(c.UserContext(), actor)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, components.HomePage(shell(c, "Home", "home"), p.Factors), nil)
}

// Show is Your profile.
func (h *Profile) Show(c *fiber.Ctx, actor contacts.Actor) error {
	p, err := h.contacts.Profile(c.UserContext(), actor)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, components.ProfilePage(shell(c, "Your profile", "profile"), p), nil)
}

// ShowPassword is the Change password form.
func (h *Profile) ShowPassword(c *fiber.Ctx, actor contacts.Actor) error {
	return h.passwordPage(c, actor, fiber.StatusOK, nil)
}

func (h *Profile) passwordPage(c *fiber.Ctx, actor contacts.Actor, status int, problems map[string]string) error {
	f := components.ChangePasswordForm{Email: actor.Contact.Email, MinLength: actor.MinPasswordLength(),
		Errors: problems}
	return render(c, status, components.ChangePasswordPage(shell(c, "Change password", "profile"), f), nil)
}

// ChangePassword changes the password. Every session of the contact ends, so this browser
// is signed in again under a new session id.
func (h *Profile) ChangePassword(c *fiber.Ctx, actor contacts.Actor) error {
	err := h.contacts.ChangePassword(c.UserContext(), actor, bodyValue(c, "current"), bodyValue(c, "password"), bodyValue(c, "confirm"))
	var policy *auth.PolicyError
	status, problems := fiber.StatusUnprocessableEntity, map[string]string{}
	switch {
	case err == nil:
		if err := viewerOf(c).sess.SignIn(c, actor.ID(), clientIP(c)); err != nil {
			return err
		}
		return flashRedirect(c, flashSuccess, "Your password has been changed. Every other session of your account has ended.", "/profile")
	case errors.Is(err, contacts.ErrThrottled):
		problems["current"], status = "Too many attempts from your network. Wait a minute and try again.", fiber.StatusTooManyRequests
	case errors.Is(err, contacts.ErrCurrentPasswordMissing):
		problems["current"] = "Enter your current password."
	case errors.Is(err, contacts.ErrWrongPassword):
		problems["current"] = "That is not your current password. Forgot it? Have a link emailed to you below."
	case errors.Is(err, contacts.ErrPasswordMissing):
		problems["password"] = "Enter a new password."
	case errors.Is(err, contacts.ErrPasswordMismatch):
		problems["confirm"] = "The two passwords are not the same. Type the new password twice."
	case errors.As(err, &policy):
		problems["password"] = policy.Reason
	default:
		return err
	}
	return h.passwordPage(c, actor, status, problems)
}

// SignOutEverywhere ends every session of the contact, this one too.
func (h *Profile) SignOutEverywhere(c *fiber.Ctx, actor contacts.Actor) error {
	if err := h.contacts.SignOutYourSessions(c.UserContext(), actor); err != nil {
		return err
	}
	if err := viewerOf(c).sess.End(c); err != nil {
		return err
	}
	return redirect(c, "/login?signed-out=everywhere")
}

// StartApp begins adding an authenticator app, and shows its QR code.
func (h *Profile) StartApp(c *fiber.Ctx, actor contacts.Actor) error {
	if err := h.contacts.StartApp(c.UserContext(), actor); err != nil {
		return err
	}
	return redirect(c, "/profile/app")
}

// ShowApp is the page that adds an authenticator app.
func (h *Profile) ShowApp(c *fiber.Ctx, actor contacts.Actor) error {
	return appSetupPage(c, h.contacts, actor, "/profile/app/confirm", false, fiber.StatusOK, "")
}

// appSetupPage renders the authenticator app's setup for the actor (signed in, or at sign-in).
func appSetupPage(c *fiber.Ctx, rules *contacts.Service, actor contacts.Actor, action string, atSignIn bool, status int, problem string) error {
	setup, err := rules.AppSetup(c.UserContext(), actor)
	if errors.Is(err, contacts.ErrNoAppSetup) {
		// The key shown last expired (or none was made): a new one is made on the way back.
		back := "/profile"
		if atSignIn {
			back = "/login/setup"
		}
		return redirect(c, back)
	}
	if err != nil {
		return err
	}
	qr, err := components.QRCode(setup.URL)
	if err != nil {
		return err
	}
	v := components.AppSetupView{Setup: setup, QR: qr, Action: action, AtSignIn: atSignIn, Error: problem}
	return render(c, status, components.AppSetupPage(shell(c, "Set up an authenticator app", "profile"), v), nil)
}

// codeProblem is what the person is told about a code that was not taken, or "" for errors
// that are not about the code.
func codeProblem(err error) (string, int) {
	switch {
	case errors.Is(err, contacts.ErrCodeMissing):
		return "Enter the 6-digit code your authenticator app shows.", fiber.StatusUnprocessableEntity
	case errors.Is(err, contacts.ErrWrongCode):
		return "That code didn't work. Codes change every 30 seconds: type the one the app shows now, without waiting for it to change.",
			fiber.StatusUnprocessableEntity
	case errors.Is(err, contacts.ErrThrottled):
		return "Too many attempts from your network. Wait a minute and try again.", fiber.StatusTooManyRequests
	}
	return "", 0
}

// ConfirmApp checks the first code of the new authenticator app. The first factor of a
// contact comes with its recovery codes, shown now and never again.
func (h *Profile) ConfirmApp(c *fiber.Ctx, actor contacts.Actor) error {
	added, err := h.contacts.ConfirmApp(c.UserContext(), actor, bodyValue(c, "code"))
	if problem, status := codeProblem(err); problem != "" {
		return appSetupPage(c, h.contacts, actor, "/profile/app/confirm", false, status, problem)
	}
	switch {
	case errors.Is(err, contacts.ErrAppAlreadySet):
		return flashRedirect(c, flashInfo, "Your authenticator app is set up. Its recovery codes were shown once: "+
			"if you didn't keep them, generate new ones below.", "/profile")
	case errors.Is(err, contacts.ErrNoAppSetup):
		return flashRedirect(c, flashError, "The setup took too long and its key expired. Set up the authenticator app again.", "/profile")
	}
	if err != nil {
		return err
	}
	return addedAnswer(c, added, "Your authenticator app is set up.", "/profile")
}

// addedAnswer shows the recovery codes of a first factor (once), or confirms the factor.
func addedAnswer(c *fiber.Ctx, added contacts.Added, confirmation, next string) error {
	if len(added.Codes) > 0 {
		v := components.CodesView{Codes: added.Codes, First: true, ContinueHref: next}
		return render(c, fiber.StatusOK, components.RecoveryCodesPage(shell(c, "Your recovery codes", "profile"), v), nil)
	}
	return flashRedirect(c, flashSuccess, confirmation, next)
}

// RemoveApp removes the authenticator app.
func (h *Profile) RemoveApp(c *fiber.Ctx, actor contacts.Actor) error {
	err := h.contacts.RemoveApp(c.UserContext(), actor)
	return removedAnswer(c, err, "Your authenticator app has been removed.")
}

// removedAnswer confirms a removed factor, or says why it stays.
func removedAnswer(c *fiber.Ctx, err error, done string) error {
	var required *contacts.RequiredError
	switch {
	case err == nil:
		return flashRedirect(c, flashSuccess, done, "/profile")
	case errors.As(err, &required):
		return flashRedirect(c, flashError, required.Requirement.AccountName+
			" requires two-step verification, so you can't remove your last way of verifying. Add another one first.", "/profile")
	}
	return err
}

// PasskeyOptions starts adding a passkey: the browser's dialog options, as JSON.
func (h *Profile) PasskeyOptions(c *fiber.Ctx, actor contacts.Actor) error {
	options, err := h.contacts.BeginPasskey(c.UserContext(), actor)
	return passkeyOptions(c, options, err)
}

// passkeyOptions answers static/passkey.js with the dialog's options.
func passkeyOptions(c *fiber.Ctx, options []byte, err error) error {
	if errors.Is(err, contacts.ErrPasskeysUnavailable) {
		return fiber.NewError(fiber.StatusNotFound)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(options)
}

// AddPasskey stores the passkey the browser made.
func (h *Profile) AddPasskey(c *fiber.Ctx, actor contacts.Actor) error {
	added, err := h.contacts.FinishPasskey(c.UserContext(), actor, bodyValue(c, "name"), []byte(bodyValue(c, "credential")))
	if problem := passkeyProblem(err); problem != "" {
		return flashRedirect(c, flashError, problem, "/profile")
	}
	if err != nil {
		return err
	}
	return addedAnswer(c, added, "Your passkey has been added.", "/profile")
}

// passkeyProblem is what the person is told about a passkey that was not taken.
func passkeyProblem(err error) string {
	var fields contacts.FieldErrors
	switch {
	case errors.Is(err, contacts.ErrPasskeyFailed):
		return "The passkey could not be added. Try again: the dialog may have taken too long."
	case errors.Is(err, contacts.ErrPasskeyExists):
		return "This passkey is added already."
	case errors.Is(err, contacts.ErrPasskeysUnavailable):
		return "Passkeys work only when the portal is served over https."
	case errors.As(err, &fields):
		return fields.Error()
	}
	return ""
}

// passkeyID reads the :pk route parameter.
func passkeyID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("pk"), 10, 64)
	if err != nil || id <= 0 {
		return 0, db.ErrNotFound
	}
	return id, nil
}

// RenamePasskey renames one of the contact's passkeys.
func (h *Profile) RenamePasskey(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := passkeyID(c)
	if err != nil {
		return err
	}
	err = h.contacts.RenamePasskey(c.UserContext(), actor, id, bodyValue(c, "name"))
	var fields contacts.FieldErrors
	switch {
	case err == nil:
		return flashRedirect(c, flashSuccess, "The passkey has been renamed.", "/profile")
	case errors.As(err, &fields):
		return flashRedirect(c, flashError, fields.Error(), "/profile")
	}
	return err
}

// RemovePasskey removes one of the contact's passkeys.
func (h *Profile) RemovePasskey(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := passkeyID(c)
	if err != nil {
		return err
	}
	return removedAnswer(c, h.contacts.RemovePasskey(c.UserContext(), actor, id), "The passkey has been removed.")
}

// NewRecoveryCodes is Generate new codes.
func (h *Profile) NewRecoveryCodes(c *fiber.Ctx, actor contacts.Actor) error {
	codes, err := h.contacts.NewRecoveryCodes(c.UserContext(), actor)
	if errors.Is(err, contacts.ErrNoFactor) {
		return flashRedirect(c, flashError, "Recovery codes come with two-step verification: set up an authenticator app or a passkey first.", "/profile")
	}
	if err != nil {
		return err
	}
	v := components.CodesView{Codes: codes, ContinueHref: "/profile"}
	return render(c, fiber.StatusOK, components.RecoveryCodesPage(shell(c, "Your recovery codes", "profile"), v), nil)
}
