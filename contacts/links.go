package contacts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"portal/auth"
	"portal/db"
	"portal/throttle"
	"portal/validate"
)

// ForgotPasswordTime is how long every answer to Forgot password? takes at least. The work
// differs (a known address queues a link, an unknown one only writes an audit row), so each
// answer waits out the same floor and the timing tells nothing; it is far above that work.
const ForgotPasswordTime = 100 * time.Millisecond

// MaxLinksPerHour is how many links (password resets, invitations, email changes) one
// contact is mailed per hour at most, whoever asks: further requests send nothing, so that
// no form, and no admin, can flood a mailbox.
const MaxLinksPerHour = 3

// withinLinkLimit is a TooManyLinksError when contact id was mailed MaxLinksPerHour links
// in the last hour.
func withinLinkLimit(ctx context.Context, tx *db.Tx, id int64) error {
	n, err := tx.CountLinksSince(ctx, id, tx.Now().Add(-time.Hour))
	if err == nil && n >= MaxLinksPerHour {
		return &TooManyLinksError{Sent: n}
	}
	return err
}

// SendResetLink queues a password reset link for the contact whose user name is email, on
// the request of a contact admin: it must be an active contact of the actor's scope
// (ErrNotFound otherwise, in the same words for contacts outside the scope as for unknown
// ones; ErrContactLocked for a locked one) with a password (ErrNoPasswordYet).
func (s *Service) SendResetLink(ctx context.Context, actor Actor, email string) (db.Contact, error) {
	email = strings.TrimSpace(email)
	if validate.Email(email) != nil {
		return db.Contact{}, ErrNotAnEmail
	}
	contact, err := s.store.ContactByEmail(ctx, email)
	if err != nil {
		return db.Contact{}, err
	}
	if !actor.Scope.Contains(contact.AccountID) {
		return db.Contact{}, ErrNotFound
	}
	return s.sendReset(ctx, actor, contact.ID)
}

// SendResetLinkTo is SendResetLink for contact id of the actor's scope, from its page.
func (s *Service) SendResetLinkTo(ctx context.Context, actor Actor, id int64) (db.Contact, error) {
	return s.sendReset(ctx, actor, id)
}

// sendReset and ResendInvitation read the contact inside their transaction: a lock, or a
// new email confirmed meanwhile (which voids the contact's links), counts, so that a link
// never goes to an address the contact no longer has.
func (s *Service) sendReset(ctx context.Context, actor Actor, id int64) (db.Contact, error) {
	var contact db.Contact
	err := s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		var err error
		if contact, err = tx.ContactForChange(ctx, actor.Scope, id); err != nil {
			return err
		}
		switch {
		case contact.Locked():
			return ErrContactLocked
		case !contact.HasPassword:
			return ErrNoPasswordYet
		}
		if err := withinLinkLimit(ctx, tx, contact.ID); err != nil {
			return err
		}
		_, err = tx.IssueLink(ctx, db.LinkRequest{Contact: contact, Purpose: db.PurposeReset, TTL: db.ResetLinkTTL,
			RequestedBy: actor.requestedBy(), RemoteIP: actor.RemoteIP, Detail: "by " + actor.Contact.Name() + " (Reset password)"})
		return err
	})
	return contact, err
}

// ResendInvitation sends a contact of the actor's scope that has no password yet a new
// set-your-password link; the older one stops working.
func (s *Service) ResendInvitation(ctx context.Context, actor Actor, id int64) (db.Contact, error) {
	var contact db.Contact
	err := s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		var err error
		contact, err = tx.ContactForChange(ctx, actor.Scope, id)
		switch {
		case err != nil:
			return err
		case contact.HasPassword:
			return ErrHasPassword
		case contact.Locked():
			return ErrContactLocked
		}
		if err := withinLinkLimit(ctx, tx, contact.ID); err != nil {
			return err
		}
		_, err = tx.IssueLink(ctx, db.LinkRequest{Contact: contact, Purpose: db.PurposeInvite, TTL: s.settings.InviteTTL,
			RequestedBy: actor.requestedBy(), RemoteIP: actor.RemoteIP, Detail: "sent again by " + actor.Contact.Name()})
		return err
	})
	return contact, err
}

