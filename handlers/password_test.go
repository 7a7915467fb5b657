package handlers_test

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"portal/contacts"
	"portal/db"
	"portal/handlers"
	"portal/portaltest"
)

const (
	setPasswordPrefix = "https://portal.example.test/set-password/"
	newPassword       = "lantern orchard velvet compass"
)

func testID(t *testing.T, body, id string) string {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(doc.Find(`[data-testid="` + id + `"]`).Text())
}

func hasTestID(t *testing.T, body, id string) bool {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc.Find(`[data-testid="`+id+`"]`).Length() > 0
}

// linkPath turns a mailed link into the path the test browser requests.
func linkPath(t *testing.T, link string) string {
	t.Helper()
	if !strings.HasPrefix(link, setPasswordPrefix) {
		t.Fatalf("got link %q, want one under %s", link, setPasswordPrefix)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

// mailedLink delivers the outbox and returns the set-password link of the newest mail to email.
func mailedLink(t *testing.T, e *portaltest.Env, email string) string {
	t.Helper()
	e.DeliverMail()
	msgs := e.SMTP.MessagesTo(email)
	if len(msgs) == 0 {
		t.Fatalf("no mail to %s", email)
	}
	link := msgs[len(msgs)-1].Link(setPasswordPrefix)
	if link == "" {
		t.Fatalf("mail to %s has no link:\n%s", email, msgs[len(msgs)-1].Text)
	}
	return linkPath(t, link)
}

func issueReset(t *testing.T, e *portaltest.Env, c db.Contact) {
	t.Helper()
	err := e.Store.Write(e.Ctx, func(tx *db.Tx) error {
		_, err := tx.IssueLink(e.Ctx, db.LinkRequest{Contact: c, Purpose: db.PurposeReset, TTL: db.ResetLinkTTL})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func setPassword(b *portaltest.Browser, path, password string) portaltest.Response {
	b.Get("/forgot-password") // a page with a form, for the CSRF token even when the link is invalid
	b.Get(path)
	return b.PostForm(path, url.Values{"password": {password}, "confirm": {password}})
}

func TestAdminResetEndToEnd(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		admin := e.Login(e.admin.Email)
		if resp := admin.Get("/reset-password"); resp.StatusCode != http.StatusOK || !hasTestID(t, resp.Body, "reset-password-form") {
			t.Fatalf("GET /reset-password: got %d, want 200 with the form", resp.StatusCode)
		}
		resp := admin.PostForm("/reset-password", url.Values{"email": {strings.ToUpper(e.member.Email)}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /reset-password: got %d, want 303; body: %s", resp.StatusCode, resp.Body)
		}
		page := admin.Get(resp.Header.Get("Location"))
		if got, want := testID(t, page.Body, "alert-success"), handlers.ResetSentMessage(e.member.Email); got != want {
			t.Errorf("got confirmation %q, want %q", got, want)
		}
		if want := "A password reset link has been sent to lukasz@northwind.example. The link is valid for 12 hours."; handlers.ResetSentMessage(e.member.Email) != want {
			t.Errorf("got confirmation %q, want %q", handlers.ResetSentMessage(e.member.Email), want)
		}

		path := mailedLink(t, e.Env, e.member.Email)
		msg := e.SMTP.MessagesTo(e.member.Email)[0]
		if !strings.Contains(msg.Text, "Maria Anders, a contact admin of your organization") ||
			!strings.Contains(msg.Text, "If you don't want a new password, ignore this email") || strings.Contains(msg.Text, "did not ask") {
			t.Errorf("mail doesn't say who asked, or says the reader may not have:\n%s", msg.Text)
		}
		visitor := e.Browser()
		for i := range 2 { // opening the link (a mail scanner, then the person) doesn't use it up
			resp := visitor.Get(path)
			if resp.StatusCode != http.StatusOK || !hasTestID(t, resp.Body, "set-password-form") {
				t.Fatalf("GET link #%d: got %d, want 200 with the form", i+1, resp.StatusCode)
			}
			if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("got Referrer-Policy %q, want no-referrer", got)
			}
			if got := testID(t, resp.Body, "set-password-user"); got != e.member.Email {
				t.Errorf("got user name %q, want %q", got, e.member.Email)
			}
		}
		resp = visitor.PostForm(path, url.Values{"password": {newPassword}, "confirm": {newPassword}})
		if resp.StatusCode != http.StatusOK || !hasTestID(t, resp.Body, "password-set") {
			t.Fatalf("POST link: got %d, want 200 with the success page; body: %s", resp.StatusCode, resp.Body)
		}
		if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("POST: got Referrer-Policy %q, want no-referrer", got)
		}
		if visitor.Cookie(e.Cookies().Session) != nil {
			t.Error("setting the password signed the visitor in")
		}
		if resp := e.Browser().Login(e.member.Email, portaltest.Password); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("old password: got %d, want 401", resp.StatusCode)
		}
		if resp := e.Browser().Login(e.member.Email, newPassword); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("new password: got %d, want 303", resp.StatusCode)
		}
		again := e.Browser()
		if resp := again.Get(path); resp.StatusCode != http.StatusGone || !hasTestID(t, resp.Body, "link-invalid") {
			t.Errorf("used link: got %d, want 410 with the invalid-link page", resp.StatusCode)
		}
		if resp := setPassword(again, path, "another fine long passphrase"); resp.StatusCode != http.StatusGone {
			t.Errorf("used link POST: got %d, want 410", resp.StatusCode)
		}
		// The notice that the password changed.
		e.DeliverMail()
		msgs := e.SMTP.MessagesTo(e.member.Email)
		if got, want := msgs[len(msgs)-1].Subject(), "Your Customer Support Portal password was changed"; got != want {
			t.Errorf("got last mail %q, want %q", got, want)
		}
		for action, want := range map[string]int{db.ActionResetRequested: 1, db.ActionLinkUsed: 1, db.ActionPasswordChanged: 1} {
			if n, _ := e.check.CountAudit(e.Ctx, action, e.member.ID); n != want {
				t.Errorf("got %d %s events, want %d", n, action, want)
			}
		}
	})
}

