package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"portal/db"
	"portal/db/dbtest"
	"portal/demo"
	"portal/portaltest"
)

// tenants is two customers: Northwind with two child organizations, and Contoso.
type tenants struct {
	*portaltest.Env
	check                                           *dbtest.DB
	parent, child, sibling, other                   db.Account
	parentAdmin, childAdmin, siblingAdmin, otherAdm db.Contact
	member                                          db.Contact // no role, in the parent
	target                                          db.Contact // in the child organization
}

func newTenants(t *testing.T, engine portaltest.Engine, opts ...portaltest.Options) tenants {
	t.Helper()
	var o portaltest.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Engine = engine
	env := portaltest.New(t, o)
	w := tenants{Env: env, check: dbtest.Open(t, env.Config.DBPath)}
	w.parent = env.Account("Northwind Traders", nil)
	w.child = env.Account("Northwind Logistics", &w.parent)
	w.sibling = env.Account("Northwind Retail", &w.parent)
	w.other = env.Account("Contoso Pharma", nil)
	w.parentAdmin = env.Contact(w.parent, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
	w.childAdmin = env.Contact(w.child, "Søren", "Nielsen", "soren@northwind.example", db.RoleContactAdmin)
	w.siblingAdmin = env.Contact(w.sibling, "Inès", "Dubois", "ines@northwind.example", db.RoleContactAdmin)
	w.otherAdm = env.Contact(w.other, "Kwame", "Mensah", "kwame@contoso.example", db.RoleContactAdmin)
	w.member = env.Contact(w.parent, "Łukasz", "Kowalski", "lukasz@northwind.example")
	w.target = env.Contact(w.child, "Zoë", "Ærø", "zoe@northwind.example", db.RoleIncidentContact)
	return w
}

func htmlDoc(t *testing.T, body string) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func testText(t *testing.T, body, testID string) string {
	t.Helper()
	return strings.TrimSpace(htmlDoc(t, body).Find(`[data-testid="` + testID + `"]`).First().Text())
}

// lockDirect locks a contact as the parent admin without going through HTTP.
func (w tenants) lockDirect(t *testing.T, c db.Contact) {
	t.Helper()
	w.Lock(w.parentAdmin, c)
}

func TestContactActionsAreScoped(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		type actorKind int
		const (
			parentAdmin actorKind = iota
			childAdmin
			siblingAdmin
			otherAdmin
			member
			signedOut
		)
		actors := []struct {
			name    string
			kind    actorKind
			inScope bool
			status  int // expected status when refused (0: in scope)
		}{
			{"parent-org admin", parentAdmin, true, 0},
			{"child-org admin", childAdmin, true, 0},
			{"sibling-org admin", siblingAdmin, false, http.StatusNotFound},
			{"other tenant admin", otherAdmin, false, http.StatusNotFound},
			{"contact without roles", member, false, http.StatusForbidden},
			{"signed out", signedOut, false, http.StatusSeeOther},
		}
		type action struct {
			name     string
			auditFor string // the audit action a success writes about the target
			prepare  func(t *testing.T, w tenants)
			do       func(b *portaltest.Browser, w tenants) portaltest.Response
			okStatus int
			changed  func(w tenants) bool // did the action take effect?
		}
		actions := []action{
			{name: "show details", okStatus: http.StatusOK,
				do: func(b *portaltest.Browser, w tenants) portaltest.Response {
					return b.Get(fmt.Sprintf("/contacts/%d", w.target.ID))
				}},
			{name: "edit form", okStatus: http.StatusOK,
				do: func(b *portaltest.Browser, w tenants) portaltest.Response {
					return b.Get(fmt.Sprintf("/contacts/%d/edit", w.target.ID))
				}},
			{name: "edit", auditFor: db.ActionContactEdited, okStatus: http.StatusSeeOther,
				do: func(b *portaltest.Browser, w tenants) portaltest.Response {
					return b.PostForm(fmt.Sprintf("/contacts/%d", w.target.ID), url.Values{
						"first_name": {"Zoë"}, "last_name": {"Ærø"}, "email": {"zoe@northwind.example"},
						"job_title": {"Changed"}, "account_id": {fmt.Sprint(w.target.AccountID)},
						"role": {"incident_contact"}, "version": {w.Reload(w.target).EditVersion("")}})
				},
				changed: func(w tenants) bool { return w.Reload(w.target).JobTitle == "Changed" }},
			{name: "lock", auditFor: db.ActionContactLocked, okStatus: http.StatusSeeOther,
				do: func(b *portaltest.Browser, w tenants) portaltest.Response {
					return b.PostForm(fmt.Sprintf("/contacts/%d/lock", w.target.ID), nil)
				},
				changed: func(w tenants) bool { return w.Reload(w.target).Locked() }},
			{name: "unlock", auditFor: db.ActionContactUnlocked, okStatus: http.StatusSeeOther,
				prepare: func(t *testing.T, w tenants) { w.lockDirect(t, w.target) },
				do: func(b *portaltest.Browser, w tenants) portaltest.Response {
					return b.HTMXPost(fmt.Sprintf("/contacts/%d/unlock", w.target.ID), nil)
				},
				changed: func(w tenants) bool { return !w.Reload(w.target).Locked() }},
		}
		for _, a := range actors {
			for _, act := range actions {
				t.Run(a.name+"/"+act.name, func(t *testing.T) {
					w := newTenants(t, engine)
					if act.prepare != nil {
						act.prepare(t, w)
					}
					var b *portaltest.Browser
					switch a.kind {
					case parentAdmin:
						b = w.Login(w.parentAdmin.Email)
					case childAdmin:
						b = w.Login(w.childAdmin.Email)
					case siblingAdmin:
						b = w.Login(w.siblingAdmin.Email)
					case otherAdmin:
						b = w.Login(w.otherAdm.Email)
					case member:
						b = w.Login(w.member.Email)
					case signedOut:
						b = w.Browser()
						b.Get("/login")
					}
					b.Get("/") // a page with a CSRF token, as a browser would have
					before := w.Reload(w.target)
					resp := act.do(b, w)
					want := act.okStatus
					if act.name == "unlock" && a.inScope {
						want = http.StatusOK // HTMX gets the details back
					}
					if !a.inScope {
						want = a.status
						if a.kind == signedOut && act.name == "unlock" {
							want = http.StatusUnauthorized // HTMX is told to go to the login page
						}
					}
					if resp.StatusCode != want {
						t.Fatalf("got status %d, want %d; body: %.300s", resp.StatusCode, want, resp.Body)
					}
					if act.changed != nil {
						if got := act.changed(w); got != a.inScope {
							t.Errorf("action took effect: %v, want %v", got, a.inScope)
						}
					}
					if act.auditFor != "" {
						n, err := w.check.CountAudit(w.Ctx, act.auditFor, w.target.ID)
						if err != nil {
							t.Fatal(err)
						}
						wantN := 0
						if a.inScope {
							wantN = 1
						}
						if n != wantN {
							t.Errorf("got %d %s audit rows, want %d", n, act.auditFor, wantN)
						}
					}
					if !a.inScope {
						after := w.Reload(w.target)
						if after.JobTitle != before.JobTitle || after.Status != before.Status || !after.UpdatedAt.Equal(before.UpdatedAt) {
							t.Errorf("refused action changed the contact: %+v → %+v", before, after)
						}
						if strings.Contains(resp.Body, "Zoë") {
							t.Errorf("refused response reveals the contact: %.300s", resp.Body)
						}
					}
				})
			}
		}
	})
}

