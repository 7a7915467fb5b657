package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"portal/db"
	"portal/portaltest"
)

func doc(t *testing.T, body string) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMyContactsOffersResetPassword(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Login(e.admin.Email)
		page := b.Get("/my-contacts")
		tile := doc(t, page.Body).Find(`[data-testid="tile-reset-password"]`)
		if tile.Length() != 1 || !strings.Contains(tile.Text(), "Reset password") {
			t.Fatalf("got %d Reset password tiles, want 1: %s", tile.Length(), page.Body)
		}
		href, _ := tile.Attr("href")
		resp := b.Get(href)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: got %d, want 200", href, resp.StatusCode)
		}
		form := doc(t, resp.Body).Find(`[data-testid="reset-password-form"]`)
		if got := strings.TrimSpace(form.Find(`label[for="email"]`).Text()); got != "User name*" {
			t.Errorf("got label %q, want %q", got, "User name*")
		}
		if got := strings.TrimSpace(form.Find(`button[type="submit"]`).Text()); got != "Submit" {
			t.Errorf("got button %q, want Submit", got)
		}
	})
}

func TestContactPageActionsForLinks(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		locked := e.Contact(e.account, "Ann", "Lee", "ann@northwind.example")
		lockDirectly(t, e.Env, locked.ID)
		b := e.Login(e.admin.Email)

		tests := []struct {
			name                 string
			contact              db.Contact
			wantReset, wantPanel bool
		}{
			{"active with a password", e.member, true, false},
			{"locked", locked, false, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				page := doc(t, b.Get("/contacts/"+itoa(tt.contact.ID)).Body)
				if got := page.Find(`[data-testid="send-reset-link"]`).Length() == 1; got != tt.wantReset {
					t.Errorf("Send password reset link shown: got %v, want %v", got, tt.wantReset)
				}
				if got := page.Find(`[data-testid="invitation"]`).Length() == 1; got != tt.wantPanel {
					t.Errorf("invitation panel shown: got %v, want %v", got, tt.wantPanel)
				}
			})
		}

		// The button works: a flash on the contact's page and a mail.
		resp := b.PostForm("/contacts/"+itoa(e.member.ID)+"/reset-link", nil)
		page := b.Get(resp.Header.Get("Location"))
		if got, want := testID(t, page.Body, "alert-success"), "A password reset link has been sent to "+e.member.Email+". The link is valid for 12 hours."; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		e.DeliverMail()
		if n := len(e.SMTP.MessagesTo(e.member.Email)); n != 1 {
			t.Errorf("got %d mails, want 1", n)
		}
	})
}

func TestCreatedContactIsInvitedAndCanSetItsPassword(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Login(e.admin.Email)
		b.Get("/contacts/new")
		resp := b.PostForm("/contacts", url.Values{"first_name": {"Nina"}, "last_name": {"Berg"}, "email": {"nina@northwind.example"},
			"account_id": {itoa(e.account.ID)}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create: got %d, want 303; body: %s", resp.StatusCode, resp.Body)
		}
		details := b.Get(resp.Header.Get("Location"))
		if got := testID(t, details.Body, "alert-success"); got != "Contact Nina Berg has been successfully created." {
			t.Errorf("got %q", got)
		}
		if got := testID(t, details.Body, "invitation-status"); !strings.Contains(got, "Invitation pending") {
			t.Errorf("got invitation status %q, want pending", got)
		}
		if got := testID(t, details.Body, "invitation-mail"); !strings.Contains(got, "waiting to be sent") {
			t.Errorf("got invitation mail %q, want waiting", got)
		}
		// An invitation a lock ended is not called expired.
		resp = b.PostForm("/contacts", url.Values{"first_name": {"Ola"}, "last_name": {"Dahl"}, "email": {"ola@northwind.example"},
			"account_id": {itoa(e.account.ID)}})
		ola, err := e.Store.ContactByEmail(e.Ctx, "ola@northwind.example")
		if err != nil {
			t.Fatalf("create Ola: %d, %v", resp.StatusCode, err)
		}
		e.Lock(e.admin, ola)
		if got := testID(t, b.Get(resp.Header.Get("Location")).Body, "invitation-status"); !strings.Contains(got, "Invitation ended") ||
			!strings.Contains(got, "by a newer link or a lock, before it expired") {
			t.Errorf("a locked invitee's invitation status %q, want ended", got)
		}
		nina, err := e.Store.ContactByEmail(e.Ctx, "nina@northwind.example")
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := e.check.CountAudit(e.Ctx, db.ActionInvitationSent, nina.ID); n != 1 {
			t.Errorf("got %d %s events, want 1", n, db.ActionInvitationSent)
		}
		path := mailedLink(t, e.Env, nina.Email)
		msg := e.SMTP.MessagesTo(nina.Email)[0]
		if msg.Subject() != "Set your password for the Customer Support Portal" || !strings.Contains(msg.Text, "valid for 7 days") {
			t.Errorf("got invitation %q:\n%s", msg.Subject(), msg.Text)
		}
		visitor := e.Browser()
		if page := visitor.Get(path); !strings.Contains(testID(t, page.Body, "set-password-user"), nina.Email) {
			t.Errorf("set-password page doesn't name the user: %s", page.Body)
		}
		if resp := setPassword(visitor, path, newPassword); resp.StatusCode != http.StatusOK {
			t.Fatalf("set password: got %d", resp.StatusCode)
		}
		if got := testID(t, visitor.Get(path).Body, "link-invalid"); !strings.Contains(got, "valid for 12 hours, the links in an invitation for 7 days, and each works once") {
			t.Errorf("the used invitation link says %q", got)
		}
		if resp := e.Browser().Login(nina.Email, newPassword); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("login: got %d, want 303", resp.StatusCode)
		}
		page := doc(t, b.Get("/contacts/"+itoa(nina.ID)).Body)
		if page.Find(`[data-testid="invitation"]`).Length() != 0 || page.Find(`[data-testid="send-reset-link"]`).Length() != 1 {
			t.Error("after setting a password the page should offer a reset link, not the invitation")
		}
	})
}

