package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"portal/auth"
	"portal/components"
	"portal/config"
	"portal/db"
	"portal/throttle"
	"portal/validate"
)

// ForgotPasswordTime is how long every answer to Forgot password? takes at least. The work
// differs (a known address queues a link, an unknown one only writes an audit row), so each
// answer waits out the same floor and the timing tells nothing; it is far above that work.
const ForgotPasswordTime = 100 * time.Millisecond

// MaxSelfServiceResets is how many reset links Forgot password? sends one contact per hour;
// further requests get the same answer and send nothing, so the form can't flood a mailbox.
const MaxSelfServiceResets = 3

// Passwords handles the links that set a password: Forgot password?, the page a link opens,
// and the admins' Reset password.
type Passwords struct {
	log     *slog.Logger
	store   *db.Store
	hasher  *auth.Hasher
	policy  *auth.Policy
	cfg     config.Config
	limiter *throttle.Limiter // per client address, for the unauthenticated forms
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

// SubmitForgot queues a reset link for an active or automatically locked contact. Every
// address gets the same page after the same kind of work (a lookup and one transaction),
// so neither the words nor the timing tell whether it belongs to anyone.
func (h *Passwords) SubmitForgot(c *fiber.Ctx) error {
	ctx := c.UserContext()
	answerAt := time.Now().Add(ForgotPasswordTime) // wall clock: it is about real time
	form := components.ForgotPasswordForm{Email: strings.TrimSpace(c.FormValue("email"))}
	if !h.limiter.Allow(c.IP()) {
		form.Error = "Too many requests from your network. Wait a minute and try again."
		return h.forgotPage(c, fiber.StatusTooManyRequests, form)
	}
	if err := validate.Email(form.Email); err != nil {
		form.Error = "Enter your user name: the email address you log in with, like name@example.com."
		return h.forgotPage(c, fiber.StatusUnprocessableEntity, form)
	}
	contact, err := h.store.ContactByEmail(ctx, form.Email)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	refusal := ""
	switch {
	case err != nil:
		refusal = "unknown user name " + auditEmail(form.Email)
	case contact.Locked() && contact.LockReason == db.LockedByAdmin:
		refusal = "contact is locked by an admin"
	default:
		n, err := h.store.CountResetLinksSince(ctx, contact.ID, h.store.Now().Add(-time.Hour))
		if err != nil {
			return err
		}
		if n >= MaxSelfServiceResets {
			refusal = fmt.Sprintf("%d reset links in the last hour already", n)
		}
	}
	err = h.store.Write(ctx, func(tx *db.Tx) error {
		if refusal != "" {
			return tx.Audit(ctx, db.Event{Action: db.ActionResetRefused, TargetID: contact.ID, AccountID: contact.AccountID,
				RemoteIP: c.IP(), Detail: "Forgot password?: " + refusal})
		}
		_, err := tx.IssueLink(ctx, db.LinkRequest{Contact: contact, Purpose: db.PurposeReset, TTL: db.ResetLinkTTL,
			RemoteIP: c.IP(), Detail: "by the contact itself (Forgot password?)"})
		return err
	})
	if err != nil {
		return err
	}
	select {
	case <-time.After(time.Until(answerAt)):
	case <-ctx.Done():
		return ctx.Err()
	}
	return render(c, fiber.StatusOK, components.ForgotPasswordSentPage(shell(c, "Check your email", "login"), form.Email), nil)
}

// linkContact reads the link of a token and its contact, or ErrLinkInvalid when the link
// can't set a password now (a contact locked by an admin can't use links).
func (h *Passwords) linkContact(c *fiber.Ctx) (db.PasswordToken, db.Contact, error) {
	ctx := c.UserContext()
	tok, err := h.store.TokenByRaw(ctx, c.Params("token"))
	if errors.Is(err, db.ErrNotFound) {
		return tok, db.Contact{}, db.ErrLinkInvalid
	}
	if err != nil {
		return tok, db.Contact{}, err
	}
	if !tok.Usable(h.store.Now()) {
		return tok, db.Contact{}, db.ErrLinkInvalid
	}
	contact, err := h.store.ContactByID(ctx, tok.ContactID)
	if errors.Is(err, db.ErrNotFound) || (err == nil && contact.Locked() && contact.LockReason == db.LockedByAdmin) {
		return tok, db.Contact{}, db.ErrLinkInvalid
	}
	return tok, contact, err
}

func (h *Passwords) linkInvalid(c *fiber.Ctx) error {
	return render(c, fiber.StatusGone, components.LinkInvalidPage(shell(c, "This link can't be used", "login")), nil)
}

// ShowSetPassword renders the form a link opens. It only reads: mail scanners open links,
// and that must not use them up.
func (h *Passwords) ShowSetPassword(c *fiber.Ctx) error {
	form, _, err := h.linkForm(c)
	if errors.Is(err, db.ErrLinkInvalid) {
		return h.linkInvalid(c)
	}
	if err != nil {
		return err
	}
	return h.setPasswordPage(c, fiber.StatusOK, form)
}

// linkForm reads the request's link and its contact, and the form the link opens
// (db.ErrLinkInvalid when the link can't be used).
func (h *Passwords) linkForm(c *fiber.Ctx) (components.SetPasswordForm, db.Contact, error) {
	tok, contact, err := h.linkContact(c)
	if err != nil {
		return components.SetPasswordForm{}, db.Contact{}, err
	}
	return components.SetPasswordForm{Token: c.Params("token"), Invite: tok.Purpose == db.PurposeInvite, Email: contact.Email}, contact, nil
}

func (h *Passwords) setPasswordPage(c *fiber.Ctx, status int, f components.SetPasswordForm) error {
	title := "Set a new password"
	if f.Invite {
		title = "Set your password"
	}
	return render(c, status, components.SetPasswordPage(shell(c, title, "login"), f), nil)
}

// SubmitSetPassword sets the password of a link's contact. The link is consumed in the
// same transaction that stores the password, so of two simultaneous submits one wins and
// the other gets the invalid-link page.
func (h *Passwords) SubmitSetPassword(c *fiber.Ctx) error {
	ctx := c.UserContext()
	form, contact, err := h.linkForm(c)
	if errors.Is(err, db.ErrLinkInvalid) {
		return h.linkInvalid(c)
	}
	if err != nil {
		return err
	}
	password, confirm := c.FormValue("password"), c.FormValue("confirm")
	switch {
	case !h.limiter.Allow(c.IP()):
		form.Error = "Too many attempts from your network. Wait a minute and try again."
		return h.setPasswordPage(c, fiber.StatusTooManyRequests, form)
	case password == "":
		form.Error = "Enter a new password."
		return h.setPasswordPage(c, fiber.StatusUnprocessableEntity, form)
	case password != confirm:
		form.Error = "The two passwords are not the same. Type the new password twice."
		return h.setPasswordPage(c, fiber.StatusUnprocessableEntity, form)
	}
	if err := h.policy.Check(password, auth.ContextWords(contact.Email, contact.AccountName, contact.FirstName, contact.LastName)...); err != nil {
		var pe *auth.PolicyError
		if !errors.As(err, &pe) {
			return err
		}
		form.Error = pe.Reason
		return h.setPasswordPage(c, fiber.StatusUnprocessableEntity, form)
	}
	hash, err := h.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	if _, err := h.store.SetPasswordWithLink(ctx, c.Params("token"), hash, c.IP()); errors.Is(err, db.ErrLinkInvalid) {
		return h.linkInvalid(c)
	} else if err != nil {
		return err
	}
	h.log.Info("password set through a link", "contact_id", contact.ID)
	return render(c, fiber.StatusOK, components.PasswordSetPage(shell(c, "Your password has been set", "login")), nil)
}

// ShowReset renders the admins' Reset password form.
func (h *Passwords) ShowReset(c *fiber.Ctx) error {
	return h.resetPage(c, fiber.StatusOK, components.ResetPasswordForm{Email: strings.TrimSpace(c.Query("email"))})
}

func (h *Passwords) resetPage(c *fiber.Ctx, status int, f components.ResetPasswordForm) error {
	return render(c, status, components.ResetPasswordPage(shell(c, "Reset password", "my-contacts"), f), nil)
}

// SubmitReset sends a reset link to an active contact in the admin's scope. Anyone else
// gets a clear error and nothing is queued; contacts outside the scope are refused in the
// same words as unknown ones.
func (h *Passwords) SubmitReset(c *fiber.Ctx) error {
	admin := viewerOf(c).contact
	form := components.ResetPasswordForm{Email: strings.TrimSpace(c.FormValue("email"))}
	if err := validate.Email(form.Email); err != nil {
		form.Error = "Enter the user name (email address) of the contact, like name@example.com."
		return h.resetPage(c, fiber.StatusUnprocessableEntity, form)
	}
	contact, err := h.contactInScope(c, admin, form.Email)
	if errors.Is(err, db.ErrNotFound) {
		form.Error = "None of your contacts has the user name " + form.Email + ". Check the spelling, or look the contact up in Manage your contacts."
		return h.resetPage(c, fiber.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return err
	}
	if err := h.sendReset(c, admin, contact); err != nil {
		var fe *fiber.Error
		if errors.As(err, &fe) && fe.Code == fiber.StatusUnprocessableEntity {
			form.Error = fe.Message
			return h.resetPage(c, fiber.StatusUnprocessableEntity, form)
		}
		return err
	}
	return redirect(c, "/reset-password")
}

// contactInScope finds a contact by user name among the admin's contacts.
func (h *Passwords) contactInScope(c *fiber.Ctx, admin *db.Contact, email string) (db.Contact, error) {
	ctx := c.UserContext()
	sc, err := h.store.ScopeOf(ctx, admin.AccountID)
	if err != nil {
		return db.Contact{}, err
	}
	contact, err := h.store.ContactByEmail(ctx, email)
	if err != nil {
		return db.Contact{}, err
	}
	if !sc.Contains(contact.AccountID) {
		return db.Contact{}, db.ErrNotFound
	}
	return contact, nil
}

// sendReset queues a reset link for contact on the admin's request and leaves the
// confirmation as a flash; a locked contact is refused with a 422 whose message says why.
func (h *Passwords) sendReset(c *fiber.Ctx, admin *db.Contact, contact db.Contact) error {
	ctx := c.UserContext()
	if contact.Locked() {
		return fiber.NewError(fiber.StatusUnprocessableEntity,
			contact.Name()+" is locked out, so no reset link was sent. Unlock the contact first.")
	}
	err := h.store.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.IssueLink(ctx, db.LinkRequest{Contact: contact, Purpose: db.PurposeReset, TTL: db.ResetLinkTTL,
			RequestedBy: admin, RemoteIP: c.IP(), Detail: "by " + admin.Name() + " (Reset password)"})
		return err
	})
	if err != nil {
		return err
	}
	return viewerOf(c).flash(c, flashSuccess, ResetSentMessage(contact.Email))
}

