package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"portal/db"
	"portal/portaltest"
)

// FuzzCreateContactForm posts arbitrary values in every field of Create contact, including
// the account: the answer is a created contact (303) or the form with its errors (422),
// never a 5xx, and a contact is stored only when the answer says so.
func FuzzCreateContactForm(f *testing.F) {
	f.Add("Zoë", "Ærø", "zoe@northwind.example", "+44 20 7946 0958", "IT Manager", "1", "contact_admin")
	f.Add("", "", "", "", "", "", "")
	f.Add("<img src=x onerror=alert(1)>", "O'Brien", "x@y", "call me", "\r\nBcc: a@b", "999999", "superuser")
	f.Add("=cmd|' /C calc'!A0", "Łukasz", "ŁUKASZ@northwind.example", "0", strings.Repeat("j", 200), "-1", "incident_contact")
	f.Add("a\x00b", "b", "a@b.example", "()", "x", "1e3", "")
	env := portaltest.New(f)
	acc := env.Account("Northwind Traders", nil)
	env.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
	admin := env.Login("maria@northwind.example")
	admin.Get("/contacts/new")

	f.Fuzz(func(t *testing.T, first, last, email, phone, job, account, role string) {
		before := countContacts(t, env, acc)
		resp := admin.For(t).PostForm("/contacts", url.Values{"first_name": {first}, "last_name": {last}, "email": {email},
			"phone": {phone}, "job_title": {job}, "account_id": {account}, "role": {role}})
		after := countContacts(t, env, acc)
		switch resp.StatusCode {
		case http.StatusSeeOther:
			if after != before+1 {
				t.Fatalf("303 but %d contacts were added", after-before)
			}
		case http.StatusUnprocessableEntity, http.StatusOK:
			if after != before {
				t.Fatalf("form refused (%d) but %d contacts were added", resp.StatusCode, after-before)
			}
		default:
			t.Fatalf("status %d for first=%q last=%q email=%q phone=%q job=%q account=%q role=%q",
				resp.StatusCode, first, last, email, phone, job, account, role)
		}
	})
}

func countContacts(t *testing.T, env *portaltest.Env, acc db.Account) int {
	t.Helper()
	sc, err := env.Store.ScopeOf(env.Ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	n, err := env.Store.ContactCounts(env.Ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	return n.Active + n.Locked
}