func TestListShowsOnlyTheScope(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		w := newTenants(t, engine)
		for _, tc := range []struct {
			admin db.Contact
			want  []string
		}{
			{w.parentAdmin, []string{"Maria Anders", "Søren Nielsen", "Inès Dubois", "Łukasz Kowalski", "Zoë Ærø"}},
			{w.childAdmin, []string{"Søren Nielsen", "Zoë Ærø"}},
			{w.siblingAdmin, []string{"Inès Dubois"}},
			{w.otherAdm, []string{"Kwame Mensah"}},
		} {
			b := w.Login(tc.admin.Email)
			resp := b.Get("/contacts")
			var got []string
			htmlDoc(t, resp.Body).Find(`[data-testid="contact-name"]`).Each(func(_ int, s *goquery.Selection) {
				got = append(got, s.Text())
			})
			if strings.Join(sortedCopy(got), "|") != strings.Join(sortedCopy(tc.want), "|") {
				t.Errorf("%s sees %v, want %v", tc.admin.Email, got, tc.want)
			}
			if n := testText(t, resp.Body, "count-active"); n != fmt.Sprint(len(tc.want)) {
				t.Errorf("%s: active count %s, want %d", tc.admin.Email, n, len(tc.want))
			}
		}
	})
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestMyContactsPage(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		w := newTenants(t, engine)
		b := w.Login(w.parentAdmin.Email)
		resp := b.Get("/my-contacts")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got %d, want 200", resp.StatusCode)
		}
		d := htmlDoc(t, resp.Body)
		for testID, href := range map[string]string{"tile-create-contact": "/contacts/new", "tile-manage-contacts": "/contacts"} {
			tile := d.Find(`[data-testid="` + testID + `"]`)
			if got, _ := tile.Attr("href"); got != href {
				t.Errorf("tile %s links to %q, want %q", testID, got, href)
			}
			// Every link on the page must work.
			if r := b.Get(href); r.StatusCode != http.StatusOK {
				t.Errorf("%s answers %d", href, r.StatusCode)
			}
		}
		if got := d.Find(`[data-testid="tile-create-contact"] strong`).Text(); got != "Create contact" {
			t.Errorf("tile reads %q, want Create contact", got)
		}
		if got := d.Find(`[data-testid="tile-manage-contacts"] strong`).Text(); got != "Manage your contacts" {
			t.Errorf("tile reads %q, want Manage your contacts", got)
		}
		m := w.Login(w.member.Email)
		resp = m.Get("/my-contacts")
		if resp.StatusCode != http.StatusForbidden || strings.Contains(resp.Body, `href="/my-contacts"`) {
			t.Errorf("a contact without roles got %d and links to My contacts: %v", resp.StatusCode, strings.Contains(resp.Body, `href="/my-contacts"`))
		}
	})
}

func createForm(account db.Account, first, last, email string) url.Values {
	return url.Values{"first_name": {first}, "last_name": {last}, "email": {email},
		"phone": {"+44 20 7946 0000"}, "job_title": {"Engineer"}, "account_id": {fmt.Sprint(account.ID)}}
}

func TestCreateContact(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		w := newTenants(t, engine)
		b := w.Login(w.parentAdmin.Email)
		form := b.Get("/contacts/new")
		d := htmlDoc(t, form.Body)
		if got, _ := d.Find(`[data-testid="field-account_name"]`).Attr("value"); got != "Northwind Traders" {
			t.Errorf("Account Name is %q, want the admin's account", got)
		}
		if got := d.Find(`[data-testid="field-account_id"] option`).Length(); got != 3 {
			t.Errorf("Account offers %d accounts, want the 3 of the scope", got)
		}
		if got, _ := d.Find(`[data-testid="field-account_id"] option[selected]`).Attr("value"); got != fmt.Sprint(w.parent.ID) {
			t.Errorf("Account defaults to %q, want the admin's own account", got)
		}

		v := createForm(w.child, "Chloé", "Dubois", "chloe@northwind.example")
		v["role"] = []string{"incident_contact"}
		v.Set("status", "locked") // not a field of the form: ignored
		resp := b.PostForm("/contacts", v)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create: got %d, want 303; %.500s", resp.StatusCode, resp.Body)
		}
		page := b.Get(resp.Header.Get("Location"))
		if got := testText(t, page.Body, "alert-success"); got != "Contact Chloé Dubois has been successfully created." {
			t.Errorf("confirmation %q", got)
		}
		c, err := w.Store.ContactByEmail(w.Ctx, "chloe@northwind.example")
		if err != nil {
			t.Fatal(err)
		}
		if c.AccountID != w.child.ID || c.Locked() || c.IsAdmin() || !c.HasRole(db.RoleIncidentContact) || c.HasPassword {
			t.Errorf("created %+v, want an active incident contact of the child without a password", c)
		}
		if n, _ := w.check.CountAudit(w.Ctx, db.ActionContactCreated, c.ID); n != 1 {
			t.Errorf("got %d audit rows for the creation, want 1", n)
		}
		// Created contacts can't log in: they have no password until they set one.
		if r := w.Browser().Login("chloe@northwind.example", ""); r.StatusCode == http.StatusSeeOther {
			t.Error("a contact without a password logged in")
		}
	})
}

