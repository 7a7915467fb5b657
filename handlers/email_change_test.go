package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portal/db"
	"portal/portaltest"
)

const (
	confirmEmailPrefix = "https://portal.example.test/confirm-email/"
	cancelEmailPrefix  = "https://portal.example.test/cancel-email-change/"
)

// mailedPath delivers the outbox and returns the path of the newest link under prefix in the
// mail to email.
func mailedPath(t *testing.T, e *portaltest.Env, email, prefix string) string {
	t.Helper()
	e.DeliverMail()
	msgs := e.SMTP.MessagesTo(email)
	for i := len(msgs) - 1; i >= 0; i-- {
		if link := msgs[i].Link(prefix); link != "" {
			return strings.TrimPrefix(link, "https://portal.example.test")
		}
	}
	t.Fatalf("no mail to %s with a link under %s (got %d mails)", email, prefix, len(msgs))
	return ""
}

// useLink opens a link's page in a fresh browser and submits the form it shows (with the
// CSRF token of the login page when the link's page has no form).
func useLink(e *portaltest.Env, path string) portaltest.Response {
	b := e.Browser()
	b.Get("/login")
	b.Get(path)
	return b.PostForm(path, nil)
}

// changeEmail posts the Edit contact form of c with a new email.
func changeEmail(t *testing.T, e *portaltest.Env, admin *portaltest.Browser, c db.Contact, email string) portaltest.Response {
	t.Helper()
	c = e.Reload(c)
	v := editFormOf(c, editVersion(t, admin, c.ID)) // as the form shows it
	v.Set("email", email)
	return admin.PostForm("/contacts/"+itoa(c.ID), v)
}

// TestAdminCantSilentlyTakeOverAContact is issue 14's repro of a takeover: admin A changed
// admin B's email to their own, and the change took effect at once, told nobody and left
// B's sessions alive. Now it waits for the new address, B is told with a link that cancels
// it, and when it takes effect B's sessions end and B's open links are voided.
func TestAdminCantSilentlyTakeOverAContact(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		peer := e.Contact(e.account, "Bea", "Berg", "bea@northwind.example", db.RoleContactAdmin)
		victim := e.Login(peer.Email)
		issueReset(t, e.Env, peer)
		oldLink := mailedLink(t, e.Env, peer.Email)

		admin := e.Login(e.admin.Email)
		resp := changeEmail(t, e.Env, admin, peer, "attacker@example.test")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("edit: got %d, want 303: %.300s", resp.StatusCode, resp.Body)
		}
		if got := e.Reload(peer).Email; got != "bea@northwind.example" {
			t.Errorf("email right after the edit: got %q, want the old one until the new address confirms", got)
		}
		page := admin.Get("/contacts/" + itoa(peer.ID))
		if got := testText(t, page.Body, "alert-success"); !strings.Contains(got, "A confirmation link has been sent to attacker@example.test") {
			t.Errorf("confirmation: got %q", got)
		}
		if got := testText(t, page.Body, "email-change"); !strings.Contains(got, "Email change pending") || !strings.Contains(got, "attacker@example.test") {
			t.Errorf("contact page: got %q, want Email change pending with the new address", got)
		}
		if resp := victim.Get("/"); resp.StatusCode != http.StatusOK {
			t.Errorf("B's session before the change takes effect: got %d, want 200", resp.StatusCode)
		}
		// A reset link asked for the new address goes nowhere: it is nobody's user name yet.
		admin.PostForm("/reset-password", url.Values{"email": {"attacker@example.test"}})
		e.DeliverMail()
		for _, m := range e.SMTP.MessagesTo("attacker@example.test") {
			if m.Link(setPasswordPrefix) != "" {
				t.Fatal("a password link went to the new address before it was confirmed")
			}
		}

		// The old address is told at once, with a link that cancels the change.
		notice := e.SMTP.MessagesTo(peer.Email)
		if len(notice) == 0 || !strings.Contains(notice[len(notice)-1].Text, "attacker@example.test") ||
			notice[len(notice)-1].Link(cancelEmailPrefix) == "" {
			t.Fatalf("old address: got %d mails, want a notice naming the new address with a cancel link", len(notice))
		}

		// Opening the confirmation link changes nothing (mail scanners open links)...
		confirm := mailedPath(t, e.Env, "attacker@example.test", confirmEmailPrefix)
		attacker := e.Browser()
		if resp := attacker.Get(confirm); resp.StatusCode != http.StatusOK || e.Reload(peer).Email != peer.Email {
			t.Fatalf("GET confirmation: got %d and email %q, want 200 and no change", resp.StatusCode, e.Reload(peer).Email)
		}
		// ...confirming it does, ends B's sessions and voids B's open links.
		if resp := attacker.PostForm(confirm, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("POST confirmation: got %d, want 200: %.300s", resp.StatusCode, resp.Body)
		}
		if got := e.Reload(peer).Email; got != "attacker@example.test" {
			t.Errorf("email after the confirmation: got %q", got)
		}
		if resp := victim.Get("/"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("B's session after the change: got %d, want 303 to the login page", resp.StatusCode)
		}
		if resp := e.Browser().Get(oldLink); resp.StatusCode != http.StatusGone {
			t.Errorf("B's reset link after the change: got %d, want 410", resp.StatusCode)
		}
		if resp := attacker.PostForm(confirm, nil); resp.StatusCode != http.StatusGone {
			t.Errorf("confirmation used twice: got %d, want 410", resp.StatusCode)
		}
		for _, action := range []string{db.ActionEmailChangeRequested, db.ActionEmailChangeConfirmed} {
			if n, _ := e.Check().CountAudit(e.Ctx, action, peer.ID); n != 1 {
				t.Errorf("audit %s: got %d rows, want 1", action, n)
			}
		}
	})
}

