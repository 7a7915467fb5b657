package mail_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"portal/config"
	"portal/db"
	"portal/db/dbtest"
	"portal/mail"
	"portal/portaltest"
)

const linkPrefix = "https://portal.example.test/set-password/"

func issueLink(t *testing.T, env *portaltest.Env, c db.Contact, purpose string, ttl time.Duration) {
	t.Helper()
	err := env.Store.Write(env.Ctx, func(tx *db.Tx) error {
		_, err := tx.IssueLink(env.Ctx, db.LinkRequest{Contact: c, Purpose: purpose, TTL: ttl})
		return err
	})
	if err != nil {
		t.Fatalf("issue %s link: %v", purpose, err)
	}
}

// allMail is env's whole outbox, oldest first.
func allMail(t *testing.T, env *portaltest.Env) []db.OutboxMail {
	t.Helper()
	all, err := dbtest.Open(t, env.Config.DBPath).AllMail(env.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func outboxStatuses(t *testing.T, env *portaltest.Env) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, m := range allMail(t, env) {
		n[m.Status]++
	}
	return n
}

func TestLinkMailArrivesWithBothPartsAndMessageID(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		env := portaltest.New(t, portaltest.Options{Engine: engine})
		acc := env.Account("Northwind Traders", nil)
		anna := env.Contact(acc, "Zoë", "Ærø", "zoe@northwind.example")
		issueLink(t, env, anna, db.PurposeReset, db.ResetLinkTTL)

		if r := env.DeliverMail(); r.Sent != 1 {
			t.Fatalf("got %+v, want 1 sent", r)
		}
		msgs := env.SMTP.Messages()
		if len(msgs) != 1 {
			t.Fatalf("got %d messages, want 1", len(msgs))
		}
		m := msgs[0]
		if got, want := m.To, []string{"zoe@northwind.example"}; len(got) != 1 || got[0] != want[0] {
			t.Errorf("got recipients %v, want %v", got, want)
		}
		if got, want := m.Subject(), "Reset your password for the Customer Support Portal"; got != want {
			t.Errorf("got subject %q, want %q", got, want)
		}
		link := m.Link(linkPrefix)
		if link == "" {
			t.Fatalf("no link under %s in text part:\n%s", linkPrefix, m.Text)
		}
		if first, _, _ := strings.Cut(m.Text, "\n"); strings.TrimSpace(first) != "Hello," {
			t.Errorf("first line %q, want a greeting that names nobody", first)
		}
		for _, want := range []string{"valid for 12 hours", "22 Nov 2026, 21:00 UTC"} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("text part lacks %q:\n%s", want, m.Text)
			}
		}
		if !strings.Contains(m.HTML, `href="`+link+`"`) {
			t.Errorf("HTML part lacks the link:\n%s", m.HTML)
		}
		all := allMail(t, env)
		if got, want := m.Header.Get("Message-Id"), "<"+all[0].ID+"@portal.example.test>"; got != want {
			t.Errorf("got Message-ID %q, want %q (the outbox id)", got, want)
		}
		if got := outboxStatuses(t, env); got[db.MailSent] != 1 || got[db.MailQueued] != 0 {
			t.Errorf("got outbox %v, want 1 sent", got)
		}
		// The database holds the token's hash only.
		tok, err := env.Store.TokenByRaw(env.Ctx, strings.TrimPrefix(link, linkPrefix))
		if err != nil || tok.ContactID != anna.ID {
			t.Errorf("got token %+v, %v; want one of contact %d", tok, err, anna.ID)
		}
	})
}

func TestOutageLosesNothingAndDeliversOnce(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		env := portaltest.New(t, portaltest.Options{Engine: engine})
		acc := env.Account("Northwind Traders", nil)
		var contacts []db.Contact
		for _, email := range []string{"a@northwind.example", "b@northwind.example", "c@northwind.example"} {
			contacts = append(contacts, env.Contact(acc, "Ann", "Lee", email))
		}
		env.SMTP.Stop()
		for _, c := range contacts {
			issueLink(t, env, c, db.PurposeReset, db.ResetLinkTTL)
		}
		if r := env.DeliverMail(); r.Retried != 3 || r.Sent != 0 {
			t.Fatalf("during the outage got %+v, want 3 retried", r)
		}
		if got := outboxStatuses(t, env); got[db.MailQueued] != 3 {
			t.Fatalf("got outbox %v, want 3 still queued", got)
		}
		// Not yet due again: nothing happens before the backoff has passed.
		env.SMTP.Start()
		if r := env.DeliverMail(); r != (mail.Result{}) {
			t.Fatalf("before the retry is due got %+v, want nothing done", r)
		}
		env.Clock.Advance(mail.FirstRetry)
		if r := env.DeliverMail(); r.Sent != 3 {
			t.Fatalf("after the outage got %+v, want 3 sent", r)
		}
		env.Clock.Advance(time.Hour)
		env.DeliverMail()
		for _, c := range contacts {
			got := env.SMTP.MessagesTo(c.Email)
			if len(got) != 1 {
				t.Errorf("%s got %d messages, want exactly 1", c.Email, len(got))
			}
		}
		all := allMail(t, env)
		for _, m := range all {
			if m.Attempts != 2 || m.Status != db.MailSent {
				t.Errorf("mail %s: got %d attempts, status %s; want 2, sent", m.ID, m.Attempts, m.Status)
			}
		}
	})
}

