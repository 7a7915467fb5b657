// Package handlers owns HTTP: routes, middleware, and one thin handler per action. A handler
// reads the request, calls one method of the rules (package contacts), and renders the
// answer with components; SQL lives in db.
package handlers

import (
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"portal/config"
	"portal/contacts"
	"portal/db"
	"portal/session"
	"portal/throttle"
)

// Deps are what the handlers need from main.
type Deps struct {
	Log      *slog.Logger
	Store    *db.Store // only /healthz reads it directly
	Contacts *contacts.Service
	Sessions *session.Store
	Config   config.Config
	CSRFKey  []byte // secret the CSRF tokens are derived from
	// Turns: the pages of signed-in contacts take turns with sign-ins (contacts.Settings).
	Turns *throttle.Turns
}

// BodyLimit bounds request bodies: the largest form is a few kilobytes. The upload of
// Import contacts alone takes more (MaxUploadBody, see requestLimits).
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
	app.Server().HeaderReceived = requestLimits
	app.Use(recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, e any) {
			d.Log.Error("panic", "path", loggedPath(c), "panic", e)
		},
	}))
	app.Use(clientAddress(d.Config.TrustedProxies), closeOnAmbiguousLength)
	app.Use(securityHeaders(d.Config.Secure()))
	// Pages opened by links with a token: before anything can answer, error pages included.
	app.Use("/set-password", noReferrer)
	app.Use("/confirm-email", noReferrer)
	app.Use("/cancel-email-change", noReferrer)
	app.Get("/healthz", health(d.Store))
	app.Get(staticRoute, serveStatic)
	app.Use(compressText()) // after the static files, which come compressed already

	// The session first: a signed-in contact's CSRF token is bound to its session, and a
	// refused request is audited under its name.
	app.Use(loadViewer(d.Log, d.Sessions))
	app.Use(csrf(d.CSRFKey))
	signedIn := func(h actorHandler) fiber.Handler { return asSignedIn(d.Turns, h) }
	admin := func(h actorHandler) fiber.Handler { return asAdmin(d.Contacts, d.Turns, h) }

	login := &Login{log: d.Log, contacts: d.Contacts}
	app.Get("/login", login.Show)
	app.Post("/login", login.Submit)
	app.Post("/logout", login.Logout)

	// After the password: the pages of a pending sign-in, and nothing else (SPEC 3.11).
	steps := &TwoStep{log: d.Log, contacts: d.Contacts}
	verify := func(h pendingHandler) fiber.Handler { return steps.at(db.StageVerify, h) }
	setup := func(h pendingHandler) fiber.Handler { return steps.at(db.StageSetup, h) }
	app.Get("/login/two-step", verify(steps.ShowVerify))
	app.Post("/login/two-step", verify(steps.VerifyCode))
	app.Get("/login/recovery-code", verify(steps.ShowRecovery))
	app.Post("/login/recovery-code", verify(steps.VerifyRecovery))
	app.Post("/login/passkey/options", verify(steps.PasskeyOptions))
	app.Post("/login/passkey", verify(steps.Passkey))
	app.Get("/login/setup", setup(steps.ShowSetup))
	app.Post("/login/setup/app", setup(steps.StartApp))
	app.Get("/login/setup/app", setup(steps.ShowApp))
	app.Post("/login/setup/app/confirm", setup(steps.ConfirmApp))
	app.Post("/login/setup/passkey/options", setup(steps.SetupPasskeyOptions))
	app.Post("/login/setup/passkey", setup(steps.SetupPasskey))
	app.Get("/login/new-password", steps.at(db.StagePassword, steps.ShowNewPassword))
	app.Post("/login/new-password", steps.at(db.StagePassword, steps.NewPassword))
	app.Post("/login/cancel", steps.Cancel)

	profile := &Profile{contacts: d.Contacts}
	app.Get("/", signedIn(profile.Home))
	app.Get("/profile", signedIn(profile.Show))
	app.Get("/profile/password", signedIn(profile.ShowPassword))
	app.Post("/profile/password", signedIn(profile.ChangePassword))
	app.Post("/profile/sign-out-everywhere", signedIn(profile.SignOutEverywhere))
	app.Post("/profile/app", signedIn(profile.StartApp))
	app.Get("/profile/app", signedIn(profile.ShowApp))
	app.Post("/profile/app/confirm", signedIn(profile.ConfirmApp))
	app.Post("/profile/app/remove", signedIn(profile.RemoveApp))
	app.Post("/profile/passkeys/options", signedIn(profile.PasskeyOptions))
	app.Post("/profile/passkeys", signedIn(profile.AddPasskey))
	app.Post("/profile/passkeys/:pk<int>/rename", signedIn(profile.RenamePasskey))
	app.Post("/profile/passkeys/:pk<int>/remove", signedIn(profile.RemovePasskey))
	app.Post("/profile/recovery-codes", signedIn(profile.NewRecoveryCodes))

	passwords := &Passwords{contacts: d.Contacts}
	app.Get("/forgot-password", passwords.ShowForgot)
	app.Post("/forgot-password", passwords.SubmitForgot)
	app.Get("/set-password/:token", passwords.ShowSetPassword)
	app.Post("/set-password/:token", passwords.SubmitSetPassword)
	app.Post("/change-password", signedIn(passwords.MailOwnResetLink))
	app.Get("/reset-password", admin(passwords.ShowReset))
	app.Post("/reset-password", admin(passwords.SubmitReset))
	app.Post("/contacts/:id<int>/reset-link", admin(passwords.SendResetLink))
	app.Post("/contacts/:id<int>/invitation", admin(passwords.ResendInvitation))

	emails := &EmailChanges{contacts: d.Contacts}
	app.Get("/confirm-email/:token", emails.ShowConfirm)
	app.Post("/confirm-email/:token", emails.Confirm)
	app.Get("/cancel-email-change/:token", emails.ShowCancel)
	app.Post("/cancel-email-change/:token", emails.Cancel)
	app.Post("/contacts/:id<int>/email-change/resend", admin(emails.Resend))
	app.Post("/contacts/:id<int>/email-change/cancel", admin(emails.CancelByAdmin))

	// Exports are registered before any /contacts/:id route, so "export.csv" is never read
	// as a contact id. They are GETs (plain links, see static/app.js) that another site
	// could start by linking to them: sameOriginOnly refuses those.
	exports := NewExport(d.Log, d.Contacts, d.Config.Secure())
	app.Get("/contacts/export.csv", sameOriginOnly, admin(exports.CSV))
	app.Get("/contacts/export.xlsx", sameOriginOnly, admin(exports.Excel))
	app.Get("/contacts/export.pdf", sameOriginOnly, admin(exports.PDF))
	app.Get("/audit/export.csv", sameOriginOnly, admin(exports.AuditCSV))

	imports := &Imports{contacts: d.Contacts}
	app.Get(importPath, admin(imports.Show))
	app.Post(importPath, admin(imports.Upload))
	app.Get(importPath+"/template.csv", admin(imports.TemplateCSV))
	app.Get(importPath+"/template.xlsx", admin(imports.TemplateExcel))
	app.Get(importPath+"/:id", admin(imports.Preview))
	app.Post(importPath+"/:id", admin(imports.Commit))
	app.Post(importPath+"/:id/cancel", admin(imports.Cancel))
	app.Get(importPath+"/:id/rejected.csv", sameOriginOnly, admin(imports.Rejected))

	// Contact ids are constrained to integers, so /contacts/export.* never reaches these.
	people := &Contacts{contacts: d.Contacts}
	app.Get("/my-contacts", admin(people.MyContacts))
	app.Get("/audit", admin((&Audit{contacts: d.Contacts}).Show))
	app.Get("/contacts", admin(people.List))
	app.Get("/contacts/new", admin(people.New))
	app.Post("/contacts", admin(people.Create))
	app.Get("/contacts/:id<int>", admin(people.Show))
	app.Get("/contacts/:id<int>/edit", admin(people.Edit))
	app.Post("/contacts/:id<int>", admin(people.Update))
	app.Post("/contacts/:id<int>/lock", admin(people.Lock))
	app.Post("/contacts/:id<int>/unlock", admin(people.Unlock))
	app.Post("/contacts/:id<int>/sign-out-everywhere", admin((&Sessions{contacts: d.Contacts}).SignOutEverywhere))

	bulk := &Bulk{log: d.Log, contacts: d.Contacts}
	app.Post("/contacts/bulk", admin(bulk.Choose))
	app.Post("/contacts/bulk/:action", admin(bulk.Act))

	life := &Lifecycle{log: d.Log, contacts: d.Contacts}
	app.Get("/organizations", admin(life.Organizations))
	app.Get("/organizations/:id<int>/lock", admin(life.ConfirmLock))
	app.Post("/organizations/:id<int>/lock", admin(life.Lock))
	app.Get("/organizations/:id<int>/unlock", admin(life.ConfirmUnlock))
	app.Post("/organizations/:id<int>/unlock", admin(life.Unlock))
	app.Get("/contacts/:id<int>/remove", admin(life.ConfirmRemove))
	app.Post("/contacts/:id<int>/remove", admin(life.Remove))

	twoFactor := &TwoFactorAdmin{contacts: d.Contacts}
	app.Get("/two-step-verification", admin(twoFactor.ShowPolicy))
	app.Post("/two-step-verification", admin(twoFactor.SetPolicy))
	app.Get("/contacts/:id<int>/two-step/reset", admin(twoFactor.ShowReset))
	app.Post("/contacts/:id<int>/two-step/reset", admin(twoFactor.Reset))
	return app
}