func TestCreateContactRefusesBadInput(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		w := newTenants(t, engine)
		b := w.Login(w.childAdmin.Email)
		b.Get("/contacts/new")
		long := strings.Repeat("x", 101)
		for _, tc := range []struct {
			name        string
			change      func(url.Values)
			field, want string
		}{
			{"no first name", func(v url.Values) { v.Set("first_name", " ") }, "first_name", "Enter the first name."},
			{"no last name", func(v url.Values) { v.Del("last_name") }, "last_name", "Enter the last name."},
			{"long first name", func(v url.Values) { v.Set("first_name", long) }, "first_name", "First name can have at most 100 characters."},
			{"no email", func(v url.Values) { v.Set("email", "") }, "email", "Enter the email address."},
			{"bad email", func(v url.Values) { v.Set("email", "Zoë <zoe@x.example>") }, "email", "Enter a valid email address, like name@example.com."},
			{"bad phone", func(v url.Values) { v.Set("phone", "call me") }, "phone", "Phone can contain digits, spaces and + - ( ) . / x only."},
			{"long job title", func(v url.Values) { v.Set("job_title", long) }, "job_title", "Job title can have at most 100 characters."},
			{"account of the parent (outside the child's scope)", func(v url.Values) { v.Set("account_id", fmt.Sprint(w.parent.ID)) }, "account_id", "Choose an account from the list."},
			{"account of another tenant", func(v url.Values) { v.Set("account_id", fmt.Sprint(w.other.ID)) }, "account_id", "Choose an account from the list."},
			{"no account", func(v url.Values) { v.Del("account_id") }, "account_id", "Choose an account from the list."},
			{"duplicate in scope", func(v url.Values) { v.Set("email", "ZOE@northwind.example") }, "email", "A contact with this email already exists."},
			{"unknown role", func(v url.Values) { v.Set("role", "superadmin") }, "role", "Choose Contact admin, Incident contact, or neither."},
			{"unknown role beside a known one", func(v url.Values) { v["role"] = []string{"incident_contact", "superadmin"} }, "role", "Choose Contact admin, Incident contact, or neither."},
			{"empty role value", func(v url.Values) { v.Set("role", "") }, "role", "Choose Contact admin, Incident contact, or neither."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				v := createForm(w.child, "Anna", "Nowak", "anna.nowak@northwind.example")
				tc.change(v)
				resp := b.PostForm("/contacts", v)
				if resp.StatusCode != http.StatusUnprocessableEntity {
					t.Fatalf("got %d, want 422", resp.StatusCode)
				}
				if got := testText(t, resp.Body, "error-"+tc.field); got != tc.want {
					t.Errorf("error beside %s: got %q, want %q", tc.field, got, tc.want)
				}
				d := htmlDoc(t, resp.Body)
				if got, _ := d.Find(`[data-testid="field-job_title"]`).Attr("value"); got != v.Get("job_title") {
					t.Errorf("job title not kept: got %q, want %q", got, v.Get("job_title"))
				}
				if _, err := w.Store.ContactByEmail(w.Ctx, "anna.nowak@northwind.example"); err == nil {
					t.Error("a refused contact was stored")
				}
				if tc.name == "duplicate in scope" {
					if href, _ := d.Find(`[data-testid="duplicate-link"]`).Attr("href"); href != fmt.Sprintf("/contacts/%d", w.target.ID) {
						t.Errorf("duplicate links to %q, want the existing contact", href)
					}
				}
			})
		}
		t.Run("duplicate outside scope reveals nothing", func(t *testing.T) {
			v := createForm(w.child, "Anna", "Nowak", "KWAME@contoso.example")
			resp := b.PostForm("/contacts", v)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("got %d, want 422", resp.StatusCode)
			}
			want := "This contact cannot be created. Please contact customer support via live chat or by submitting a support case through the portal."
			if got := testText(t, resp.Body, "form-problem"); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			if strings.Contains(resp.Body, "Kwame") || strings.Contains(resp.Body, "Contoso") || strings.Contains(resp.Body, "duplicate-link") {
				t.Error("the answer reveals the other tenant's contact")
			}
		})
	})
}