func TestExpiredLinkIsGivenUpNotSent(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		env := portaltest.New(t, portaltest.Options{Engine: engine})
		acc := env.Account("Northwind Traders", nil)
		anna := env.Contact(acc, "Anna", "Kowalski", "anna@northwind.example")
		env.SMTP.Stop()
		issueLink(t, env, anna, db.PurposeReset, db.ResetLinkTTL)
		env.DeliverMail()
		env.Clock.Advance(db.ResetLinkTTL + time.Second)
		env.SMTP.Start()
		if r := env.DeliverMail(); r.GivenUp != 1 || r.Sent != 0 {
			t.Fatalf("got %+v, want 1 given up", r)
		}
		if n := len(env.SMTP.Messages()); n != 0 {
			t.Errorf("got %d messages, want none", n)
		}
		if got := outboxStatuses(t, env); got[db.MailGivenUp] != 1 {
			t.Errorf("got outbox %v, want 1 given up", got)
		}
		if n, _ := dbtest.Open(t, env.Config.DBPath).CountAudit(env.Ctx, db.ActionMailGivenUp, anna.ID); n != 1 {
			t.Errorf("got %d %s events, want 1", n, db.ActionMailGivenUp)
		}
	})
}

func TestNewerLinkSupersedesQueuedOlderOne(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		env := portaltest.New(t, portaltest.Options{Engine: engine})
		acc := env.Account("Northwind Traders", nil)
		anna := env.Contact(acc, "Anna", "Kowalski", "anna@northwind.example")
		issueLink(t, env, anna, db.PurposeReset, db.ResetLinkTTL)
		issueLink(t, env, anna, db.PurposeReset, db.ResetLinkTTL)
		if r := env.DeliverMail(); r.Sent != 1 || r.Superseded != 1 {
			t.Fatalf("got %+v, want 1 sent and 1 superseded", r)
		}
	})
}

func TestHeaderInjectionThroughANameAddsNoHeader(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		env := portaltest.New(t, portaltest.Options{Engine: engine})
		acc := env.Account("Northwind Traders", nil)
		// The forms refuse control characters; a name written straight into the database must
		// still not reach a header unencoded.
		eve := env.Contact(acc, "Eve\r\nBcc: x@evil.test", "Smith\nX-Injected: yes", "eve@northwind.example")
		issueLink(t, env, eve, db.PurposeReset, db.ResetLinkTTL)
		env.DeliverMail()
		msgs := env.SMTP.Messages()
		if len(msgs) != 1 {
			t.Fatalf("got %d messages, want 1", len(msgs))
		}
		m := msgs[0]
		if got := m.To; len(got) != 1 || got[0] != "eve@northwind.example" {
			t.Errorf("got envelope recipients %v, want only eve@northwind.example", got)
		}
		for _, h := range []string{"Bcc", "X-Injected"} {
			if v := m.Header.Get(h); v != "" {
				t.Errorf("got header %s: %q, want none", h, v)
			}
		}
		headers, _, _ := strings.Cut(string(m.Raw), "\r\n\r\n")
		for _, line := range strings.Split(headers, "\r\n") {
			if strings.HasPrefix(strings.ToLower(line), "bcc:") || strings.HasPrefix(strings.ToLower(line), "x-injected:") {
				t.Errorf("got header line %q", line)
			}
		}
		if !strings.Contains(m.Header.Get("To"), "eve@northwind.example") {
			t.Errorf("got To %q, want eve's address", m.Header.Get("To"))
		}
	})
}

func TestBackoffGrowsWithJitterUpToTheCap(t *testing.T) {
	tests := []struct {
		attempt  int
		jitter   float64
		min, max time.Duration
	}{
		{1, 0, 15 * time.Second, 15 * time.Second},
		{1, 0.999, 15 * time.Second, 30 * time.Second},
		{2, 0, 30 * time.Second, 30 * time.Second},
		{3, 0.5, 60 * time.Second, 120 * time.Second},
		{20, 0, mail.MaxRetry / 2, mail.MaxRetry / 2},
		{20, 0.999, mail.MaxRetry / 2, mail.MaxRetry},
	}
	for _, tt := range tests {
		got := mail.Backoff(tt.attempt, tt.jitter)
		if got < tt.min || got > tt.max {
			t.Errorf("Backoff(%d, %v): got %s, want between %s and %s", tt.attempt, tt.jitter, got, tt.min, tt.max)
		}
	}
}