func TestAdminResetRefusals(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		child := e.Account("Northwind Logistics", &e.account)
		other := e.Account("Contoso Pharma", nil)
		childAdmin := e.Contact(child, "Hiroshi", "Tanaka", "hiroshi@northwind.example", db.RoleContactAdmin)
		outside := e.Contact(other, "Olga", "Ivanova", "olga@contoso.example")
		parentMember := e.member
		locked := e.Contact(child, "Søren", "Nielsen", "soren@northwind.example")
		lockDirectly(t, e.Env, locked.ID)
		err := e.Store.Write(e.Ctx, func(tx *db.Tx) error { // invited, no password yet
			_, err := tx.CreateContact(e.Ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: child.ID,
				FirstName: "Ines", LastName: "Dubois", Email: "ines@northwind.example"}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name, admin, email, wantError string
		}{
			{"empty", childAdmin.Email, "", "Enter the user name"},
			{"not an email", childAdmin.Email, "soren", "Enter the user name"},
			{"unknown", childAdmin.Email, "nobody@northwind.example", "None of your contacts has the user name nobody@northwind.example."},
			{"other company", e.admin.Email, outside.Email, "None of your contacts has the user name olga@contoso.example."},
			{"parent account", childAdmin.Email, parentMember.Email, "None of your contacts has the user name lukasz@northwind.example."},
			{"locked", e.admin.Email, locked.Email, "Søren Nielsen is locked out, so no reset link was sent."},
			{"no password yet", e.admin.Email, "ines@northwind.example",
				"Ines Dubois has not set a password yet, so no reset link was sent. Resend the invitation from their page instead."},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b := e.Login(tt.admin)
				resp := b.PostForm("/reset-password", url.Values{"email": {tt.email}})
				if resp.StatusCode != http.StatusUnprocessableEntity {
					t.Fatalf("got %d, want 422", resp.StatusCode)
				}
				if got := testID(t, resp.Body, "reset-password-error"); !strings.HasPrefix(got, tt.wantError) {
					t.Errorf("got error %q, want it to start with %q", got, tt.wantError)
				}
			})
		}
		if all, _ := e.check.AllMail(e.Ctx); len(all) != 0 {
			t.Errorf("got %d mails queued, want none", len(all))
		}
		e.DeliverMail()
		if n := len(e.SMTP.Messages()); n != 0 {
			t.Errorf("got %d mails received, want none", n)
		}
		if resp := e.Login(e.member.Email).Get("/reset-password"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("contact without the admin role: got %d, want 403", resp.StatusCode)
		}
	})
}

