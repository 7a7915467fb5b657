package handlers

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/contacts"
)

// Login signs contacts in and out.
type Login struct {
	log      *slog.Logger
	contacts *contacts.Service
}

// Show renders the login page (signed-in contacts go straight on).
func (h *Login) Show(c *fiber.Ctx) error {
	next := localPath(c.Query("next"))
	if viewerOf(c).contact != nil {
		return c.Redirect(orHome(next), fiber.StatusSeeOther)
	}
	form := components.LoginForm{Next: next}
	switch {
	case c.Query("signed-out") == "everywhere":
		form.Notice = "You have been signed out everywhere: every session of your account has ended."
	case c.Query("ended") != "" && next != "":
		form.Notice = "Your session has ended. Log in again to go on where you were."
	case c.Query("ended") != "":
		form.Notice = "Your session has ended. Log in again."
	}
	return render(c, fiber.StatusOK, components.LoginPage(shell(c, "Log in", "login"), form), nil)
}

// Submit checks a user name and password, and signs the contact in under a new session id,
// which ends the pre-session: the CSRF tokens from then on are bound to the new session, so
// a pre-session cookie planted before signing in is worthless afterwards. A contact with a
// step after the password (two-step verification) gets a pending sign-in instead, and its
// page (TwoStep).
func (h *Login) Submit(c *fiber.Ctx) error {
	form := components.LoginForm{Email: strings.TrimSpace(bodyValue(c, "email")), Next: localPath(bodyValue(c, "next"))}
	result, err := h.contacts.SignIn(c.UserContext(), form.Email, bodyValue(c, "password"), clientIP(c), form.Next)
	status := fiber.StatusUnauthorized
	switch {
	case errors.Is(err, contacts.ErrThrottled):
		form.Error, status = "Too many login attempts from your network. Wait a minute and try again.", fiber.StatusTooManyRequests
	case errors.Is(err, contacts.ErrMissingCredentials):
		form.Error, status = "Enter your user name and password.", fiber.StatusUnprocessableEntity
	case errors.Is(err, contacts.ErrBadLogin):
		form.Error = "Invalid user name or password"
	case err != nil:
		return err
	}
	if form.Error != "" {
		return render(c, status, components.LoginPage(shell(c, "Log in", "login"), form), nil)
	}
	v := viewerOf(c)
	if result.Pending != "" {
		v.sess.SetPending(c, result.Pending, contacts.PendingSignInTTL)
		h.log.Info("password accepted; next step", "contact_id", result.Contact.ID, "stage", result.Stage)
		return c.Redirect(stagePaths[result.Stage], fiber.StatusSeeOther)
	}
	if err := v.sess.SignIn(c, result.Contact.ID, clientIP(c)); err != nil {
		return err
	}
	v.sess.ClearPending(c)
	h.log.Info("login", "contact_id", result.Contact.ID)
	return c.Redirect(orHome(form.Next), fiber.StatusSeeOther)
}

// Logout ends the session.
func (h *Login) Logout(c *fiber.Ctx) error {
	v := viewerOf(c)
	if v.contact != nil {
		if err := h.contacts.SignOut(c.UserContext(), v.actor); err != nil {
			return err
		}
	}
	if v.sess != nil {
		if err := v.sess.End(c); err != nil {
			return err
		}
	}
	return redirect(c, "/login")
}

func orHome(next string) string {
	if next == "" {
		return "/"
	}
	return next
}

// localPath keeps a post-login destination on this site: an absolute path, never another
// host. Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
// "/\t/evil.example" would become "//evil.example": any control character or backslash
// refuses the value, and what is left must parse as a bare path.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || len(p) > 2048 {
		return ""
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return ""
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return ""
	}
	return p
}