func TestLogSenderWritesTheWholeMessage(t *testing.T) {
	var buf bytes.Buffer
	cfg := config.Config{BaseURL: "https://portal.example.test", SMTP: config.SMTP{From: "portal@example.test"}}
	s := mail.NewSender(cfg, slog.New(slog.NewTextHandler(&buf, nil)))
	if _, ok := s.(*mail.LogSender); !ok {
		t.Fatalf("got %T, want *mail.LogSender without an SMTP host", s)
	}
	err := s.Send(context.Background(), mail.Message{ID: "abc", ToName: "Anna\r\nBcc: x", ToEmail: "anna@example.test",
		Subject: "Reset", Text: "open https://portal.example.test/set-password/TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"anna@example.test", "set-password/TOKEN", "<abc@portal.example.test>"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestAutoLockNoticeGoesToAdminsInScope(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		env := portaltest.New(t, portaltest.Options{Engine: engine, Args: []string{"--lockout-threshold", "3"}})
		parent := env.Account("Northwind Traders", nil)
		child := env.Account("Northwind Logistics", &parent)
		other := env.Account("Contoso Pharma", nil)
		parentAdmin := env.Contact(parent, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
		childAdmin := env.Contact(child, "Hiroshi", "Tanaka", "hiroshi@northwind.example", db.RoleContactAdmin)
		siblingAdmin := env.Contact(env.Account("Northwind Retail", &parent), "Léa", "Rossi", "lea@northwind.example", db.RoleContactAdmin)
		otherAdmin := env.Contact(other, "Olga", "Ivanova", "olga@contoso.example", db.RoleContactAdmin)
		env.Contact(child, "Plain", "User", "plain@northwind.example")
		victim := env.Contact(child, "Søren", "Nielsen", "soren@northwind.example")

		b := env.Browser()
		for range 3 {
			if resp := b.Login(victim.Email, "wrong password entirely"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("login: got %d, want 401", resp.StatusCode)
			}
		}
		if !env.Reload(victim).Locked() {
			t.Fatal("victim not locked")
		}
		env.DeliverMail()
		for _, c := range []db.Contact{parentAdmin, childAdmin} {
			msgs := env.SMTP.MessagesTo(c.Email)
			if len(msgs) != 1 {
				t.Errorf("%s got %d notices, want 1", c.Email, len(msgs))
				continue
			}
			m := msgs[0]
			if got, want := m.Subject(), "A colleague was locked out of the Customer Support Portal"; got != want {
				t.Errorf("got subject %q, want %q", got, want)
			}
			if !strings.Contains(m.Text, "Søren Nielsen") {
				t.Errorf("notice does not name the locked colleague:\n%s", m.Text)
			}
			want := "https://portal.example.test/contacts/" + strconv.FormatInt(victim.ID, 10)
			if m.Link(want) != want {
				t.Errorf("notice lacks link %s:\n%s", want, m.Text)
			}
		}
		for _, c := range []db.Contact{siblingAdmin, otherAdmin, victim} {
			if n := len(env.SMTP.MessagesTo(c.Email)); n != 0 {
				t.Errorf("%s got %d notices, want none", c.Email, n)
			}
		}
		// A fourth failure changes nothing: the lock, and its notice, happen once.
		b.Login(victim.Email, "wrong password entirely")
		if r := env.DeliverMail(); r.Sent != 0 {
			t.Errorf("after a further failure got %+v, want nothing sent", r)
		}
	})
}

func TestWorkerRunSendsWhenPokedAndStopsCleanly(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		env := portaltest.New(t, portaltest.Options{Engine: engine})
		acc := env.Account("Northwind Traders", nil)
		anna := env.Contact(acc, "Anna", "Kowalski", "anna@northwind.example")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			env.App.Mail().Run(ctx)
			close(done)
		}()
		issueLink(t, env, anna, db.PurposeInvite, 7*24*time.Hour)
		m := env.SMTP.WaitFor(1, 10*time.Second)[0]
		if got, want := m.Subject(), "Set your password for the Customer Support Portal"; got != want {
			t.Errorf("got subject %q, want %q", got, want)
		}
		if !strings.Contains(m.Text, "valid for 7 days") {
			t.Errorf("invitation lacks its validity:\n%s", m.Text)
		}
		cancel()
		<-done
	})
}

