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

	"portal/auth"
	"portal/db"
	"portal/throttle"
)

// Settings are the operator's choices the rules depend on.
type Settings struct {
	LockoutThreshold int           // failed logins in a row that lock a contact
	InviteTTL        time.Duration // how long a set-your-password link is valid
	AutoUnlockAfter  time.Duration // 0: automatic locks stay until an admin or a reset lifts them
	// LoginLimiter throttles sign-ins per client address; nil: a burst of 20, then one
	// every 6 seconds.
	LoginLimiter *throttle.Limiter
}

// Service applies the rules over a store.
type Service struct {
	store    *db.Store
	hasher   *auth.Hasher
	policy   *auth.Policy
	log      *slog.Logger
	settings Settings
	// linkLimiter throttles, per client address, the forms that anyone can post without
	// signing in: Forgot password? and setting a password through a link.
	linkLimiter *throttle.Limiter
	// createLimiter throttles Create contact per admin: its answer about emails of contacts
	// outside the scope must not become a fast oracle of who has an account.
	createLimiter *throttle.Limiter
}

// New returns the rules over store.
func New(store *db.Store, hasher *auth.Hasher, log *slog.Logger, settings Settings) *Service {
	if settings.LoginLimiter == nil {
		settings.LoginLimiter = throttle.New(20, 6*time.Second, 100_000, store.Now)
	}
	return &Service{store: store, hasher: hasher, policy: auth.NewPolicy(), log: log, settings: settings,
		linkLimiter:   throttle.New(10, 30*time.Second, 100_000, store.Now),
		createLimiter: throttle.New(30, 10*time.Second, 10_000, store.Now)}
}

// Actor is who acts: a signed-in contact with the scope it manages (a contact admin's
// account and its descendants; empty for other contacts), or the system (the command line)
// acting in the scope of the account it names.
type Actor struct {
	Contact  db.Contact // zero for the system
	Scope    db.Scope
	RemoteIP string
}

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

// Now is the clock the rules read.
func (s *Service) Now() time.Time { return s.store.Now() }

// InviteTTL is how long a set-your-password link is valid.
func (s *Service) InviteTTL() time.Duration { return s.settings.InviteTTL }
