// Package contacts holds the portal's rules: who may sign in, and what a contact admin may
// do to the contacts in their scope (create, edit, lock, unlock, send links, export, read
// the audit log). One method per use case takes the actor, opens the transaction, applies
// every rule and returns typed errors. The web handlers and the command line parse input,
// call one method and show the result; db only stores.
package contacts

import (
	"context"
	"log/slog"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"portal/auth"
	"portal/db"
	"portal/secrets"
	"portal/throttle"
)

// Settings are the operator's choices the rules depend on.
type Settings struct {
	LockoutThreshold int           // failed logins in a row that lock a contact
	InviteTTL        time.Duration // how long a set-your-password link is valid
	AutoUnlockAfter  time.Duration // 0: automatic locks stay until an admin or a reset lifts them
	// LoginThrottle limits sign-ins per client address, LinkThrottle the forms anyone can
	// post without signing in (Forgot password? and setting a password through a link). An
	// IPv6 address counts by its /64. Zero: DefaultLoginThrottle, DefaultLinkThrottle.
	LoginThrottle, LinkThrottle throttle.Rate
	// LoginBackoff is how long the next sign-in on a user name waits after one failure; each
	// further failure in a row doubles it, up to LoginBackoffMax. 0 turns it off.
	LoginBackoff, LoginBackoffMax time.Duration
	// Secrets seals authenticator app secrets and passkey records; nil (the command line)
	// can remove factors but not add or check any.
	Secrets *secrets.Keyring
	// BaseURL is where the portal is served: passkeys are bound to its host, and offered
	// only when it is https or localhost (WebAuthn allows nothing else).
	BaseURL string
	// SessionLimits are the sessions' lifetimes: a contact's page lists its sessions within
	// them. A zero limit does not bound.
	SessionLimits db.SessionLimits
	// Turns: a sign-in checks its password in a turn shared with the pages of signed-in
	// contacts (throttle.Turns); nil: at once.
	Turns *throttle.Turns
}

// The per-address limits unless the operator sets others: enough for an office behind one
// address to sign in after a bad morning, far too few to spray passwords from it.
var (
	DefaultLoginThrottle = throttle.Rate{Burst: 20, Every: 6 * time.Second}
	DefaultLinkThrottle  = throttle.Rate{Burst: 10, Every: 30 * time.Second}
)

// throttleMemory is how many client addresses (and user names) the throttles remember when
// they count in memory.
const throttleMemory = 100_000

// Service applies the rules over a store.
type Service struct {
	store    *db.Store
	hasher   *auth.Hasher
	policy   *auth.Policy
	log      *slog.Logger
	settings Settings
	// loginLimiter and linkLimiter count per client address; see Settings.
	loginLimiter, linkLimiter *throttle.Limiter
	// loginBackoff slows guessing at one user name from many addresses, which the
	// per-address limits can't see. It is kept per name typed, known or not, so that its
	// delay tells nothing about whether the name belongs to anyone.
	loginBackoff *throttle.Backoff
	// createLimiter throttles Create contact per admin: its answer about emails of contacts
	// outside the scope must not become a fast oracle of who has an account.
	createLimiter *throttle.Limiter
	// relyingParty checks passkeys; nil when the base URL can't have any.
	relyingParty *webauthn.WebAuthn
}

// New returns the rules over store.
func New(store *db.Store, hasher *auth.Hasher, log *slog.Logger, settings Settings) *Service {
	if settings.LoginThrottle == (throttle.Rate{}) {
		settings.LoginThrottle = DefaultLoginThrottle
	}
	if settings.LinkThrottle == (throttle.Rate{}) {
		settings.LinkThrottle = DefaultLinkThrottle
	}
	// On PostgreSQL the throttles count in the database, so that their limits hold across
	// every server of the portal; on SQLite in memory (package throttle).
	return &Service{store: store, hasher: hasher, policy: auth.NewPolicy(), log: log, settings: settings,
		loginLimiter: throttle.New(store, "login", settings.LoginThrottle, throttleMemory),
		linkLimiter:  throttle.New(store, "link", settings.LinkThrottle, throttleMemory),
		loginBackoff: throttle.NewBackoff(store, "login", settings.LoginBackoff, settings.LoginBackoffMax,
			db.FailedLoginWindow, throttleMemory),
		createLimiter: throttle.New(store, "create", throttle.Rate{Burst: 30, Every: 10 * time.Second}, throttleMemory),
		relyingParty:  newRelyingParty(settings.BaseURL, log)}
}

// Actor is who acts: a signed-in contact with the scope it manages (a contact admin's
// account and its descendants; empty for other contacts), or the system (the command line)
// acting in the scope of the account it names.
type Actor struct {
	Contact  db.Contact // zero for the system
	Scope    db.Scope
	RemoteIP string
	// AuthenticatedAt is when the contact last proved who it is: at sign-in, or by
	// Reauthenticate. Changes that need a fresh proof (Reauthenticated) look at it.
	AuthenticatedAt time.Time
	// pending is a sign-in between the password and the rest (PendingActor), which may do
	// nothing but the next step of its stage.
	pending *db.PendingSignIn
}

// MinPasswordLength is how long the actor's new password must be at least: less with a
// second factor (SPEC 3.6).
func (a Actor) MinPasswordLength() int { return auth.MinLength(a.Contact.TwoFactor) }

// ID is the acting contact's id, 0 for the system.
func (a Actor) ID() int64 { return a.Contact.ID }

// requestedBy is the acting contact for links it asks for, nil for the system.
func (a Actor) requestedBy() *db.Contact {
	if a.Contact.ID == 0 {
		return nil
	}
	return &a.Contact
}

// System is the command line acting in sc.
func System(sc db.Scope) Actor { return Actor{Scope: sc} }

// Admin is the actor of a contact admin's request: the signed-in contact with the scope
// it manages. Contacts without the Contact admin role get ErrNotAdmin.
func (s *Service) Admin(ctx context.Context, contact db.Contact, remoteIP string) (Actor, error) {
	if !contact.IsAdmin() {
		return Actor{}, ErrNotAdmin
	}
	sc, err := s.store.ScopeOf(ctx, contact.AccountID)
	if err != nil {
		return Actor{}, err
	}
	return Actor{Contact: contact, Scope: sc, RemoteIP: remoteIP}, nil
}

// writeAsAdmin runs fn in a write transaction that first confirms, inside it, that the
// actor is still an active contact admin of its account (ErrNotAdmin otherwise). The
// request was let through before the transaction began: an admin locked, demoted or moved
// meanwhile must not have its change committed. The system (the command line) acts on the
// operator's authority and is not checked.
func (s *Service) writeAsAdmin(ctx context.Context, actor Actor, fn func(*db.Tx) error) error {
	return s.store.Write(ctx, func(tx *db.Tx) error {
		if actor.ID() != 0 {
			ok, err := tx.IsActiveAdmin(ctx, actor.ID(), actor.Contact.AccountID)
			if err != nil {
				return err
			}
			if !ok {
				return ErrNotAdmin
			}
		}
		return fn(tx)
	})
}

// Now is the clock the rules read.
func (s *Service) Now() time.Time { return s.store.Now() }

// InviteTTL is how long a set-your-password link is valid.
func (s *Service) InviteTTL() time.Duration { return s.settings.InviteTTL }
