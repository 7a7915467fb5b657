package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"portal/db"
	"portal/portaltest"
)

// Two-step verification (SPEC 3.11, issue 18), through the real app: the authenticator app
// at its step boundaries, replays, the lockout, recovery codes, the five minutes of a
// pending sign-in, the organization's requirement, an admin's reset and re-authentication.

// totpCode is what an authenticator app with secret shows at t.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// setUpApp turns on the authenticator app of b's contact on Your profile, as a person would:
// Set up, read the key off the page, type the app's code. It returns the key and the
// recovery codes shown.
func setUpApp(t *testing.T, e *portaltest.Env, b *portaltest.Browser) (secret string, codes []string) {
	t.Helper()
	if resp := b.PostForm("/profile/app", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/profile/app" {
		t.Fatalf("set up an authenticator app: status %d to %q, want 303 to /profile/app", resp.StatusCode, resp.Header.Get("Location"))
	}
	return confirmApp(t, e, b, "/profile/app", "/profile/app/confirm")
}

// confirmApp reads the key off the setup page at page and confirms it at action.
func confirmApp(t *testing.T, e *portaltest.Env, b *portaltest.Browser, page, action string) (secret string, codes []string) {
	t.Helper()
	setup := b.Get(page)
	secret = strings.ReplaceAll(testText(t, setup.Body, "app-secret"), " ", "")
	if len(secret) != 32 {
		t.Fatalf("setup page shows key %q, want 32 base32 characters; page:\n%s", secret, setup.Body)
	}
	if src, _ := htmlDoc(t, setup.Body).Find(`[data-testid="app-qr"]`).Attr("src"); !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Errorf("QR code src %.40q, want a PNG drawn on the server (data: URL)", src)
	}
	resp := b.PostForm(action, url.Values{"code": {totpCode(t, secret, e.Clock.Now())}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm the app: status %d, want 200 (the recovery codes); body:\n%s", resp.StatusCode, resp.Body)
	}
	htmlDoc(t, resp.Body).Find(`[data-testid="recovery-code"]`).Each(func(_ int, s *goquery.Selection) {
		codes = append(codes, s.Text())
	})
	return secret, codes
}

// passwordStep signs in with the password and expects the page of a step after it.
func passwordStep(t *testing.T, e *portaltest.Env, email, password, wantPage string) *portaltest.Browser {
	t.Helper()
	b := e.Browser()
	resp := b.Login(email, password)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != wantPage {
		t.Fatalf("password of %s: status %d to %q, want 303 to %s", email, resp.StatusCode, resp.Header.Get("Location"), wantPage)
	}
	return b
}

