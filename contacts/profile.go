package contacts

import (
	"context"
	"errors"
	"time"

	"portal/auth"
	"portal/db"
)

// Your profile (SPEC 3.11): what every signed-in contact manages for itself.

// ReauthWindow is how long a sign-in or a re-authentication counts as fresh: changes an
// admin makes to someone else's access (reset of two-step verification, Remove this contact,
// an email or a role, in the form or through an import) need the admin's password or second
// factor within it.
const ReauthWindow = 10 * time.Minute

var (
	ErrCurrentPasswordMissing = errors.New("the current password is missing")
	// ErrWrongPassword: the current password (or re-authentication) was wrong. It counts
	// toward the automatic lockout.
	ErrWrongPassword = errors.New("wrong password")
	// ErrReauthRequired: the change needs a password or second factor within ReauthWindow.
	ErrReauthRequired = errors.New("confirm who you are first")
)

// Factors are a contact's ways of two-step verification.
type Factors struct {
	App      bool // an authenticator app is set up
	AppSince time.Time
	Passkeys []db.Passkey
	// PasskeysOffered: passkeys work at this site.
	PasskeysOffered bool
	CodesLeft       int
	// Requirement is the organization's requirement (Required false when there is none).
	Requirement db.Requirement
	Required    bool
}

// On reports whether the contact has a second factor.
func (f Factors) On() bool { return f.App || len(f.Passkeys) > 0 }

// Profile is Your profile.
type Profile struct {
	Contact db.Contact
	Factors
	// MinPasswordLength applies to a new password: lower with a second factor.
	MinPasswordLength int
}

// Profile reads Your profile of the signed-in contact.
func (s *Service) Profile(ctx context.Context, actor Actor) (Profile, error) {
	if err := s.signedIn(actor); err != nil {
		return Profile{}, err
	}
	p := Profile{Contact: actor.Contact}
	var err error
	if p.Factors, err = s.factors(ctx, actor.Contact); err != nil {
		return Profile{}, err
	}
	p.MinPasswordLength = auth.MinLength(p.On())
	return p, nil
}

func (s *Service) factors(ctx context.Context, c db.Contact) (Factors, error) {
	f := Factors{PasskeysOffered: s.relyingParty != nil}
	app, err := s.store.TOTP(ctx, c.ID, true)
	switch {
	case err == nil:
		f.App, f.AppSince = true, app.ConfirmedAt
	case !errors.Is(err, db.ErrNotFound):
		return Factors{}, err
	}
	if f.Passkeys, err = s.store.Passkeys(ctx, c.ID, ""); err != nil {
		return Factors{}, err
	}
	for i := range f.Passkeys {
		f.Passkeys[i].Record = nil // sealed, and of no use to a page
	}
	if f.CodesLeft, err = s.store.RecoveryCodesLeft(ctx, c.ID); err != nil {
		return Factors{}, err
	}
	f.Requirement, f.Required, err = s.store.TwoFactorRequirement(ctx, c.AccountID)
	return f, err
}

// ChangePassword is Change password on Your profile: the current password, and a new one
// typed twice under the policy (8 characters with a second factor, 15 without). A wrong
// current password counts toward the automatic lockout. Every session of the contact ends,
// this one too: the caller signs the contact in again under a new session id. The contact is
// mailed a notice.
func (s *Service) ChangePassword(ctx context.Context, actor Actor, current, password, confirm string) error {
	if err := s.signedIn(actor); err != nil {
		return err
	}
	if err := s.throttleSignIn(ctx, actor.RemoteIP); err != nil {
		return err
	}
	switch {
	case current == "":
		return ErrCurrentPasswordMissing
	case password == "":
		return ErrPasswordMissing
	case password != confirm:
		return ErrPasswordMismatch
	}
	if err := s.checkPassword(ctx, actor, current, "wrong current password (Change password)"); err != nil {
		return err
	}
	c := actor.Contact
	if err := s.policy.Check(password, auth.MinLength(c.TwoFactor), auth.ContextWords(c.Email, c.AccountName, c.FirstName, c.LastName)...); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *db.Tx) error {
		if err := tx.SetPassword(ctx, c.ID, hash, auth.Short(password)); err != nil {
			return err
		}
		if err := passwordChanged(ctx, tx, c); err != nil {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionPasswordChanged, ActorID: c.ID, TargetID: c.ID, AccountID: c.AccountID,
			RemoteIP: actor.RemoteIP, Detail: "changed on Your profile; every session ended, other links voided"})
	})
}