func TestEmailChangeCancelledFromTheOldAddress(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		admin := e.Login(e.admin.Email)
		changeEmail(t, e.Env, admin, e.member, "lukasz.new@northwind.example")
		cancel := mailedPath(t, e.Env, e.member.Email, cancelEmailPrefix)
		confirm := mailedPath(t, e.Env, "lukasz.new@northwind.example", confirmEmailPrefix)

		owner := e.Browser()
		if resp := owner.Get(cancel); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET cancel: got %d, want 200", resp.StatusCode)
		}
		if resp := owner.PostForm(cancel, nil); resp.StatusCode != http.StatusOK || testText(t, resp.Body, "email-change-cancelled") == "" {
			t.Fatalf("POST cancel: got %d: %.300s", resp.StatusCode, resp.Body)
		}
		if resp := useLink(e.Env, confirm); resp.StatusCode != http.StatusGone {
			t.Errorf("confirmation after the cancel: got %d, want 410", resp.StatusCode)
		}
		if got := e.Reload(e.member).Email; got != e.member.Email {
			t.Errorf("email: got %q, want it unchanged", got)
		}
		if page := admin.Get("/contacts/" + itoa(e.member.ID)); testText(t, page.Body, "email-change") != "" {
			t.Error("contact page still shows a pending change after it was cancelled")
		}
	})
}

// TestEmailChangeAnswersTheSameForAnAddressInUse is issue 14's oracle: the edit answered 422
// when the address was anyone's in the portal and 303 when not. Now both answer the same; an
// address in use fails only when it is confirmed, with a clear message, changing nothing.
func TestEmailChangeAnswersTheSameForAnAddressInUse(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		other := e.Account("Contoso Pharma", nil)
		e.Contact(other, "Olga", "Ivanova", "olga@contoso.example")
		admin := e.Login(e.admin.Email)

		free := changeEmail(t, e.Env, admin, e.member, "nobody@example.test")
		freePage := testText(t, admin.Get("/contacts/"+itoa(e.member.ID)).Body, "alert-success")
		taken := changeEmail(t, e.Env, admin, e.member, "OLGA@contoso.example")
		takenPage := testText(t, admin.Get("/contacts/"+itoa(e.member.ID)).Body, "alert-success")
		if free.StatusCode != taken.StatusCode || free.StatusCode != http.StatusSeeOther {
			t.Errorf("status: free address %d, address in use %d; want both 303", free.StatusCode, taken.StatusCode)
		}
		if strings.ReplaceAll(freePage, "nobody@example.test", "X") != strings.ReplaceAll(takenPage, "OLGA@contoso.example", "X") {
			t.Errorf("answers differ:\n free: %q\ntaken: %q", freePage, takenPage)
		}
		confirm := mailedPath(t, e.Env, "olga@contoso.example", confirmEmailPrefix)
		resp := useLink(e.Env, confirm)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(testText(t, resp.Body, "email-in-use"), "another portal account") {
			t.Errorf("confirming an address in use: got %d: %.300s", resp.StatusCode, resp.Body)
		}
		if got := e.Reload(e.member).Email; got != e.member.Email {
			t.Errorf("email: got %q, want it unchanged", got)
		}
	})
}

