package contacts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"portal/auth"
	"portal/db"
	"portal/throttle"
)

// SignIn checks a user name and password typed on the login page and returns the contact
// they belong to, signed in, or with a pending sign-in whose next step comes first (a
// second step, see passwordAccepted); next is where the person was going. Every failure but a missing field or a throttled address is ErrBadLogin,
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
func (s *Service) SignIn(ctx context.Context, email, password, remoteIP, next string) (SignInResult, error) {
	email = strings.TrimSpace(email)
	if err := s.throttleSignIn(ctx, remoteIP); err != nil {
		return SignInResult{}, err
	}
	if email == "" || password == "" {
		return SignInResult{}, ErrMissingCredentials
	}
	name := backoffKey(email)
	if err := s.backOff(ctx, name); err != nil {
		return SignInResult{}, err
	}
	// The work takes a turn; the waits above must not hold one.
	s.settings.Turns.TakeSignIn()
	defer s.settings.Turns.Done()
	result, err := s.checkCredentials(ctx, email, password, remoteIP, next)
	switch {
	case err == nil && result.Pending == "":
		s.countAttempt(ctx, name, false)
	case errors.Is(err, ErrBadLogin):
		s.countAttempt(ctx, name, true)
	}
	return result, err
}

// throttleSignIn is the per-address limit every password or code passes first.
func (s *Service) throttleSignIn(ctx context.Context, remoteIP string) error {
	ok, err := s.loginLimiter.Allow(ctx, throttle.Key(remoteIP))
	if err == nil && !ok {
		err = ErrThrottled
	}
	return err
}

// backOff waits as long as the failures in a row on user name call for.
func (s *Service) backOff(ctx context.Context, name string) error {
	delay, err := s.loginBackoff.Delay(ctx, name)
	if err != nil {
		return err
	}
	return wait(ctx, delay)
}

// countAttempt tells the back-off how an attempt on user name ended: a failure lengthens
// the next wait, a success ends the streak. The attempt is decided either way; a back-off
// that can't count it only slows the next one less.
func (s *Service) countAttempt(ctx context.Context, name string, failed bool) {
	record, what := s.loginBackoff.Succeeded, "end the streak"
	if failed {
		record, what = s.loginBackoff.Failed, "count a failure"
	}
	if err := record(ctx, name); err != nil {
		s.log.Warn("sign-in back-off: "+what, "err", err)
	}
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
func (s *Service) checkCredentials(ctx context.Context, email, password, remoteIP, next string) (SignInResult, error) {
	if len(password) > 4*auth.MaxPasswordLength {
		return SignInResult{}, ErrBadLogin // longer than any password we accept: no hash spent on it
	}
	result, err := s.checkOnce(ctx, email, password, remoteIP, next)
	if errors.Is(err, errCredentialsChanged) {
		// A sign-in at the same moment stored a stronger hash of the same password, or the
		// password or the user name changed: check against what is stored now.
		result, err = s.checkOnce(ctx, email, password, remoteIP, next)
	}
	if errors.Is(err, errCredentialsChanged) {
		return SignInResult{}, ErrBadLogin // changing under every try: refused, counted nowhere
	}
	return result, err
}

// errCredentialsChanged: the user name's contact or password hash changed between the check
// of the password and the transaction that acts on it.
var errCredentialsChanged = errors.New("credentials changed during the sign-in")

// checkOnce checks the password against the stored hash, outside any transaction (a hash
// takes tens of milliseconds, which the one writer must not wait for), and then acts on the
// result in a transaction that reads the contact again.
func (s *Service) checkOnce(ctx context.Context, email, password, remoteIP, next string) (SignInResult, error) {
	contact, hash, err := s.store.Credentials(ctx, email)
	if errors.Is(err, db.ErrNotFound) {
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return SignInResult{}, err
		}
		if err := s.store.Audit(ctx, db.Event{Action: db.ActionLoginFailed, RemoteIP: remoteIP,
			Detail: "unknown user name " + auditEmail(email)}); err != nil {
			return SignInResult{}, err
		}
		return SignInResult{}, ErrBadLogin
	}
	if err != nil {
		return SignInResult{}, err
	}
	matched, rehash, err := s.hasher.Verify(ctx, password, hash)
	if err != nil && !errors.Is(err, auth.ErrMalformedHash) {
		return SignInResult{}, err
	}
	newHash := ""
	if matched && rehash {
		if newHash, err = s.hasher.Hash(ctx, password); err != nil {
			return SignInResult{}, err
		}
	}
	var result SignInResult
	id := contact.ID
	err = s.store.Write(ctx, func(tx *db.Tx) error {
		// What the rules decide on is read again here, so that a lock or an unlock that came
		// in between counts, and a run again (PostgreSQL) starts afresh.
		stored, storedHash, err := tx.Credentials(ctx, email)
		if err != nil {
			return err
		}
		if stored.ID != id || storedHash != hash {
			return errCredentialsChanged
		}
		contact, result = stored, SignInResult{}
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
		case matched && accessEnded(contact, tx.Now()): // refused now, even before the access job locks it
			return tx.Audit(ctx, db.Event{Action: db.ActionLoginFailed, TargetID: contact.ID, AccountID: contact.AccountID,
				RemoteIP: remoteIP, Detail: "right password, but the contact's access ended on " +
					contact.AccessEndsAt.Format("2 Jan 2006, 15:04 UTC")})
		case matched && !contact.Locked():
			return s.passwordAccepted(ctx, tx, contact, newHash, remoteIP, next, &result)
		case matched:
			return tx.Audit(ctx, db.Event{Action: db.ActionLoginFailed, TargetID: contact.ID,
				AccountID: contact.AccountID, RemoteIP: remoteIP, Detail: "right password, but the contact is locked"})
		}
		failure := "wrong password"
		if storedHash == "" {
			failure = "no password set yet"
		}
		if contact.Locked() {
			failure += " (contact is locked)"
		}
		f, err := tx.RecordLoginFailure(ctx, contact.ID, s.settings.LockoutThreshold, remoteIP, failure)
		if err != nil || !f.AutoLocked {
			return err
		}
		// A colleague locked after failed logins: its contact admins hear of it.
		_, err = tx.QueueAutoLockNotices(ctx, contact)
		return err
	})
	switch {
	case errors.Is(err, db.ErrNotFound):
		return SignInResult{}, ErrBadLogin // removed, or its user name changed, meanwhile
	case err != nil:
		return SignInResult{}, err
	case result.Contact.ID == 0:
		return SignInResult{}, ErrBadLogin
	}
	return result, nil
}

