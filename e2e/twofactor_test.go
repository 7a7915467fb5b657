package e2e

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"portal/db"
	"portal/portaltest"
)

// Two-step verification as a person goes through it (SPEC 3.11, issue 18): turning on an
// authenticator app from the home page by reading the key off the page, signing in with it
// (with and without JavaScript), adding a passkey with Chromium's virtual authenticator and
// signing in with it, an organization that requires it, and an admin's reset.

// startPortalOnLocalhost is startPortal served as http://localhost:PORT: passkeys need a
// relying party id that is a host name, and browsers allow plain http only for localhost.
func startPortalOnLocalhost(t *testing.T, args ...string) *portal {
	t.Helper()
	needBrowser(t)
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	url := "http://localhost:" + port
	env := portaltest.New(t, portaltest.Options{Args: append([]string{"--base-url", url}, args...)})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- env.App.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &portal{Env: env, URL: url}
}

// withPasskeys gives the tab a virtual authenticator, as a laptop with a fingerprint reader:
// it keeps passkeys (resident keys), verifies its user, and answers without a prompt.
func (tb *tab) withPasskeys() {
	tb.t.Helper()
	tb.do("add a virtual authenticator", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
				Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
				IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return err
	}))
}

// appCode is what the authenticator app shows for the key read off the page, at the
// portal's time.
func appCode(t *testing.T, p *portal, key string) string {
	t.Helper()
	code, err := totp.GenerateCode(strings.ReplaceAll(key, " ", ""), p.Clock.Now())
	if err != nil {
		t.Fatalf("code for the key %q: %v", key, err)
	}
	return code
}

const codeLabel = "Enter the 6-digit code from your authenticator app"

// setUpApp goes through the authenticator app's setup page the tab is on: reads the key,
// types the app's code, and leaves the recovery codes page. It returns the key.
func (tb *tab) setUpApp(page string) string {
	tb.t.Helper()
	tb.waitFor(heading("Set up an authenticator app"))
	tb.checkA11y(page)
	key := tb.text(testID("app-secret"))
	tb.typeInto(field(codeLabel), appCode(tb.t, tb.portal, key))
	tb.clickAndLoad(button("Turn on"))
	tb.waitFor(heading("Your recovery codes"))
	if n := eval[int](tb, `document.querySelectorAll("[data-testid=recovery-code]").length`); n != 10 {
		tb.fail("recovery codes shown: %d, want 10", n)
	}
	tb.checkA11y("recovery codes")
	tb.clickAndLoad(link("I have saved my codes"))
	return key
}

func TestTwoStepWithAnAuthenticatorApp(t *testing.T) {
	p := startAdminPortal(t)
	company := p.company
	p.Contact(company, "Lena", "Lind", "lena@acme.example")
	tb := p.newTab(t)
	tb.login("lena@acme.example", portaltest.Password)
	tb.waitText("Welcome, Lena")
	tb.checkA11y("home page without two-step verification")
	tb.clickAndLoad(button("Set up an authenticator app"))
	key := tb.setUpApp("authenticator app setup")
	tb.waitFor(heading("Your profile")) // where two-step verification is managed from now on
	if got := tb.text(testID("two-step-status")); got != "On" {
		t.Errorf("Your profile: two-step verification %q, want On", got)
	}
	tb.checkA11y("Your profile")
	tb.checkLayout("profile")
	tb.clickAndLoad(button("Log out"))

	// Signing in: password, then the code, by keyboard alone.
	p.Clock.Advance(30 * time.Second)
	tb.login("lena@acme.example", portaltest.Password)
	tb.waitFor(heading("Two-step verification"))
	tb.waitText("Use a recovery code")
	tb.checkA11y("second step")
	tb.checkLayout("second-step")
	if !tb.focused(field(codeLabel)) {
		tb.tabTo(field(codeLabel))
	}
	tb.do("type the code", chromedp.SendKeys(field(codeLabel).sel(), appCode(t, p.portal, key)))
	tb.press("\r")
	tb.waitText("Welcome, Lena")

	// Without JavaScript the code works the same; the passkey button stays away.
	p.Clock.Advance(30 * time.Second)
	plain := p.newTab(t, withoutJavaScript)
	plain.login("lena@acme.example", portaltest.Password)
	plain.waitFor(heading("Two-step verification"))
	plain.typeInto(field(codeLabel), appCode(t, p.portal, key))
	plain.clickAndLoad(button("Verify"))
	plain.waitText("Welcome, Lena")
}