func TestEditContact(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		w := newTenants(t, engine)
		b := w.Login(w.parentAdmin.Email)
		v := createForm(w.sibling, "Zoë", "Ærø-Smith", "zoe.smith@northwind.example")
		v["role"] = []string{"contact_admin"}
		v.Set("version", editVersion(t, b, w.target.ID))
		resp := b.PostForm(fmt.Sprintf("/contacts/%d", w.target.ID), v)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("got %d, want 303: %.400s", resp.StatusCode, resp.Body)
		}
		c := w.Reload(w.target)
		// The new email waits for the new address to confirm it (TestAdminCantSilentlyTakeOverAContact).
		if c.LastName != "Ærø-Smith" || c.Email != "zoe@northwind.example" || c.AccountID != w.sibling.ID ||
			!c.IsAdmin() || c.HasRole(db.RoleIncidentContact) {
			t.Errorf("got %+v after edit", c)
		}
		page := b.Get(fmt.Sprintf("/contacts/%d", w.target.ID))
		if n := htmlDoc(t, page.Body).Find(`[data-testid="history-row"][data-action="contact_edited"]`).Length(); n != 1 {
			t.Errorf("history shows %d edits, want 1", n)
		}

		// Removing your own admin role, or the last admin of an account, is refused.
		v = createForm(w.parent, "Maria", "Anders", "maria@northwind.example")
		v.Set("version", editVersion(t, b, w.parentAdmin.ID))
		resp = b.PostForm(fmt.Sprintf("/contacts/%d", w.parentAdmin.ID), v)
		if resp.StatusCode != http.StatusUnprocessableEntity || !w.Reload(w.parentAdmin).IsAdmin() {
			t.Errorf("removing your own admin role: got %d", resp.StatusCode)
		}
		v = createForm(w.child, "Søren", "Nielsen", "soren@northwind.example")
		v.Set("version", editVersion(t, b, w.childAdmin.ID))
		resp = b.PostForm(fmt.Sprintf("/contacts/%d", w.childAdmin.ID), v)
		if resp.StatusCode != http.StatusUnprocessableEntity || !w.Reload(w.childAdmin).IsAdmin() {
			t.Errorf("removing the last admin of an account: got %d", resp.StatusCode)
		}
		// Moving a contact out of scope is refused.
		v = createForm(w.other, "Zoë", "Ærø", "zoe.smith@northwind.example")
		v.Set("version", editVersion(t, b, w.target.ID))
		resp = b.PostForm(fmt.Sprintf("/contacts/%d", w.target.ID), v)
		if resp.StatusCode != http.StatusUnprocessableEntity || w.Reload(w.target).AccountID != w.sibling.ID {
			t.Errorf("moving to another tenant: got %d", resp.StatusCode)
		}
	})
}

// editVersion opens the Edit contact form of a contact and returns the version it carries.
func editVersion(t *testing.T, b *portaltest.Browser, id int64) string {
	t.Helper()
	resp := b.Get(fmt.Sprintf("/contacts/%d/edit", id))
	version, _ := htmlDoc(t, resp.Body).Find(`[data-testid="field-version"]`).Attr("value")
	if resp.StatusCode != http.StatusOK || version == "" {
		t.Fatalf("edit form of %d: got %d and version %q", id, resp.StatusCode, version)
	}
	return version
}

// editFormOf is the Edit contact form of c as its page fills it, with the version given.
func editFormOf(c db.Contact, version string) url.Values {
	v := url.Values{"first_name": {c.FirstName}, "last_name": {c.LastName}, "email": {c.Email},
		"phone": {c.Phone}, "job_title": {c.JobTitle}, "account_id": {fmt.Sprint(c.AccountID)}, "version": {version}}
	for _, r := range c.Roles {
		v.Add("role", string(r))
	}
	return v
}

// TestEditFromAnOutdatedFormLosesNothing: two tabs open Edit contact; the first saves a
// phone change, then the second, older form saves a job title change. The second save must
// not undo the first: it is refused with the current details, writes nothing, and applies
// once redone from the refreshed form (SPEC R-REL).
func TestEditFromAnOutdatedFormLosesNothing(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			// meanwhile runs between opening the second form and saving it.
			meanwhile  func(t *testing.T, w tenants, firstTab *portaltest.Browser)
			htmx       bool
			noVersion  bool // a hand-made form without the version field
			wantStatus int
		}{
			{name: "another tab saved a change", meanwhile: savePhone, wantStatus: http.StatusConflict},
			{name: "another tab saved a change, HTMX", meanwhile: savePhone, htmx: true, wantStatus: http.StatusConflict},
			{name: "another admin locked the contact", wantStatus: http.StatusSeeOther,
				meanwhile: func(t *testing.T, w tenants, _ *portaltest.Browser) { w.lockDirect(t, w.target) }},
			{name: "form without a version", noVersion: true, wantStatus: http.StatusConflict,
				meanwhile: func(*testing.T, tenants, *portaltest.Browser) {}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := newTenants(t, engine)
				firstTab, secondTab := w.Login(w.parentAdmin.Email), w.Login(w.childAdmin.Email)
				oldForm := editFormOf(w.target, editVersion(t, secondTab, w.target.ID))
				tc.meanwhile(t, w, firstTab)
				before := w.Reload(w.target)
				edits, _ := w.check.CountAudit(w.Ctx, db.ActionContactEdited, w.target.ID)

				oldForm.Set("job_title", "Head of logistics")
				if tc.noVersion {
					oldForm.Del("version")
				}
				post := secondTab.PostForm
				if tc.htmx {
					post = secondTab.HTMXPost
				}
				resp := post(fmt.Sprintf("/contacts/%d", w.target.ID), oldForm)
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("save from the older form: got %d, want %d: %.400s", resp.StatusCode, tc.wantStatus, resp.Body)
				}
				if tc.wantStatus == http.StatusSeeOther {
					if got := w.Reload(w.target); got.JobTitle != "Head of logistics" || got.Phone != before.Phone {
						t.Errorf("after the save: job title %q, phone %q; want the new job title and phone %q", got.JobTitle, got.Phone, before.Phone)
					}
					return
				}

				d := htmlDoc(t, resp.Body)
				if got := testText(t, resp.Body, "form-problem"); got != errEditConflict {
					t.Errorf("message: got %q, want %q", got, errEditConflict)
				}
				for field, want := range map[string]string{"phone": before.Phone, "job_title": before.JobTitle} {
					if got, _ := d.Find(`[data-testid="field-` + field + `"]`).Attr("value"); got != want {
						t.Errorf("%s in the refreshed form: got %q, want the stored %q", field, got, want)
					}
				}
				after := w.Reload(w.target)
				if after.Phone != before.Phone || after.JobTitle != before.JobTitle || !after.UpdatedAt.Equal(before.UpdatedAt) {
					t.Errorf("refused save changed the contact: %+v → %+v", before, after)
				}
				if n, _ := w.check.CountAudit(w.Ctx, db.ActionContactEdited, w.target.ID); n != edits {
					t.Errorf("got %d edit audit rows, want %d: the refused save wrote one", n, edits)
				}

				// Applying the change again from the refreshed form saves it, keeping the other.
				version, _ := d.Find(`[data-testid="field-version"]`).Attr("value")
				again := editFormOf(before, version)
				again.Set("job_title", "Head of logistics")
				if resp := secondTab.PostForm(fmt.Sprintf("/contacts/%d", w.target.ID), again); resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("save from the refreshed form: got %d, want 303: %.400s", resp.StatusCode, resp.Body)
				}
				if got := w.Reload(w.target); got.JobTitle != "Head of logistics" || got.Phone != before.Phone {
					t.Errorf("after saving again: job title %q, phone %q; want both changes", got.JobTitle, got.Phone)
				}
			})
		}
	})
}