// MailOwnResetLink mails the signed-in contact a reset link, under the hourly limit of
// links (TooManyLinksError beyond it): "Forgot your current password?" on Change password.
func (s *Service) MailOwnResetLink(ctx context.Context, actor Actor) error {
	return s.store.Write(ctx, func(tx *db.Tx) error {
		if err := withinLinkLimit(ctx, tx, actor.ID()); err != nil {
			return err
		}
		_, err := tx.IssueLink(ctx, db.LinkRequest{Contact: actor.Contact, Purpose: db.PurposeReset, TTL: db.ResetLinkTTL,
			RemoteIP: actor.RemoteIP, Detail: "by the contact itself (Change password)"})
		return err
	})
}

// ForgotPassword queues a reset link for the active or automatically locked contact whose
// user name is email. Every address gets the same answer after the same kind of work (a
// transaction) and no sooner than ForgotPasswordTime, so neither the answer
// nor its timing tells whether the address belongs to anyone; refusals are audited.
func (s *Service) ForgotPassword(ctx context.Context, email, remoteIP string) error {
	answerAt := time.Now().Add(ForgotPasswordTime) // wall clock: it is about real time
	email = strings.TrimSpace(email)
	if ok, err := s.linkLimiter.Allow(ctx, throttle.Key(remoteIP)); err != nil || !ok {
		return cmp.Or(err, ErrThrottled)
	}
	if validate.Email(email) != nil {
		return ErrNotAnEmail
	}
	// The lookup is inside the transaction, as in sendReset.
	err := s.store.Write(ctx, func(tx *db.Tx) error {
		contact, err := tx.ContactByEmail(ctx, email)
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return err
		}
		why := ""
		switch {
		case err != nil:
			why = "unknown user name " + auditEmail(email)
		case linksBlocked(contact):
			why = "contact is locked out (" + contact.LockReason + ")"
		}
		if why == "" {
			var tooMany *TooManyLinksError
			switch err := withinLinkLimit(ctx, tx, contact.ID); {
			case errors.As(err, &tooMany):
				why = fmt.Sprintf("%d links in the last hour already", tooMany.Sent)
			case err != nil:
				return err
			}
		}
		if why != "" {
			return tx.Audit(ctx, db.Event{Action: db.ActionResetRefused, TargetID: contact.ID, AccountID: contact.AccountID,
				RemoteIP: remoteIP, Detail: "Forgot password?: " + why})
		}
		_, err = tx.IssueLink(ctx, db.LinkRequest{Contact: contact, Purpose: db.PurposeReset, TTL: db.ResetLinkTTL,
			RemoteIP: remoteIP, Detail: "by the contact itself (Forgot password?)"})
		return err
	})
	if err != nil {
		return err
	}
	return wait(ctx, time.Until(answerAt))
}

// Link is a usable reset or set-your-password link and its contact.
type Link struct {
	Contact db.Contact
	Invite  bool // a set-your-password link for a new contact, not a reset
}

// MinPasswordLength is how long the password set through the link must be at least: less
// with a second factor (SPEC 3.6).
func (l Link) MinPasswordLength() int { return auth.MinLength(l.Contact.TwoFactor) }

// OpenLink reads the link of token raw without using it: mail scanners open links, and
// that must not use them up. ErrLinkInvalid when it can't set a password now (unknown,
// expired, used, voided, or its contact is locked out in a way a link can't lift).
func (s *Service) OpenLink(ctx context.Context, raw string) (Link, error) {
	tok, err := s.store.TokenByRaw(ctx, raw)
	if errors.Is(err, db.ErrNotFound) {
		return Link{}, ErrLinkInvalid
	}
	if err != nil {
		return Link{}, err
	}
	if !tok.Usable(s.store.Now()) {
		return Link{}, ErrLinkInvalid
	}
	contact, err := s.store.ContactByID(ctx, tok.ContactID)
	if errors.Is(err, db.ErrNotFound) || (err == nil && linksBlocked(contact)) {
		return Link{}, ErrLinkInvalid
	}
	return Link{Contact: contact, Invite: tok.Purpose == db.PurposeInvite}, err
}