func TestTwoStepWithAPasskey(t *testing.T) {
	p := startPortalOnLocalhost(t)
	company := p.Account("Acme Corporation", nil)
	p.Contact(company, "Lena", "Lind", "lena@acme.example")
	tb := p.newTab(t)
	tb.withPasskeys()
	tb.login("lena@acme.example", portaltest.Password)
	tb.waitText("Welcome, Lena")
	tb.clickAndLoad(link("Your profile").within(navigation("Main")))
	tb.waitFor(button("Add a passkey"))
	tb.typeInto(field("Name of the passkey"), "Work laptop")
	tb.clickAndLoad(button("Add a passkey"))
	tb.waitFor(heading("Your recovery codes"))
	tb.clickAndLoad(link("I have saved my codes"))
	tb.waitFor(heading("Your profile"))
	if got := tb.text(testID("passkey-name")); got != "Work laptop" {
		t.Errorf("passkey listed as %q, want Work laptop", got)
	}
	tb.checkA11y("Your profile with a passkey")
	tb.clickAndLoad(button("Log out"))

	tb.login("lena@acme.example", portaltest.Password)
	tb.waitFor(button("Use your passkey"))
	if eval[bool](tb, `!!document.getElementById("code")`) {
		t.Error("the second step asks for an app code from a contact with only a passkey")
	}
	tb.checkA11y("second step with a passkey")
	tb.tabTo(button("Use your passkey")) // by keyboard: Tab to it, Enter
	tb.press("\r")
	tb.waitText("Welcome, Lena")
	if n, err := p.Check().CountAudit(p.Ctx, db.ActionSecondStepPassed, 0); err != nil || n != 1 {
		t.Errorf("second steps passed: %d (%v), want 1", n, err)
	}
}

// An admin requires two-step verification; a colleague sets it up right after the password;
// the admin resets it for the colleague who lost a phone.
func TestRequiredTwoStepVerificationAndReset(t *testing.T) {
	p := startAdminPortal(t)
	p.Contact(p.child, "Tom", "Tamm", "tom@acme.example")
	admin := p.newTab(t)
	admin.login(p.admin.Email, portaltest.Password)
	admin.visit("/my-contacts")
	admin.clickAndLoad(link("Two-step verification"))
	admin.waitFor(testID("set-up-first"))
	admin.checkA11y("two-step verification policy")
	admin.clickAndLoad(link("Your profile").within(testID("set-up-first")))
	admin.clickAndLoad(button("Set up an authenticator app"))
	admin.setUpApp("authenticator app setup from Your profile")
	admin.visit("/two-step-verification")
	admin.clickAndLoad(button("Require two-step verification"))
	admin.waitText("Two-step verification is now required")

	tom := p.newTab(t)
	tom.login("tom@acme.example", portaltest.Password)
	tom.waitFor(heading("Set up two-step verification"))
	tom.waitText("Acme Corporation requires two-step verification")
	tom.checkA11y("required setup at sign-in")
	tom.visit("/")
	tom.waitFor(heading("Set up two-step verification")) // nothing else until it is set up
	tom.clickAndLoad(button("Set up an authenticator app"))
	tom.setUpApp("authenticator app setup at sign-in")
	tom.waitText("Welcome, Tom")

	// Tom lost his phone: the admin resets it from his page.
	admin.visit("/contacts")
	admin.clickAndLoad(link("Tom Tamm"))
	if got := admin.text(testID("details-two-step")); got != "On" {
		t.Errorf("Tom's page: two-step verification %q, want On", got)
	}
	admin.clickAndLoad(link("Reset two-step verification"))
	admin.checkA11y("reset two-step verification")
	admin.clickAndLoad(button("Reset two-step verification"))
	admin.waitText("has been reset")
	tom.visit("/profile")
	tom.waitFor(field("User name")) // his session ended
	tom.login("tom@acme.example", portaltest.Password)
	tom.waitFor(heading("Set up two-step verification")) // required: set up again at once
}
