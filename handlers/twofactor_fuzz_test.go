package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pquerna/otp/totp"

	"portal/contacts"
	"portal/db"
	"portal/portaltest"
)

// FuzzSecondStepCode types anything into the code fields of the second step (the
// authenticator app's and the recovery code's): the answer is the page again with why
// (422), or a throttle (429), never a 5xx and never a sign-in, since no fuzzed value is the
// app's current code or a recovery code of the contact.
func FuzzSecondStepCode(f *testing.F) {
	for _, seed := range []string{"", "123456", "000000", " 123 456 ", "12345", "1234567", "１２３４５６", "-", "abcd-efgh-jkmn-pqrs",
		"0000-0000-0000-0000", "OOOO-IIII-LLLL-oooo", strings.Repeat("9", 5000), "\x00\xff", "<script>", "1e6", "٣٣٣٣٣٣"} {
		f.Add(seed)
	}
	// Generous limits: the fuzzer tries more codes per second than any person, and the
	// throttles and lockout have tests of their own.
	env := portaltest.New(f, portaltest.Options{Args: []string{"--lockout-threshold", "100",
		"--login-throttle-burst", "1000000", "--login-throttle-interval", "1ns"}})
	acc := env.Account("Northwind Traders", nil)
	member := env.Contact(acc, "Łukasz", "Kowalski", "lukasz@northwind.example")
	rules, me := env.App.Contacts(), contacts.Actor{Contact: member}
	if err := rules.StartApp(env.Ctx, me); err != nil {
		f.Fatal(err)
	}
	setup, err := rules.AppSetup(env.Ctx, me)
	if err != nil {
		f.Fatal(err)
	}
	code, err := totp.GenerateCode(setup.Secret, env.Clock.Now())
	if err != nil {
		f.Fatal(err)
	}
	if _, err := rules.ConfirmApp(env.Ctx, me, code); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, code string) {
		// A new sign-in for each value, its failures forgotten: the lockout is not under test.
		if err := env.Store.Write(env.Ctx, func(tx *db.Tx) error {
			return tx.RecordLoginSuccess(env.Ctx, member.ID, member.AccountID, "", "192.0.2.9")
		}); err != nil {
			t.Fatal(err)
		}
		b := env.Browser().For(t)
		if resp := b.Login(member.Email, portaltest.Password); resp.Header.Get("Location") != "/login/two-step" {
			t.Fatalf("password step: status %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		for _, path := range []string{"/login/two-step", "/login/recovery-code"} {
			resp := b.PostForm(path, url.Values{"code": {code}})
			switch resp.StatusCode {
			case http.StatusUnprocessableEntity, http.StatusTooManyRequests:
			default:
				t.Fatalf("POST %s with code %q: status %d, want 422 or 429", path, code, resp.StatusCode)
			}
			if b.Cookie(env.Cookies().Session) != nil {
				t.Fatalf("POST %s with code %q signed the contact in", path, code)
			}
		}
	})
}