func TestAdminResendsAndCancelsAnEmailChange(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		admin := e.Login(e.admin.Email)
		changeEmail(t, e.Env, admin, e.member, "lukasz.new@northwind.example")
		first := mailedPath(t, e.Env, "lukasz.new@northwind.example", confirmEmailPrefix)
		e.Clock.Advance(db.EmailChangeTTL + time.Second)
		if resp := e.Browser().Get(first); resp.StatusCode != http.StatusGone {
			t.Errorf("confirmation after 24 h: got %d, want 410", resp.StatusCode)
		}
		admin = e.Login(e.admin.Email) // the session of a day ago has ended
		page := admin.Get("/contacts/" + itoa(e.member.ID))
		if !strings.Contains(testText(t, page.Body, "email-change-status"), "not confirmed in time") {
			t.Errorf("expired change on the page: got %q", testText(t, page.Body, "email-change-status"))
		}
		admin.PostForm("/contacts/"+itoa(e.member.ID)+"/email-change/resend", nil)
		second := mailedPath(t, e.Env, "lukasz.new@northwind.example", confirmEmailPrefix)
		if second == first {
			t.Fatal("Resend sent the same link")
		}
		admin.PostForm("/contacts/"+itoa(e.member.ID)+"/email-change/cancel", nil)
		if resp := useLink(e.Env, second); resp.StatusCode != http.StatusGone {
			t.Errorf("confirmation after Cancel: got %d, want 410", resp.StatusCode)
		}
		if got := e.Reload(e.member).Email; got != e.member.Email {
			t.Errorf("email: got %q, want it unchanged", got)
		}
	})
}

// TestLinksPerContactAreLimited is issue 14's mail relay: invitations and reset links could
// be resent without limit. Every way of mailing a contact a link shares one hourly limit.
func TestLinksPerContactAreLimited(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		admin := e.Login(e.admin.Email)
		resp := admin.PostForm("/contacts", createForm(e.account, "Nina", "Berg", "nina@northwind.example"))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create: got %d", resp.StatusCode)
		}
		nina, err := e.Store.ContactByEmail(e.Ctx, "nina@northwind.example")
		if err != nil {
			t.Fatal(err)
		}
		e.DeliverMail()
		invitation := "/contacts/" + itoa(nina.ID) + "/invitation"
		for i := 2; i <= 4; i++ { // the first invitation went out with the create
			admin.PostForm(invitation, nil)
			e.DeliverMail()
			page := admin.Get("/contacts/" + itoa(nina.ID))
			refused := testText(t, page.Body, "alert-error")
			if i <= 3 && refused != "" || i == 4 && !strings.Contains(refused, "in the last hour") {
				t.Errorf("invitation %d: got refusal %q", i, refused)
			}
		}
		if got := len(e.SMTP.MessagesTo("nina@northwind.example")); got != 3 {
			t.Errorf("mails to nina: got %d, want 3", got)
		}
		// A new email's confirmation would be a fourth link to her: refused, naming the
		// address the links went to, and nothing of the edit saved.
		resp = changeEmail(t, e.Env, admin, nina, "nina.berg@northwind.example")
		problem := testText(t, resp.Body, "form-problem")
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(problem, "sent to nina@northwind.example in the last hour") ||
			!strings.Contains(problem, "Nothing was saved") {
			t.Errorf("email change over the limit: %d %q", resp.StatusCode, problem)
		}
		if got := e.Reload(nina); got.Email != "nina@northwind.example" {
			t.Errorf("email after the refused change: %q", got.Email)
		}
		e.Clock.Advance(time.Hour + time.Second)
		admin = e.Login(e.admin.Email)
		admin.PostForm(invitation, nil)
		e.DeliverMail()
		if got := len(e.SMTP.MessagesTo("nina@northwind.example")); got != 4 {
			t.Errorf("mails to nina an hour later: got %d, want 4", got)
		}
	})
}

// TestMailsStartWithoutAdminText: names are typed by admins, so neither the subject nor the
// first line of a mail carries one.
func TestMailsStartWithoutAdminText(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		admin := e.Login(e.admin.Email)
		admin.PostForm("/contacts", createForm(e.account, "Your account is blocked,", "call +1 555 0100 now", "nina@northwind.example"))
		e.DeliverMail()
		msgs := e.SMTP.MessagesTo("nina@northwind.example")
		if len(msgs) != 1 {
			t.Fatalf("got %d mails, want the invitation", len(msgs))
		}
		first, _, _ := strings.Cut(msgs[0].Text, "\n")
		if strings.Contains(msgs[0].Subject(), "blocked") || strings.Contains(first, "blocked") || strings.Contains(first, "555") {
			t.Errorf("subject %q, first line %q: want no admin text in either", msgs[0].Subject(), first)
		}
	})
}

