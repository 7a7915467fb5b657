package contacts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"portal/auth"
	"portal/db"
)

// Signing in in two steps (SPEC 3.11). A right password of a contact with a second factor
// does not sign it in: it opens a pending sign-in, kept server-side for PendingSignInTTL,
// whose id the browser holds in a short-lived cookie. That id grants nothing but the next
// step: a code from the authenticator app, a passkey or a recovery code. The same pending
// state makes a contact whose organization requires two-step verification set up a factor,
// and a contact left with a short password and no factor choose a longer one, before
// anything else.

// PendingSignInTTL is how long a sign-in waits for its next step.
const PendingSignInTTL = 5 * time.Minute

// ErrSignInExpired: the pending sign-in is unknown, ended, or older than PendingSignInTTL.
var ErrSignInExpired = errors.New("the sign-in took too long or was ended")

// ErrLockedOut: the wrong code was one too many, and locked the contact out; its sign-in
// is over (an ErrSignInExpired too).
var ErrLockedOut = fmt.Errorf("%w: the contact is locked out after too many wrong codes", ErrSignInExpired)

// SignInResult is a right password's outcome: the contact signed in (Pending empty), or a
// pending sign-in waiting for the next step of Stage, whose id Pending the browser keeps.
type SignInResult struct {
	Contact db.Contact
	Pending string
	Stage   string
}

// SignedIn is a completed sign-in: the contact, and where it was going (a local path, or "").
type SignedIn struct {
	Contact db.Contact
	Next    string
}

// pendingIDHash is what is stored of a pending sign-in's id.
func pendingIDHash(raw string) []byte {
	sum := sha256.Sum256([]byte(raw))
	return sum[:]
}

// Pending is a pending sign-in as its pages show it.
type Pending struct {
	Stage     string
	Contact   db.Contact
	ExpiresAt time.Time
	// The second step's ways: an authenticator app, passkeys of this site (only where
	// passkeys work), recovery codes left.
	App       bool
	Passkeys  int
	CodesLeft int
	// PasskeysOffered: passkeys work at this site (setup may offer one).
	PasskeysOffered bool
	// Requirement is who requires the setup (StageSetup).
	Requirement db.Requirement
}

// PendingActor reads the pending sign-in whose id raw the browser sent, as the actor of its
// next step. ErrSignInExpired when it can't go on (unknown, ended, expired, or its contact
// was locked meanwhile); an expired one is ended and audited.
func (s *Service) PendingActor(ctx context.Context, raw, remoteIP string) (Actor, Pending, error) {
	if raw == "" || len(raw) > 256 {
		return Actor{}, Pending{}, ErrSignInExpired
	}
	hash := pendingIDHash(raw)
	p, contact, err := s.store.PendingSignIn(ctx, hash)
	if errors.Is(err, db.ErrNotFound) {
		return Actor{}, Pending{}, ErrSignInExpired
	}
	if err != nil {
		return Actor{}, Pending{}, err
	}
	if !s.Now().Before(p.ExpiresAt) {
		err := s.store.Write(ctx, func(tx *db.Tx) error {
			ended, err := tx.EndPendingSignIn(ctx, hash)
			if err != nil || !ended {
				return err
			}
			return tx.Audit(ctx, db.Event{Action: db.ActionSignInExpired, ActorID: contact.ID, TargetID: contact.ID,
				AccountID: contact.AccountID, RemoteIP: remoteIP,
				Detail: "no next step within " + PendingSignInTTL.String() + " of the password"})
		})
		return Actor{}, Pending{}, errors.Join(ErrSignInExpired, err)
	}
	actor := Actor{Contact: contact, RemoteIP: remoteIP, pending: &p}
	view := Pending{Stage: p.Stage, Contact: contact, ExpiresAt: p.ExpiresAt, PasskeysOffered: s.relyingParty != nil}
	switch p.Stage {
	case db.StageVerify:
		if _, err := s.store.TOTP(ctx, contact.ID, true); err == nil {
			view.App = true
		} else if !errors.Is(err, db.ErrNotFound) {
			return Actor{}, Pending{}, err
		}
		if s.relyingParty != nil {
			keys, err := s.store.Passkeys(ctx, contact.ID, s.rpID())
			if err != nil {
				return Actor{}, Pending{}, err
			}
			view.Passkeys = len(keys)
		}
		if view.CodesLeft, err = s.store.RecoveryCodesLeft(ctx, contact.ID); err != nil {
			return Actor{}, Pending{}, err
		}
	case db.StageSetup:
		if view.Requirement, _, err = s.store.TwoFactorRequirement(ctx, contact.AccountID); err != nil {
			return Actor{}, Pending{}, err
		}
	}
	return actor, view, nil
}

