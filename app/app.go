// Package app wires the portal together: database, sessions, hashing, handlers and the
// background work of a running server. main and the end-to-end tests both start it here.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"portal/auth"
	"portal/config"
	"portal/contacts"
	"portal/db"
	"portal/handlers"
	"portal/mail"
	"portal/secrets"
	"portal/session"
	"portal/throttle"
)

// App is a portal ready to serve.
type App struct {
	cfg    config.Config
	log    *slog.Logger
	store  *db.Store
	rules  *contacts.Service
	web    *fiber.App
	sess   *session.Store
	hasher *auth.Hasher
	mail   *mail.Worker
	wg     sync.WaitGroup
}

// Option adjusts how the App is built (tests inject a clock).
type Option func(*options)

type options struct {
	now    func() time.Time
	hasher *auth.Hasher
}

// WithHasher replaces the password hasher (tests use cheaper parameters to stay fast).
func WithHasher(h *auth.Hasher) Option { return func(o *options) { o.hasher = h } }

// WithClock makes the whole app read time from now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// New opens and migrates the database and builds the web app.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*App, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.hasher == nil {
		o.hasher = NewHasher()
	}
	store, err := db.Open(cfg.DBPath, db.WithClock(o.now), db.WithPoolSize(cfg.DBPool))
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	conflicts, err := store.EmailKeyConflicts(ctx)
	if err != nil {
		store.Close()
		return nil, err
	}
	for _, c := range conflicts {
		log.Warn("two contacts have the same user name once compared as user names are now compared; "+
			"each keeps its own until an operator settles it (docs/OPERATIONS.md)", "contact_id", c.ContactID, "other_contact_id", c.OtherID)
	}
	secret := cfg.SessionSecret
	if secret == "" {
		// Generated on first start and kept in the database, so restarts keep forms valid.
		secret, err = store.SettingOrCreate(ctx, "session_secret", func() (string, error) {
			b := make([]byte, 32)
			_, err := rand.Read(b)
			return hex.EncodeToString(b), err
		})
		if err != nil {
			store.Close()
			return nil, err
		}
	}
	keys, err := loadSecretsKey(cfg, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	sess := session.NewStore(store, session.DefaultLimits, cfg.Secure())
	t := cfg.Throttles
	turns := throttle.NewTurns(turnsFor(cfg), pageTurnWait)
	rules := contacts.New(store, o.hasher, log, contacts.Settings{LockoutThreshold: cfg.LockoutThreshold,
		InviteTTL: cfg.InviteTTL, AutoUnlockAfter: cfg.AutoUnlockAfter,
		LoginThrottle: throttle.Rate{Burst: t.LoginBurst, Every: t.LoginInterval},
		LinkThrottle:  throttle.Rate{Burst: t.LinkBurst, Every: t.LinkInterval},
		LoginBackoff:  t.LoginBackoff, LoginBackoffMax: t.LoginBackoffMax, SessionLimits: sess.Limits(),
		Secrets: keys, BaseURL: cfg.BaseURL, Turns: turns})
	web := handlers.New(handlers.Deps{Log: log, Store: store, Contacts: rules, Sessions: sess, Config: cfg,
		CSRFKey: []byte(secret), Turns: turns})
	worker := mail.NewWorker(store, mail.NewSender(cfg, log), cfg.BaseURL, log)
	return &App{cfg: cfg, log: log, store: store, rules: rules, web: web, sess: sess, hasher: o.hasher, mail: worker}, nil
}

// loadSecretsKey reads the key file that seals two-step verification secrets. Beside a
// SQLite file it is created on first start; a PostgreSQL database is shared by several
// servers, which must read one file the operator made, so it is never created there.
func loadSecretsKey(cfg config.Config, log *slog.Logger) (*secrets.Keyring, error) {
	if db.IsPostgres(cfg.DBPath) {
		return secrets.Load(cfg.SecretsKeyFile)
	}
	keys, created, err := secrets.LoadOrCreate(cfg.SecretsKeyFile)
	if created {
		log.Warn("created the key that seals two-step verification secrets: back it up apart from the database "+
			"(docs/OPERATIONS.md)", "file", cfg.SecretsKeyFile)
	}
	return keys, err
}

// NewHasher is the production hasher: argon2id with OWASP's parameters, at most
// HashingSlots hashes at once.
func NewHasher() *auth.Hasher {
	return auth.NewHasher(auth.DefaultParams, HashingSlots())
}

// HashingSlots is how many password hashes the production hasher runs at once: one per CPU
// the process may use (GOMAXPROCS, which follows a container's CPU limit), since a hash
// keeps one core busy and more at once would only share the cores and make each login
// slower; and no more than fit in hashingMemory, since each holds 19 MiB while it runs
// (so a 64-CPU machine still holds at most 256 MiB for logins, not 1.2 GiB). A burst of
// logins beyond that waits for a slot.
func HashingSlots() int {
	return hashingSlots(runtime.GOMAXPROCS(0), hashingMemory, int64(auth.DefaultParams.Memory)<<10)
}