// signInWithApp signs in a contact who has an authenticator app with secret. It first moves
// the clock on by one step, so that the code is not one used already.
func signInWithApp(t *testing.T, e *portaltest.Env, email, secret string) *portaltest.Browser {
	t.Helper()
	e.Clock.Advance(30 * time.Second)
	b := passwordStep(t, e, email, portaltest.Password, "/login/two-step")
	if resp := b.PostForm("/login/two-step", url.Values{"code": {totpCode(t, secret, e.Clock.Now())}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second step of %s: status %d, want 303", email, resp.StatusCode)
	}
	return b
}

// signedInAs reports the name the banner shows on the home page ("" when signed out).
func signedInAs(t *testing.T, b *portaltest.Browser) string {
	t.Helper()
	home := b.Get("/")
	if home.StatusCode != http.StatusOK {
		return ""
	}
	return testText(t, home.Body, "user-name")
}

func auditCount(t *testing.T, e loginEnv, action string, target db.Contact) int {
	t.Helper()
	n, err := e.check.CountAudit(e.Ctx, action, target.ID)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSignInWithTheAuthenticatorApp(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newLoginEnv(t, engine)
		me := e.Login(e.member.Email)
		if home := me.Get("/"); !hasTestID(t, home.Body, "home-set-up-app") || !hasTestID(t, home.Body, "home-profile") {
			t.Error("the home page of a contact without roles offers neither two-step verification nor Your profile")
		}
		secret, codes := setUpApp(t, e.Env, me)
		if len(codes) != 10 {
			t.Fatalf("recovery codes shown: %d, want 10", len(codes))
		}
		if !e.Reload(e.member).TwoFactor {
			t.Fatal("contact not marked as having two-step verification")
		}
		if got := testText(t, me.Get("/profile").Body, "two-step-status"); got != "On" {
			t.Errorf("Your profile: two-step verification %q, want On", got)
		}

		e.Clock.Advance(30 * time.Second)
		b := passwordStep(t, e.Env, e.member.Email, portaltest.Password, "/login/two-step")
		if c := b.Cookie(e.Cookies().Session); c != nil {
			t.Errorf("after the password alone the browser has a session cookie %q", c.Name)
		}
		for _, path := range []string{"/", "/profile", "/my-contacts", "/contacts"} {
			if resp := b.Get(path); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
				t.Errorf("GET %s half signed in: status %d to %q, want 303 to the login page", path, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		step := b.Get("/login/two-step")
		for _, words := range []string{"Enter the 6-digit code from your authenticator app", "Use a recovery code"} {
			if !strings.Contains(step.Body, words) {
				t.Errorf("second step page lacks %q", words)
			}
		}
		if strings.Contains(step.Body, "Use your passkey") {
			t.Error("second step page offers a passkey to a contact without one")
		}
		resp := b.PostForm("/login/two-step", url.Values{"code": {totpCode(t, secret, e.Clock.Now())}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("code: status %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
		}
		if got := signedInAs(t, b); got != e.member.Name() {
			t.Errorf("signed in as %q, want %q", got, e.member.Name())
		}
		if c := b.Cookie(e.Cookies().Pending); c != nil {
			t.Error("the pending sign-in cookie outlived the sign-in")
		}
		for action, want := range map[string]int{db.ActionPasswordAccepted: 1, db.ActionSecondStepPassed: 1, db.ActionTwoFactorAdded: 1} {
			if got := auditCount(t, e, action, e.member); got != want {
				t.Errorf("%s audit events: %d, want %d", action, got, want)
			}
		}
	})
}

// RFC 6238 allows one step of drift either way: the codes of the steps before and after the
// current one work, older or newer ones don't, and no code works twice, nor one older than a
// code used already.
func TestAuthenticatorAppCodesAtStepBoundaries(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newLoginEnv(t, engine)
		secret, _ := setUpApp(t, e.Env, e.Login(e.member.Email)) // uses the code of the step at 09:00:00
		step := 30 * time.Second
		try := func(b *portaltest.Browser, at time.Time) int {
			return b.PostForm("/login/two-step", url.Values{"code": {totpCode(t, secret, at)}}).StatusCode
		}
		e.Clock.Advance(2*step + 29*time.Second) // 09:01:29, the last second of its step
		b := passwordStep(t, e.Env, e.member.Email, portaltest.Password, "/login/two-step")
		if got := try(b, e.Clock.Now().Add(-step)); got != http.StatusSeeOther {
			t.Errorf("code of the step before, in the last second of the step: status %d, want 303", got)
		}

		e.Clock.Advance(2 * step) // 09:02:29
		b = passwordStep(t, e.Env, e.member.Email, portaltest.Password, "/login/two-step")
		if got := try(b, e.Clock.Now().Add(2*step)); got != http.StatusUnprocessableEntity {
			t.Errorf("code of two steps ahead: status %d, want 422", got)
		}
		if got := try(b, e.Clock.Now().Add(step)); got != http.StatusSeeOther {
			t.Errorf("code of the step after: status %d, want 303", got)
		}

		e.Clock.Advance(4 * step) // 09:04:29
		b = passwordStep(t, e.Env, e.member.Email, portaltest.Password, "/login/two-step")
		if got := try(b, e.Clock.Now().Add(-2*step)); got != http.StatusUnprocessableEntity {
			t.Errorf("code of two steps ago: status %d, want 422", got)
		}
		now := e.Clock.Now()
		if got := try(b, now); got != http.StatusSeeOther {
			t.Errorf("current code: status %d, want 303", got)
		}
		e.Clock.Advance(time.Second) // the same step
		b = passwordStep(t, e.Env, e.member.Email, portaltest.Password, "/login/two-step")
		if got := try(b, now); got != http.StatusUnprocessableEntity {
			t.Errorf("the same code again: status %d, want 422 (a code works once)", got)
		}
		if got := try(b, now.Add(-step)); got != http.StatusUnprocessableEntity {
			t.Errorf("the code before one that was used: status %d, want 422", got)
		}
		if got := auditCount(t, e, db.ActionSecondStepPassed, e.member); got != 3 {
			t.Errorf("second steps passed: %d, want 3", got)
		}
	})
}

// Wrong codes count toward the automatic lockout, and the right password in between does
// not reset the count: knowing the password must not buy more guesses at the code.
func TestWrongCodesLockTheContact(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--lockout-threshold", "3"}})
		secret, _ := setUpApp(t, e.Env, e.Login(e.member.Email))
		e.Clock.Advance(time.Minute)
		b := passwordStep(t, e.Env, e.member.Email, portaltest.Password, "/login/two-step")
		for i := 1; i <= 2; i++ {
			resp := b.PostForm("/login/two-step", url.Values{"code": {"000000"}})
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(testText(t, resp.Body, "second-step-error"), "didn't work") {
				t.Fatalf("wrong code %d: status %d, error %q; want 422 and why", i, resp.StatusCode, testText(t, resp.Body, "second-step-error"))
			}
		}
		b = passwordStep(t, e.Env, e.member.Email, portaltest.Password, "/login/two-step")
		resp := b.PostForm("/login/two-step", url.Values{"code": {"111111"}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(loginError(t, resp.Body), "one failed attempt too many, so this sign-in has ended") {
			t.Errorf("third wrong code: status %d, login error %q; want 401 and the login page saying why it ended", resp.StatusCode, loginError(t, resp.Body))
		}
		if c := e.Reload(e.member); !c.Locked() || c.LockReason != db.LockedByFailedLogins {
			t.Fatalf("after three wrong codes: status %q reason %q, want locked by failed logins", c.Status, c.LockReason)
		}
		if got := auditCount(t, e, db.ActionAutoLocked, e.member); got != 1 {
			t.Errorf("auto_locked events: %d, want 1", got)
		}
		mail, err := e.check.MailTo(e.Ctx, e.admin.ID)
		if err != nil || len(mail) != 1 || mail[0].Kind != db.MailAutoLocked {
			t.Errorf("mail to the admin: %v (%v), want one auto_locked notice", mail, err)
		}
		// Locked, the right code no longer signs in, nor does the password start a sign-in.
		if resp := b.PostForm("/login/two-step", url.Values{"code": {totpCode(t, secret, e.Clock.Now())}}); resp.StatusCode == http.StatusSeeOther {
			t.Error("a locked contact's pending sign-in still took a code")
		}
		if resp := e.Browser().Login(e.member.Email, portaltest.Password); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("password of the locked contact: status %d, want 401", resp.StatusCode)
		}
	})
}

func TestRecoveryCodesWorkOnce(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newLoginEnv(t, engine)
		me := e.Login(e.member.Email)
		_, codes := setUpApp(t, e.Env, me)
		use := func(code string) int {
			b := passwordStep(t, e.Env, e.member.Email, portaltest.Password, "/login/two-step")
			page := b.Get("/login/recovery-code")
			if !strings.Contains(page.Body, "Use a recovery code") {
				t.Fatalf("recovery code page: %s", page.Body)
			}
			return b.PostForm("/login/recovery-code", url.Values{"code": {code}}).StatusCode
		}
		// Typed as people do: in capitals, without the dashes.
		if got := use(strings.ToUpper(strings.ReplaceAll(codes[0], "-", ""))); got != http.StatusSeeOther {
			t.Fatalf("first use of a recovery code: status %d, want 303", got)
		}
		if got := use(codes[0]); got != http.StatusUnprocessableEntity {
			t.Errorf("second use of the same code: status %d, want 422", got)
		}
		if got := use(codes[1]); got != http.StatusSeeOther {
			t.Errorf("another code: status %d, want 303", got)
		}
		if got := testText(t, me.Get("/profile").Body, "codes-left"); !strings.HasPrefix(got, "8 recovery codes left") {
			t.Errorf("Your profile says %q, want 8 codes left", got)
		}
		fresh := me.PostForm("/profile/recovery-codes", nil)
		var newCodes []string
		htmlDoc(t, fresh.Body).Find(`[data-testid="recovery-code"]`).Each(func(_ int, s *goquery.Selection) {
			newCodes = append(newCodes, s.Text())
		})
		if fresh.StatusCode != http.StatusOK || len(newCodes) != 10 {
			t.Fatalf("Generate new codes: status %d with %d codes, want 200 and 10", fresh.StatusCode, len(newCodes))
		}
		if got := use(codes[2]); got != http.StatusUnprocessableEntity {
			t.Errorf("an old, unused code after new ones were made: status %d, want 422", got)
		}
		if got := use(newCodes[9]); got != http.StatusSeeOther {
			t.Errorf("a new code: status %d, want 303", got)
		}
		if got := auditCount(t, e, db.ActionRecoveryCodesGenerated, e.member); got != 1 {
			t.Errorf("recovery_codes_generated events: %d, want 1", got)
		}
	})
}

