package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"portal/db"
	"portal/db/dbtest"
	"portal/portaltest"
)

// Two browsers' User-Agents, as they send them.
const (
	chromeOnWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	safariOnIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

// signInFrom posts the login form from a browser with userAgent, through the trusted proxy
// (app.Test's peer) that forwards for address, and follows the redirect as a browser would.
func signInFrom(t *testing.T, b *portaltest.Browser, userAgent, address, email, password string) portaltest.Response {
	t.Helper()
	b.Get("/login")
	form := url.Values{"_csrf": {b.CSRF}, "email": {email}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, "http://portal.example.test/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Forwarded-For", address)
	resp := b.Do(req)
	if resp.StatusCode == http.StatusSeeOther {
		b.Get(resp.Header.Get("Location"))
	}
	return resp
}

// sessionsEnv is an organization with an admin and a member, and another tenant with its
// own admin, behind a trusted reverse proxy.
type sessionsEnv struct {
	*portaltest.Env
	check               *dbtest.DB
	account             db.Account
	admin, member, olga db.Contact
}

func newSessionsEnv(t *testing.T, engine portaltest.Engine) sessionsEnv {
	e := portaltest.New(t, portaltest.Options{Engine: engine, Args: []string{"--trusted-proxies", appTestPeer + "/32"}})
	acc := e.Account("Northwind Traders", nil)
	other := e.Account("Contoso Pharma", nil)
	return sessionsEnv{Env: e, check: e.Check(), account: acc,
		admin:  e.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin),
		member: e.Contact(acc, "Łukasz", "Kowalski", "lukasz@northwind.example"),
		olga:   e.Contact(other, "Olga", "Ivanova", "olga@contoso.example", db.RoleContactAdmin)}
}

func parse(t *testing.T, body string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func texts(doc *goquery.Document, selector string) []string {
	var out []string
	doc.Find(selector).Each(func(_ int, s *goquery.Selection) { out = append(out, strings.TrimSpace(s.Text())) })
	return out
}

func TestSessionsAndLoginHistoryOnAContactsPage(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newSessionsEnv(t, engine)
		// Three wrong passwords in a row, then two sign-ins from two browsers.
		for i := 0; i < 3; i++ {
			if resp := signInFrom(t, e.Browser(), chromeOnWindows, "192.0.2.66", e.member.Email, "not the password"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: status %d, want 401", i+1, resp.StatusCode)
			}
		}
		laptop, phone := e.Browser(), e.Browser()
		if resp := signInFrom(t, laptop, chromeOnWindows, "203.0.113.10", e.member.Email, portaltest.Password); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in from the laptop: status %d, want 303", resp.StatusCode)
		}
		e.Clock.Advance(5 * time.Minute)
		if resp := signInFrom(t, phone, safariOnIPhone, "198.51.100.20", e.member.Email, portaltest.Password); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in from the phone: status %d, want 303", resp.StatusCode)
		}

		admin := e.Login(e.admin.Email)
		page := admin.Get(fmt.Sprintf("/contacts/%d", e.member.ID))
		if page.StatusCode != http.StatusOK {
			t.Fatalf("contact's page: status %d", page.StatusCode)
		}
		doc := parse(t, page.Body)
		browsers := texts(doc, `[data-testid="session-browser"]`)
		addresses := texts(doc, `[data-testid="session-address"]`)
		// Most recently active first: the phone signed in last.
		if want := []string{"Safari on iPhone", "Chrome on Windows"}; fmt.Sprint(browsers) != fmt.Sprint(want) {
			t.Errorf("sessions' browsers: got %q, want %q", browsers, want)
		}
		if want := []string{"198.51.100.20", "203.0.113.10"}; fmt.Sprint(addresses) != fmt.Sprint(want) {
			t.Errorf("sessions' addresses: got %q, want %q", addresses, want)
		}
		if got := doc.Find(`[data-testid="session-row"] td[data-label="Started"]`).First().Text(); got != "22 Nov 2026, 09:05 UTC" {
			t.Errorf("newest session started: got %q, want %q", got, "22 Nov 2026, 09:05 UTC")
		}

		details := texts(doc, `[data-testid="login-row"] [data-testid="login-detail"]`)
		results := texts(doc, `[data-testid="login-row"] td[data-label="Result"]`)
		wantResults := []string{"Signed in", "Signed in", "Failed", "Failed", "Failed"}
		if fmt.Sprint(results) != fmt.Sprint(wantResults) {
			t.Fatalf("login history: got %q, want %q", results, wantResults)
		}
		for i, n := range []int{3, 2, 1} {
			if want := fmt.Sprintf("wrong password (failure %d in a row)", n); details[2+i] != want {
				t.Errorf("login history row %d: got %q, want %q", 2+i, details[2+i], want)
			}
		}
		if got := texts(doc, `[data-testid="login-row"] td[data-label="Address"]`); got[0] != "198.51.100.20" || got[4] != "192.0.2.66" {
			t.Errorf("login history addresses: got %q, want the phone's first and the failures' last", got)
		}
		if href := doc.Find(`[data-testid="audit-of-contact"]`).AttrOr("href", ""); href != fmt.Sprintf("/audit?contact=%d", e.member.ID) {
			t.Errorf("See all in the audit log: got %q", href)
		}
	})
}

