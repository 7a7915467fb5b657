package main

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"portal/contacts"
	"portal/db"
	"portal/portaltest"
	"portal/secrets"
)

// withApp gives member an authenticator app through the rules and returns its key.
func withApp(t *testing.T, e *portaltest.Env, member db.Contact) string {
	t.Helper()
	rules, me := e.App.Contacts(), contacts.Actor{Contact: member}
	if err := rules.StartApp(e.Ctx, me); err != nil {
		t.Fatal(err)
	}
	setup, err := rules.AppSetup(e.Ctx, me)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(setup.Secret, e.Clock.Now())
	if _, err := rules.ConfirmApp(e.Ctx, me, code); err != nil {
		t.Fatal(err)
	}
	return setup.Secret
}

// For an organization whose last admin lost every factor, the operator resets it from the
// shell, through the same rules as an admin's reset.
func TestCLIResetsTwoStepVerification(t *testing.T) {
	e := portaltest.New(t)
	acc := e.Account("Northwind Traders", nil)
	admin := e.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
	withApp(t, e, admin)
	path := e.Config.DBPath

	r := runCLI(t, "", "contact", "reset-2fa", "MARIA@northwind.example", "--db", path)
	if r.code != 0 || !strings.Contains(r.stdout, "Two-step verification of Maria Anders <maria@northwind.example> reset") {
		t.Fatalf("reset-2fa: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if e.Reload(admin).TwoFactor {
		t.Error("the contact still has two-step verification")
	}
	check := e.Check()
	if n, _ := check.CountAudit(e.Ctx, db.ActionTwoFactorReset, admin.ID); n != 1 {
		t.Errorf("two_factor_reset events: %d, want 1", n)
	}
	if mail, _ := check.MailTo(e.Ctx, admin.ID); len(mail) != 1 || mail[0].Kind != db.MailTwoFactorReset {
		t.Errorf("mail to the contact: %v, want one two_factor_reset", mail)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"contact", "reset-2fa", "maria@northwind.example", "--db", path}, "has no two-step verification to reset"},
		{[]string{"contact", "reset-2fa", "nobody@northwind.example", "--db", path}, `no contact has the user name "nobody@northwind.example"`},
		{[]string{"contact", "reset-2fa", "--db", path}, "give exactly one EMAIL"},
		{[]string{"contact", "reset-2fa", "not an email", "--db", path}, "is not an email address"},
	} {
		if r := runCLI(t, "", tc.args...); r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// Rotating the secrets key: the new key first in the file, rotate, then the old key can go
// and every secret still opens.
func TestCLIRotatesTheSecretsKey(t *testing.T) {
	e := portaltest.New(t)
	acc := e.Account("Northwind Traders", nil)
	member := e.Contact(acc, "Łukasz", "Kowalski", "lukasz@northwind.example")
	secret := withApp(t, e, member)
	keyFile := e.Config.SecretsKeyFile
	old, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("the key file beside the database: %v", err)
	}
	newKey := secrets.NewKeyLine()

	if err := os.WriteFile(keyFile, []byte(newKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "", "secrets", "rotate", "--db", e.Config.DBPath); r.code != 1 || !strings.Contains(r.stderr, "nothing was changed") {
		t.Errorf("rotate without the old key: exit %d, stderr %q; want 1 and nothing changed", r.code, r.stderr)
	}

	if err := os.WriteFile(keyFile, append([]byte(newKey+"\n"), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "secrets", "rotate", "--db", e.Config.DBPath)
	if r.code != 0 || !strings.Contains(r.stdout, "1 secrets sealed again") {
		t.Fatalf("rotate: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, "", "secrets", "rotate", "--db", e.Config.DBPath); r.code != 0 || !strings.Contains(r.stdout, "0 secrets sealed again") {
		t.Errorf("second rotate: exit %d, stdout %q; want nothing left to do", r.code, r.stdout)
	}

	if err := os.WriteFile(keyFile, []byte(newKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.Load(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rules := contacts.New(e.Store, e.Hasher, slog.New(slog.NewTextHandler(io.Discard, nil)), contacts.Settings{Secrets: keys})
	code, _ := totp.GenerateCode(secret, e.Clock.Now().Add(30*time.Second))
	e.Clock.Advance(30 * time.Second)
	if err := rules.Reauthenticate(e.Ctx, contacts.Actor{Contact: e.Reload(member)}, code); err != nil {
		t.Errorf("a code from the app after the old key went: %v, want it accepted", err)
	}
}
