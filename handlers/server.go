// Package handlers owns HTTP: routes, middleware, and one thin handler per action. SQL lives
// in db, markup in components; a handler reads the request, calls the store, renders.
package handlers

import (
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"portal/auth"
	"portal/components"
	"portal/config"
	"portal/db"
	"portal/session"
	"portal/throttle"
)

// Deps are what the handlers need from main.
type Deps struct {
	Log      *slog.Logger
	Store    *db.Store
	Sessions *session.Store
	Hasher   *auth.Hasher
	Policy   *auth.Policy
	Config   config.Config
	CSRFKey  []byte // secret the CSRF tokens are derived from

	// LoginLimiter throttles login attempts per client address; nil uses the default
	// (a burst of 20, then one every 6 seconds).
	LoginLimiter *throttle.Limiter

	// OnAutoLock runs in the transaction that locks a contact after failed logins (the mail
	// layer queues its notices there). Nil: nothing more happens.
	OnAutoLock func(*db.Tx, db.Contact) error
}

// BodyLimit bounds request bodies: the largest form is a few kilobytes.
const BodyLimit = 64 * 1024

// New builds the Fiber app with every route and middleware.
func New(d Deps) *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "Customer Support Portal",
		ErrorHandler:          errorHandler(d),
		BodyLimit:             BodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          5 * time.Minute, // exports of a large scope take a while
		IdleTimeout:           2 * time.Minute,
		DisableStartupMessage: true,
		ReadBufferSize:        16 * 1024,
	})
	app.Use(recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, e any) {
			d.Log.Error("panic", "path", c.Path(), "panic", e)
		},
	}))
	app.Use(securityHeaders(d.Config.Secure()))
	app.Use("/set-password", noReferrer) // before anything can answer, error pages included
	app.Get("/healthz", health(d.Store))
	app.Get(staticRoute, serveStatic)
	app.Use(compressText()) // after the static files, which come compressed already

	app.Use(csrf(d.CSRFKey, d.Config.Secure()))
	app.Use(loadViewer(d))

	if d.LoginLimiter == nil {
		d.LoginLimiter = throttle.New(20, 6*time.Second, 100_000, d.Store.Now)
	}
	login := &Login{
		log: d.Log, store: d.Store, sessions: d.Sessions, hasher: d.Hasher, cfg: d.Config,
		limiter: d.LoginLimiter, onAutoLock: d.OnAutoLock,
	}
	app.Get("/login", login.Show)
	app.Post("/login", login.Submit)
	app.Post("/logout", login.Logout)

	passwords := &Passwords{log: d.Log, store: d.Store, hasher: d.Hasher, policy: d.Policy, cfg: d.Config,
		limiter: throttle.New(10, 30*time.Second, 100_000, d.Store.Now)}
	app.Get("/forgot-password", passwords.ShowForgot)
	app.Post("/forgot-password", passwords.SubmitForgot)
	app.Get("/set-password/:token", passwords.ShowSetPassword)
	app.Post("/set-password/:token", passwords.SubmitSetPassword)
	app.Get("/reset-password", requireAdmin, passwords.ShowReset)
	app.Post("/reset-password", requireAdmin, passwords.SubmitReset)
	app.Post("/change-password", requireSignedIn, passwords.ChangePassword)
	app.Post("/contacts/:id<int>/reset-link", requireAdmin, passwords.SendResetLink)
	app.Post("/contacts/:id<int>/invitation", requireAdmin, passwords.ResendInvitation)

	app.Get("/", requireSignedIn, home)

	// Exports are registered before any /contacts/:id route, so "export.csv" is never read
	// as a contact id.
	exports := NewExport(d.Log, d.Store, d.Config.Secure())
	app.Get("/contacts/export.csv", requireAdmin, exports.CSV)
	app.Get("/contacts/export.xlsx", requireAdmin, exports.Excel)
	app.Get("/contacts/export.pdf", requireAdmin, exports.PDF)

	// Contact ids are constrained to integers, so /contacts/export.* never reaches these.
	contacts := NewContacts(d.Log, d.Store)
	contacts.Tiles = append(contacts.Tiles, components.Tile{Title: "Reset password",
		Text: "Send a colleague a link to choose a new password.", Href: "/reset-password", TestID: "tile-reset-password"})
	contacts.Tiles = append(contacts.Tiles, components.Tile{Title: "Audit log",
		Text: "See who did what: sign-ins, changes, locks, resets and exports.", Href: "/audit", TestID: "tile-audit-log"})
	contacts.DetailActions = append(contacts.DetailActions, passwords.DetailsExtra)
	contacts.OnCreated = passwords.Invite
	app.Get("/my-contacts", requireAdmin, contacts.MyContacts)
	app.Get("/audit", requireAdmin, NewAudit(d.Store).Show)
	app.Get("/contacts", requireAdmin, contacts.List)
	app.Get("/contacts/new", requireAdmin, contacts.New)
	app.Post("/contacts", requireAdmin, contacts.Create)
	app.Get("/contacts/:id<int>", requireAdmin, contacts.Show)
	app.Get("/contacts/:id<int>/edit", requireAdmin, contacts.Edit)
	app.Post("/contacts/:id<int>", requireAdmin, contacts.Update)
	app.Post("/contacts/:id<int>/lock", requireAdmin, contacts.Lock)
	app.Post("/contacts/:id<int>/unlock", requireAdmin, contacts.Unlock)
	return app
}
