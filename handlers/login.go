package handlers

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portal/auth"
	"portal/components"
	"portal/config"
	"portal/db"
	"portal/session"
	"portal/throttle"
)

// Login signs contacts in and out.
type Login struct {
	log        *slog.Logger
	store      *db.Store
	sessions   *session.Store
	hasher     *auth.Hasher
	cfg        config.Config
	limiter    *throttle.Limiter
	onAutoLock func(*db.Tx, db.Contact) error
}

// errBadLogin is the one answer for an unknown user, a wrong password and a locked contact,
// so that the login page reveals nothing; the real reason goes to the audit log.
const errBadLogin = "Invalid user name or password"

// Show renders the login page (signed-in contacts go straight on).
func (h *Login) Show(c *fiber.Ctx) error {
	next := localPath(c.Query("next"))
	if viewerOf(c).contact != nil {
		return c.Redirect(orHome(next), fiber.StatusSeeOther)
	}
	return h.page(c, fiber.StatusOK, components.LoginForm{Next: next})
}

func (h *Login) page(c *fiber.Ctx, status int, f components.LoginForm) error {
	return render(c, status, components.LoginPage(shell(c, "Log in", "login"), f), nil)
}

// Submit checks a user name and password.
func (h *Login) Submit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	form := components.LoginForm{Email: strings.TrimSpace(c.FormValue("email")), Next: localPath(c.FormValue("next"))}
	password := c.FormValue("password")
	if !h.limiter.Allow(c.IP()) {
		form.Error = "Too many login attempts from your network. Wait a minute and try again."
		return h.page(c, fiber.StatusTooManyRequests, form)
	}
	if form.Email == "" || password == "" {
		form.Error = "Enter your user name and password."
		return h.page(c, fiber.StatusUnprocessableEntity, form)
	}
	if len(password) > 4*auth.MaxPasswordLength {
		// Longer than any password we accept: refuse before spending a hash on it.
		form.Error = errBadLogin
		return h.page(c, fiber.StatusUnauthorized, form)
	}
	contact, err := h.store.ContactByEmail(ctx, form.Email)
	if errors.Is(err, db.ErrNotFound) {
		// Spend the time of a real check so that unknown names can't be told apart by timing.
		if err := h.hasher.VerifyDummy(ctx, password); err != nil {
			return err
		}
		if err := h.store.Audit(ctx, db.Event{Action: db.ActionLoginFailed, RemoteIP: c.IP(),
			Detail: "unknown user name " + auditEmail(form.Email)}); err != nil {
			return err
		}
		form.Error = errBadLogin
		return h.page(c, fiber.StatusUnauthorized, form)
	}
	if err != nil {
		return err
	}
	hash, err := h.store.PasswordHash(ctx, contact.ID)
	if err != nil {
		return err
	}
	matched, rehash, err := h.hasher.Verify(ctx, password, hash)
	if err != nil && !errors.Is(err, auth.ErrMalformedHash) {
		return err
	}
	if contact.Locked() && matched && h.cfg.AutoUnlockAfter > 0 && contact.LockReason == db.LockedByFailedLogins {
		unlocked, err := h.store.UnlockExpiredAutoLock(ctx, contact.ID, h.cfg.AutoUnlockAfter)
		if err != nil {
			return err
		}
		if unlocked {
			contact.Status = db.StatusActive
		}
	}
	// Every wrong password counts, even against a locked contact, so that parallel attempts
	// are counted exactly; the lock itself happens once, in SQL.
	if !matched {
		reason := "wrong password"
		if hash == "" {
			reason = "no password set yet"
		}
		if contact.Locked() {
			reason += " (contact is locked)"
		}
		if _, err := h.store.RecordLoginFailure(ctx, contact.ID, h.cfg.LockoutThreshold, c.IP(), reason, h.onAutoLock); err != nil {
			return err
		}
		form.Error = errBadLogin
		return h.page(c, fiber.StatusUnauthorized, form)
	}
	if contact.Locked() {
		if err := h.store.Audit(ctx, db.Event{Action: db.ActionLoginFailed, TargetID: contact.ID,
			AccountID: contact.AccountID, RemoteIP: c.IP(), Detail: "right password, but the contact is locked"}); err != nil {
			return err
		}
		form.Error = errBadLogin
		return h.page(c, fiber.StatusUnauthorized, form)
	}

	newHash := ""
	if rehash {
		if newHash, err = h.hasher.Hash(ctx, password); err != nil {
			return err
		}
	}
	if err := h.store.RecordLoginSuccess(ctx, contact.ID, contact.AccountID, newHash, c.IP()); err != nil {
		return err
	}
	v := viewerOf(c)
	if err := h.sessions.SignIn(v.req, v.sess, contact.ID); err != nil {
		return err
	}
	if err := v.save(c); err != nil {
		return err
	}
	if _, err := newCSRFSeed(c, h.cfg.Secure()); err != nil {
		return err
	}
	h.log.Info("login", "contact_id", contact.ID)
	return c.Redirect(orHome(form.Next), fiber.StatusSeeOther)
}

// Logout ends the session.
func (h *Login) Logout(c *fiber.Ctx) error {
	v := viewerOf(c)
	if v.contact != nil {
		if err := h.store.Audit(c.UserContext(), db.Event{Action: db.ActionLogout, ActorID: v.contact.ID,
			TargetID: v.contact.ID, AccountID: v.contact.AccountID, RemoteIP: c.IP()}); err != nil {
			return err
		}
	}
	if v.sess != nil {
		v.sess.Options.MaxAge = -1
		if err := v.save(c); err != nil {
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

// auditEmail keeps what was typed as a user name in the audit log only when it looks like
// an email: people sometimes type their password into the wrong field.
func auditEmail(s string) string {
	if len(s) > 254 || !strings.Contains(s, "@") || strings.ContainsAny(s, " \t\r\n") {
		return "(not an email address)"
	}
	return s
}