func TestForgotPasswordAnswersTheSameAndSendsAtMostThreeAnHour(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		login := e.Browser().Get("/login")
		if !hasTestID(t, login.Body, "forgot-password-link") {
			t.Fatal("login page has no Forgot password? link")
		}
		ask := func(email string) portaltest.Response {
			b := e.Browser()
			b.Get("/forgot-password")
			return b.PostForm("/forgot-password", url.Values{"email": {email}})
		}
		normalize := func(body, email string) string {
			return csrfValue.ReplaceAllString(strings.ReplaceAll(body, email, "EMAIL"), "CSRF")
		}
		known := ask(e.member.Email)
		unknown := ask("nobody@northwind.example")
		if known.StatusCode != http.StatusOK || unknown.StatusCode != http.StatusOK {
			t.Fatalf("got %d and %d, want 200 for both", known.StatusCode, unknown.StatusCode)
		}
		if a, b := normalize(known.Body, e.member.Email), normalize(unknown.Body, "nobody@northwind.example"); a != b {
			t.Errorf("known and unknown addresses get different pages:\n%s\n---\n%s", a, b)
		}
		if !hasTestID(t, known.Body, "forgot-sent") {
			t.Errorf("no confirmation on the page: %s", known.Body)
		}
		e.DeliverMail()
		if got := len(e.SMTP.Messages()); got != 1 || len(e.SMTP.MessagesTo(e.member.Email)) != 1 {
			t.Fatalf("got %d mails, want 1 to %s", got, e.member.Email)
		}
		if text := e.SMTP.MessagesTo(e.member.Email)[0].Text; !strings.Contains(text, "If you did not ask for it, ignore this email") {
			t.Errorf("the self-service reset mail doesn't say what to do if you did not ask:\n%s", text)
		}
		for i := 2; i <= 4; i++ {
			e.Clock.Advance(time.Minute)
			if resp := ask(e.member.Email); normalize(resp.Body, e.member.Email) != normalize(known.Body, e.member.Email) {
				t.Errorf("request %d: got a different page", i)
			}
			// Delivered one by one: a link queued behind a newer one is dropped, not sent.
			e.DeliverMail()
		}
		if got := len(e.SMTP.MessagesTo(e.member.Email)); got != 3 {
			t.Errorf("after 4 requests within an hour got %d mails, want 3", got)
		}
		e.Clock.Advance(time.Hour)
		ask(e.member.Email)
		e.DeliverMail()
		if got := len(e.SMTP.MessagesTo(e.member.Email)); got != 4 {
			t.Errorf("an hour later got %d mails, want 4", got)
		}
	})
}

