package handlers_test

import (
	"fmt"
	"net/http"
	"runtime"
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

// A sign-in waiting out its back-off holds no turn (throttle.Turns): however many wait at
// once, the pages of signed-in contacts answer meanwhile. Before, a few attempts on one name
// from a few addresses held every turn and stalled every page for the length of the wait.
func TestSignInsWaitingOutABackOffHoldUpNoPage(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		const backoff = 3 * time.Second
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--trusted-proxies", appTestPeer + "/32",
			"--login-backoff", backoff.String(), "--login-backoff-max", backoff.String()}})
		admin := e.Login(e.admin.Email)
		const name = "nobody@northwind.example"
		if resp := loginVia(e.Browser(), []string{"203.0.113.1"}, name, "a wrong password"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("first wrong login: status %d, want 401", resp.StatusCode)
		}
		// Every attempt on the name now waits 3 s; more of them than there are turns.
		const waiting = 8
		done := make(chan int, waiting)
		for i := range waiting {
			go func() {
				done <- loginVia(e.Browser(), []string{fmt.Sprintf("203.0.113.%d", 10+i)}, name, "a wrong password").StatusCode
			}()
		}
		time.Sleep(300 * time.Millisecond) // long enough for all of them to be waiting out the back-off
		start := time.Now()
		resp := admin.Get("/profile")
		if took := time.Since(start); resp.StatusCode != http.StatusOK || took > backoff/2 {
			t.Errorf("a signed-in page while %d sign-ins wait out their back-off: status %d after %v, want 200 at once",
				waiting, resp.StatusCode, took)
		}
		if len(done) != 0 {
			t.Errorf("the page answered after %d of the sign-ins that waited out their back-off", len(done))
		}
		for range waiting {
			if status := <-done; status != http.StatusUnauthorized {
				t.Errorf("a waiting sign-in answered %d, want 401", status)
			}
		}
	})
}

// Every request of a signed-in contact gives its turn back (throttle.Turns), also when it
// fails: after many more refusals than there are turns, pages still answer.
func TestFailedPagesGiveTheirTurnBack(t *testing.T) {
	e := newLoginEnv(t, portaltest.SQLite)
	admin := e.Login(e.admin.Email)
	answered := make(chan int)
	go func() {
		for range 8 * runtime.GOMAXPROCS(0) {
			if resp := admin.Get("/contacts/999999"); resp.StatusCode != http.StatusNotFound {
				t.Errorf("a contact that does not exist: status %d, want 404", resp.StatusCode)
			}
		}
		answered <- admin.Get("/profile").StatusCode
	}()
	select {
	case status := <-answered:
		if status != http.StatusOK {
			t.Errorf("the profile after the refusals: status %d, want 200", status)
		}
	case <-time.After(time.Minute):
		t.Fatal("no answer a minute after the refusals: they kept their turns")
	}
}