// TestConcurrentEditsFromOneFormSaveOnce: saves racing from forms of the same version
// save exactly one of them; the others are refused and write nothing.
func TestConcurrentEditsFromOneFormSaveOnce(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		w := newTenants(t, engine)
		admins := []*portaltest.Browser{w.Login(w.parentAdmin.Email), w.Login(w.childAdmin.Email)}
		version := editVersion(t, admins[0], w.target.ID)
		editVersion(t, admins[1], w.target.ID)
		statuses := make([]int, 20)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				form := editFormOf(w.target, version)
				form.Set("job_title", fmt.Sprintf("Job %d", i))
				statuses[i] = admins[i%2].PostForm(fmt.Sprintf("/contacts/%d", w.target.ID), form).StatusCode
			}()
		}
		wg.Wait()
		saved := -1
		for i, status := range statuses {
			switch {
			case status == http.StatusSeeOther && saved < 0:
				saved = i
			case status != http.StatusConflict:
				t.Errorf("save %d: got %d, want 409 (or 303 for exactly one)", i, status)
			}
		}
		if saved < 0 {
			t.Fatal("no save succeeded")
		}
		if got, want := w.Reload(w.target).JobTitle, fmt.Sprintf("Job %d", saved); got != want {
			t.Errorf("job title: got %q, want %q (the save that answered 303)", got, want)
		}
		if n, _ := w.check.CountAudit(w.Ctx, db.ActionContactEdited, w.target.ID); n != 1 {
			t.Errorf("got %d edit audit rows, want 1", n)
		}
	})
}

const errEditConflict = "Someone else changed this contact while you were editing. Review the current details and apply your change again."

// savePhone changes the target's phone from a freshly opened Edit contact form.
func savePhone(t *testing.T, w tenants, b *portaltest.Browser) {
	t.Helper()
	form := editFormOf(w.Reload(w.target), editVersion(t, b, w.target.ID))
	form.Set("phone", "+45 33 12 34 56")
	if resp := b.PostForm(fmt.Sprintf("/contacts/%d", w.target.ID), form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first save: got %d, want 303: %.400s", resp.StatusCode, resp.Body)
	}
}

// TestEditContactRefusesUnknownRoles: a role value that is none of the roles is refused
// with a message beside Contact role, and the contact keeps its roles and everything else.
func TestEditContactRefusesUnknownRoles(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		for _, tc := range []struct {
			name  string
			roles []string
		}{
			{"unknown role", []string{"superadmin"}},
			{"unknown role beside a known one", []string{"contact_admin", "superadmin"}},
			{"role label instead of its value", []string{"Contact admin"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := newTenants(t, engine)
				b := w.Login(w.parentAdmin.Email)
				form := editFormOf(w.target, editVersion(t, b, w.target.ID))
				form.Set("job_title", "Changed")
				form["role"] = tc.roles
				resp := b.PostForm(fmt.Sprintf("/contacts/%d", w.target.ID), form)
				if resp.StatusCode != http.StatusUnprocessableEntity {
					t.Fatalf("got %d, want 422", resp.StatusCode)
				}
				if got, want := testText(t, resp.Body, "error-role"), "Choose Contact admin, Incident contact, or neither."; got != want {
					t.Errorf("error beside Contact role: got %q, want %q", got, want)
				}
				if got, _ := htmlDoc(t, resp.Body).Find(`[data-testid="field-job_title"]`).Attr("value"); got != "Changed" {
					t.Errorf("job title not kept: got %q, want %q", got, "Changed")
				}
				after := w.Reload(w.target)
				if after.JobTitle != w.target.JobTitle || after.IsAdmin() || !after.HasRole(db.RoleIncidentContact) {
					t.Errorf("refused edit changed the contact: %+v", after)
				}
				if n, _ := w.check.CountAudit(w.Ctx, db.ActionContactEdited, w.target.ID); n != 0 {
					t.Errorf("got %d edit audit rows, want 0", n)
				}
			})
		}
	})
}