func TestShutdownFinishesTheMessageInHand(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		env := portaltest.New(t, portaltest.Options{Engine: engine})
		acc := env.Account("Northwind Traders", nil)
		anna := env.Contact(acc, "Anna", "Kowalski", "anna@northwind.example")
		ben := env.Contact(acc, "Ben", "Okafor", "ben@northwind.example")
		holding := env.SMTP.Hold()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			env.App.Mail().Run(ctx)
			close(done)
		}()
		issueLink(t, env, anna, db.PurposeReset, db.ResetLinkTTL)
		issueLink(t, env, ben, db.PurposeReset, db.ResetLinkTTL)
		<-holding // the worker is in the middle of sending the first mail
		cancel()  // SIGTERM
		env.SMTP.Release()
		<-done
		if n := len(env.SMTP.Messages()); n != 1 {
			t.Fatalf("got %d messages, want the one in hand", n)
		}
		if got := outboxStatuses(t, env); got[db.MailSent] != 1 || got[db.MailQueued] != 1 {
			t.Errorf("got outbox %v, want 1 sent and 1 still queued for the next start", got)
		}
		// The next start sends the rest.
		if r := env.DeliverMail(); r.Sent != 1 {
			t.Errorf("after restart got %+v, want 1 sent", r)
		}
	})
}

func TestPruneKeepsQueuedMailAndRecentHistory(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		env := portaltest.New(t, portaltest.Options{Engine: engine})
		acc := env.Account("Northwind Traders", nil)
		anna := env.Contact(acc, "Anna", "Kowalski", "anna@northwind.example")
		ben := env.Contact(acc, "Ben", "Okafor", "ben@northwind.example")
		issueLink(t, env, anna, db.PurposeReset, db.ResetLinkTTL)
		env.DeliverMail() // anna's is sent
		env.SMTP.Stop()
		issueLink(t, env, ben, db.PurposeInvite, 200*24*time.Hour)
		env.DeliverMail() // ben's waits
		env.Clock.Advance(mail.KeepMail + time.Hour)
		if _, err := env.Store.PruneMail(env.Ctx, env.Clock.Now().Add(-mail.KeepMail)); err != nil {
			t.Fatal(err)
		}
		all := allMail(t, env)
		if len(all) != 1 || all[0].ToContactID != ben.ID || all[0].Status != db.MailQueued {
			t.Fatalf("got %+v, want only ben's queued mail", all)
		}
		env.SMTP.Start()
		if r := env.DeliverMail(); r.Sent != 1 {
			t.Errorf("got %+v, want ben's mail sent after the prune", r)
		}
	})
}

func TestStartTLSModeSendsNothingInTheClear(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		env := portaltest.New(t, portaltest.Options{Engine: engine, Args: []string{"--smtp-tls", "starttls"}})
		acc := env.Account("Northwind Traders", nil)
		anna := env.Contact(acc, "Anna", "Kowalski", "anna@northwind.example")
		issueLink(t, env, anna, db.PurposeReset, db.ResetLinkTTL)
		// The test server offers no STARTTLS: the mail must wait, not go out unencrypted.
		if r := env.DeliverMail(); r.Retried != 1 || r.Sent != 0 {
			t.Fatalf("got %+v, want 1 retried", r)
		}
		if n := len(env.SMTP.Messages()); n != 0 {
			t.Errorf("got %d messages over a plain connection, want none", n)
		}
		all := allMail(t, env)
		if len(all) != 1 || !strings.Contains(strings.ToLower(all[0].LastError), "tls") {
			t.Errorf("got %+v, want the TLS failure recorded", all)
		}
	})
}

// TestSenderNameFromTheOperator: mail comes from the portal's name, unless --smtp-from
// gives a display name of its own.
func TestSenderNameFromTheOperator(t *testing.T) {
	for _, tc := range []struct {
		from, wantName, wantAddress string
	}{
		{"", "Customer Support Portal", ""},
		{"Northwind IT <it@northwind.example>", "Northwind IT", "it@northwind.example"},
	} {
		var args []string
		if tc.from != "" {
			args = []string{"--smtp-from", tc.from}
		}
		env := portaltest.New(t, portaltest.Options{Args: args})
		acc := env.Account("Northwind Traders", nil)
		zoe := env.Contact(acc, "Zoë", "Ærø", "zoe@northwind.example")
		issueLink(t, env, zoe, db.PurposeReset, db.ResetLinkTTL)
		if r := env.DeliverMail(); r.Sent != 1 {
			t.Fatalf("%q: got %+v, want 1 sent", tc.from, r)
		}
		from, err := env.SMTP.Messages()[0].Header.AddressList("From")
		if err != nil || len(from) != 1 || from[0].Name != tc.wantName || tc.wantAddress != "" && from[0].Address != tc.wantAddress {
			t.Errorf("--smtp-from %q: From %v (%v), want %q <%s>", tc.from, from, err, tc.wantName, tc.wantAddress)
		}
	}
}
