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
// never a 5xx, and a contact is stored only when the answer says so. Each input goes to a
// portal on each engine (PostgreSQL refuses some text SQLite stores, such as NUL bytes).
func FuzzCreateContactForm(f *testing.F) {
	f.Add("Zoë", "Ærø", "zoe@northwind.example", "+44 20 7946 0958", "IT Manager", "1", "contact_admin")
	f.Add("", "", "", "", "", "", "")
	f.Add("<img src=x onerror=alert(1)>", "O'Brien", "x@y", "call me", "\r\nBcc: a@b", "999999", "superuser")
	f.Add("=cmd|' /C calc'!A0", "Łukasz", "ŁUKASZ@northwind.example", "0", strings.Repeat("j", 200), "-1", "incident_contact")
	f.Add("a\x00b", "b", "a@b.example", "()", "x", "1e3", "")
	f.Add("Zoë", "Ærø", "zoe\x00@northwind.example", "\xff\xfe", "x\x00", "1", "")
	type portal struct {
		engine portaltest.Engine
		env    *portaltest.Env
		acc    db.Account
		admin  *portaltest.Browser
	}
	var portals []portal
	for _, engine := range portaltest.Engines {
		env := portaltest.New(f, portaltest.Options{Engine: engine})
		acc := env.Account("Northwind Traders", nil)
		env.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
		admin := env.Login("maria@northwind.example")
		admin.Get("/contacts/new")
		portals = append(portals, portal{engine, env, acc, admin})
	}

	f.Fuzz(func(t *testing.T, first, last, email, phone, job, account, role string) {
		for _, p := range portals {
			before := countContacts(t, p.env, p.acc)
			resp := p.admin.For(t).PostForm("/contacts", url.Values{"first_name": {first}, "last_name": {last}, "email": {email},
				"phone": {phone}, "job_title": {job}, "account_id": {account}, "role": {role}})
			after := countContacts(t, p.env, p.acc)
			switch resp.StatusCode {
			case http.StatusSeeOther:
				if after != before+1 {
					t.Fatalf("%s: 303 but %d contacts were added", p.engine, after-before)
				}
			case http.StatusUnprocessableEntity, http.StatusOK:
				if after != before {
					t.Fatalf("%s: form refused (%d) but %d contacts were added", p.engine, resp.StatusCode, after-before)
				}
			default:
				t.Fatalf("%s: status %d for first=%q last=%q email=%q phone=%q job=%q account=%q role=%q",
					p.engine, resp.StatusCode, first, last, email, phone, job, account, role)
			}
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