// TestAccountNameOnTheForms: Account Name is the admin's own account on Create (SPEC 3.2)
// and the contact's account on Edit, also when Edit is shown again after a refusal.
func TestAccountNameOnTheForms(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		for _, tc := range []struct {
			name  string
			admin func(w tenants) db.Contact
			page  func(t *testing.T, w tenants, b *portaltest.Browser) portaltest.Response
			want  string
		}{
			{"create, parent admin", func(w tenants) db.Contact { return w.parentAdmin },
				func(_ *testing.T, _ tenants, b *portaltest.Browser) portaltest.Response {
					return b.Get("/contacts/new")
				},
				"Northwind Traders"},
			{"create, child admin", func(w tenants) db.Contact { return w.childAdmin },
				func(_ *testing.T, _ tenants, b *portaltest.Browser) portaltest.Response {
					return b.Get("/contacts/new")
				},
				"Northwind Logistics"},
			{"create refused", func(w tenants) db.Contact { return w.parentAdmin },
				func(_ *testing.T, w tenants, b *portaltest.Browser) portaltest.Response {
					b.Get("/contacts/new")
					return b.PostForm("/contacts", createForm(w.child, "", "Nowak", "anna@northwind.example"))
				}, "Northwind Traders"},
			{"edit a contact of a child organization", func(w tenants) db.Contact { return w.parentAdmin },
				func(_ *testing.T, w tenants, b *portaltest.Browser) portaltest.Response {
					return b.Get(fmt.Sprintf("/contacts/%d/edit", w.target.ID))
				}, "Northwind Logistics"},
			{"edit a contact of the admin's account", func(w tenants) db.Contact { return w.parentAdmin },
				func(_ *testing.T, w tenants, b *portaltest.Browser) portaltest.Response {
					return b.Get(fmt.Sprintf("/contacts/%d/edit", w.member.ID))
				}, "Northwind Traders"},
			{"edit refused", func(w tenants) db.Contact { return w.parentAdmin },
				func(t *testing.T, w tenants, b *portaltest.Browser) portaltest.Response {
					form := editFormOf(w.target, editVersion(t, b, w.target.ID))
					form.Set("phone", "call me")
					return b.PostForm(fmt.Sprintf("/contacts/%d", w.target.ID), form)
				}, "Northwind Logistics"},
			{"edit from an outdated form, after another tab moved the contact", func(w tenants) db.Contact { return w.parentAdmin },
				func(t *testing.T, w tenants, b *portaltest.Browser) portaltest.Response {
					version := editVersion(t, b, w.target.ID)
					moved := editFormOf(w.target, version)
					moved.Set("account_id", fmt.Sprint(w.sibling.ID))
					if resp := b.PostForm(fmt.Sprintf("/contacts/%d", w.target.ID), moved); resp.StatusCode != http.StatusSeeOther {
						t.Fatalf("move: got %d, want 303", resp.StatusCode)
					}
					return b.PostForm(fmt.Sprintf("/contacts/%d", w.target.ID), editFormOf(w.target, version))
				}, "Northwind Retail"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := newTenants(t, engine)
				b := w.Login(tc.admin(w).Email)
				resp := tc.page(t, w, b)
				if got, _ := htmlDoc(t, resp.Body).Find(`[data-testid="field-account_name"]`).Attr("value"); got != tc.want {
					t.Errorf("Account Name: got %q, want %q (status %d)", got, tc.want, resp.StatusCode)
				}
			})
		}
	})
}

func TestLockAndUnlock(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		w := newTenants(t, engine)
		zoe := w.Login(w.target.Email)
		if r := zoe.Get("/"); r.StatusCode != http.StatusOK {
			t.Fatalf("target can't use the portal before the lock: %d", r.StatusCode)
		}
		b := w.Login(w.parentAdmin.Email)
		b.Get(fmt.Sprintf("/contacts/%d", w.target.ID))
		resp := b.HTMXPost(fmt.Sprintf("/contacts/%d/lock", w.target.ID), nil)
		if resp.StatusCode != http.StatusOK || strings.Contains(resp.Body, "<html") {
			t.Fatalf("HTMX lock: got %d, want 200 with a fragment", resp.StatusCode)
		}
		if got := testText(t, resp.Body, "alert-success"); got != "Zoë Ærø has been successfully locked out." {
			t.Errorf("confirmation %q", got)
		}
		if got := testText(t, resp.Body, "unlock-contact"); got != "Unlock this contact" {
			t.Errorf("after locking the button reads %q, want Unlock this contact", got)
		}
		if got := testText(t, resp.Body, "lock-reason"); !strings.HasPrefix(got, "Locked by Maria Anders on ") {
			t.Errorf("lock reason %q", got)
		}
		// The locked contact's session ends at once.
		if r := zoe.Get("/"); r.StatusCode != http.StatusSeeOther {
			t.Errorf("locked contact's session still works: %d", r.StatusCode)
		}
		if n, _ := w.check.CountSessions(w.Ctx, w.target.ID); n != 0 {
			t.Errorf("%d sessions left, want 0", n)
		}
		// It is in Locked out contacts, not in Active contacts.
		list := b.Get("/contacts?section=locked")
		if !strings.Contains(list.Body, "Zoë Ærø") || testText(t, list.Body, "count-locked") != "1" {
			t.Error("locked contact missing from Locked out contacts")
		}
		// A second lock changes nothing and says so.
		resp = b.HTMXPost(fmt.Sprintf("/contacts/%d/lock", w.target.ID), nil)
		if got := testText(t, resp.Body, "alert-info"); got != "Zoë Ærø is already locked out." {
			t.Errorf("second lock: %q", got)
		}
		// Without JavaScript: POST, redirect, confirmation on the next page.
		resp = b.PostForm(fmt.Sprintf("/contacts/%d/unlock", w.target.ID), nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("plain unlock: got %d, want 303", resp.StatusCode)
		}
		page := b.Get(resp.Header.Get("Location"))
		if got := testText(t, page.Body, "alert-success"); got != "Zoë Ærø has been successfully unlocked." {
			t.Errorf("confirmation %q", got)
		}
		if n, _ := w.check.CountAudit(w.Ctx, db.ActionContactLocked, w.target.ID); n != 1 {
			t.Errorf("got %d lock audit rows, want 1", n)
		}

		// Nobody locks themselves, nor the last active contact admin of an account.
		resp = b.HTMXPost(fmt.Sprintf("/contacts/%d/lock", w.parentAdmin.ID), nil)
		if resp.StatusCode != http.StatusConflict || w.Reload(w.parentAdmin).Locked() {
			t.Errorf("self lock: got %d", resp.StatusCode)
		}
		resp = b.HTMXPost(fmt.Sprintf("/contacts/%d/lock", w.childAdmin.ID), nil)
		if resp.StatusCode != http.StatusConflict || w.Reload(w.childAdmin).Locked() {
			t.Errorf("last admin lock: got %d", resp.StatusCode)
		}
		if !strings.Contains(resp.Body, "is the last active contact admin of Northwind Logistics") {
			t.Errorf("last admin message missing: %.300s", resp.Body)
		}
	})
}