// checkPassword verifies the signed-in contact's password. A wrong one is counted as a
// failed login (why says where), which can lock the contact like any other.
func (s *Service) checkPassword(ctx context.Context, actor Actor, password, why string) error {
	contact, hash, err := s.store.Credentials(ctx, actor.Contact.Email)
	if err != nil {
		return err
	}
	matched := false
	if len(password) <= 4*auth.MaxPasswordLength {
		matched, _, err = s.hasher.Verify(ctx, password, hash)
		if err != nil && !errors.Is(err, auth.ErrMalformedHash) {
			return err
		}
	}
	if matched {
		return nil
	}
	return errors.Join(ErrWrongPassword, s.countFailure(ctx, actor, contact, why))
}

// countFailure records a failed proof of a signed-in contact, with the lock and the
// admins' notice it may bring.
func (s *Service) countFailure(ctx context.Context, actor Actor, contact db.Contact, why string) error {
	return s.store.Write(ctx, func(tx *db.Tx) error {
		f, err := tx.RecordLoginFailure(ctx, contact.ID, s.settings.LockoutThreshold, actor.RemoteIP, why)
		if err != nil || !f.AutoLocked {
			return err
		}
		_, err = tx.QueueAutoLockNotices(ctx, contact)
		return err
	})
}

// SignOutYourSessions ends every session of the signed-in contact, on every device.
func (s *Service) SignOutYourSessions(ctx context.Context, actor Actor) error {
	if err := s.signedIn(actor); err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *db.Tx) error {
		if err := tx.EndSessions(ctx, actor.ID()); err != nil {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionSignedOutEverywhere, ActorID: actor.ID(), TargetID: actor.ID(),
			AccountID: actor.Contact.AccountID, RemoteIP: actor.RemoteIP, Detail: "every session ended"})
	})
}

// Reauthenticated reports whether the actor proved who it is within ReauthWindow of now.
// The command line acts on the operator's authority and always is. A proof up to a minute
// in the future counts: with several servers it may have been stamped by one whose clock is
// a little ahead.
func (a Actor) Reauthenticated(now time.Time) bool {
	if a.ID() == 0 {
		return true
	}
	return !a.AuthenticatedAt.IsZero() && now.Sub(a.AuthenticatedAt) < ReauthWindow && !now.Before(a.AuthenticatedAt.Add(-time.Minute))
}

// Reauthenticate checks the signed-in contact's password, or a code from its authenticator
// app (secret holds either: six digits are taken for a code when the contact has an app),
// before a change that needs a fresh proof. A wrong one counts toward the automatic lockout,
// and the attempts are throttled like sign-ins. The caller records the time of success as
// the actor's AuthenticatedAt.
func (s *Service) Reauthenticate(ctx context.Context, actor Actor, secret string) error {
	if err := s.signedIn(actor); err != nil {
		return err
	}
	if secret == "" {
		return ErrCurrentPasswordMissing
	}
	if err := s.throttleSignIn(ctx, actor.RemoteIP); err != nil {
		return err
	}
	name := backoffKey(actor.Contact.Email)
	if err := s.backOff(ctx, name); err != nil {
		return err
	}
	how := "password"
	var err error
	if code, ok := normalizeCode(secret); ok && actor.Contact.TwoFactor {
		how = "authenticator app"
		err = s.checkAppCode(ctx, actor, code)
	} else {
		err = s.checkPassword(ctx, actor, secret, "wrong password (confirming who they are)")
	}
	if err != nil {
		if errors.Is(err, ErrWrongPassword) {
			s.countAttempt(ctx, name, true)
		}
		return err
	}
	s.countAttempt(ctx, name, false)
	return s.store.Audit(ctx, db.Event{Action: db.ActionReauthenticated, ActorID: actor.ID(), TargetID: actor.ID(),
		AccountID: actor.Contact.AccountID, RemoteIP: actor.RemoteIP, Detail: "with the " + how})
}

// checkAppCode checks a code from the signed-in contact's authenticator app, which then
// can't be used again; a wrong one is a failed login (ErrWrongPassword).
func (s *Service) checkAppCode(ctx context.Context, actor Actor, code string) error {
	var wrong string
	err := s.store.Write(ctx, func(tx *db.Tx) error {
		wrong = ""
		app, err := tx.TOTP(ctx, actor.ID(), true)
		if errors.Is(err, db.ErrNotFound) {
			wrong = "a code, but the contact has no authenticator app"
			return nil
		}
		if err != nil {
			return err
		}
		secret, err := s.openSecret(app.Secret, totpContext(actor.ID()))
		if err != nil {
			return err
		}
		step, matched := matchTOTP(secret, code, tx.Now())
		if !matched {
			wrong = "wrong code from the authenticator app (confirming who they are)"
			return nil
		}
		fresh, err := tx.UseTOTPStep(ctx, app.ID, step)
		if err == nil && !fresh {
			wrong = "a used code from the authenticator app (confirming who they are)"
		}
		return err
	})
	if err != nil || wrong == "" {
		return err
	}
	return errors.Join(ErrWrongPassword, s.countFailure(ctx, actor, actor.Contact, wrong))
}