// The state between the password and the second step lives five minutes, server-side, and
// opens nothing but the second step's pages.
func TestPendingSignInLastsFiveMinutesAndGrantsNothingElse(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newLoginEnv(t, engine)
		secret, _ := setUpApp(t, e.Env, e.Login(e.member.Email))
		e.Clock.Advance(time.Minute)
		b := passwordStep(t, e.Env, e.member.Email, portaltest.Password, "/login/two-step")
		if resp := b.PostForm("/profile/app", nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("a profile action half signed in: status %d to %q, want the login page", resp.StatusCode, resp.Header.Get("Location"))
		}
		for _, page := range []string{"/", "/profile", "/contacts"} {
			if resp := b.Get(page); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login/two-step" {
				t.Errorf("%s half signed in: status %d to %q, want back to the second step", page, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		e.Clock.Advance(4*time.Minute + 59*time.Second)
		if page := b.Get("/login/two-step"); page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "authenticator app") {
			t.Fatalf("second step after 4:59: status %d, want the page", page.StatusCode)
		}
		e.Clock.Advance(time.Second)
		resp := b.PostForm("/login/two-step", url.Values{"code": {totpCode(t, secret, e.Clock.Now())}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(loginError(t, resp.Body), "longer than 5 minutes") {
			t.Fatalf("right code after 5:00: status %d, login error %q; want 401 and why", resp.StatusCode, loginError(t, resp.Body))
		}
		if got := signedInAs(t, b); got != "" {
			t.Errorf("signed in as %q after the sign-in expired", got)
		}
		if got := auditCount(t, e, db.ActionSignInExpired, e.member); got != 1 {
			t.Errorf("sign_in_expired events: %d, want 1", got)
		}
		if c := e.Reload(e.member); c.FailedLogins != 0 {
			t.Errorf("failed logins after an expired sign-in: %d, want 0", c.FailedLogins)
		}
	})
}

func TestRequiredTwoStepVerificationIsSetUpBeforeAnythingElse(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		w := newTenants(t, engine)
		admin := w.Login(w.parentAdmin.Email)
		refused := admin.PostForm("/two-step-verification", url.Values{"required": {"on"}})
		if refused.StatusCode != http.StatusConflict || !strings.Contains(testText(t, refused.Body, "policy-error"), "yourself first") {
			t.Errorf("requiring it without having it: status %d, error %q; want 409", refused.StatusCode, testText(t, refused.Body, "policy-error"))
		}
		setUpApp(t, w.Env, admin)
		if resp := admin.PostForm("/two-step-verification", url.Values{"required": {"on"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("require: status %d, want 303", resp.StatusCode)
		}
		if n, _ := w.check.CountAudit(w.Ctx, db.ActionTwoFactorRequired, 0); n != 1 {
			t.Errorf("two_factor_required events: %d, want 1", n)
		}

		// A contact of the account, and one of a child organization, set it up first.
		secrets := map[int64]string{}
		for _, c := range []db.Contact{w.member, w.target} {
			b := passwordStep(t, w.Env, c.Email, portaltest.Password, "/login/setup")
			if got := signedInAs(t, b); got != "" {
				t.Errorf("%s is signed in (%q) before setting up two-step verification", c.Email, got)
			}
			if resp := b.Get("/login/two-step"); resp.Header.Get("Location") != "/login/setup" {
				t.Errorf("%s: the second step's page sends to %q, want /login/setup", c.Email, resp.Header.Get("Location"))
			}
			if !strings.Contains(b.Get("/login/setup").Body, "Northwind Traders requires two-step verification") {
				t.Errorf("%s: the setup page does not say who requires it", c.Email)
			}
			if resp := b.PostForm("/login/setup/app", nil); resp.Header.Get("Location") != "/login/setup/app" {
				t.Fatalf("%s: set up an app at sign-in: to %q", c.Email, resp.Header.Get("Location"))
			}
			secret, codes := confirmApp(t, w.Env, b, "/login/setup/app", "/login/setup/app/confirm")
			if len(codes) != 10 {
				t.Errorf("%s: %d recovery codes after the setup, want 10", c.Email, len(codes))
			}
			secrets[c.ID] = secret
			if got := signedInAs(t, b); got != c.Name() {
				t.Errorf("after the setup, signed in as %q, want %q", got, c.Name())
			}
			if !w.Reload(c).TwoFactor {
				t.Errorf("%s has no two-step verification after its setup", c.Email)
			}
		}

		// Its last factor stays while it is required.
		member := signInWithApp(t, w.Env, w.member.Email, secrets[w.member.ID])
		member.Get("/profile")
		resp := member.PostForm("/profile/app/remove", nil)
		if !strings.Contains(testText(t, member.Get(resp.Header.Get("Location")).Body, "alert-error"), "requires two-step verification") {
			t.Error("removing the last factor under the requirement was not refused")
		}
		if !w.Reload(w.member).TwoFactor {
			t.Error("the required last factor was removed")
		}

		// A child organization can't switch off what its parent requires.
		child := passwordStep(t, w.Env, w.childAdmin.Email, portaltest.Password, "/login/setup")
		child.PostForm("/login/setup/app", nil)
		confirmApp(t, w.Env, child, "/login/setup/app", "/login/setup/app/confirm")
		if page := child.Get("/two-step-verification"); !strings.Contains(testText(t, page.Body, "policy-status"), "Northwind Traders requires") {
			t.Errorf("child admin's page: %q, want the parent's requirement", testText(t, page.Body, "policy-status"))
		}
		if resp := child.PostForm("/two-step-verification", url.Values{"required": {"off"}}); resp.StatusCode != http.StatusConflict {
			t.Errorf("child admin switching off the parent's requirement: status %d, want 409", resp.StatusCode)
		}
		// The parent's admin can; then contacts without it sign in with the password alone.
		if resp := admin.PostForm("/two-step-verification", url.Values{"required": {"off"}}); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("stop requiring: status %d, want 303", resp.StatusCode)
		}
		if resp := w.Browser().Login(w.siblingAdmin.Email, portaltest.Password); resp.Header.Get("Location") != "/" {
			t.Errorf("after the requirement ended, a contact without a factor goes to %q, want /", resp.Header.Get("Location"))
		}
	})
}