// SetPassword sets the password of the contact of link raw, typed twice, under the password
// policy (an *auth.PolicyError says why one is refused). The link is used up in the
// transaction that stores the password, so of two simultaneous submits one wins and the
// other gets ErrLinkInvalid. Setting it unlocks a contact locked by failed logins (that is
// how people help themselves), voids the contact's other links, ends all of its sessions
// and mails a "your password was changed" notice. It does not sign the contact in.
func (s *Service) SetPassword(ctx context.Context, raw, password, confirm, remoteIP string) (Link, error) {
	link, err := s.OpenLink(ctx, raw)
	if err != nil {
		return Link{}, err
	}
	contact := link.Contact
	allowed, err := s.linkLimiter.Allow(ctx, throttle.Key(remoteIP))
	switch {
	case err != nil:
		return link, err
	case !allowed:
		return link, ErrThrottled
	case password == "":
		return link, ErrPasswordMissing
	case password != confirm:
		return link, ErrPasswordMismatch
	}
	// With a second factor the minimum is lower; Contact.PasswordShort remembers a short one.
	if err := s.policy.Check(password, auth.MinLength(contact.TwoFactor), auth.ContextWords(contact.Email, contact.AccountName, contact.FirstName, contact.LastName)...); err != nil {
		return link, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return link, err
	}
	err = s.store.Write(ctx, func(tx *db.Tx) error {
		used, err := tx.UseLink(ctx, raw)
		if err != nil {
			return err
		}
		c, err := tx.ContactByID(ctx, used.ContactID)
		if err != nil {
			return err
		}
		if linksBlocked(c) {
			return ErrLinkInvalid // the rollback leaves the link as it was
		}
		if err := tx.SetPassword(ctx, c.ID, hash, auth.Short(password)); err != nil {
			return err
		}
		if c.Locked() {
			if _, err := tx.UnlockContact(ctx, c.ID); err != nil {
				return err
			}
			if err := tx.Audit(ctx, db.Event{Action: db.ActionUnlockedByReset, ActorID: c.ID, TargetID: c.ID,
				AccountID: c.AccountID, RemoteIP: remoteIP,
				Detail: "Locked after too many failed login attempts; unlocked by completing a password reset"}); err != nil {
				return err
			}
		}
		if err := passwordChanged(ctx, tx, c); err != nil {
			return err
		}
		what := "password reset link"
		if used.Purpose == db.PurposeInvite {
			what = "set-your-password link"
		}
		if err := tx.Audit(ctx, db.Event{Action: db.ActionLinkUsed, ActorID: c.ID, TargetID: c.ID, AccountID: c.AccountID,
			RemoteIP: remoteIP, Detail: what}); err != nil {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionPasswordChanged, ActorID: c.ID, TargetID: c.ID,
			AccountID: c.AccountID, RemoteIP: remoteIP, Detail: "set through a " + what + "; sessions ended, other links voided"})
	})
	if err != nil {
		return link, err
	}
	s.log.Info("password set through a link", "contact_id", contact.ID)
	return link, nil
}

// linksBlocked reports whether c is locked out in a way a password link can't lift. Only a
// lock after too many failed logins is lifted by setting a password (that is how people
// help themselves); a lock by an admin, with an organization, or because access ended is
// not, and such a contact can't use a link at all.
func linksBlocked(c db.Contact) bool {
	return c.Locked() && c.LockReason != db.LockedByFailedLogins
}

// passwordChanged is what follows any new password of contact c, inside its transaction:
// every session of c ends (a thief's too), and c is mailed that its password changed.
func passwordChanged(ctx context.Context, tx *db.Tx, c db.Contact) error {
	if err := tx.EndSessions(ctx, c.ID); err != nil {
		return err
	}
	_, err := tx.QueueMail(ctx, db.OutboxMail{Kind: db.MailPasswordChanged, ToContactID: c.ID, ToEmail: c.Email,
		ToName: c.Name()})
	return err
}
