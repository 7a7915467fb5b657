package contacts

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"portal/auth"
	"portal/db"
	"portal/throttle"
)

// SignIn checks a user name and password typed on the login page and returns the contact
// they belong to. Every failure but a missing field or a throttled address is ErrBadLogin,
// in about the same time: an unknown user costs a dummy hash, and the real reason goes to
// the audit log. A wrong password counts toward the automatic lockout even against a
// locked contact, so that parallel attempts are counted exactly; the lock itself happens
// once, in SQL, and the contact admins of the locked colleague are told in the same
// transaction. A password hashed with weaker parameters than today's is hashed again.
//
// Guessing is slowed twice: per client address (remoteIP; a burst, then a slow refill), and
// per user name, where each failure in a row makes the next attempt on that name wait
// longer (Settings.LoginBackoff). The wait delays the answer but refuses nothing, so it
// can't lock anyone out, and it happens before any transaction.
func (s *Service) SignIn(ctx context.Context, email, password, remoteIP string) (db.Contact, error) {
	email = strings.TrimSpace(email)
	if ok, err := s.loginLimiter.Allow(ctx, throttle.Key(remoteIP)); err != nil || !ok {
		return db.Contact{}, cmp.Or(err, ErrThrottled)
	}
	if email == "" || password == "" {
		return db.Contact{}, ErrMissingCredentials
	}
	name := backoffKey(email)
	delay, err := s.loginBackoff.Delay(ctx, name)
	if err != nil {
		return db.Contact{}, err
	}
	if err := wait(ctx, delay); err != nil {
		return db.Contact{}, err
	}
	contact, err := s.checkCredentials(ctx, email, password, remoteIP)
	// The attempt is decided; a back-off that can't count it only slows the next one less.
	switch {
	case err == nil:
		if err := s.loginBackoff.Succeeded(ctx, name); err != nil {
			s.log.Warn("sign-in back-off: end the streak", "err", err)
		}
	case errors.Is(err, ErrBadLogin):
		if err := s.loginBackoff.Failed(ctx, name); err != nil {
			s.log.Warn("sign-in back-off: count a failure", "err", err)
		}
	}
	return contact, err
}

// backoffKey is the back-off's key for a typed user name: its folded form, hashed, so that a
// remembered name costs the same few bytes however long the name typed.
func backoffKey(email string) string {
	sum := sha256.Sum256([]byte(db.EmailKey(email)))
	return string(sum[:])
}

// wait sleeps d on the wall clock, or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkCredentials is SignIn once the throttles let the attempt through.
func (s *Service) checkCredentials(ctx context.Context, email, password, remoteIP string) (db.Contact, error) {
	if len(password) > 4*auth.MaxPasswordLength {
		return db.Contact{}, ErrBadLogin // longer than any password we accept: no hash spent on it
	}
	contact, hash, err := s.store.Credentials(ctx, email)
	if errors.Is(err, db.ErrNotFound) {
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return db.Contact{}, err
		}
		if err := s.store.Audit(ctx, db.Event{Action: db.ActionLoginFailed, RemoteIP: remoteIP,
			Detail: "unknown user name " + auditEmail(email)}); err != nil {
			return db.Contact{}, err
		}
		return db.Contact{}, ErrBadLogin
	}
	if err != nil {
		return db.Contact{}, err
	}
	matched, rehash, err := s.hasher.Verify(ctx, password, hash)
	if err != nil && !errors.Is(err, auth.ErrMalformedHash) {
		return db.Contact{}, err
	}
	newHash := ""
	if matched && rehash {
		if newHash, err = s.hasher.Hash(ctx, password); err != nil {
			return db.Contact{}, err
		}
	}
	failure := "wrong password"
	if hash == "" {
		failure = "no password set yet"
	}
	if contact.Locked() {
		failure += " (contact is locked)"
	}
	err = s.store.Write(ctx, func(tx *db.Tx) error {
		if matched && contact.Locked() && contact.LockReason == db.LockedByFailedLogins && s.settings.AutoUnlockAfter > 0 {
			unlocked, err := tx.UnlockExpiredAutoLock(ctx, contact.ID, s.settings.AutoUnlockAfter)
			if err != nil {
				return err
			}
			if unlocked {
				contact.Status, contact.LockReason = db.StatusActive, ""
			}
		}
		switch {
		case matched && accessEnded(contact, tx.Now()):
			contact.Status = db.StatusLocked // refused now, even before the access job locks it
			return tx.Audit(ctx, db.Event{Action: db.ActionLoginFailed, TargetID: contact.ID, AccountID: contact.AccountID,
				RemoteIP: remoteIP, Detail: "right password, but the contact's access ended on " +
					contact.AccessEndsAt.Format("2 Jan 2006, 15:04 UTC")})
		case matched && !contact.Locked():
			return tx.RecordLoginSuccess(ctx, contact.ID, contact.AccountID, newHash, remoteIP)
		case matched:
			return tx.Audit(ctx, db.Event{Action: db.ActionLoginFailed, TargetID: contact.ID,
				AccountID: contact.AccountID, RemoteIP: remoteIP, Detail: "right password, but the contact is locked"})
		}
		f, err := tx.RecordLoginFailure(ctx, contact.ID, s.settings.LockoutThreshold, remoteIP, failure)
		if err != nil || !f.AutoLocked {
			return err
		}
		// A colleague locked after failed logins: its contact admins hear of it.
		_, err = tx.QueueAutoLockNotices(ctx, contact)
		return err
	})
	if err != nil {
		return db.Contact{}, err
	}
	if !matched || contact.Locked() {
		return db.Contact{}, ErrBadLogin
	}
	return contact, nil
}

// SignOut records that the contact signed out; the caller ends the session.
func (s *Service) SignOut(ctx context.Context, actor Actor) error {
	return s.store.Audit(ctx, db.Event{Action: db.ActionLogout, ActorID: actor.ID(), TargetID: actor.ID(),
		AccountID: actor.Contact.AccountID, RemoteIP: actor.RemoteIP})
}

// auditEmail keeps what was typed as a user name in the audit log only when it looks like
// an email: people sometimes type their password into the wrong field.
func auditEmail(s string) string {
	if len(s) > 254 || !strings.Contains(s, "@") || strings.ContainsAny(s, " \t\r\n") {
		return "(not an email address)"
	}
	return s
}

// Denied records that the portal refused the signed-in actor something (a page without the
// right, an id outside its scope, a form without its CSRF token): denied access is a
// security event.
func (s *Service) Denied(ctx context.Context, actor Actor, detail string) error {
	return s.store.Audit(ctx, db.Event{Action: db.ActionAccessDenied, ActorID: actor.ID(),
		AccountID: actor.Contact.AccountID, RemoteIP: actor.RemoteIP, Detail: detail})
}
