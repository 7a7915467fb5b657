package handlers_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"portal/portaltest"
)

// Guessing one contact's password from many addresses gets past any per-address limit; each
// failure in a row makes the next attempt on that user name wait longer, whoever sends it,
// up to the cap, and still every failure is counted.
func TestFailedLoginsSlowTheNextAttemptOnThatName(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		const first, most = 50 * time.Millisecond, 200 * time.Millisecond
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--trusted-proxies", appTestPeer + "/32",
			"--login-backoff", first.String(), "--login-backoff-max", most.String()}})
		attempt := func(i int, email, password string) (int, time.Duration) {
			b := e.Browser()
			b.Get("/login")
			start := time.Now()
			resp := loginVia(b, []string{fmt.Sprintf("203.0.113.%d", i)}, email, password) // a new address each time
			return resp.StatusCode, time.Since(start)
		}
		for i, wait := range []time.Duration{0, first, 2 * first, most, most} {
			status, took := attempt(i+1, e.member.Email, "a wrong password")
			if status != http.StatusUnauthorized {
				t.Fatalf("wrong login %d: status %d, want 401", i+1, status)
			}
			if took < wait {
				t.Errorf("wrong login %d answered after %v, want at least %v", i+1, took, wait)
			}
		}
		if got := e.Reload(e.member).FailedLogins; got != 5 {
			t.Errorf("failed logins counted %d, want 5", got)
		}
		// The right password waits its turn too (the answer can't be cut short to learn it), then
		// signs in.
		status, took := attempt(6, e.member.Email, portaltest.Password)
		if status != http.StatusSeeOther || took < most {
			t.Errorf("right password after 5 failures: status %d after %v, want 303 after at least %v", status, took, most)
		}
		// A name nobody has is slowed the same way, so the delay tells nothing about who exists.
		for i, wait := range []time.Duration{0, first, 2 * first} {
			status, took := attempt(10+i, "nobody@northwind.example", "a wrong password")
			if status != http.StatusUnauthorized || took < wait {
				t.Errorf("unknown user name, attempt %d: status %d after %v, want 401 after at least %v", i+1, status, took, wait)
			}
		}
	})
}