// pendingAt refuses actors other than a pending sign-in at stage.
func pendingAt(actor Actor, stage string) error {
	if actor.pending == nil || actor.pending.Stage != stage {
		return ErrSignInExpired
	}
	return nil
}

// VerifyAppCode is the second step with a code from the authenticator app: the current
// one, or the one of the step before or after it; never one used before.
func (s *Service) VerifyAppCode(ctx context.Context, actor Actor, typed string) (SignedIn, error) {
	if strings.TrimSpace(typed) == "" {
		return SignedIn{}, errors.Join(pendingAt(actor, db.StageVerify), ErrCodeMissing)
	}
	code, wellFormed := normalizeCode(typed)
	return s.secondStep(ctx, actor, func(tx *db.Tx) (string, bool, error) {
		app, err := tx.TOTP(ctx, actor.ID(), true)
		if errors.Is(err, db.ErrNotFound) {
			return "a code, but the contact has no authenticator app", false, nil
		}
		if err != nil {
			return "", false, err
		}
		if !wellFormed {
			return "not a code from the authenticator app", false, nil
		}
		secret, err := s.openSecret(app.Secret, totpContext(actor.ID()))
		if err != nil {
			return "", false, err
		}
		step, matched := matchTOTP(secret, code, tx.Now())
		if !matched {
			return "wrong code from the authenticator app", false, nil
		}
		fresh, err := tx.UseTOTPStep(ctx, app.ID, step)
		if err != nil {
			return "", false, err
		}
		if !fresh {
			return "a code from the authenticator app that was used already", false, nil
		}
		return "authenticator app", true, nil
	})
}

// VerifyRecoveryCode is the second step with a recovery code, which then no longer works.
func (s *Service) VerifyRecoveryCode(ctx context.Context, actor Actor, typed string) (SignedIn, error) {
	if strings.TrimSpace(typed) == "" {
		return SignedIn{}, errors.Join(pendingAt(actor, db.StageVerify), ErrCodeMissing)
	}
	code, wellFormed := normalizeRecoveryCode(typed)
	return s.secondStep(ctx, actor, func(tx *db.Tx) (string, bool, error) {
		if !wellFormed {
			return "not a recovery code", false, nil
		}
		used, err := tx.UseRecoveryCode(ctx, actor.ID(), recoveryCodeHash(actor.ID(), code))
		if err != nil {
			return "", false, err
		}
		if !used {
			return "wrong or used recovery code", false, nil
		}
		left, err := tx.RecoveryCodesLeft(ctx, actor.ID())
		if err != nil {
			return "", false, err
		}
		return fmt.Sprintf("recovery code (%d left)", left), true, nil
	})
}

// BeginPasskeySignIn starts the second step with a passkey: the options for the browser's
// navigator.credentials.get, as JSON. User verification is preferred, not required: the
// password came first.
func (s *Service) BeginPasskeySignIn(ctx context.Context, actor Actor) ([]byte, error) {
	if err := pendingAt(actor, db.StageVerify); err != nil {
		return nil, err
	}
	return s.beginCeremony(ctx, actor, db.CeremonyLogin, func(u *passkeyUser) (any, *webauthn.SessionData, error) {
		if len(u.creds) == 0 {
			return nil, nil, ErrPasskeysUnavailable
		}
		assertion, session, err := s.relyingParty.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
		if err != nil {
			return nil, nil, fmt.Errorf("begin passkey sign-in: %w", err)
		}
		return assertion, session, nil
	})
}