func TestAutoLockShowsInLockedOutContacts(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		w := newTenants(t, engine)
		for range w.Config.LockoutThreshold {
			w.Browser().Login(w.target.Email, "wrong password, wrong password")
		}
		if !w.Reload(w.target).Locked() {
			t.Fatal("the contact was not locked automatically")
		}
		b := w.Login(w.parentAdmin.Email)
		list := b.Get("/contacts?section=locked")
		if !strings.Contains(list.Body, "Zoë Ærø") || !strings.Contains(list.Body, "Too many failed login attempts") {
			t.Error("auto-locked contact missing from Locked out contacts, or without its reason")
		}
		page := b.Get(fmt.Sprintf("/contacts/%d", w.target.ID))
		want := fmt.Sprintf("Too many failed login attempts (%d)", w.Config.LockoutThreshold)
		if got := testText(t, page.Body, "lock-reason"); !strings.HasPrefix(got, want) {
			t.Errorf("lock reason %q, want it to start with %q", got, want)
		}
		b.PostForm(fmt.Sprintf("/contacts/%d/unlock", w.target.ID), nil)
		if c := w.Reload(w.target); c.Locked() || c.FailedLogins != 0 || c.LockReason != "" || !c.LockedAt.IsZero() {
			t.Errorf("after unlock: %+v, want active with the count and lock fields cleared", c)
		}
	})
}

// TestLockedOutContactsShowWhy: Locked out contacts has a Why column saying who locked a
// contact and when, or how many failed logins locked it and when (SPEC 3.4), labelled for
// the phone layout too; the reason is not mixed into Roles, and Active contacts has no Why.
func TestLockedOutContactsShowWhy(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			lock func(t *testing.T, w tenants)
			want string
		}{
			{"locked by an admin", func(t *testing.T, w tenants) { w.lockDirect(t, w.target) },
				"Locked by Maria Anders on 22 Nov 2026, 10:00 UTC"},
			{"locked by the contact admin of the child organization", func(t *testing.T, w tenants) {
				b := w.Login(w.childAdmin.Email)
				b.Get(fmt.Sprintf("/contacts/%d", w.target.ID))
				if resp := b.PostForm(fmt.Sprintf("/contacts/%d/lock", w.target.ID), nil); resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("lock: got %d, want 303", resp.StatusCode)
				}
			}, "Locked by Søren Nielsen on 22 Nov 2026, 10:00 UTC"},
			{"too many failed login attempts", func(t *testing.T, w tenants) {
				for range w.Config.LockoutThreshold {
					w.Browser().Login(w.target.Email, "wrong password, wrong password")
				}
			}, "Too many failed login attempts (10) on 22 Nov 2026, 10:00 UTC"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := newTenants(t, engine)
				if w.Config.LockoutThreshold != 10 {
					t.Fatalf("lockout threshold %d, the test expects the default 10", w.Config.LockoutThreshold)
				}
				w.Clock.Advance(time.Hour)
				tc.lock(t, w)
				w.Clock.Advance(time.Hour) // the time shown is the lock's, not the page's
				b := w.Login(w.parentAdmin.Email)
				for _, page := range []portaltest.Response{b.Get("/contacts?section=locked"), b.HTMXGet("/contacts?section=locked")} {
					d := htmlDoc(t, page.Body)
					row := d.Find(fmt.Sprintf(`[data-testid="contact-row"][data-contact-id="%d"]`, w.target.ID))
					if row.Length() != 1 {
						t.Fatalf("%s: the locked contact is not listed", page.Request.URL)
					}
					why := row.Find(`[data-testid="contact-why-locked"]`)
					if got := strings.TrimSpace(why.Text()); got != tc.want {
						t.Errorf("%s: Why: got %q, want %q", page.Request.URL, got, tc.want)
					}
					if label, _ := why.Attr("data-label"); label != "Why" {
						t.Errorf("%s: Why cell labelled %q for phones, want %q", page.Request.URL, label, "Why")
					}
					if got := d.Find(`[data-testid="contact-table"] th:last-child`).Text(); got != "Why" {
						t.Errorf("%s: last column is %q, want Why", page.Request.URL, got)
					}
					if roles := row.Find(`td[data-label="Roles"]`).Text(); strings.Contains(roles, "Locked") || strings.Contains(roles, "failed") {
						t.Errorf("%s: the reason is in Roles: %q", page.Request.URL, roles)
					}
				}
				active := htmlDoc(t, b.Get("/contacts").Body)
				if n := active.Find(`[data-testid="contact-why-locked"]`).Length() + active.Find(`th:contains("Why")`).Length(); n != 0 {
					t.Errorf("Active contacts shows a Why column (%d elements)", n)
				}
			})
		}
	})
}

func TestConcurrentLockAndUnlockStayConsistent(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		w := newTenants(t, engine)
		admins := []*portaltest.Browser{w.Login(w.parentAdmin.Email), w.Login(w.childAdmin.Email)}
		for _, b := range admins {
			b.Get(fmt.Sprintf("/contacts/%d", w.target.ID))
		}
		var mu sync.Mutex
		effective := map[string]int{}
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				action := "lock"
				if i%2 == 1 {
					action = "unlock"
				}
				resp := admins[i%2].HTMXPost(fmt.Sprintf("/contacts/%d/%s", w.target.ID, action), nil)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: got %d", action, resp.StatusCode)
					return
				}
				if strings.Contains(resp.Body, "has been successfully") {
					mu.Lock()
					effective[action]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		locks, _ := w.check.CountAudit(w.Ctx, db.ActionContactLocked, w.target.ID)
		unlocks, _ := w.check.CountAudit(w.Ctx, db.ActionContactUnlocked, w.target.ID)
		if locks != effective["lock"] || unlocks != effective["unlock"] {
			t.Errorf("audit has %d locks and %d unlocks, responses reported %v", locks, unlocks, effective)
		}
		c := w.Reload(w.target)
		if wantLocked := locks == unlocks+1; c.Locked() != wantLocked || (locks != unlocks && locks != unlocks+1) {
			t.Errorf("status %s after %d locks and %d unlocks", c.Status, locks, unlocks)
		}
		if c.Locked() != (c.LockReason == db.LockedByAdmin) || c.Locked() != !c.LockedAt.IsZero() {
			t.Errorf("inconsistent lock fields: %+v", c)
		}
	})
}