func TestAdminResetsAColleaguesTwoStepVerification(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newLoginEnv(t, engine)
		colleague := e.Login(e.member.Email)
		setUpApp(t, e.Env, colleague)
		admin := e.Login(e.admin.Email)
		page := admin.Get("/contacts/" + itoa(e.member.ID))
		if got := testText(t, page.Body, "details-two-step"); got != "On" {
			t.Errorf("contact page: two-step verification %q, want On", got)
		}
		if !hasTestID(t, page.Body, "reset-two-step") {
			t.Fatal("contact page offers no Reset two-step verification")
		}
		confirm := admin.Get("/contacts/" + itoa(e.member.ID) + "/two-step/reset")
		if hasTestID(t, confirm.Body, "reauth") {
			t.Error("just signed in, the admin is asked for its password again")
		}
		resp := admin.PostForm("/contacts/"+itoa(e.member.ID)+"/two-step/reset", nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("reset: status %d, want 303; body:\n%s", resp.StatusCode, resp.Body)
		}
		if got := testText(t, admin.Get(resp.Header.Get("Location")).Body, "alert-success"); !strings.Contains(got, "has been reset") {
			t.Errorf("confirmation %q", got)
		}
		if got := signedInAs(t, colleague); got != "" {
			t.Errorf("the colleague's session survived the reset (signed in as %q)", got)
		}
		if c := e.Reload(e.member); c.TwoFactor {
			t.Error("the colleague still has two-step verification")
		}
		if got := auditCount(t, e, db.ActionTwoFactorReset, e.member); got != 1 {
			t.Errorf("two_factor_reset events: %d, want 1", got)
		}
		e.DeliverMail()
		msgs := e.SMTP.MessagesTo(e.member.Email)
		if len(msgs) != 1 || !strings.Contains(msgs[0].Header.Get("Subject"), "two-step verification") ||
			!strings.Contains(msgs[0].Text, "Maria Anders, a contact admin of your organization, reset") {
			t.Fatalf("mail to the colleague: %d messages, want one saying who reset what", len(msgs))
		}
		// Without factors the colleague signs in with the password alone.
		if resp := e.Browser().Login(e.member.Email, portaltest.Password); resp.Header.Get("Location") != "/" {
			t.Errorf("after the reset the colleague's password leads to %q, want /", resp.Header.Get("Location"))
		}
		// Nobody resets their own; and there is nothing to reset twice.
		if resp := admin.Get("/contacts/" + itoa(e.admin.ID) + "/two-step/reset"); resp.StatusCode != http.StatusSeeOther ||
			resp.Header.Get("Location") != "/profile" {
			t.Errorf("the admin's own reset page: status %d to %q, want 303 to Your profile", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

// Changes to someone else's access need the admin's password (or code) within 10 minutes.
func TestChangesOfAccessNeedAFreshProof(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newLoginEnv(t, engine)
		setUpApp(t, e.Env, e.Login(e.member.Email))
		admin := e.Login(e.admin.Email)
		e.Clock.Advance(10*time.Minute + time.Second)

		path := "/contacts/" + itoa(e.member.ID) + "/two-step/reset"
		if page := admin.Get(path); !hasTestID(t, page.Body, "reauth") {
			t.Fatal("10 minutes after signing in, the reset page asks no password")
		}
		if resp := admin.PostForm(path, nil); resp.StatusCode != http.StatusUnprocessableEntity || !hasTestID(t, resp.Body, "error-reauth") {
			t.Errorf("reset without the password: status %d, want 422 asking for it", resp.StatusCode)
		}
		if resp := admin.PostForm(path, url.Values{"reauth": {"not my password"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("reset with a wrong password: status %d, want 422", resp.StatusCode)
		}
		if c := e.Reload(e.admin); c.FailedLogins != 1 {
			t.Errorf("failed logins after a wrong confirmation: %d, want 1 (it counts toward the lockout)", c.FailedLogins)
		}
		if !e.Reload(e.member).TwoFactor {
			t.Fatal("reset without a fresh proof")
		}
		if resp := admin.PostForm(path, url.Values{"reauth": {portaltest.Password}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("reset with the password: status %d, want 303", resp.StatusCode)
		}
		if e.Reload(e.member).TwoFactor {
			t.Error("reset with the password did not reset")
		}

		// Edit contact: a role change asks for it too, and takes it in the same form.
		e.Clock.Advance(10*time.Minute + time.Second)
		edit := editFormOf(e.member, editVersion(t, admin, e.member.ID))
		edit.Add("role", string(db.RoleIncidentContact))
		resp := admin.PostForm("/contacts/"+itoa(e.member.ID), edit)
		if resp.StatusCode != http.StatusUnprocessableEntity || !hasTestID(t, resp.Body, "reauth") {
			t.Fatalf("role change without a fresh proof: status %d, want 422 with the password field", resp.StatusCode)
		}
		if e.Reload(e.member).HasRole(db.RoleIncidentContact) {
			t.Fatal("role changed without a fresh proof")
		}
		edit.Set("reauth", portaltest.Password)
		if resp := admin.PostForm("/contacts/"+itoa(e.member.ID), edit); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("role change with the password: status %d, want 303; body:\n%s", resp.StatusCode, resp.Body)
		}
		if !e.Reload(e.member).HasRole(db.RoleIncidentContact) {
			t.Error("role not changed with the password")
		}
		// Within the 10 minutes an email change needs nothing more; a phone never does.
		member := e.Reload(e.member)
		edit = editFormOf(member, editVersion(t, admin, member.ID))
		edit.Set("email", "lukasz.k@northwind.example")
		if resp := admin.PostForm("/contacts/"+itoa(member.ID), edit); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("email change within the 10 minutes: status %d, want 303", resp.StatusCode)
		}
		e.Clock.Advance(10*time.Minute + time.Second)
		member = e.Reload(e.member)
		edit = editFormOf(member, editVersion(t, admin, member.ID))
		edit.Set("phone", "+44 20 7946 0000")
		if resp := admin.PostForm("/contacts/"+itoa(member.ID), edit); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("phone change: status %d, want 303 without a password", resp.StatusCode)
		}
		if got := auditCount(t, e, db.ActionReauthenticated, e.admin); got != 2 {
			t.Errorf("reauthenticated events: %d, want 2", got)
		}
	})
}

func TestChangePasswordOnYourProfile(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newLoginEnv(t, engine)
		here, elsewhere := e.Login(e.member.Email), e.Login(e.member.Email)
		page := here.Get("/profile/password")
		if !strings.Contains(page.Body, "Use at least 15 characters") || !strings.Contains(page.Body, "Forgot your current password?") {
			t.Error("Change password does not state the 15-character rule or offer the mailed link")
		}
		form := url.Values{"current": {"not the password"}, "password": {"lantern quietly ferry"}, "confirm": {"lantern quietly ferry"}}
		if resp := here.PostForm("/profile/password", form); resp.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(testText(t, resp.Body, "error-current"), "not your current password") {
			t.Errorf("wrong current password: status %d, want 422 saying so", resp.StatusCode)
		}
		if got := e.Reload(e.member).FailedLogins; got != 1 {
			t.Errorf("failed logins after a wrong current password: %d, want 1", got)
		}
		form.Set("current", portaltest.Password)
		form.Set("password", "lantern7")
		form.Set("confirm", "lantern7")
		if resp := here.PostForm("/profile/password", form); resp.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(testText(t, resp.Body, "error-password"), "15 characters") {
			t.Errorf("8 characters without a second factor: status %d, error %q; want the 15-character rule", resp.StatusCode,
				testText(t, resp.Body, "error-password"))
		}
		form.Set("password", "lantern quietly ferry")
		form.Set("confirm", "lantern quietly ferry")
		resp := here.PostForm("/profile/password", form)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/profile" {
			t.Fatalf("change: status %d to %q, want 303 to /profile", resp.StatusCode, resp.Header.Get("Location"))
		}
		if got := signedInAs(t, here); got != e.member.Name() {
			t.Errorf("this browser after the change: signed in as %q, want %q", got, e.member.Name())
		}
		if got := signedInAs(t, elsewhere); got != "" {
			t.Errorf("the other session survived the change (signed in as %q)", got)
		}
		if n, _ := e.check.CountSessions(e.Ctx, e.member.ID); n != 1 {
			t.Errorf("sessions after the change: %d, want 1", n)
		}
		if resp := e.Browser().Login(e.member.Email, "lantern quietly ferry"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("sign in with the new password: status %d", resp.StatusCode)
		}
		mail, _ := e.check.MailTo(e.Ctx, e.member.ID)
		if len(mail) != 1 || mail[0].Kind != db.MailPasswordChanged {
			t.Errorf("mail after the change: %v, want a password_changed notice", mail)
		}
	})
}