// ResetSentMessage is the confirmation an admin sees, word for word from SPEC R-RESET.
func ResetSentMessage(email string) string {
	return "A password reset link has been sent to " + email + ". The link is valid for 12 hours."
}

// contactOnPage reads the :id contact in the admin's scope (404 outside it).
func (h *Passwords) contactOnPage(c *fiber.Ctx) (db.Contact, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return db.Contact{}, db.ErrNotFound
	}
	sc, err := h.store.ScopeOf(c.UserContext(), viewerOf(c).contact.AccountID)
	if err != nil {
		return db.Contact{}, err
	}
	return h.store.ContactInScope(c.UserContext(), sc, id)
}

// SendResetLink is "Send password reset link" on a contact's page.
func (h *Passwords) SendResetLink(c *fiber.Ctx) error {
	contact, err := h.contactOnPage(c)
	if err != nil {
		return err
	}
	back := fmt.Sprintf("/contacts/%d", contact.ID)
	if err := h.sendReset(c, viewerOf(c).contact, contact); err != nil {
		var fe *fiber.Error
		if !errors.As(err, &fe) || fe.Code != fiber.StatusUnprocessableEntity {
			return err
		}
		if err := viewerOf(c).flash(c, flashError, fe.Message); err != nil {
			return err
		}
	}
	return redirect(c, back)
}