func TestUserInputIsEscaped(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		w := newTenants(t, engine)
		evil := `<img src=x onerror=alert(1)>`
		b := w.Login(w.parentAdmin.Email)
		b.Get("/contacts/new")
		resp := b.PostForm("/contacts", createForm(w.parent, evil, evil, "evil@northwind.example"))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create: %d %.300s", resp.StatusCode, resp.Body)
		}
		c, err := w.Store.ContactByEmail(w.Ctx, "evil@northwind.example")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []portaltest.Response{
			b.Get(resp.Header.Get("Location")),
			b.Get("/contacts"),
			b.HTMXGet("/contacts?q=" + url.QueryEscape("img onerror")),
			b.Get(fmt.Sprintf("/contacts/%d/edit", c.ID)),
			b.HTMXPost(fmt.Sprintf("/contacts/%d/lock", c.ID), nil),
		} {
			if strings.Contains(r.Body, evil) || !strings.Contains(r.Body, "&lt;img src=x onerror=alert(1)&gt;") {
				t.Errorf("%s: the name is not escaped as text", r.Request.URL)
			}
		}
	})
}

func TestListFragmentsAndPaging(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		w := newTenants(t, engine)
		w.Populate(demo.Scale{Contacts: 2000, Accounts: 2, Parent: w.child.ID, Prefix: "Bulk"})
		b := w.Login(w.parentAdmin.Email)
		full := b.Get("/contacts")
		if !strings.HasPrefix(strings.ToLower(full.Body), "<!doctype html>") || full.Header.Get("Vary") == "" {
			t.Errorf("plain request did not get the full page")
		}
		frag := b.HTMXGet("/contacts?sort=email")
		if strings.Contains(frag.Body, "<html") || !strings.Contains(frag.Body, `id="contact-list"`) {
			t.Errorf("HTMX request did not get the list fragment")
		}
		// Boosted and history-restore requests need the whole page.
		req, _ := http.NewRequest(http.MethodGet, "http://portal.example.test/contacts", nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-History-Restore-Request", "true")
		if r := b.Do(req); !strings.Contains(r.Body, "<html") {
			t.Errorf("history restore did not get the full page")
		}

		activeCount := testText(t, full.Body, "count-active")
		for _, sort := range []string{"name", "account", "last_login"} {
			seen := map[string]bool{}
			next := "/contacts?sort=" + sort
			pages := 0
			for next != "" {
				r := b.HTMXGet(next)
				d := htmlDoc(t, r.Body)
				d.Find(`[data-testid="contact-row"]`).Each(func(_ int, s *goquery.Selection) {
					id, _ := s.Attr("data-contact-id")
					if seen[id] {
						t.Fatalf("sort %s: contact %s on two pages", sort, id)
					}
					seen[id] = true
				})
				next, _ = d.Find(`[data-testid="next-page"]`).Attr("href")
				if pages++; pages > 200 {
					t.Fatal("paging does not end")
				}
			}
			if fmt.Sprint(len(seen)) != strings.ReplaceAll(activeCount, ",", "") {
				t.Errorf("sort %s: paged through %d contacts, the count says %s", sort, len(seen), activeCount)
			}
		}
	})
}

// TestNoLockButtonForTheLastActiveAdmin: a button must work or be absent. The last active
// contact admin of an account can't be locked out, so its page offers no Lock button and
// says why; once a second admin exists, the button is there.
func TestNoLockButtonForTheLastActiveAdmin(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := portaltest.New(t, portaltest.Options{Engine: engine})
		parent := e.Account("Northwind Traders", nil)
		child := e.Account("Northwind Retail", &parent)
		e.Contact(parent, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
		chad := e.Contact(child, "Chad", "Child", "chad@northwind.example", db.RoleContactAdmin)
		b := e.Login("maria@northwind.example")
		page := func() *goquery.Document {
			doc, _ := goquery.NewDocumentFromReader(strings.NewReader(b.Get(fmt.Sprintf("/contacts/%d", chad.ID)).Body))
			return doc
		}
		doc := page()
		if n := doc.Find(`[data-testid="lock-contact"]`).Length(); n != 0 {
			t.Errorf("last active admin of Northwind Retail: %d Lock buttons, want none", n)
		}
		if got := doc.Find(`[data-testid="no-lock"]`).Text(); !strings.Contains(got, "last active contact admin of Northwind Retail") {
			t.Errorf("reason shown %q, want it to name the account", got)
		}
		e.Contact(child, "Rita", "Retail", "rita@northwind.example", db.RoleContactAdmin)
		if n := page().Find(`[data-testid="lock-contact"]`).Length(); n != 1 {
			t.Errorf("with a second admin: %d Lock buttons, want 1", n)
		}
	})
}

// TestAnActionDoneIsNotReportedAsFailedWhenItsMessageIsLost: the message after an action is
// kept in the session after the action is committed. If that write fails, the browser still
// goes on to the page the action leads to, without the message: an error page would say
// that nothing was changed, and the contact is locked.
func TestAnActionDoneIsNotReportedAsFailedWhenItsMessageIsLost(t *testing.T) {
	e := portaltest.New(t, portaltest.Options{})
	acc := e.Account("Northwind Traders", nil)
	maria := e.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
	zoe := e.Contact(acc, "Zoë", "Ærø", "zoe@northwind.example")
	admin := e.Login(maria.Email)
	dbtest.Exec(t, e.Config.DBPath, `CREATE TRIGGER keep_no_messages BEFORE UPDATE OF data ON sessions
		BEGIN SELECT RAISE(ABORT, 'a failure, for the test'); END`)
	resp := admin.PostForm(fmt.Sprintf("/contacts/%d/lock", zoe.ID), url.Values{})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != fmt.Sprintf("/contacts/%d", zoe.ID) {
		t.Fatalf("lock with the message lost: %d to %q, want 303 to the contact's page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !e.Reload(zoe).Locked() {
		t.Error("the contact is not locked")
	}
}
