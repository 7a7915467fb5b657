package handlers

import (
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"portal/auth"
	"portal/components"
	"portal/contacts"
	"portal/db"
)

// TwoStep is signing in after the password (SPEC 3.11): the second step, the setup of a
// factor the organization requires, or a longer password. Its pages belong to a pending
// sign-in, named by a short-lived cookie; it grants nothing but them, and the contact is
// signed in (a session, with a new id) only when its last step succeeds.
type TwoStep struct {
	log      *slog.Logger
	contacts *contacts.Service
}

// stagePaths are the pages of each stage of a pending sign-in.
var stagePaths = map[string]string{
	db.StageVerify:   "/login/two-step",
	db.StageSetup:    "/login/setup",
	db.StagePassword: "/login/new-password",
}

// pendingHandler acts for a pending sign-in.
type pendingHandler func(c *fiber.Ctx, actor contacts.Actor, p contacts.Pending) error

// at lets through to h the requests of a pending sign-in at stage. A signed-in contact goes
// home; a sign-in at another stage goes to that stage's page; one that is gone (expired,
// ended, its contact locked) starts again at the login page, which says why.
func (h *TwoStep) at(stage string, next pendingHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v := viewerOf(c)
		if v.contact != nil {
			return redirect(c, "/")
		}
		actor, p, err := h.contacts.PendingActor(c.UserContext(), v.sess.PendingID(c), clientIP(c))
		if errors.Is(err, contacts.ErrSignInExpired) {
			return h.expired(c, err)
		}
		if err != nil {
			return err
		}
		if p.Stage != stage {
			return redirect(c, stagePaths[p.Stage])
		}
		return next(c, actor, p)
	}
}

// expired answers for a pending sign-in that can't go on: the login page, saying why.
func (h *TwoStep) expired(c *fiber.Ctx, err error) error {
	viewerOf(c).sess.ClearPending(c)
	form := components.LoginForm{Error: "Your sign-in took longer than " + components.Duration(contacts.PendingSignInTTL) + ", or was ended. Log in again."}
	if errors.Is(err, contacts.ErrLockedOut) {
		// Not "locked": the login page says the same for every refusal (SPEC 3.5), but what to
		// do next.
		form.Error = "That was one failed attempt too many, so this sign-in has ended. " +
			"If you can't log in now, set a new password with Forgot password?, or ask your contact admin."
	}
	if c.Method() != fiber.MethodGet || htmx(c) {
		return render(c, fiber.StatusUnauthorized, components.LoginPage(shell(c, "Log in", "login"), form), nil)
	}
	return render(c, fiber.StatusOK, components.LoginPage(shell(c, "Log in", "login"), form), nil)
}

// signIn completes a sign-in: a session under a new id, the pending cookie gone, and on to
// where the contact was going.
func (h *TwoStep) signIn(c *fiber.Ctx, done contacts.SignedIn) error {
	v := viewerOf(c)
	if err := v.sess.SignIn(c, done.Contact.ID, clientIP(c)); err != nil {
		return err
	}
	v.sess.ClearPending(c)
	h.log.Info("login", "contact_id", done.Contact.ID)
	return nil
}

// ShowVerify is the second step: the code from the authenticator app, the passkey, or a
// recovery code.
func (h *TwoStep) ShowVerify(c *fiber.Ctx, _ contacts.Actor, p contacts.Pending) error {
	return h.verifyPage(c, p, fiber.StatusOK, "")
}

func (h *TwoStep) verifyPage(c *fiber.Ctx, p contacts.Pending, status int, problem string) error {
	v := components.SecondStepView{Pending: p, Error: problem}
	return render(c, status, components.SecondStepPage(shell(c, "Two-step verification", "login"), v), nil)
}

// VerifyCode checks a code from the authenticator app.
func (h *TwoStep) VerifyCode(c *fiber.Ctx, actor contacts.Actor, p contacts.Pending) error {
	done, err := h.contacts.VerifyAppCode(c.UserContext(), actor, bodyValue(c, "code"))
	return h.stepAnswer(c, done, err, func(status int, problem string) error { return h.verifyPage(c, p, status, problem) })
}