func TestForgotPasswordSendsNothingToAdminLockedButHelpsAutoLocked(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--lockout-threshold", "3"}})
		adminLocked := e.Contact(e.account, "Ann", "Lee", "ann@northwind.example")
		lockDirectly(t, e.Env, adminLocked.ID)
		for range 3 {
			e.Browser().Login(e.member.Email, "not the password at all")
		}
		if c := e.Reload(e.member); c.LockReason != db.LockedByFailedLogins {
			t.Fatalf("got lock reason %q, want %q", c.LockReason, db.LockedByFailedLogins)
		}
		for _, email := range []string{adminLocked.Email, e.member.Email} {
			b := e.Browser()
			b.Get("/forgot-password")
			if resp := b.PostForm("/forgot-password", url.Values{"email": {email}}); !hasTestID(t, resp.Body, "forgot-sent") {
				t.Errorf("%s: got %d without the confirmation", email, resp.StatusCode)
			}
		}
		e.DeliverMail()
		if n := len(e.SMTP.MessagesTo(adminLocked.Email)); n != 0 {
			t.Errorf("contact locked by an admin got %d mails, want none", n)
		}
		path := mailedLink(t, e.Env, e.member.Email)
		if resp := setPassword(e.Browser(), path, newPassword); !hasTestID(t, resp.Body, "password-set") {
			t.Fatalf("auto-locked contact can't set a password: %d %s", resp.StatusCode, resp.Body)
		}
		if c := e.Reload(e.member); c.Locked() || c.FailedLogins != 0 {
			t.Errorf("got status %s with %d failures, want active with 0", c.Status, c.FailedLogins)
		}
		if n, _ := e.check.CountAudit(e.Ctx, db.ActionUnlockedByReset, e.member.ID); n != 1 {
			t.Errorf("got %d %s events, want 1", n, db.ActionUnlockedByReset)
		}
		if resp := e.Browser().Login(e.member.Email, newPassword); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("login after the reset: got %d, want 303", resp.StatusCode)
		}
	})
}

func TestLinkOfContactLockedByAdminCantBeUsed(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		issueReset(t, e.Env, e.member)
		path := mailedLink(t, e.Env, e.member.Email)
		lockDirectly(t, e.Env, e.member.ID)
		b := e.Browser()
		if resp := b.Get(path); resp.StatusCode != http.StatusGone {
			t.Errorf("GET: got %d, want 410", resp.StatusCode)
		}
		if resp := setPassword(b, path, newPassword); resp.StatusCode != http.StatusGone {
			t.Errorf("POST: got %d, want 410", resp.StatusCode)
		}
		if resp := e.Browser().Login(e.member.Email, portaltest.Password); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("locked contact logs in: got %d, want 401", resp.StatusCode)
		}
	})
}

func TestLinkValidForTwelveHoursExactly(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		issueReset(t, e.Env, e.member)
		path := mailedLink(t, e.Env, e.member.Email)
		b := e.Browser()
		e.Clock.Advance(db.ResetLinkTTL)
		if resp := b.Get(path); resp.StatusCode != http.StatusOK {
			t.Errorf("at 12 h: got %d, want 200", resp.StatusCode)
		}
		e.Clock.Advance(time.Second)
		if resp := b.Get(path); resp.StatusCode != http.StatusGone || !hasTestID(t, resp.Body, "link-invalid-forgot") {
			t.Errorf("at 12 h + 1 s: got %d, want 410 offering Forgot password?", resp.StatusCode)
		}
		if resp := setPassword(b, path, newPassword); resp.StatusCode != http.StatusGone {
			t.Errorf("POST at 12 h + 1 s: got %d, want 410", resp.StatusCode)
		}

		// Setting the password at the last valid second works.
		issueReset(t, e.Env, e.member)
		path = mailedLink(t, e.Env, e.member.Email)
		b.Get(path)
		e.Clock.Advance(db.ResetLinkTTL)
		if resp := b.PostForm(path, url.Values{"password": {newPassword}, "confirm": {newPassword}}); resp.StatusCode != http.StatusOK {
			t.Errorf("POST at 12 h: got %d, want 200", resp.StatusCode)
		}
	})
}

