package contacts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"portal/db"
	"portal/validate"
)

// A contact admin's part of two-step verification (SPEC 3.11): requiring it for the
// organization, and resetting it for a colleague who lost a phone.

var (
	// ErrSetUpFirst: an admin requires two-step verification only once it has it itself, so
	// that it knows what it asks of everyone (and is not stopped at its own next sign-in).
	ErrSetUpFirst = errors.New("set up two-step verification for yourself first")
	// ErrRequiredAbove: an account above requires it, and a child can't switch that off.
	ErrRequiredAbove = errors.New("an account above requires two-step verification")
	// ErrResetSelf: admins manage their own factors on Your profile.
	ErrResetSelf = errors.New("reset your own two-step verification on Your profile")
	// ErrNoTwoFactor: the contact has no second factor to reset.
	ErrNoTwoFactor = errors.New("the contact has no two-step verification")
)

// TwoFactorPolicy is the admin's page about requiring two-step verification.
type TwoFactorPolicy struct {
	Account string // the admin's own account, the one it decides for
	// Requirement is what holds for the account (Required false when nothing does);
	// Inherited when an account above set it, which this account can't switch off.
	Requirement db.Requirement
	Required    bool
	Inherited   bool
	// With and Without count the active contacts of the admin's scope.
	With, Without int
	// SelfOn: the admin has two-step verification itself.
	SelfOn bool
}

// TwoFactorPolicy reads the admin's page about requiring two-step verification.
func (s *Service) TwoFactorPolicy(ctx context.Context, actor Actor) (TwoFactorPolicy, error) {
	p := TwoFactorPolicy{Account: actor.Contact.AccountName, SelfOn: actor.Contact.TwoFactor}
	var err error
	if p.Requirement, p.Required, err = s.store.TwoFactorRequirement(ctx, actor.Contact.AccountID); err != nil {
		return TwoFactorPolicy{}, err
	}
	p.Inherited = p.Required && p.Requirement.AccountID != actor.Contact.AccountID
	if p.With, p.Without, err = s.store.TwoFactorCounts(ctx, actor.Scope); err != nil {
		return TwoFactorPolicy{}, err
	}
	return p, nil
}

// SetTwoFactorRequired makes the admin's account (and so every account below it) require
// two-step verification, or stop requiring it. Contacts without a factor set one up at their
// next sign-in. A requirement of an account above stays (ErrRequiredAbove).
func (s *Service) SetTwoFactorRequired(ctx context.Context, actor Actor, required bool) error {
	return s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		self, err := tx.ContactByID(ctx, actor.ID())
		if err != nil {
			return err
		}
		if required && !self.TwoFactor {
			return ErrSetUpFirst
		}
		req, holds, err := tx.TwoFactorRequirement(ctx, actor.Contact.AccountID)
		if err != nil {
			return err
		}
		if !required && holds && req.AccountID != actor.Contact.AccountID {
			return ErrRequiredAbove
		}
		changed, err := tx.SetTwoFactorRequired(ctx, actor.Contact.AccountID, actor.ID(), required)
		if err != nil || !changed {
			return err
		}
		action, detail := db.ActionTwoFactorRequired, "for "+actor.Contact.AccountName+" and its child organizations"
		if !required {
			action = db.ActionTwoFactorNotRequired
		}
		return tx.Audit(ctx, db.Event{Action: action, ActorID: actor.ID(), AccountID: actor.Contact.AccountID,
			RemoteIP: actor.RemoteIP, Detail: detail})
	})
}

// TwoFactorResetPage reads the page of contact id of the actor's scope to confirm Reset
// two-step verification, refused as the reset would be: yourself (ErrResetSelf), a contact
// without it (ErrNoTwoFactor).
func (s *Service) TwoFactorResetPage(ctx context.Context, actor Actor, id int64) (Page, error) {
	p, err := s.Page(ctx, actor, id)
	switch {
	case err != nil:
		return p, err
	case id == actor.ID():
		return p, ErrResetSelf
	case !p.Contact.TwoFactor:
		return p, ErrNoTwoFactor
	}
	return p, nil
}

