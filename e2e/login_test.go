package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp/kb"

	"portal/db"
	"portal/portaltest"
)

// adminPortal is a portal with an organization, a child organization and a contact admin.
type adminPortal struct {
	*portal
	company, child db.Account
	admin          db.Contact
}

func startAdminPortal(t *testing.T, args ...string) *adminPortal {
	t.Helper()
	return startAdminPortalOn(t, portaltest.SQLite, args...)
}

// startAdminPortalOn is startAdminPortal on engine.
func startAdminPortalOn(t *testing.T, engine portaltest.Engine, args ...string) *adminPortal {
	t.Helper()
	p := startPortalOn(t, engine, args...)
	company := p.Account("Acme Corporation", nil)
	child := p.Account("Acme Europe", &company)
	admin := p.Contact(company, "Ada", "Admin", "ada@acme.example", db.RoleContactAdmin)
	return &adminPortal{portal: p, company: company, child: child, admin: admin}
}

// TestLoginBannerAndLogout: a contact admin logs in, reaches My contacts from the banner and
// from the Follow Up menu, and logs out.
func TestLoginBannerAndLogout(t *testing.T) {
	p := startAdminPortal(t)
	tb := p.newTab(t)

	tb.visit("/")
	tb.waitFor(heading("Log in"))
	if got := tb.path(); got != "/login?next=%2F" && got != "/login" {
		t.Errorf("signed-out visit to / went to %s, want the login page", got)
	}
	tb.checkA11y("login page")
	tb.checkLayout("login")

	tb.login(p.admin.Email, portaltest.Password)
	if got, want := tb.text(testID("user-name")), "Ada Admin"; got != want {
		t.Errorf("banner user name: got %q, want %q", got, want)
	}
	tb.waitText("Welcome, Ada")
	tb.checkA11y("home page")
	tb.checkLayout("home")

	tb.clickAndLoad(link("My contacts").within(navigation("Main")))
	tb.waitPath("/my-contacts")
	tb.checkA11y("My contacts")

	tb.visit("/")
	tb.click(button("Follow Up"))
	tb.clickAndLoad(link("My contacts").within(testID("follow-up-menu")))
	tb.waitPath("/my-contacts")

	tb.clickAndLoad(button("Log out"))
	tb.waitFor(field("User name"))
	tb.visit("/")
	tb.waitFor(field("User name")) // signed out: the portal asks to log in again
}

// TestLoginRejectsWrongPassword: the login page says the one generic message and keeps the
// user name typed.
func TestLoginRejectsWrongPassword(t *testing.T) {
	p := startAdminPortal(t)
	tb := p.newTab(t)
	tb.login(p.admin.Email, "not the password at all")
	if got, want := tb.text(testID("login-error")), "Invalid user name or password"; got != want {
		t.Errorf("login error: got %q, want %q", got, want)
	}
	if got := eval[string](tb, `document.querySelector("#email").value`); got != p.admin.Email {
		t.Errorf("user name after a failed login: got %q, want %q", got, p.admin.Email)
	}
	tb.checkA11y("login page with an error")
}

// TestContactWithoutRoleSeesNoContactAdmin: a contact with no role has no My contacts link
// and gets the 403 page at /my-contacts.
func TestContactWithoutRoleSeesNoContactAdmin(t *testing.T) {
	p := startAdminPortal(t)
	p.Contact(p.company, "Nils", "Norole", "nils@acme.example")
	tb := p.newTab(t)
	tb.login("nils@acme.example", portaltest.Password)
	tb.waitFor(testID("user-name"))
	if n := eval[int](tb, `document.querySelectorAll('[data-testid="banner-my-contacts"], [data-testid="follow-up-my-contacts"]').length`); n != 0 {
		t.Errorf("a contact without a role sees %d My contacts links, want 0", n)
	}
	tb.visit("/my-contacts")
	tb.waitFor(testID("error-page"))
	tb.checkA11y("403 page")
}

// TestLoginWithoutJavaScript: with scripts off, logging in and out are plain forms.
func TestLoginWithoutJavaScript(t *testing.T) {
	p := startAdminPortal(t)
	tb := p.newTab(t, withoutJavaScript)
	tb.login(p.admin.Email, portaltest.Password)
	if got, want := tb.text(testID("user-name")), "Ada Admin"; got != want {
		t.Errorf("banner user name: got %q, want %q", got, want)
	}
	if eval[bool](tb, `typeof htmx !== "undefined"`) {
		t.Errorf("htmx ran in a tab with JavaScript disabled")
	}
	tb.clickAndLoad(button("Log out"))
	tb.waitFor(field("User name"))
}

// TestFollowUpMenuByKeyboard: the Follow Up menu opens, leads on and closes with the
// keyboard alone.
func TestFollowUpMenuByKeyboard(t *testing.T) {
	p := startAdminPortal(t)
	tb := p.newTab(t)
	tb.login(p.admin.Email, portaltest.Password)
	tb.waitFor(testID("user-name"))

	menu := button("Follow Up")
	tb.tabTo(menu)
	tb.press("\r")
	item := link("My contacts").within(testID("follow-up-menu"))
	tb.waitFor(item)
	tb.press(kb.Escape)
	tb.until("the menu to close", `!document.querySelector('[data-testid="follow-up-menu"]').open`)
	if !tb.focused(menu) {
		t.Errorf("after Escape the focus is not back on Follow Up")
	}

	tb.press("\r")
	tb.tabTo(item)
	tb.press("\r")
	tb.waitPath("/my-contacts")
}

// TestNoPageSnapshotsOutliveTheSession is issue 14's htmx history cache: after logging out,
// sessionStorage still held snapshots of signed-in pages, with emails and a CSRF token.
// Signed-in pages are never kept there; Back still works (the page is fetched again).
func TestNoPageSnapshotsOutliveTheSession(t *testing.T) {
	p := startAdminPortal(t)
	p.Contact(p.child, "Zoë", "Zimmermann", "zoe@acme.example")
	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.waitFor(rowOf("Zoë Zimmermann"))
	tb.typeInto(field("Search by name or email"), "Zimmermann")
	tb.until("the search to reach the URL", `location.search.includes("Zimmermann")`)
	tb.typeInto(field("Search by name or email"), "Nobody")
	tb.until("the search to reach the URL", `location.search.includes("Nobody")`)
	eval[bool](tb, `history.back(); true`)
	tb.until("Back to show Zoë again", `document.body.textContent.includes("zoe@acme.example")`)
	stored := `JSON.stringify(Object.entries(sessionStorage))`
	if got := eval[string](tb, stored); strings.Contains(got, "acme.example") || strings.Contains(got, "_csrf") {
		t.Errorf("sessionStorage while signed in holds page data: %.300s", got)
	}
	tb.clickAndLoad(button("Log out"))
	tb.waitFor(field("User name"))
	if got := eval[string](tb, stored); strings.Contains(got, "acme.example") || strings.Contains(got, "_csrf") {
		t.Errorf("sessionStorage after logging out holds page data: %.300s", got)
	}
}