// turnsFor is how many requests of signed-in contacts and sign-ins' password checks run at
// once (throttle.Turns): one per CPU the process may use on SQLite, where making a page is
// work on this machine's cores from start to end; two per CPU on PostgreSQL, where part of
// a page's time is waiting for the database's answers, which may come from another machine
// (with the database on the same two cores, two turns per CPU took a login in the load
// test's mix 55 ms at p50, four 76 ms, at the same rate of pages). Never fewer than two: a long request (a PDF of 10,000 contacts, a bulk action on
// as many) holds its turn while it runs, and must not hold up everyone else's on one core.
func turnsFor(cfg config.Config) int {
	n := runtime.GOMAXPROCS(0)
	if db.IsPostgres(cfg.DBPath) {
		n *= 2
	}
	return max(2, n)
}

// pageTurnWait is how long a page waits for its turn before it is answered "busy, try
// again" (503): far beyond its waits in the load test's mix, bursts of logins included
// (docs/PERFORMANCE.md), and short of the 30–60 s after which proxies give up.
const pageTurnWait = 10 * time.Second

// hashingMemory is the memory the hashes running at once may hold together: about what the
// rest of the portal holds at its busiest (a PDF export takes 100–150 MB), so that a burst
// of logins can at most double the process's memory.
const hashingMemory = 256 << 20

func hashingSlots(cpus int, budget, perHash int64) int {
	return max(1, min(cpus, int(budget/perHash)))
}

// Hasher is the app's password hasher (seeding uses the same parameters).
func (a *App) Hasher() *auth.Hasher { return a.hasher }

// Mail is the outbox worker (tests deliver queued mail with its RunOnce).
func (a *App) Mail() *mail.Worker { return a.mail }

// Contacts are the app's rules (tests set up state through them).
func (a *App) Contacts() *contacts.Service { return a.rules }

// Store is the app's database (tests read state through it).
func (a *App) Store() *db.Store { return a.store }

// Handler is the Fiber app (tests send requests through app.Test).
func (a *App) Handler() *fiber.App { return a.web }

// Serve answers requests on ln until ctx is cancelled, then drains: in-flight requests
// finish (up to 30 s), no new ones are taken, background work stops (the mail worker
// finishes the message in hand), the database closes.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	bg, stopBackground := context.WithCancel(context.Background())
	for _, work := range []func(context.Context){a.sweep, a.mail.Run, a.endExpiredAccess, a.deleteAbandonedImports} {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			work(bg)
		}()
	}

	served := make(chan error, 1)
	go func() { served <- a.web.Listener(ln) }()
	a.log.Info("serving", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL, "db", db.RedactDSN(a.cfg.DBPath))

	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		a.log.Info("shutting down")
		err = a.web.ShutdownWithTimeout(30 * time.Second)
		<-served
	}
	stopBackground()
	a.wg.Wait()
	return errors.Join(err, a.store.Close())
}

// Close releases the database of an App that never served.
func (a *App) Close() error { return a.store.Close() }

// accessJobInterval is how often the server looks for contacts whose access has ended: they
// are locked at most this much late (sign-in refuses them at once anyway).
const accessJobInterval = 20 * time.Second

// endExpiredAccess locks, every accessJobInterval, the contacts whose access has ended. It
// keeps no state, so a restart loses nothing: what it missed it finds on its next run.
func (a *App) endExpiredAccess(ctx context.Context) {
	end := func() {
		if n, err := a.rules.EndExpiredAccess(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("end expired access", "err", err)
		} else if n > 0 {
			a.log.Info("access ended", "contacts", n)
		}
	}
	end() // at start too: what a stopped server missed is found at once
	every(ctx, accessJobInterval, end)
}

// deleteAbandonedImports deletes, every minute, the uploaded files of Import contacts that
// nobody imported or cancelled within the hour they are kept (contacts.ImportTTL): the
// preview refuses them from that hour on, and this takes their rows of personal data out of
// the database soon after. Every server runs it; two at once just find less to delete.
func (a *App) deleteAbandonedImports(ctx context.Context) {
	every(ctx, time.Minute, func() {
		if n, err := a.rules.DeleteAbandonedImports(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("delete abandoned imports", "err", err)
		} else if n > 0 {
			a.log.Info("deleted abandoned imports", "count", n)
		}
	})
}

// sweep deletes expired sessions and the throttles' spent counters (PostgreSQL) every few
// minutes; expiry itself is checked on every request, this only keeps the tables small.
// Every server sweeps; the deletes of two at once just find less to do.
func (a *App) sweep(ctx context.Context) {
	every(ctx, 5*time.Minute, func() {
		if n, err := a.store.DeleteExpiredSessions(ctx, a.sess.Limits()); err != nil {
			a.log.Warn("sweep sessions", "err", err)
		} else if n > 0 {
			a.log.Debug("swept sessions", "count", n)
		}
		if n, err := a.store.PruneThrottles(ctx); err != nil {
			a.log.Warn("prune throttles", "err", err)
		} else if n > 0 {
			a.log.Debug("pruned throttles", "count", n)
		}
	})
}

// every runs work each period until ctx ends.
func every(ctx context.Context, period time.Duration, work func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			work()
		}
	}
}

// ListenAndServe listens on the configured address and serves until ctx is cancelled.
func (a *App) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		a.store.Close()
		return fmt.Errorf("listen on %s: %w", a.cfg.Addr, err)
	}
	return a.Serve(ctx, ln)
}