// FinishPasskeySignIn is the second step with the browser's answer (the credential as
// JSON) to the dialog BeginPasskeySignIn started. An answer that does not verify counts as
// a failed login.
func (s *Service) FinishPasskeySignIn(ctx context.Context, actor Actor, response []byte) (SignedIn, error) {
	if s.relyingParty == nil {
		return SignedIn{}, errors.Join(pendingAt(actor, db.StageVerify), ErrPasskeysUnavailable)
	}
	parsed, parseErr := protocol.ParseCredentialRequestResponseBytes(response)
	signedIn, err := s.secondStep(ctx, actor, func(tx *db.Tx) (string, bool, error) {
		session, err := takeCeremony(ctx, tx, actor.ID(), db.CeremonyLogin)
		if errors.Is(err, ErrPasskeyFailed) {
			return "a passkey answer, but no passkey dialog was under way", false, nil
		}
		if err != nil {
			return "", false, err
		}
		if parseErr != nil {
			return "a passkey answer that could not be read", false, nil
		}
		u, err := s.passkeyUser(ctx, tx, actor.Contact)
		if err != nil {
			return "", false, err
		}
		cred, err := s.relyingParty.ValidateLogin(u, session, parsed)
		if err != nil {
			s.log.Info("passkey sign-in refused", "contact_id", actor.ID(), "err", err)
			return "a passkey answer that did not verify", false, nil
		}
		if cred.Authenticator.CloneWarning {
			return "a passkey whose signature counter went back: it may have been copied", false, nil
		}
		for i, c := range u.creds {
			if !bytes.Equal(c.ID, cred.ID) {
				continue
			}
			record, err := json.Marshal(cred)
			if err != nil {
				return "", false, fmt.Errorf("encode passkey record: %w", err)
			}
			if err := tx.UsePasskey(ctx, u.stored[i].ID, s.settings.Secrets.Seal(record, passkeyContext(actor.ID()))); err != nil {
				return "", false, err
			}
			return "passkey “" + u.stored[i].Name + "”", true, nil
		}
		return "a passkey of someone else", false, nil
	})
	return signedIn, err
}

// secondStep runs check, the second step's test, and completes the sign-in when it passes.
// A failure counts toward the automatic lockout like a wrong password, in the same
// transaction, and the same throttles slow the attempts: per client address, and per user
// name (the delay after failures in a row). check returns what to audit: how the step
// passed, or why it failed.
func (s *Service) secondStep(ctx context.Context, actor Actor, check func(*db.Tx) (detail string, ok bool, err error)) (SignedIn, error) {
	if err := pendingAt(actor, db.StageVerify); err != nil {
		return SignedIn{}, err
	}
	if err := s.throttleSignIn(ctx, actor.RemoteIP); err != nil {
		return SignedIn{}, err
	}
	name := backoffKey(actor.Contact.Email)
	if err := s.backOff(ctx, name); err != nil {
		return SignedIn{}, err
	}
	var signedIn SignedIn
	var failed, locked bool
	err := s.store.Write(ctx, func(tx *db.Tx) error {
		signedIn, failed, locked = SignedIn{}, false, false
		detail, ok, err := check(tx)
		if err != nil {
			return err
		}
		if ok {
			signedIn, err = s.completeSignIn(ctx, tx, actor, actor.Contact, detail)
			return err
		}
		failed = true
		f, err := tx.RecordLoginFailure(ctx, actor.ID(), s.settings.LockoutThreshold, actor.RemoteIP, "second step: "+detail)
		if err != nil || !f.AutoLocked {
			return err
		}
		locked = true
		if _, err := tx.QueueAutoLockNotices(ctx, actor.Contact); err != nil {
			return err
		}
		_, err = tx.EndPendingSignIn(ctx, actor.pending.IDHash)
		return err
	})
	switch {
	case err != nil:
		return SignedIn{}, err
	case failed && locked:
		s.countAttempt(ctx, name, true)
		return SignedIn{}, ErrLockedOut
	case failed:
		s.countAttempt(ctx, name, true)
		return SignedIn{}, ErrWrongCode
	}
	s.countAttempt(ctx, name, false)
	return signedIn, nil
}