func TestNewerLinkVoidsOlderAndPasswordChangeVoidsAll(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		issueReset(t, e.Env, e.member)
		older := mailedLink(t, e.Env, e.member.Email)
		issueReset(t, e.Env, e.member)
		newer := mailedLink(t, e.Env, e.member.Email)
		if older == newer {
			t.Fatal("two links are the same")
		}
		if resp := e.Browser().Get(older); resp.StatusCode != http.StatusGone {
			t.Errorf("older link: got %d, want 410", resp.StatusCode)
		}
		if resp := e.Browser().Get(newer); resp.StatusCode != http.StatusOK {
			t.Errorf("newer link: got %d, want 200", resp.StatusCode)
		}
		// A password set another way (here the command line's path) voids every open link.
		hash, _ := e.Hasher.Hash(e.Ctx, newPassword)
		if err := e.Store.Write(e.Ctx, func(tx *db.Tx) error { return tx.SetPassword(e.Ctx, e.member.ID, hash, false) }); err != nil {
			t.Fatal(err)
		}
		if resp := e.Browser().Get(newer); resp.StatusCode != http.StatusGone {
			t.Errorf("link after a password change: got %d, want 410", resp.StatusCode)
		}
	})
}

func TestConcurrentSubmitsUseTheLinkOnce(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		issueReset(t, e.Env, e.member)
		path := mailedLink(t, e.Env, e.member.Email)
		const n = 4
		browsers := make([]*portaltest.Browser, n)
		for i := range browsers {
			browsers[i] = e.Browser()
			browsers[i].Get(path)
		}
		passwords := []string{"first long passphrase here", "second long passphrase here", "third long passphrase here", "fourth long passphrase here"}
		statuses := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range browsers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				statuses[i] = browsers[i].PostForm(path, url.Values{"password": {passwords[i]}, "confirm": {passwords[i]}}).StatusCode
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, s := range statuses {
			switch s {
			case http.StatusOK:
				if winner >= 0 {
					t.Errorf("submits %d and %d both succeeded", winner, i)
				}
				winner = i
			case http.StatusGone:
			default:
				t.Errorf("submit %d: got %d, want 200 or 410", i, s)
			}
		}
		if winner < 0 {
			t.Fatalf("no submit succeeded: %v", statuses)
		}
		if resp := e.Browser().Login(e.member.Email, passwords[winner]); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("the winner's password doesn't log in: %d", resp.StatusCode)
		}
		if n, _ := e.check.CountAudit(e.Ctx, db.ActionPasswordChanged, e.member.ID); n != 1 {
			t.Errorf("got %d password changes, want 1", n)
		}
	})
}

func TestDatabaseHoldsNoRawToken(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		issueReset(t, e.Env, e.member)
		path := mailedLink(t, e.Env, e.member.Email)
		raw := strings.TrimPrefix(path, "/set-password/")
		if len(raw) != 43 {
			t.Fatalf("got a token of %d characters, want 43 (32 bytes, base64url)", len(raw))
		}
		e.Browser().Get(path)
		for _, file := range []string{e.Config.DBPath, e.Config.DBPath + "-wal"} {
			data, err := os.ReadFile(file)
			if err != nil {
				continue // no WAL file after a checkpoint
			}
			if bytes.Contains(data, []byte(raw)) {
				t.Errorf("%s holds the raw token", file)
			}
		}
		var count int
		all, _ := e.check.AllMail(e.Ctx)
		for _, m := range all {
			if strings.Contains(m.LastError+m.ToName+m.AboutName, raw) {
				count++
			}
		}
		if count != 0 {
			t.Errorf("the outbox holds the raw token in %d rows", count)
		}
	})
}