// passwordAccepted is what a right password of an active contact leads to, inside the
// sign-in's transaction: signed in at once, or a pending sign-in when a second step, the
// setup of a required factor or a longer password comes first. A pending sign-in leaves the
// count of failed logins as it is: only its last step proves the sign-in, so that knowing
// the password does not reset the count that wrong codes add to.
func (s *Service) passwordAccepted(ctx context.Context, tx *db.Tx, contact db.Contact, newHash, remoteIP, next string,
	result *SignInResult) error {
	stage, detail := "", ""
	switch {
	case contact.TwoFactor:
		stage, detail = db.StageVerify, "the second step is next"
	default:
		req, required, err := tx.TwoFactorRequirement(ctx, contact.AccountID)
		if err != nil {
			return err
		}
		switch {
		case required:
			stage, detail = db.StageSetup, "two-step verification is required by "+req.AccountName+": its setup is next"
		case contact.PasswordShort:
			stage, detail = db.StagePassword, "the password is shorter than "+strconv.Itoa(auth.MinPasswordLength)+
				" characters and two-step verification is off: a new password is next"
		}
	}
	if stage == "" {
		*result = SignInResult{Contact: contact}
		return tx.RecordLoginSuccess(ctx, contact.ID, contact.AccountID, newHash, remoteIP)
	}
	if newHash != "" {
		if err := tx.RehashPassword(ctx, contact.ID, newHash); err != nil {
			return err
		}
	}
	raw := make([]byte, 32)
	rand.Read(raw) // never fails: crypto/rand crashes the program rather than return an error
	id := base64.RawURLEncoding.EncodeToString(raw)
	if err := tx.CreatePendingSignIn(ctx, db.PendingSignIn{IDHash: pendingIDHash(id), ContactID: contact.ID, Stage: stage,
		Next: next, ExpiresAt: tx.Now().Add(PendingSignInTTL)}); err != nil {
		return err
	}
	*result = SignInResult{Contact: contact, Pending: id, Stage: stage}
	return tx.Audit(ctx, db.Event{Action: db.ActionPasswordAccepted, ActorID: contact.ID, TargetID: contact.ID,
		AccountID: contact.AccountID, RemoteIP: remoteIP, Detail: detail})
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
