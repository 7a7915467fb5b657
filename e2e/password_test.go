package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portal/portaltest"
)

// newPassword passes the policy: long, unrelated words, nothing of the account or email.
const newPassword = "violet tractor sunrise ladder"

// mailedLink waits for the mail to email and returns its link that starts with path.
func (p *portal) mailedLink(t *testing.T, email, path string) string {
	t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for {
		for _, m := range p.SMTP.MessagesTo(email) {
			if l := m.Link(p.URL + path); l != "" {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s with a %s link within %s; the SMTP server got %d messages", email, path, actionTimeout, len(p.SMTP.Messages()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// setPasswordFromLink opens a mailed link the way a person clicks it in their mail, sets
// the new password, and logs in with it.
func (tb *tab) setPasswordFromLink(mailed, title, email, shots string) {
	tb.t.Helper()
	tb.do("open the mailed link", chromedp.Navigate(mailed))
	tb.waitFor(heading(title))
	tb.checkA11y(title)
	if shots != "" {
		tb.checkLayout(shots)
	}
	tb.typeInto(field("New password"), newPassword)
	tb.typeInto(field("Repeat the new password"), newPassword)
	tb.clickAndLoad(button(title))
	tb.waitFor(heading("Your password has been set"))
	tb.checkA11y("password set")
	tb.clickAndLoad(link("Log in"))
	tb.login(email, newPassword)
	tb.waitFor(testID("user-name"))
}

// TestResetPassword: the admin's Reset password sends a link; the mail arrives in the SMTP
// server; the browser opens it, sets a new password and logs in with it.
func TestResetPassword(t *testing.T) {
	p := startAdminPortal(t)
	p.Contact(p.child, "Rita", "Reset", "rita@acme.example")

	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Reset password"))
	tb.waitFor(heading("Reset password"))
	tb.checkA11y("Reset password")
	tb.checkLayout("reset-password")

	tb.typeInto(field("User name"), "nobody@acme.example")
	tb.clickAndLoad(button("Submit"))
	tb.waitFor(testID("reset-password-error"))
	if !tb.focused(field("User name")) {
		t.Errorf("Reset password with an error should start at the User name field")
	}
	tb.checkA11y("Reset password with an error")

	tb.typeInto(field("User name"), "rita@acme.example")
	tb.clickAndLoad(button("Submit"))
	tb.waitText("A password reset link has been sent to rita@acme.example. The link is valid for 12 hours.")
	tb.checkA11y("Reset password sent")

	mailed := p.mailedLink(t, "rita@acme.example", "/set-password/")
	rita := p.newTab(t)
	rita.setPasswordFromLink(mailed, "Set a new password", "rita@acme.example", "set-password")

	old := p.newTab(t)
	old.login("rita@acme.example", portaltest.Password)
	old.waitFor(testID("login-error")) // the old password is gone
}

// TestForgotPassword: Forgot password? from the login page, the mail, the link, the new
// password, logging in.
func TestForgotPassword(t *testing.T) {
	p := startAdminPortal(t)
	p.Contact(p.company, "Fred", "Forgetful", "fred@acme.example")

	tb := p.newTab(t)
	tb.visit("/login")
	tb.clickAndLoad(link("Forgot password?"))
	tb.waitFor(heading("Forgot password?"))
	tb.checkA11y("Forgot password?")
	tb.checkLayout("forgot-password")
	tb.typeInto(field("User name"), "fred@acme.example")
	tb.clickAndLoad(button("Submit"))
	tb.waitFor(heading("Check your email"))
	tb.checkA11y("Forgot password? sent")

	mailed := p.mailedLink(t, "fred@acme.example", "/set-password/")
	tb.setPasswordFromLink(mailed, "Set a new password", "fred@acme.example", "")
}