// stepAnswer signs the contact in after a passed step, or shows the step's page again with
// what went wrong (a wrong code counts toward the lockout; the one that locks the contact
// ends its sign-in, ErrSignInExpired).
func (h *TwoStep) stepAnswer(c *fiber.Ctx, done contacts.SignedIn, err error, again func(status int, problem string) error) error {
	if errors.Is(err, contacts.ErrSignInExpired) {
		return h.expired(c, err)
	}
	if problem, status := codeProblem(err); problem != "" {
		return again(status, problem)
	}
	if err != nil {
		return err
	}
	if err := h.signIn(c, done); err != nil {
		return err
	}
	return redirect(c, orHome(done.Next))
}

// ShowRecovery is the second step with a recovery code.
func (h *TwoStep) ShowRecovery(c *fiber.Ctx, _ contacts.Actor, p contacts.Pending) error {
	return h.recoveryPage(c, p, fiber.StatusOK, "")
}

func (h *TwoStep) recoveryPage(c *fiber.Ctx, p contacts.Pending, status int, problem string) error {
	v := components.SecondStepView{Pending: p, Error: problem}
	return render(c, status, components.RecoveryCodeStepPage(shell(c, "Use a recovery code", "login"), v), nil)
}

// VerifyRecovery checks a recovery code.
func (h *TwoStep) VerifyRecovery(c *fiber.Ctx, actor contacts.Actor, p contacts.Pending) error {
	done, err := h.contacts.VerifyRecoveryCode(c.UserContext(), actor, bodyValue(c, "code"))
	return h.stepAnswer(c, done, err, func(status int, problem string) error {
		if errors.Is(err, contacts.ErrWrongCode) {
			problem = "That is not one of your recovery codes, or it was used already. Each code works once."
		} else if errors.Is(err, contacts.ErrCodeMissing) {
			problem = "Enter one of your recovery codes."
		}
		return h.recoveryPage(c, p, status, problem)
	})
}

// PasskeyOptions starts the second step with a passkey: the browser's dialog options.
func (h *TwoStep) PasskeyOptions(c *fiber.Ctx, actor contacts.Actor, _ contacts.Pending) error {
	options, err := h.contacts.BeginPasskeySignIn(c.UserContext(), actor)
	return passkeyOptions(c, options, err)
}

// Passkey checks the browser's answer to the passkey dialog.
func (h *TwoStep) Passkey(c *fiber.Ctx, actor contacts.Actor, p contacts.Pending) error {
	done, err := h.contacts.FinishPasskeySignIn(c.UserContext(), actor, []byte(bodyValue(c, "credential")))
	return h.stepAnswer(c, done, err, func(status int, problem string) error {
		if errors.Is(err, contacts.ErrWrongCode) {
			problem = "Your passkey could not be verified. Try again, or use another way."
		}
		return h.verifyPage(c, p, status, problem)
	})
}

// Cancel ends the pending sign-in: back to the login page.
func (h *TwoStep) Cancel(c *fiber.Ctx) error {
	v := viewerOf(c)
	actor, _, err := h.contacts.PendingActor(c.UserContext(), v.sess.PendingID(c), clientIP(c))
	if err == nil {
		err = h.contacts.CancelSignIn(c.UserContext(), actor)
	}
	if err != nil && !errors.Is(err, contacts.ErrSignInExpired) {
		return err
	}
	v.sess.ClearPending(c)
	return redirect(c, "/login")
}

// ShowSetup is the required setup of two-step verification: an authenticator app or a
// passkey, before anything else.
func (h *TwoStep) ShowSetup(c *fiber.Ctx, _ contacts.Actor, p contacts.Pending) error {
	v := components.SecondStepView{Pending: p, Error: passkeyProblemText(c.Query("passkey"))}
	return render(c, fiber.StatusOK, components.SetupRequiredPage(shell(c, "Set up two-step verification", "login"), v), nil)
}

// passkeyProblemText turns the marker of a failed passkey setup back into its sentence.
func passkeyProblemText(marker string) string {
	if marker == "failed" {
		return "The passkey could not be added. Try again, or set up an authenticator app."
	}
	return ""
}

// StartApp begins the required setup with an authenticator app.
func (h *TwoStep) StartApp(c *fiber.Ctx, actor contacts.Actor, _ contacts.Pending) error {
	if err := h.contacts.StartApp(c.UserContext(), actor); err != nil {
		return err
	}
	return redirect(c, "/login/setup/app")
}

// ShowApp is the QR code page of the required setup.
func (h *TwoStep) ShowApp(c *fiber.Ctx, actor contacts.Actor, _ contacts.Pending) error {
	return appSetupPage(c, h.contacts, actor, "/login/setup/app/confirm", true, fiber.StatusOK, "")
}