func TestSettingPasswordEndsSessions(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		signedIn := e.Login(e.member.Email)
		if resp := signedIn.Get("/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("home: got %d, want 200", resp.StatusCode)
		}
		issueReset(t, e.Env, e.member)
		path := mailedLink(t, e.Env, e.member.Email)
		if resp := setPassword(e.Browser(), path, newPassword); resp.StatusCode != http.StatusOK {
			t.Fatalf("set password: got %d, want 200", resp.StatusCode)
		}
		if n, _ := e.check.CountSessions(e.Ctx, e.member.ID); n != 0 {
			t.Errorf("got %d sessions, want 0", n)
		}
		if resp := signedIn.Get("/"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("old session: got %d to %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

func TestSetPasswordRefusesBadPasswordsAndKeepsTheLink(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		issueReset(t, e.Env, e.member)
		path := mailedLink(t, e.Env, e.member.Email)
		tests := []struct {
			name, password, confirm, want string
		}{
			{"empty", "", "", "Enter a new password."},
			{"different", newPassword, newPassword + "x", "The two passwords are not the same."},
			{"short", "short one", "short one", "Use at least 15 characters."},
			{"common", "password123456789", "password123456789", "This password is too common"},
			{"own name", "kowalski forever and ever", "kowalski forever and ever", "The password must not contain your name"},
		}
		b := e.Browser()
		b.Get(path)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp := b.PostForm(path, url.Values{"password": {tt.password}, "confirm": {tt.confirm}})
				if resp.StatusCode != http.StatusUnprocessableEntity {
					t.Fatalf("got %d, want 422", resp.StatusCode)
				}
				if got := testID(t, resp.Body, "set-password-error"); !strings.HasPrefix(got, tt.want) {
					t.Errorf("got %q, want it to start with %q", got, tt.want)
				}
			})
		}
		if resp := setPassword(b, path, newPassword); resp.StatusCode != http.StatusOK {
			t.Errorf("a good password after refusals: got %d, want 200", resp.StatusCode)
		}
	})
}

func TestChangePasswordMailsTheSignedInContactALink(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Login(e.member.Email)
		if home := b.Get("/"); !hasTestID(t, home.Body, "change-password") {
			t.Fatal("home page has no Change password")
		}
		for i := 1; i <= 4; i++ {
			resp := b.PostForm("/change-password", nil)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/profile/password" {
				t.Fatalf("request %d: got %d to %q, want 303 to /profile/password", i, resp.StatusCode, resp.Header.Get("Location"))
			}
			home := b.Get("/profile/password")
			if i <= contacts.MaxLinksPerHour {
				if got, want := testID(t, home.Body, "alert-success"), handlers.ResetSentMessage(e.member.Email); got != want {
					t.Errorf("request %d: got %q, want %q", i, got, want)
				}
			} else if got := testID(t, home.Body, "alert-error"); !strings.Contains(got, "in the last hour") {
				t.Errorf("request %d: got %q, want the hourly limit explained", i, got)
			}
			e.DeliverMail()
		}
		if got := len(e.SMTP.MessagesTo(e.member.Email)); got != contacts.MaxLinksPerHour {
			t.Errorf("got %d mails, want %d", got, contacts.MaxLinksPerHour)
		}
		if resp := e.Browser().PostForm("/change-password", nil); resp.StatusCode == http.StatusOK {
			t.Error("signed out: Change password answered 200")
		}
	})
}

func TestSendResetLinkFromAContactsPage(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		other := e.Account("Contoso Pharma", nil)
		outside := e.Contact(other, "Olga", "Ivanova", "olga@contoso.example")
		locked := e.Contact(e.account, "Ann", "Lee", "ann@northwind.example")
		lockDirectly(t, e.Env, locked.ID)
		admin := e.Login(e.admin.Email)
		admin.Get("/")

		resp := admin.PostForm("/contacts/"+itoa(e.member.ID)+"/reset-link", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/contacts/"+itoa(e.member.ID) {
			t.Fatalf("got %d to %q, want 303 to the contact's page", resp.StatusCode, resp.Header.Get("Location"))
		}
		if got, want := testID(t, admin.Get("/").Body, "alert-success"), handlers.ResetSentMessage(e.member.Email); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if resp := admin.PostForm("/contacts/"+itoa(outside.ID)+"/reset-link", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("outside the scope: got %d, want 404", resp.StatusCode)
		}
		admin.PostForm("/contacts/"+itoa(locked.ID)+"/reset-link", nil)
		if got := testID(t, admin.Get("/").Body, "alert-error"); !strings.Contains(got, "locked out") {
			t.Errorf("locked contact: got %q, want it refused", got)
		}
		e.DeliverMail()
		if got := len(e.SMTP.Messages()); got != 1 || len(e.SMTP.MessagesTo(e.member.Email)) != 1 {
			t.Errorf("got %d mails, want 1 to %s", got, e.member.Email)
		}
	})
}