// ResendInvitation sends a contact without a password a new set-your-password link; the
// older one stops working.
func (h *Passwords) ResendInvitation(c *fiber.Ctx) error {
	ctx := c.UserContext()
	admin := viewerOf(c).contact
	contact, err := h.contactOnPage(c)
	if err != nil {
		return err
	}
	back := fmt.Sprintf("/contacts/%d", contact.ID)
	switch {
	case contact.HasPassword:
		return h.flashBack(c, flashError, contact.Name()+" has already set a password. Use Send password reset link instead.", back)
	case contact.Locked():
		return h.flashBack(c, flashError, contact.Name()+" is locked out, so no invitation was sent. Unlock the contact first.", back)
	}
	err = h.store.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.IssueLink(ctx, db.LinkRequest{Contact: contact, Purpose: db.PurposeInvite, TTL: h.cfg.InviteTTL,
			RequestedBy: admin, RemoteIP: c.IP(), Detail: "sent again by " + admin.Name()})
		return err
	})
	if err != nil {
		return err
	}
	return h.flashBack(c, flashSuccess, InvitationSentMessage(contact.Email, h.cfg.InviteTTL), back)
}

func (h *Passwords) flashBack(c *fiber.Ctx, kind, text, url string) error {
	if err := viewerOf(c).flash(c, kind, text); err != nil {
		return err
	}
	return redirect(c, url)
}