// ResetTwoFactor is Reset two-step verification on a contact's page: every factor of
// contact id of the actor's scope is removed (authenticator app, passkeys, recovery codes),
// every session of it ends, and it is mailed why. It needs the admin's password or second
// factor within ReauthWindow (ErrReauthRequired). A contact whose organization requires two-step
// verification sets it up again at its next sign-in.
func (s *Service) ResetTwoFactor(ctx context.Context, actor Actor, id int64) (db.Contact, error) {
	var target db.Contact
	err := s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		var err error
		if target, err = tx.ContactForChange(ctx, actor.Scope, id); err != nil {
			return err
		}
		switch {
		case id == actor.ID():
			return ErrResetSelf
		case !actor.Reauthenticated(tx.Now()):
			return ErrReauthRequired
		case !target.TwoFactor:
			return ErrNoTwoFactor
		}
		return s.resetFactors(ctx, tx, actor, target)
	})
	return target, err
}

// resetFactors removes every factor of target inside tx, ends its sessions, mails it and
// audits it.
func (s *Service) resetFactors(ctx context.Context, tx *db.Tx, actor Actor, target db.Contact) error {
	if err := tx.RemoveFactors(ctx, target.ID); err != nil {
		return err
	}
	if err := tx.EndSessions(ctx, target.ID); err != nil {
		return err
	}
	mail := db.OutboxMail{Kind: db.MailTwoFactorReset, ToContactID: target.ID, ToEmail: target.Email, ToName: target.Name()}
	if actor.ID() != 0 {
		mail.AboutID, mail.AboutName, mail.AboutEmail = actor.ID(), actor.Contact.Name(), actor.Contact.Email
	}
	if _, err := tx.QueueMail(ctx, mail); err != nil {
		return err
	}
	detail := "authenticator app, passkeys and recovery codes removed; sessions ended; the contact was emailed"
	if actor.ID() == 0 {
		detail = "from the command line: " + detail
	}
	if target.PasswordShort {
		detail += "; its password is short, so it chooses a new one at its next sign-in"
	}
	return tx.Audit(ctx, db.Event{Action: db.ActionTwoFactorReset, ActorID: actor.ID(), TargetID: target.ID,
		AccountID: target.AccountID, RemoteIP: actor.RemoteIP, Detail: detail})
}

// ResetTwoFactorByEmail is the operator's reset (portal contact reset-2fa EMAIL), for an
// organization whose last admin lost every factor: the system acts, in the contact's own
// scope. ErrNotFound when no contact has that user name.
func (s *Service) ResetTwoFactorByEmail(ctx context.Context, email string) (db.Contact, error) {
	email = strings.TrimSpace(email)
	if validate.Email(email) != nil {
		return db.Contact{}, ErrNotAnEmail
	}
	c, err := s.store.ContactByEmail(ctx, email)
	if err != nil {
		return db.Contact{}, err
	}
	sc, err := s.store.ScopeOf(ctx, c.AccountID)
	if err != nil {
		return db.Contact{}, err
	}
	var target db.Contact
	err = s.store.Write(ctx, func(tx *db.Tx) error {
		var err error
		if target, err = tx.ContactForChange(ctx, sc, c.ID); err != nil {
			return err
		}
		if !target.TwoFactor {
			return ErrNoTwoFactor
		}
		return s.resetFactors(ctx, tx, System(sc), target)
	})
	return target, err
}

// ResealSecrets seals every stored secret that is not under the first key of the key file
// again with it (a key rotation), and reports how many it changed. Secrets no key of the
// file can open are an error, naming none of them.
func (s *Service) ResealSecrets(ctx context.Context) (int, error) {
	if s.settings.Secrets == nil {
		return 0, ErrSecretsUnavailable
	}
	var n int
	err := s.store.Write(ctx, func(tx *db.Tx) error {
		var err error
		n, err = tx.Reseal(ctx, func(sealed []byte, table string, contactID int64) ([]byte, error) {
			if s.settings.Secrets.Current(sealed) {
				return nil, nil
			}
			context := totpContext(contactID)
			if table == "passkeys" {
				context = passkeyContext(contactID)
			}
			resealed, err := s.settings.Secrets.Reseal(sealed, context)
			if err != nil {
				return nil, fmt.Errorf("a secret of contact %d: %w", contactID, err)
			}
			return resealed, nil
		})
		return err
	})
	return n, err
}