func TestResendInvitation(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		var newbie db.Contact
		err := e.Store.Write(e.Ctx, func(tx *db.Tx) error {
			id, err := tx.CreateContact(e.Ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: e.account.ID, FirstName: "Nina", LastName: "Berg", Email: "nina@northwind.example"}})
			if err != nil {
				return err
			}
			newbie = db.Contact{ID: id, AccountID: e.account.ID, FirstName: "Nina", LastName: "Berg", Email: "nina@northwind.example"}
			_, err = tx.IssueLink(e.Ctx, db.LinkRequest{Contact: newbie, Purpose: db.PurposeInvite, TTL: e.Config.InviteTTL})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		first := mailedLink(t, e.Env, newbie.Email)
		invitation := func() contacts.Page {
			actor, err := e.App.Contacts().Admin(e.Ctx, e.admin, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			p, err := e.App.Contacts().Page(e.Ctx, actor, newbie.ID)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		if p := invitation(); !p.InvitationPending || p.Invitation.MailStatus != db.MailSent {
			t.Fatalf("got invitation %+v, pending %v; want pending and sent", p.Invitation, p.InvitationPending)
		}
		e.Clock.Advance(e.Config.InviteTTL + time.Second)
		if invitation().InvitationPending {
			t.Error("invitation still pending after its link expired")
		}

		admin := e.Login(e.admin.Email)
		admin.Get("/")
		admin.PostForm("/contacts/"+itoa(newbie.ID)+"/invitation", nil)
		if got, want := testID(t, admin.Get("/").Body, "alert-success"), handlers.InvitationSentMessage(newbie.Email, e.Config.InviteTTL); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if want := "A set-your-password link has been sent to nina@northwind.example. The link is valid for 7 days."; handlers.InvitationSentMessage(newbie.Email, e.Config.InviteTTL) != want {
			t.Errorf("got %q, want %q", handlers.InvitationSentMessage(newbie.Email, e.Config.InviteTTL), want)
		}
		second := mailedLink(t, e.Env, newbie.Email)
		if resp := e.Browser().Get(first); resp.StatusCode != http.StatusGone {
			t.Errorf("first invitation link: got %d, want 410", resp.StatusCode)
		}
		resp := e.Browser().Get(second)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "Set your password") {
			t.Errorf("second invitation link: got %d, want 200 with Set your password", resp.StatusCode)
		}
		if resp := setPassword(e.Browser(), second, newPassword); resp.StatusCode != http.StatusOK {
			t.Fatalf("set password: got %d", resp.StatusCode)
		}
		admin.PostForm("/contacts/"+itoa(newbie.ID)+"/invitation", nil)
		if got := testID(t, admin.Get("/").Body, "alert-error"); !strings.Contains(got, "has already set a password") {
			t.Errorf("got %q, want a refusal", got)
		}
	})
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// TestPasswordsAreTheSameHoweverTheyAreTyped is issue 14's item 9: the composed and the
// decomposed spelling of the same passphrase (NFC and NFD, as different keyboards and
// systems send them) were different passwords.
func TestPasswordsAreTheSameHoweverTheyAreTyped(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		issueReset(t, e.Env, e.member)
		path := mailedLink(t, e.Env, e.member.Email)
		decomposed, composed := "Zoe\u0308 walks S\u030Ckoda along the fjord", "Zoë walks Škoda along the fjord"
		if resp := setPassword(e.Browser(), path, decomposed); resp.StatusCode != http.StatusOK {
			t.Fatalf("set password: got %d: %.300s", resp.StatusCode, resp.Body)
		}
		if resp := e.Browser().Login(e.member.Email, composed); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("login with the composed spelling: got %d, want 303", resp.StatusCode)
		}
		if resp := e.Browser().Login(e.member.Email, decomposed); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("login with the decomposed spelling: got %d, want 303", resp.StatusCode)
		}
	})
}
