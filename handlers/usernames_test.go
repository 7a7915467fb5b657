package handlers_test

import (
	"net/http"
	"testing"

	"portal/portaltest"
)

// TestLookAlikeUserNames is issue 14's item 8: user names were compared after lower case
// alone, so invisible characters, direction controls and a Cyrillic letter among Latin ones
// made new user names that look like existing ones, and "josé" typed composed and
// decomposed were two users. Create contact refuses the first kind and takes the second for
// the same user name; either spelling signs in.
func TestLookAlikeUserNames(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		admin := e.Login(e.admin.Email)
		for _, email := range []string{"mar\u200bia@northwind.example", "mar\u200dia@northwind.example",
			"\ufeffmaria@northwind.example", "mar\u00adia@northwind.example", "mar\u202eia@northwind.example",
			"m\u0430ria@northwind.example"} {
			resp := admin.PostForm("/contacts", createForm(e.account, "Eve", "Mallory", email))
			if resp.StatusCode != http.StatusUnprocessableEntity || testText(t, resp.Body, "error-email") == "" {
				t.Errorf("create %q: got %d, want the email refused", email, resp.StatusCode)
			}
		}
		if resp := admin.PostForm("/contacts", createForm(e.account, "José", "García", "josé@northwind.example")); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create josé: got %d", resp.StatusCode)
		}
		resp := admin.PostForm("/contacts", createForm(e.account, "José", "García", "jose\u0301@northwind.example"))
		if resp.StatusCode != http.StatusUnprocessableEntity || testText(t, resp.Body, "form-duplicate") == "" {
			t.Errorf("create the decomposed josé: got %d, want the existing contact named", resp.StatusCode)
		}
		jose, err := e.Store.ContactByEmail(e.Ctx, "jose\u0301@NORTHWIND.example")
		if err != nil || jose.Email != "josé@northwind.example" {
			t.Fatalf("look up the decomposed spelling: got %+v, %v", jose, err)
		}
		issueReset(t, e.Env, jose)
		if resp := setPassword(e.Browser(), mailedLink(t, e.Env, jose.Email), newPassword); resp.StatusCode != http.StatusOK {
			t.Fatalf("set josé's password: got %d", resp.StatusCode)
		}
		for _, typed := range []string{"josé@northwind.example", "jose\u0301@northwind.example", "JOSÉ@northwind.example"} {
			if resp := e.Browser().Login(typed, newPassword); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("login as %q: got %d, want 303", typed, resp.StatusCode)
			}
		}
	})
}