// TestLastAdminRuleCountsOnlyAdminsWhoCanSignIn is issue 14's item 11: an admin invited but
// without a password counted as active, so the last admin who can sign in could be locked.
func TestLastAdminRuleCountsOnlyAdminsWhoCanSignIn(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		child := e.Account("Northwind Retail", &e.account)
		childAdmin := e.Contact(child, "Søren", "Nielsen", "soren@northwind.example", db.RoleContactAdmin)
		admin := e.Login(e.admin.Email)
		v := createForm(child, "Nina", "Berg", "nina@northwind.example")
		v.Set("role", string(db.RoleContactAdmin))
		if resp := admin.PostForm("/contacts", v); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create invited admin: got %d", resp.StatusCode)
		}
		resp := admin.PostForm("/contacts/"+itoa(childAdmin.ID)+"/lock", nil)
		if resp.StatusCode != http.StatusSeeOther || e.Reload(childAdmin).Locked() {
			t.Errorf("locking the last admin who can sign in: got %d, locked %v; want refused", resp.StatusCode, e.Reload(childAdmin).Locked())
		}
	})
}

// TestCreateWithAnEmailOutsideTheScope: the sentence of SPEC 3.2 and nothing else, audited,
// and Create is throttled per admin so that it is no fast oracle.
func TestCreateWithAnEmailOutsideTheScope(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		other := e.Account("Contoso Pharma", nil)
		e.Contact(other, "Olga", "Ivanova", "olga@contoso.example")
		admin := e.Login(e.admin.Email)
		resp := admin.PostForm("/contacts", createForm(e.account, "Olga", "Ivanova", "olga@contoso.example"))
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(testText(t, resp.Body, "form-problem"), "contact customer support") {
			t.Fatalf("got %d: %q", resp.StatusCode, testText(t, resp.Body, "form-problem"))
		}
		if n, _ := e.Check().CountAudit(e.Ctx, db.ActionCreateRefused, 0); n != 1 {
			t.Errorf("audit create_refused: got %d rows, want 1", n)
		}
		throttled := 0
		for i := 0; i < 40; i++ {
			if r := admin.PostForm("/contacts", createForm(e.account, "Olga", "Ivanova", "olga@contoso.example")); r.StatusCode == http.StatusTooManyRequests {
				throttled++
			}
		}
		if throttled == 0 {
			t.Error("40 creates in a row were never throttled")
		}
	})
}

// TestAStaleFormDoesNotReplaceAnotherAdminsEmailChange: two admins open Edit contact; the
// first asks for a new email, which waits for its confirmation. The second form, filled
// before that, asks for another one: it is refused as stale, with the form as it is now, and
// the first change still waits, its link still good.
func TestAStaleFormDoesNotReplaceAnotherAdminsEmailChange(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		bruno := e.Contact(e.account, "Bruno", "Second", "bruno@northwind.example", db.RoleContactAdmin)
		maria, second := e.Login(e.admin.Email), e.Login(bruno.Email)
		stale := editFormOf(e.member, editVersion(t, maria, e.member.ID))

		if resp := changeEmail(t, e.Env, second, e.member, "lukasz.new@northwind.example"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the first change: %d", resp.StatusCode)
		}
		stale.Set("email", "lukasz.other@northwind.example")
		resp := maria.PostForm("/contacts/"+itoa(e.member.ID), stale)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(resp.Body, "Someone else changed this contact") {
			t.Fatalf("the stale form: %d; %.300s", resp.StatusCode, resp.Body)
		}
		if got := testText(t, resp.Body, "email-pending"); !strings.Contains(got, "A change to lukasz.new@northwind.example is waiting") {
			t.Errorf("the refreshed form says %q about the waiting change", got)
		}
		if got := testText(t, maria.Get("/contacts/"+itoa(e.member.ID)+"/edit").Body, "email-pending"); !strings.Contains(got, "lukasz.new@northwind.example") {
			t.Errorf("Edit contact says %q about the waiting change", got)
		}
		if resp := useLink(e.Env, mailedPath(t, e.Env, "lukasz.new@northwind.example", confirmEmailPrefix)); resp.StatusCode != http.StatusOK {
			t.Fatalf("the first change's confirmation: %d", resp.StatusCode)
		}
		if got := e.Reload(e.member).Email; got != "lukasz.new@northwind.example" {
			t.Errorf("email %q, want the first change's", got)
		}
		if n := len(e.SMTP.MessagesTo("lukasz.other@northwind.example")); n != 0 {
			t.Errorf("%d mails to the stale form's address, want none", n)
		}
	})
}