// With a second factor a password of 8 characters will do; a contact who loses its factors
// with one that short chooses a longer one at its next sign-in.
func TestShortPasswordAfterTheFactorsAreGone(t *testing.T) {
	e := newLoginEnv(t, portaltest.SQLite)
	me := e.Login(e.member.Email)
	setUpApp(t, e.Env, me)
	if page := me.Get("/profile/password"); !strings.Contains(page.Body, "Use at least 8 characters") {
		t.Error("with a second factor, Change password does not say 8 characters")
	}
	resp := me.PostForm("/profile/password", url.Values{"current": {portaltest.Password}, "password": {"ferry7qz"}, "confirm": {"ferry7qz"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("8 characters with a second factor: status %d, want 303; body:\n%s", resp.StatusCode, resp.Body)
	}
	if !e.Reload(e.member).PasswordShort {
		t.Fatal("the short password is not marked as short")
	}
	// A reset link says the same minimum.
	forgot := e.Browser()
	forgot.Get("/forgot-password")
	forgot.PostForm("/forgot-password", url.Values{"email": {e.member.Email}})
	if page := e.Browser().Get(mailedPath(t, e.Env, e.member.Email, "https://portal.example.test/set-password/")); !strings.Contains(page.Body, "Use at least 8 characters") {
		t.Error("the reset link's page of a contact with two-step verification does not say 8 characters")
	}
	admin := e.Login(e.admin.Email)
	if resp := admin.PostForm("/contacts/"+itoa(e.member.ID)+"/two-step/reset", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: status %d", resp.StatusCode)
	}
	b := passwordStep(t, e.Env, e.member.Email, "ferry7qz", "/login/new-password")
	if got := signedInAs(t, b); got != "" {
		t.Errorf("signed in as %q before choosing a longer password", got)
	}
	if resp := b.PostForm("/login/new-password", url.Values{"password": {"ferry7qz"}, "confirm": {"ferry7qz"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("the short password again: status %d, want 422", resp.StatusCode)
	}
	resp = b.PostForm("/login/new-password", url.Values{"password": {"quiet harbour lantern"}, "confirm": {"quiet harbour lantern"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("a longer password: status %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := signedInAs(t, b); got != e.member.Name() {
		t.Errorf("signed in as %q, want %q", got, e.member.Name())
	}
	if e.Reload(e.member).PasswordShort {
		t.Error("the new password is still marked as short")
	}
}

func TestSignOutYourSessions(t *testing.T) {
	e := newLoginEnv(t, portaltest.SQLite)
	here, elsewhere := e.Login(e.member.Email), e.Login(e.member.Email)
	here.Get("/profile")
	resp := here.PostForm("/profile/sign-out-everywhere", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?signed-out=everywhere" {
		t.Fatalf("sign out everywhere: status %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !strings.Contains(testText(t, here.Get(resp.Header.Get("Location")).Body, "login-notice"), "signed out everywhere") {
		t.Error("the login page does not say what happened")
	}
	for name, b := range map[string]*portaltest.Browser{"this": here, "the other": elsewhere} {
		if got := signedInAs(t, b); got != "" {
			t.Errorf("%s browser still signed in as %q", name, got)
		}
	}
	if got := auditCount(t, e, db.ActionSignedOutEverywhere, e.member); got != 1 {
		t.Errorf("signed_out_everywhere events: %d, want 1", got)
	}
}

// Every new route of a contact admin answers 404 for a contact of another organization, and
// a passkey of someone else is nobody's to rename or remove.
func TestTwoStepRoutesAreScoped(t *testing.T) {
	w := newTenants(t, portaltest.SQLite)
	target := w.Login(w.target.Email)
	setUpApp(t, w.Env, target)
	outsider := w.Login(w.otherAdm.Email)
	path := "/contacts/" + itoa(w.target.ID) + "/two-step/reset"
	if resp := outsider.Get(path); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s by another tenant's admin: status %d, want 404", path, resp.StatusCode)
	}
	outsider.Get("/two-step-verification")
	if resp := outsider.PostForm(path, url.Values{"reauth": {portaltest.Password}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST %s by another tenant's admin: status %d, want 404", path, resp.StatusCode)
	}
	sibling := w.Login(w.siblingAdmin.Email) // a sibling organization: outside the scope too
	if resp := sibling.Get(path); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s by a sibling organization's admin: status %d, want 404", path, resp.StatusCode)
	}
	member := w.Login(w.member.Email) // no role
	if resp := member.Get(path); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET %s by a contact without roles: status %d, want 403", path, resp.StatusCode)
	}
	if resp := member.Get("/two-step-verification"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /two-step-verification by a contact without roles: status %d, want 403", resp.StatusCode)
	}
	if !w.Reload(w.target).TwoFactor {
		t.Error("the target's two-step verification was reset from outside its scope")
	}

	var keyID int64
	err := w.Store.Write(w.Ctx, func(tx *db.Tx) error {
		var err error
		keyID, err = tx.AddPasskey(w.Ctx, db.Passkey{ContactID: w.target.ID, RPID: "portal.example.test", CredentialID: []byte("k1"),
			Name: "Zoë's key", Record: []byte("sealed")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	member.Get("/profile")
	for _, action := range []string{"/rename", "/remove"} {
		p := "/profile/passkeys/" + itoa(keyID) + action
		if resp := member.PostForm(p, url.Values{"name": {"mine now"}}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s for someone else's passkey: status %d, want 404", p, resp.StatusCode)
		}
	}
	keys, err := w.Store.Passkeys(w.Ctx, w.target.ID, "")
	if err != nil || len(keys) != 1 || keys[0].Name != "Zoë's key" {
		t.Errorf("the target's passkeys after the attempts: %+v (%v), want it unchanged", keys, err)
	}
}

// Every new form refuses a request without its CSRF token, signed in or half signed in.
func TestTwoStepFormsNeedTheCSRFToken(t *testing.T) {
	e := newLoginEnv(t, portaltest.SQLite)
	member := e.Login(e.member.Email)
	secret, _ := setUpApp(t, e.Env, member)
	admin := e.Login(e.admin.Email)
	setUpApp(t, e.Env, admin)
	for _, tc := range []struct {
		who  *portaltest.Browser
		path string
	}{
		{member, "/profile/password"}, {member, "/profile/sign-out-everywhere"}, {member, "/profile/app"},
		{member, "/profile/app/confirm"}, {member, "/profile/app/remove"}, {member, "/profile/passkeys/options"},
		{member, "/profile/passkeys"}, {member, "/profile/passkeys/1/rename"}, {member, "/profile/passkeys/1/remove"},
		{member, "/profile/recovery-codes"}, {admin, "/two-step-verification"},
		{admin, "/contacts/" + itoa(e.member.ID) + "/two-step/reset"},
	} {
		if resp := postWith(tc.who, tc.path, url.Values{"code": {"123456"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without a token: status %d, want 403", tc.path, resp.StatusCode)
		}
	}
	e.Clock.Advance(time.Minute)
	pending := passwordStep(t, e.Env, e.member.Email, portaltest.Password, "/login/two-step")
	for _, path := range []string{"/login/two-step", "/login/recovery-code", "/login/passkey/options", "/login/passkey",
		"/login/cancel", "/login/setup/app", "/login/setup/app/confirm", "/login/setup/passkey/options", "/login/setup/passkey",
		"/login/new-password"} {
		form := url.Values{"code": {totpCode(t, secret, e.Clock.Now())}}
		if resp := postWith(pending, path, form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without a token, half signed in: status %d, want 403", path, resp.StatusCode)
		}
	}
	if !e.Reload(e.member).TwoFactor || signedInAs(t, pending) != "" {
		t.Error("a request without its token changed something")
	}
	if resp := pending.PostForm("/login/two-step", url.Values{"code": {totpCode(t, secret, e.Clock.Now())}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("with its token the code still works: status %d, want 303", resp.StatusCode)
	}
}

// All Contacts and its exports show who has two-step verification.
func TestAllContactsShowsTwoStepVerification(t *testing.T) {
	e := newLoginEnv(t, portaltest.SQLite)
	setUpApp(t, e.Env, e.Login(e.member.Email))
	admin := e.Login(e.admin.Email)
	got := map[string]string{}
	htmlDoc(t, admin.Get("/contacts").Body).Find(`[data-testid="contact-row"]`).Each(func(_ int, row *goquery.Selection) {
		got[strings.TrimSpace(row.Find(`[data-testid="contact-email"]`).Text())] = strings.TrimSpace(row.Find(`[data-testid="contact-two-step"]`).Text())
	})
	if got[e.member.Email] != "On" || got[e.admin.Email] != "Off" {
		t.Errorf("All Contacts, two-step verification column: %v, want On for %s and Off for %s", got, e.member.Email, e.admin.Email)
	}
	csv := admin.Get("/contacts/export.csv").Body
	lines := strings.Split(strings.TrimSpace(csv), "\r\n")
	if !strings.HasSuffix(lines[0], `"Two-step verification"`) {
		t.Fatalf("CSV header %q lacks the Two-step verification column", lines[0])
	}
	for _, line := range lines[1:] {
		want := `"Off"`
		if strings.Contains(line, e.member.Email) {
			want = `"On"`
		}
		if !strings.HasSuffix(line, want) {
			t.Errorf("CSV line %q, want it to end in %s", line, want)
		}
	}
}

// TestTheRecoveryCodesPageReloaded: the page of recovery codes answers the form that took
// the app's first code. Reloaded, the form comes again: it says the app is set up and where
// new codes are, not that the setup took too long.
func TestTheRecoveryCodesPageReloaded(t *testing.T) {
	e := newLoginEnv(t, portaltest.SQLite)
	b := e.Login(e.member.Email)
	secret, codes := setUpApp(t, e.Env, b)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(codes))
	}
	resp := b.PostForm("/profile/app/confirm", url.Values{"code": {totpCode(t, secret, e.Clock.Now())}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/profile" {
		t.Fatalf("the form sent again: status %d to %q, want 303 to /profile", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := testText(t, b.Get("/profile").Body, "alert-info"); !strings.Contains(got, "Your authenticator app is set up.") {
		t.Errorf("Your profile then says %q", got)
	}
}