// ConfirmApp checks the first code of the app: the factor is added and the contact signed
// in, and its recovery codes are shown, once.
func (h *TwoStep) ConfirmApp(c *fiber.Ctx, actor contacts.Actor, _ contacts.Pending) error {
	added, err := h.contacts.ConfirmApp(c.UserContext(), actor, bodyValue(c, "code"))
	if problem, status := codeProblem(err); problem != "" {
		return appSetupPage(c, h.contacts, actor, "/login/setup/app/confirm", true, status, problem)
	}
	return h.setUp(c, added, err)
}

// setUp answers a factor added at sign-in: signed in, with the recovery codes to save.
func (h *TwoStep) setUp(c *fiber.Ctx, added contacts.Added, err error) error {
	switch {
	case errors.Is(err, contacts.ErrSignInExpired):
		return h.expired(c, err)
	case errors.Is(err, contacts.ErrNoAppSetup):
		return redirect(c, "/login/setup")
	case errors.Is(err, contacts.ErrAppAlreadySet): // the page of recovery codes reloaded
		return redirect(c, "/profile")
	case err != nil:
		return err
	}
	if err := h.signIn(c, added.SignedIn); err != nil {
		return err
	}
	// The page is rendered for this response's signed-out shell (its CSRF token is the
	// pre-session's): it only links on, and the next page belongs to the new session.
	v := components.CodesView{Codes: added.Codes, First: true, ContinueHref: orHome(added.SignedIn.Next)}
	return render(c, fiber.StatusOK, components.RecoveryCodesPage(shell(c, "Your recovery codes", "login"), v), nil)
}

// SetupPasskeyOptions starts adding a passkey as the required factor.
func (h *TwoStep) SetupPasskeyOptions(c *fiber.Ctx, actor contacts.Actor, _ contacts.Pending) error {
	options, err := h.contacts.BeginPasskey(c.UserContext(), actor)
	return passkeyOptions(c, options, err)
}

// SetupPasskey stores the passkey made as the required factor, and signs the contact in.
func (h *TwoStep) SetupPasskey(c *fiber.Ctx, actor contacts.Actor, _ contacts.Pending) error {
	added, err := h.contacts.FinishPasskey(c.UserContext(), actor, bodyValue(c, "name"), []byte(bodyValue(c, "credential")))
	if passkeyProblem(err) != "" {
		return redirect(c, "/login/setup?passkey=failed")
	}
	return h.setUp(c, added, err)
}

// ShowNewPassword asks a contact whose password is too short without two-step verification
// for a longer one.
func (h *TwoStep) ShowNewPassword(c *fiber.Ctx, _ contacts.Actor, p contacts.Pending) error {
	return h.newPasswordPage(c, p, fiber.StatusOK, "")
}

func (h *TwoStep) newPasswordPage(c *fiber.Ctx, p contacts.Pending, status int, problem string) error {
	f := components.NewPasswordForm{Email: p.Contact.Email, Error: problem}
	return render(c, status, components.NewPasswordPage(shell(c, "Choose a longer password", "login"), f), nil)
}

// NewPassword sets the longer password and signs the contact in.
func (h *TwoStep) NewPassword(c *fiber.Ctx, actor contacts.Actor, p contacts.Pending) error {
	done, err := h.contacts.ChooseNewPassword(c.UserContext(), actor, bodyValue(c, "password"), bodyValue(c, "confirm"))
	var policy *auth.PolicyError
	status, problem := fiber.StatusUnprocessableEntity, ""
	switch {
	case err == nil:
		if err := h.signIn(c, done); err != nil {
			return err
		}
		return redirect(c, orHome(done.Next))
	case errors.Is(err, contacts.ErrSignInExpired):
		return h.expired(c, err)
	case errors.Is(err, contacts.ErrThrottled):
		problem, status = "Too many attempts from your network. Wait a minute and try again.", fiber.StatusTooManyRequests
	case errors.Is(err, contacts.ErrPasswordMissing):
		problem = "Enter a new password."
	case errors.Is(err, contacts.ErrPasswordMismatch):
		problem = "The two passwords are not the same. Type the new password twice."
	case errors.As(err, &policy):
		problem = policy.Reason
	default:
		return err
	}
	return h.newPasswordPage(c, p, status, problem)
}
