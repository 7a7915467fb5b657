package demo_test

import (
	"errors"
	"net/http"
	"os"
	"testing"

	"portal/db/dbtest"
	"portal/demo"
	"portal/portaltest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// TestSeedPrintsAWorkingLogin seeds twice (a restart of `portal demo`): each time the printed
// password logs in, and the organization is created only once. On both engines.
func TestSeedPrintsAWorkingLogin(t *testing.T) {
	portaltest.OnEachEngine(t, testSeedPrintsAWorkingLogin)
}

func testSeedPrintsAWorkingLogin(t *testing.T, engine portaltest.Engine) {
	env := portaltest.New(t, portaltest.Options{Engine: engine})
	var last string
	for run := 0; run < 2; run++ {
		email, password, err := demo.Seed(env.Ctx, env.Store, env.Hasher, demo.Bulk{})
		if err != nil {
			t.Fatal(err)
		}
		if password == last {
			t.Errorf("run %d printed the same password again", run)
		}
		last = password
		if resp := env.Browser().Login(email, password); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("run %d: login with the printed password: status %d, want 303", run, resp.StatusCode)
		}
	}
	if _, err := env.Store.AccountByName(env.Ctx, "Northwind Logistics Nordic"); err != nil {
		t.Errorf("child organization missing: %v", err)
	}
}

// TestSeedRefusesARealDatabase: `portal demo --db prod.db` must not add demo people, and an
// admin whose password it prints, to an installation's own accounts. On both engines.
func TestSeedRefusesARealDatabase(t *testing.T) {
	portaltest.OnEachEngine(t, testSeedRefusesARealDatabase)
}

func testSeedRefusesARealDatabase(t *testing.T, engine portaltest.Engine) {
	env := portaltest.New(t, portaltest.Options{Engine: engine})
	acc := env.Account("Real Corp", nil)
	env.Contact(acc, "Rita", "Real", "rita@real.example")
	if _, _, err := demo.Seed(env.Ctx, env.Store, env.Hasher, demo.Bulk{}); !errors.Is(err, demo.ErrNotDemo) {
		t.Fatalf("Seed on a database with its own accounts = %v, want ErrNotDemo", err)
	}
	if n, _ := env.Store.AccountCount(env.Ctx); n != 1 {
		t.Errorf("%d accounts after the refusal, want 1 (nothing added)", n)
	}
}

// TestSeedAgainEndsTheOldSessions: the printed password replaces the old one, and whoever
// was signed in with the old one is signed out. On both engines.
func TestSeedAgainEndsTheOldSessions(t *testing.T) {
	portaltest.OnEachEngine(t, testSeedAgainEndsTheOldSessions)
}

func testSeedAgainEndsTheOldSessions(t *testing.T, engine portaltest.Engine) {
	env := portaltest.New(t, portaltest.Options{Engine: engine})
	email, password, err := demo.Seed(env.Ctx, env.Store, env.Hasher, demo.Bulk{})
	if err != nil {
		t.Fatal(err)
	}
	b := env.Browser()
	if resp := b.Login(email, password); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	if _, _, err := demo.Seed(env.Ctx, env.Store, env.Hasher, demo.Bulk{}); err != nil {
		t.Fatal(err)
	}
	if resp := b.Get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("old session after the demo restarted: status %d, want 303 to the login page", resp.StatusCode)
	}
}
