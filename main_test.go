package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"portal/db"
	"portal/db/dbtest"
	"portal/db/testdb"
	"portal/portaltest"
)

type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, func(string) string { return "" })
	return cliResult{code, out.String(), errOut.String()}
}

func TestCLI(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		testCLI(t, engine)
	})
}

func testCLI(t *testing.T, engine portaltest.Engine) {
	dbPath := testdb.New(t, engine)
	steps := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantOutput string // in stdout on success, stderr on failure
	}{
		{"add a top-level account", "", []string{"account", "add", "Northwind Traders", "--db", dbPath}, 0, `Account "Northwind Traders" created`},
		{"add a child account, flags first", "", []string{"account", "add", "--db", dbPath, "--parent", "Northwind Traders", "Northwind Retail"}, 0, `Account "Northwind Retail" created`},
		{"unknown parent", "", []string{"account", "add", "Lost", "--parent", "Nowhere", "--db", dbPath}, 1, `parent account "Nowhere" does not exist`},
		{"duplicate account, other case", "", []string{"account", "add", "northwind traders", "--db", dbPath}, 1, "already exists"},
		{"no account name", "", []string{"account", "add", "--db", dbPath}, 1, "give exactly one account NAME"},
		{"admin with password from stdin", "glacier umber copper raven\n", []string{"contact", "add", "--db", dbPath,
			"--account", "Northwind Traders", "--email", "maria@northwind.example", "--first", "Maria", "--last", "Anders",
			"--role", "contact-admin", "--role", "incident-contact", "--password-stdin"}, 0, "Contact Maria Anders <maria@northwind.example> created"},
		{"contact without password", "", []string{"contact", "add", "--db", dbPath, "--account", "Northwind Retail",
			"--email", "zoe@northwind.example", "--first", "Zoë", "--last", "Ærø"}, 0, "A set-your-password email (link valid 7 days) is queued"},
		{"duplicate email, other case", "glacier umber copper raven\n", []string{"contact", "add", "--db", dbPath,
			"--account", "Northwind Traders", "--email", "MARIA@northwind.example", "--first", "M", "--last", "A", "--password-stdin"}, 1, "already exists"},
		{"short password", "short pass\n", []string{"contact", "add", "--db", dbPath, "--account", "Northwind Traders",
			"--email", "anna@northwind.example", "--first", "Anna", "--last", "K", "--password-stdin"}, 1, "at least 15 characters"},
		{"password of two lines", "glacier umber copper raven\nsecond line\n", []string{"contact", "add", "--db", dbPath, "--account", "Northwind Traders",
			"--email", "anna@northwind.example", "--first", "Anna", "--last", "K", "--password-stdin"}, 1, "more than one line"},
		{"password with the account name", "northwind forever and ever\n", []string{"contact", "add", "--db", dbPath, "--account", "Northwind Traders",
			"--email", "anna@northwind.example", "--first", "Anna", "--last", "K", "--password-stdin"}, 1, "organization"},
		{"unknown role", "", []string{"contact", "add", "--db", dbPath, "--account", "Northwind Traders",
			"--email", "anna@northwind.example", "--first", "Anna", "--last", "K", "--role", "superuser"}, 1, `unknown role "superuser"`},
		{"unknown account", "", []string{"contact", "add", "--db", dbPath, "--account", "Nowhere",
			"--email", "anna@northwind.example", "--first", "Anna", "--last", "K"}, 1, `account "Nowhere" does not exist`},
		{"bad email and missing names", "", []string{"contact", "add", "--db", dbPath, "--account", "Northwind Traders",
			"--email", "not-an-email"}, 1, "valid email address"},
		{"unknown command", "", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"a command group without its command", "", []string{"contact"}, 2, `portal contact: say what to do`},
		{"a database that can't be reached", "", []string{"account", "add", "X", "--db", "postgres://portal@127.0.0.1:1/nowhere?sslmode=disable"},
			1, "cannot reach the database"},
		{"a command group's help", "", []string{"account", "-h"}, 0, "portal account add NAME"},
		{"bad server flag", "", []string{"serve", "--lockout-threshold", "101", "--db", dbPath}, 1, "want a number from 1 to 100"},
		{"bad smtp tls", "", []string{"serve", "--smtp-tls", "maybe", "--db", dbPath}, 1, "want none, starttls or tls"},
	}
	for _, s := range steps {
		got := runCLI(t, s.stdin, s.args...)
		if got.code != s.wantCode {
			t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", s.name, got.code, s.wantCode, got.stdout, got.stderr)
		}
		where := got.stdout
		if s.wantCode != 0 {
			where = got.stderr
		}
		if !strings.Contains(where, s.wantOutput) {
			t.Errorf("%s: output %q, want it to contain %q", s.name, where, s.wantOutput)
		}
	}

	store, err := db.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	maria, err := store.ContactByEmail(ctx, "maria@northwind.example")
	if err != nil {
		t.Fatal(err)
	}
	if !maria.HasPassword || !maria.IsAdmin() || !maria.HasRole(db.RoleIncidentContact) || maria.AccountName != "Northwind Traders" {
		t.Errorf("maria = %+v, want an admin and incident contact of Northwind Traders with a password", maria)
	}
	zoe, err := store.ContactByEmail(ctx, "zoe@northwind.example")
	if err != nil {
		t.Fatal(err)
	}
	if zoe.HasPassword || len(zoe.Roles) != 0 || zoe.FirstName != "Zoë" {
		t.Errorf("zoe = %+v, want no password, no roles, first name Zoë", zoe)
	}
	if _, err := store.ContactByEmail(ctx, "anna@northwind.example"); err == nil {
		t.Error("anna was stored although every attempt was refused")
	}
	queued := dbtest.Open(t, dbPath)
	for _, c := range []db.Contact{maria, zoe} {
		mails, err := queued.MailTo(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if c.ID == zoe.ID {
			want = 1
		}
		if len(mails) != want || (want == 1 && mails[0].Kind != db.MailInvite) {
			t.Errorf("%s: got %d mails queued (%+v), want %d invitation", c.Email, len(mails), mails, want)
		}
	}
	sc, err := store.ScopeOf(ctx, zoe.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	page, err := store.ContactPage(ctx, sc, zoe.ID, db.SessionLimits{})
	if tok := page.Invitation.Token; err != nil || tok.TTL() != 7*24*time.Hour {
		t.Errorf("zoe's invitation: got %+v, %v; want a link valid 7 days", tok, err)
	}
	store.Close()

	// The portal started on that database sends the invitation.
	env := portaltest.New(t, portaltest.Options{Engine: engine, Args: []string{"--db", dbPath}})
	env.Clock.Advance(time.Since(env.Clock.Now())) // the command line queued it on the wall clock
	env.DeliverMail()
	msgs := env.SMTP.MessagesTo("zoe@northwind.example")
	if len(msgs) != 1 || msgs[0].Subject() != "Set your password for the Customer Support Portal" ||
		msgs[0].Link("https://portal.example.test/set-password/") == "" {
		t.Errorf("got %d mails to zoe (%+v), want the invitation with its link", len(msgs), msgs)
	}
}

// TestBackupWritesAConsistentCopy: SQLite only, as portal backup is (PostgreSQL is backed
// up with pg_dump).
func TestBackupWritesAConsistentCopy(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "portal.db")
	if r := runCLI(t, "", "account", "add", "Northwind Traders", "--db", dbPath); r.code != 0 {
		t.Fatal(r.stderr)
	}
	backup := filepath.Join(dir, "copy.db")
	if r := runCLI(t, "", "backup", backup, "--db", dbPath); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, r.stderr)
	}
	if r := runCLI(t, "", "backup", backup, "--db", dbPath); r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("backup over an existing file: exit %d %q, want 1 and a refusal", r.code, r.stderr)
	}
	raw, err := sql.Open("sqlite3", backup)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var check, name string
	if err := raw.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check of the copy = %q, %v; want ok", check, err)
	}
	if err := raw.QueryRow(`SELECT name FROM accounts`).Scan(&name); err != nil || name != "Northwind Traders" {
		t.Fatalf("account in the copy = %q, %v; want Northwind Traders", name, err)
	}
}