// completeSignIn ends the pending sign-in and records the login, inside tx: how says what
// the last step was. Of two requests completing one sign-in, only the first does; one that
// comes after the time is up, or after the contact was locked, does not.
func (s *Service) completeSignIn(ctx context.Context, tx *db.Tx, actor Actor, contact db.Contact, how string) (SignedIn, error) {
	ended, err := tx.EndPendingSignIn(ctx, actor.pending.IDHash)
	if err != nil {
		return SignedIn{}, err
	}
	if !ended || !tx.Now().Before(actor.pending.ExpiresAt) {
		return SignedIn{}, ErrSignInExpired
	}
	now, err := tx.ContactByID(ctx, contact.ID)
	if err != nil {
		return SignedIn{}, err
	}
	if now.Locked() {
		return SignedIn{}, ErrSignInExpired
	}
	if err := tx.Audit(ctx, db.Event{Action: db.ActionSecondStepPassed, ActorID: contact.ID, TargetID: contact.ID,
		AccountID: contact.AccountID, RemoteIP: actor.RemoteIP, Detail: how}); err != nil {
		return SignedIn{}, err
	}
	if err := tx.RecordLoginSuccess(ctx, contact.ID, contact.AccountID, "", actor.RemoteIP); err != nil {
		return SignedIn{}, err
	}
	return SignedIn{Contact: now, Next: actor.pending.Next}, nil
}

// ChooseNewPassword is the step of a contact whose password is shorter than a password
// alone may be and who has no second factor any more: a new password, typed twice, under
// the policy of a password alone. It completes the sign-in.
func (s *Service) ChooseNewPassword(ctx context.Context, actor Actor, password, confirm string) (SignedIn, error) {
	if err := pendingAt(actor, db.StagePassword); err != nil {
		return SignedIn{}, err
	}
	c := actor.Contact
	if err := s.throttleSignIn(ctx, actor.RemoteIP); err != nil {
		return SignedIn{}, err
	}
	switch {
	case password == "":
		return SignedIn{}, ErrPasswordMissing
	case password != confirm:
		return SignedIn{}, ErrPasswordMismatch
	}
	if err := s.policy.Check(password, auth.MinLength(false), auth.ContextWords(c.Email, c.AccountName, c.FirstName, c.LastName)...); err != nil {
		return SignedIn{}, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return SignedIn{}, err
	}
	var signedIn SignedIn
	err = s.store.Write(ctx, func(tx *db.Tx) error {
		if err := tx.SetPassword(ctx, c.ID, hash, false); err != nil {
			return err
		}
		if err := passwordChanged(ctx, tx, c); err != nil {
			return err
		}
		if err := tx.Audit(ctx, db.Event{Action: db.ActionPasswordChanged, ActorID: c.ID, TargetID: c.ID, AccountID: c.AccountID,
			RemoteIP: actor.RemoteIP, Detail: "chosen at sign-in: the old one was too short without two-step verification"}); err != nil {
			return err
		}
		signedIn, err = s.completeSignIn(ctx, tx, actor, c, "a new password")
		return err
	})
	return signedIn, err
}

// CancelSignIn ends a pending sign-in at the contact's request (Cancel on its pages).
func (s *Service) CancelSignIn(ctx context.Context, actor Actor) error {
	if actor.pending == nil {
		return ErrSignInExpired
	}
	return s.store.Write(ctx, func(tx *db.Tx) error {
		ended, err := tx.EndPendingSignIn(ctx, actor.pending.IDHash)
		if err != nil || !ended {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionLogout, ActorID: actor.ID(), TargetID: actor.ID(),
			AccountID: actor.Contact.AccountID, RemoteIP: actor.RemoteIP, Detail: "left the sign-in before its last step"})
	})
}