func TestLoginHistoryShowsTheLastTwenty(t *testing.T) {
	e := newSessionsEnv(t, portaltest.SQLite)
	for i := 0; i < 25; i++ { // a success now and then keeps the lockout away
		password := "not the password"
		if i%5 == 4 {
			password = portaltest.Password
		}
		signInFrom(t, e.Browser(), chromeOnWindows, "192.0.2.66", e.member.Email, password)
	}
	doc := parse(t, e.Login(e.admin.Email).Get(fmt.Sprintf("/contacts/%d", e.member.ID)).Body)
	if got := doc.Find(`[data-testid="login-row"]`).Length(); got != 20 {
		t.Errorf("login history rows: got %d, want 20", got)
	}
}

func TestSignOutEverywhere(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newSessionsEnv(t, engine)
		laptop, phone := e.Browser(), e.Browser()
		signInFrom(t, laptop, chromeOnWindows, "203.0.113.10", e.member.Email, portaltest.Password)
		signInFrom(t, phone, safariOnIPhone, "198.51.100.20", e.member.Email, portaltest.Password)
		path := fmt.Sprintf("/contacts/%d/sign-out-everywhere", e.member.ID)
		sessions := func() int {
			n, err := e.check.CountSessions(e.Ctx, e.member.ID)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		// Another tenant's admin: as if there were no such contact.
		olga := e.Login(e.olga.Email)
		if resp := olga.PostForm(path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("another tenant's admin: status %d, want 404", resp.StatusCode)
		}
		// The member itself has no right to it.
		if resp := laptop.PostForm(path, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a contact without the Contact admin role: status %d, want 403", resp.StatusCode)
		}
		admin := e.Login(e.admin.Email)
		admin.Get(fmt.Sprintf("/contacts/%d", e.member.ID))
		if resp := admin.PostForm(path, url.Values{"_csrf": {""}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("without the CSRF token: status %d, want 403", resp.StatusCode)
		}
		if n := sessions(); n != 2 {
			t.Fatalf("sessions after the refused requests: got %d, want 2", n)
		}

		resp := admin.PostForm(path, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != fmt.Sprintf("/contacts/%d", e.member.ID) {
			t.Fatalf("sign out everywhere: status %d to %q, want 303 to the contact's page", resp.StatusCode, resp.Header.Get("Location"))
		}
		doc := parse(t, admin.Get(resp.Header.Get("Location")).Body)
		if got, want := strings.TrimSpace(doc.Find(`[data-testid="alert-success"]`).Text()), "Łukasz Kowalski has been signed out everywhere (2 sessions ended)."; got != want {
			t.Errorf("confirmation: got %q, want %q", got, want)
		}
		if doc.Find(`[data-testid="session-row"]`).Length() != 0 || doc.Find(`[data-testid="no-sessions"]`).Length() != 1 {
			t.Errorf("the page still lists sessions after Sign out everywhere")
		}
		if n := sessions(); n != 0 {
			t.Errorf("sessions afterwards: got %d, want 0", n)
		}
		for name, b := range map[string]*portaltest.Browser{"laptop": laptop, "phone": phone} {
			if resp := b.Get("/"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
				t.Errorf("the %s's next request: status %d to %q, want the login page", name, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		if n, _ := e.check.CountAudit(e.Ctx, db.ActionSignedOutEverywhere, e.member.ID); n != 1 {
			t.Errorf("signed_out_everywhere events: got %d, want 1", n)
		}

		// Again, now that there is nothing to end: said so, nothing recorded.
		resp = admin.HTMXPost(path, nil)
		doc = parse(t, resp.Body)
		if got, want := strings.TrimSpace(doc.Find(`[data-testid="alert-info"]`).Text()), "Łukasz Kowalski was not signed in anywhere."; resp.StatusCode != http.StatusOK || got != want {
			t.Errorf("again, by HTMX: status %d, message %q; want 200, %q", resp.StatusCode, got, want)
		}
		if doc.Find(`#contact-details`).Length() != 1 {
			t.Errorf("the HTMX answer has no contact details to swap in")
		}
		if n, _ := e.check.CountAudit(e.Ctx, db.ActionSignedOutEverywhere, e.member.ID); n != 1 {
			t.Errorf("signed_out_everywhere events after the second time: got %d, want still 1", n)
		}
	})
}

func TestSignOutEverywhereOnYourOwnPageKeepsThisBrowser(t *testing.T) {
	e := newSessionsEnv(t, portaltest.SQLite)
	elsewhere := e.Browser()
	signInFrom(t, elsewhere, safariOnIPhone, "198.51.100.20", e.admin.Email, portaltest.Password)
	here := e.Browser()
	signInFrom(t, here, chromeOnWindows, "203.0.113.10", e.admin.Email, portaltest.Password)
	resp := here.HTMXPost(fmt.Sprintf("/contacts/%d/sign-out-everywhere", e.admin.ID), nil)
	doc := parse(t, resp.Body)
	if got, want := strings.TrimSpace(doc.Find(`[data-testid="alert-success"]`).Text()),
		"You have been signed out everywhere else (1 session ended); this browser stays signed in."; got != want {
		t.Errorf("confirmation: got %q, want %q", got, want)
	}
	if got := texts(doc, `[data-testid="session-browser"]`); fmt.Sprint(got) != "[Chrome on Windows]" {
		t.Errorf("sessions left: got %q, want this browser's only", got)
	}
	if resp := here.Get("/my-contacts"); resp.StatusCode != http.StatusOK {
		t.Errorf("this browser afterwards: status %d, want 200", resp.StatusCode)
	}
	if resp := elsewhere.Get("/my-contacts"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the other browser afterwards: status %d, want 303 to the login page", resp.StatusCode)
	}
}

// A session past its idle limit is over, even before the sweep deletes its row: the page
// lists only the live one.
func TestSessionsListOnlyLiveSessions(t *testing.T) {
	e := newSessionsEnv(t, portaltest.SQLite)
	signInFrom(t, e.Browser(), chromeOnWindows, "203.0.113.10", e.member.Email, portaltest.Password)
	e.Clock.Advance(31 * time.Minute) // past the 30 minutes idle limit
	signInFrom(t, e.Browser(), safariOnIPhone, "198.51.100.20", e.member.Email, portaltest.Password)
	doc := parse(t, e.Login(e.admin.Email).Get(fmt.Sprintf("/contacts/%d", e.member.ID)).Body)
	if got := texts(doc, `[data-testid="session-browser"]`); fmt.Sprint(got) != "[Safari on iPhone]" {
		t.Errorf("sessions listed: got %q, want only the live one on the iPhone", got)
	}
	if n, _ := e.check.CountSessions(e.Ctx, e.member.ID); n != 2 {
		t.Errorf("stored sessions: %d, want 2 (the sweep has not run)", n)
	}
}

func TestAContactMovedDownShowsNothingOfItsPastAbove(t *testing.T) {
	// What was recorded while a contact belonged to the parent stays the parent's: the admin
	// of the child organization it moved to sees neither its history there (who did what,
	// and from where) nor its sign-ins.
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newSessionsEnv(t, engine)
		retail := e.Account("Northwind Retail", &e.account)
		ines := e.Contact(retail, "Inês", "Costa", "ines@retail.example", db.RoleContactAdmin)
		signInFrom(t, e.Browser(), chromeOnWindows, "192.0.2.66", e.member.Email, "not the password")
		e.Lock(e.admin, e.member)
		maria := e.Login(e.admin.Email)
		if resp := maria.PostForm(fmt.Sprintf("/contacts/%d/unlock", e.member.ID), url.Values{"_csrf": {maria.CSRF}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("unlock: status %d", resp.StatusCode)
		}
		form := editFormOf(e.Reload(e.member), editVersion(t, maria, e.member.ID))
		form.Set("account_id", fmt.Sprint(retail.ID))
		if resp := maria.PostForm(fmt.Sprintf("/contacts/%d", e.member.ID), form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("move to Northwind Retail: status %d: %s", resp.StatusCode, resp.Body)
		}

		page := e.Login(ines.Email).Get(fmt.Sprintf("/contacts/%d", e.member.ID))
		if page.StatusCode != http.StatusOK {
			t.Fatalf("the child's admin opens the moved contact: status %d", page.StatusCode)
		}
		doc := parse(t, page.Body)
		var actions []string
		doc.Find(`[data-testid="history-row"]`).Each(func(_ int, s *goquery.Selection) { actions = append(actions, s.AttrOr("data-action", "")) })
		if want := []string{db.ActionContactEdited}; fmt.Sprint(actions) != fmt.Sprint(want) {
			t.Errorf("history the child's admin sees: %q, want only the move into their organization %q", actions, want)
		}
		if rows := doc.Find(`[data-testid="login-row"]`).Length(); rows != 0 {
			t.Errorf("the child's admin sees %d sign-ins made while the contact was the parent's, want none", rows)
		}
		if strings.Contains(doc.Find("main").Text(), "192.0.2.66") {
			t.Error("the child's admin reads the address of a failed sign-in made while the contact was the parent's")
		}
		// The parent's admin still sees all of it.
		all := parse(t, maria.Get(fmt.Sprintf("/contacts/%d", e.member.ID)).Body).Find(`[data-testid="history-row"]`).Length()
		if all != 4 {
			t.Errorf("the parent's admin sees %d history rows, want the failed sign-in, the lock, the unlock and the move", all)
		}
	})
}
