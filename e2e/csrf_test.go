package e2e

import (
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"portal/db"
	"portal/portaltest"
)

// serveSite serves page on a loopback address of host (port chosen by the system) until
// the test ends, with setCookie as a Set-Cookie header when given, and returns its origin.
// It stands for a site an attacker runs.
func serveSite(t *testing.T, host, page, setCookie string) string {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Skipf("no loopback address %s to serve another site on: %v", host, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if setCookie != "" {
			w.Header().Add("Set-Cookie", setCookie)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

var loginToken = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// ownPreSession is what an attacker gets from their own visit to the login page: the
// pre-session cookie and the token that goes with it.
func ownPreSession(t *testing.T, portalURL string) (cookie *http.Cookie, token string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(portalURL + "/login")
	if err != nil {
		t.Fatalf("the attacker's visit to the login page: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := loginToken.FindSubmatch(body)
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "portal_csrf") {
			cookie = c
		}
	}
	if m == nil || cookie == nil {
		t.Fatalf("the login page gave no pre-session cookie (%v) or token (%v)", cookie != nil, m != nil)
	}
	return cookie, string(m[1])
}

// cookie is the value of the browser's cookie name for url ("" when it has none).
func (tb *tab) cookie(url, name string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.Action[*network.GetCookiesResult](func(ctx context.Context, t *chromedp.Target) (*network.GetCookiesResult, error) {
		res, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
		return &res, err
	}))
	if err != nil {
		tb.fail("read the cookies of %s: %v", url, err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// attackPage is another site's page with a form that locks the contact id with token and
// a link to the CSV export, both pointing at the portal.
func attackPage(portalURL string, id int64, token string) string {
	return fmt.Sprintf(`<!DOCTYPE html><html lang="en"><title>You have won</title>
<form method="post" action="%[1]s/contacts/%[2]d/lock"><input type="hidden" name="_csrf" value="%[3]s">
<button>Claim your prize</button></form>
<a href="%[1]s/contacts/export.csv">Your statement</a>`, portalURL, id, html.EscapeString(token))
}

// TestRequestsOtherSitesStartAreRefused is issue 14's items 3 and 12 in a real browser. A
// signed-in contact admin visits two other sites on loopback: one on another port of the
// portal's host (same-site, like a sibling subdomain), which plants the attacker's own
// pre-session cookie (cookies ignore ports) next to the admin's session and posts the
// token that goes with it; and one on another address (cross-site), which posts the same
// and links to the export. Before the fix the planted pair locked the contact and the link
// downloaded every contact; now each answers the 403 page, and the admin's own pages still
// lock the contact with the token bound to the session.
func TestRequestsOtherSitesStartAreRefused(t *testing.T) {
	p := startAdminPortal(t)
	target := p.Contact(p.child, "Tess", "Target", "tess@acme.example")
	seed, token := ownPreSession(t, p.URL)
	page := attackPage(p.URL, target.ID, token)
	sibling := serveSite(t, "127.0.0.1", page, fmt.Sprintf("%s=%s; Path=/", seed.Name, seed.Value))
	other := serveSite(t, "127.0.0.2", page, "")

	tb := p.newTab(t)
	tb.login(p.admin.Email, portaltest.Password)
	tb.waitText("Welcome, Ada")

	for _, site := range []struct{ name, url string }{
		{"another port of the host (same-site)", sibling},
		{"another address (cross-site)", other},
	} {
		tb.do("visit "+site.name, chromedp.Navigate(site.url+"/"))
		if site.url == sibling {
			if got := tb.cookie(p.URL, seed.Name); got != seed.Value {
				t.Fatalf("the sibling site did not plant its cookie for the portal: %s is %q, want %q", seed.Name, got, seed.Value)
			}
		}
		tb.clickAndLoad(button("Claim your prize"))
		tb.waitFor(testID("error-page"))
		tb.waitText("This form has expired or was sent from somewhere else.")
		if p.Reload(target).Locked() {
			t.Fatalf("the form on %s locked the contact", site.name)
		}
	}

	tb.do("visit the cross-site page again", chromedp.Navigate(other+"/"))
	tb.clickAndLoad(link("Your statement"))
	tb.waitFor(testID("error-page"))
	tb.waitText("Exports start only from the portal's own pages.")
	if n, err := p.Check().CountAudit(p.Ctx, db.ActionContactsExported, 0); err != nil || n != 0 {
		t.Errorf("exports audited after a link on another site: %d (%v), want 0", n, err)
	}

	// Signed in, both refusals are in the audit log with the route and why; the cross-site
	// form reached the portal without the session cookie (SameSite=Lax), as a stranger, and
	// is only logged.
	sc, err := p.Store.ScopeOf(p.Ctx, p.company.ID)
	if err != nil {
		t.Fatal(err)
	}
	events, err := p.Store.AuditLog(p.Ctx, sc, db.AuditFilter{}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var denied []string
	for _, ev := range events {
		if ev.Action == db.ActionAccessDenied {
			denied = append(denied, ev.Detail)
		}
	}
	want := []string{
		`GET /contacts/export.csv answered 403: started by another site (Sec-Fetch-Site "cross-site")`,
		fmt.Sprintf(`POST /contacts/%d/lock answered 403: started by another site (Sec-Fetch-Site "same-site")`, target.ID),
	}
	if strings.Join(denied, "\n") != strings.Join(want, "\n") {
		t.Errorf("access_denied details:\n%s\nwant:\n%s", indent(strings.Join(denied, "\n")), indent(strings.Join(want, "\n")))
	}

	// The admin's own pages work as before, the planted cookie still in the browser: the
	// token HTMX sends is the session's.
	tb.visit(fmt.Sprintf("/contacts/%d", target.ID))
	tb.click(button("Lock this contact"))
	tb.waitFor(testID("alert-success"))
	if got, want := tb.text(testID("alert-success")), "Tess Target has been successfully locked out."; got != want {
		t.Errorf("Lock this contact on the portal's own page: got %q, want %q", got, want)
	}
	if !p.Reload(target).Locked() {
		t.Errorf("Lock this contact on the portal's own page did not lock the contact")
	}
}