// InvitationSentMessage confirms a set-your-password link, in the words of the reset one.
func InvitationSentMessage(email string, ttl time.Duration) string {
	return "A set-your-password link has been sent to " + email + ". The link is valid for " + components.Duration(ttl) + "."
}

// ChangePassword mails the signed-in contact a reset link (Change password on the home
// page), under the same hourly limit as Forgot password?.
func (h *Passwords) ChangePassword(c *fiber.Ctx) error {
	ctx := c.UserContext()
	me := viewerOf(c).contact
	n, err := h.store.CountResetLinksSince(ctx, me.ID, h.store.Now().Add(-time.Hour))
	if err != nil {
		return err
	}
	if n >= MaxSelfServiceResets {
		return h.flashBack(c, flashError, fmt.Sprintf("%d password reset links were sent to %s in the last hour. "+
			"Use the newest one, or try again later.", n, me.Email), "/")
	}
	err = h.store.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.IssueLink(ctx, db.LinkRequest{Contact: *me, Purpose: db.PurposeReset, TTL: db.ResetLinkTTL,
			RemoteIP: c.IP(), Detail: "by the contact itself (Change password)"})
		return err
	})
	if err != nil {
		return err
	}
	return h.flashBack(c, flashSuccess, ResetSentMessage(me.Email), "/")
}

// Invite queues the set-your-password mail of a contact an admin just created, in the
// transaction that creates it.
func (h *Passwords) Invite(c *fiber.Ctx, tx *db.Tx, created db.Contact) error {
	if created.HasPassword {
		return nil
	}
	admin := viewerOf(c).contact
	_, err := tx.IssueLink(c.UserContext(), db.LinkRequest{Contact: created, Purpose: db.PurposeInvite, TTL: h.cfg.InviteTTL,
		RequestedBy: admin, RemoteIP: c.IP(), Detail: "set-your-password link, valid " + components.Duration(h.cfg.InviteTTL)})
	return err
}

// DetailsExtra adds to a contact's page: "Send password reset link" for an active contact
// with a password, the invitation and "Resend invitation" for one without.
func (h *Passwords) DetailsExtra(c *fiber.Ctx, contact db.Contact) components.DetailsExtra {
	var e components.DetailsExtra
	if !contact.HasPassword {
		inv, err := h.store.InvitationOf(c.UserContext(), contact)
		if err != nil {
			// The page is still useful without the panel; the error is logged, not hidden.
			h.log.Error("invitation state", "contact_id", contact.ID, "err", err)
			return e
		}
		e.Panels = append(e.Panels, components.InvitationPanel(contact, inv, h.store.Now()))
		return e
	}
	if !contact.Locked() {
		e.Actions = append(e.Actions, components.SendResetLinkAction(contact))
	}
	return e
}
