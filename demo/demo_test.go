package demo_test

import (
	"net/http"
	"testing"

	"portal/demo"
	"portal/portaltest"
)

// TestSeedPrintsAWorkingLogin seeds twice (a restart of `portal demo`): each time the printed
// password logs in, and the organization is created only once.
func TestSeedPrintsAWorkingLogin(t *testing.T) {
	env := portaltest.New(t)
	var last string
	for run := 0; run < 2; run++ {
		email, password, err := demo.Seed(env.Ctx, env.Store, env.Hasher)
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
