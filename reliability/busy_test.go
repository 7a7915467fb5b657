// Package reliability_test puts the portal through faults: a locked database, bursts of
// logins, and (in the other files) crashes and shutdowns. Every test runs the real app on a
// real SQLite file.
package reliability_test

import (
	"database/sql"
	"net/http"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"portal/db"
	"portal/db/dbtest"
	"portal/portaltest"
)

// holdWriteLock takes SQLite's write lock from another connection, as a second process or
// an operator's sqlite3 shell would, and releases it after d.
func holdWriteLock(t *testing.T, path string, d time.Duration) (released <-chan struct{}) {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := raw.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(d)
		if _, err := conn.ExecContext(t.Context(), `COMMIT`); err != nil {
			t.Error(err)
		}
		conn.Close()
		raw.Close()
	}()
	return done
}

func TestRequestsWaitForAShortLock(t *testing.T) {
	env := portaltest.New(t)
	acc := env.Account("Northwind Traders", nil)
	c := env.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
	b := env.Browser()
	b.Get("/login")

	released := holdWriteLock(t, env.Config.DBPath, 3*time.Second)
	resp := b.PostForm("/login", map[string][]string{"email": {c.Email}, "password": {portaltest.Password}})
	<-released
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login during a 3 s lock: status %d, want 303 (wait, then succeed)", resp.StatusCode)
	}
	if n, _ := dbtest.Open(t, env.Config.DBPath).CountSessions(env.Ctx, c.ID); n != 1 {
		t.Errorf("sessions %d, want 1", n)
	}
}

func TestALongLockAnswers503AndWritesNothing(t *testing.T) {
	env := portaltest.New(t)
	acc := env.Account("Northwind Traders", nil)
	c := env.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
	b := env.Browser()
	b.Get("/login")

	released := holdWriteLock(t, env.Config.DBPath, db.BusyTimeout+2*time.Second)
	resp := b.PostForm("/login", map[string][]string{"email": {c.Email}, "password": {portaltest.Password}})
	<-released
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("login during a lock longer than the busy timeout: status %d, want 503", resp.StatusCode)
	}
	if !strings.Contains(resp.Body, "busy") || strings.Contains(resp.Body, "sqlite") || strings.Contains(resp.Body, "database is locked") {
		t.Errorf("503 page should say the portal is busy without internals; got %s", resp.Body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	// Nothing half-written: no session, no login event, no login time.
	check := dbtest.Open(t, env.Config.DBPath)
	if n, _ := check.CountSessions(env.Ctx, c.ID); n != 0 {
		t.Errorf("sessions %d after the refused login, want 0", n)
	}
	if n, _ := check.CountAudit(env.Ctx, db.ActionLoginSucceeded, c.ID); n != 0 {
		t.Errorf("login_succeeded events %d, want 0", n)
	}
	if got := env.Reload(c).LastLoginAt; !got.IsZero() {
		t.Errorf("last login %v, want never", got)
	}
	// And the service resumes once the lock is gone.
	if resp := b.Login(c.Email, portaltest.Password); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login after the lock: status %d, want 303", resp.StatusCode)
	}
}