func TestGivenUpMailShowsInTheContactsHistory(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Login(e.admin.Email)
		b.Get("/reset-password")
		e.SMTP.Stop()
		b.PostForm("/reset-password", url.Values{"email": {e.member.Email}})
		e.DeliverMail()
		e.Clock.Advance(db.ResetLinkTTL + time.Second)
		e.SMTP.Start()
		e.DeliverMail()
		b = e.Login(e.admin.Email) // the first session expired while the clock moved on
		history := doc(t, b.Get("/contacts/"+itoa(e.member.ID)).Body).Find(`[data-testid="history-row"]`)
		var actions []string
		history.Each(func(_ int, s *goquery.Selection) {
			a, _ := s.Attr("data-action")
			actions = append(actions, a+": "+strings.Join(strings.Fields(s.Text()), " "))
		})
		joined := strings.Join(actions, "\n")
		for _, want := range []string{db.ActionMailGivenUp + ": ", "Email given up", db.ActionResetRequested + ": ", "Maria Anders"} {
			if !strings.Contains(joined, want) {
				t.Errorf("history lacks %q:\n%s", want, joined)
			}
		}
		if n := len(e.SMTP.Messages()); n != 0 {
			t.Errorf("got %d mails, want none", n)
		}
	})
}

// BenchmarkForgotPassword compares the known-address path with the unknown-address
// baseline: the ratio should stay close to 1, so timing doesn't tell them apart. The clock
// moves an hour per request, so the known address never hits its hourly limit.
func BenchmarkForgotPassword(b *testing.B) {
	for _, tt := range []struct{ name, email string }{
		{"unknown address (baseline)", "nobody@northwind.example"},
		{"known address", "lukasz@northwind.example"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			e := portaltest.New(b)
			acc := e.Account("Northwind Traders", nil)
			e.Contact(acc, "Łukasz", "Kowalski", "lukasz@northwind.example")
			browser := e.Browser()
			browser.Get("/forgot-password")
			form := url.Values{"email": {tt.email}}
			b.ResetTimer()
			for range b.N {
				e.Clock.Advance(time.Hour)
				if resp := browser.PostForm("/forgot-password", form); resp.StatusCode != http.StatusOK {
					b.Fatalf("got %d, want 200", resp.StatusCode)
				}
			}
		})
	}
}

func TestLockAndEmailChangeVoidOpenLinks(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		admin := e.Login(e.admin.Email)
		admin.Get("/my-contacts")
		member := "/contacts/" + itoa(e.member.ID)

		issueReset(t, e.Env, e.member)
		path := mailedLink(t, e.Env, e.member.Email)
		admin.PostForm(member+"/lock", nil)
		admin.PostForm(member+"/unlock", nil)
		if c := e.Reload(e.member); c.Locked() {
			t.Fatal("contact still locked")
		}
		if resp := e.Browser().Get(path); resp.StatusCode != http.StatusGone {
			t.Errorf("link sent before a lock, after the unlock: got %d, want 410", resp.StatusCode)
		}

		issueReset(t, e.Env, e.member)
		path = mailedLink(t, e.Env, e.member.Email)
		resp := admin.PostForm(member, url.Values{"first_name": {e.member.FirstName}, "last_name": {e.member.LastName},
			"email": {"lukasz.k@northwind.example"}, "account_id": {itoa(e.account.ID)},
			"version": {e.Reload(e.member).EditVersion("")}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("edit: got %d, want 303: %s", resp.StatusCode, resp.Body)
		}
		if resp := useLink(e.Env, mailedPath(t, e.Env, "lukasz.k@northwind.example", confirmEmailPrefix)); resp.StatusCode != http.StatusOK {
			t.Fatalf("confirm the new address: got %d", resp.StatusCode)
		}
		if resp := e.Browser().Get(path); resp.StatusCode != http.StatusGone {
			t.Errorf("link mailed to the old address: got %d, want 410", resp.StatusCode)
		}
	})
}
