package handlers_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"portal/contacts"
	"portal/db"
	"portal/db/dbtest"
	"portal/export"
	"portal/portaltest"
)

// bulkForm is the form of All Contacts with these contacts ticked and action pressed.
func bulkForm(action string, ids ...int64) url.Values {
	v := url.Values{"action": {action}}
	for _, id := range ids {
		v.Add("id", fmt.Sprint(id))
	}
	return v
}

// skippedRows reads the list of contacts a bulk action left alone: name → reason.
func skippedRows(t *testing.T, body string) map[string]string {
	t.Helper()
	out := map[string]string{}
	htmlDoc(t, body).Find(`[data-testid="skipped-row"]`).Each(func(_ int, s *goquery.Selection) {
		name, why, _ := strings.Cut(strings.Join(strings.Fields(s.Text()), " "), ": ")
		out[name] = why
	})
	return out
}

// bulkAct asks for action on ids through the bar, checks the confirmation's question, and
// confirms it: the way a person without JavaScript does it, two plain forms.
func bulkAct(t *testing.T, b *portaltest.Browser, action, question string, form url.Values) portaltest.Response {
	t.Helper()
	form.Set("action", action)
	confirm := b.PostForm("/contacts/bulk", form)
	if confirm.StatusCode != http.StatusOK {
		t.Fatalf("%s: the bar answered %d; %.300s", action, confirm.StatusCode, confirm.Body)
	}
	d := htmlDoc(t, confirm.Body)
	if got := strings.TrimSpace(d.Find(`[data-testid="bulk-confirm"] h1`).Text()); got != question {
		t.Errorf("%s: confirmation asks %q, want %q", action, got, question)
	}
	// The confirmation's form carries the selection on: post exactly what it holds.
	next := url.Values{}
	d.Find(`[data-testid="bulk-confirm"] form input[type=hidden]`).Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		value, _ := s.Attr("value")
		if name != "_csrf" {
			next.Add(name, value)
		}
	})
	formAction, _ := d.Find(`[data-testid="bulk-confirm"] form`).Attr("action")
	resp := b.PostForm(formAction, next)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: confirmed, answered %d; %.300s", action, resp.StatusCode, resp.Body)
	}
	return resp
}

// TestBulkActions: Lock selected, Unlock selected and Send reset links act on each ticked
// contact under the rules of one, say so in one message, and list who they left alone and
// why; each contact changed gets its own audit row.
func TestBulkActions(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		var nina db.Contact
		err := f.Store.Write(f.Ctx, func(tx *db.Tx) error {
			id, err := tx.CreateContact(f.Ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: f.child.ID,
				FirstName: "Nina", LastName: "Invited", Email: "nina@northwind.example"}})
			nina.ID = id
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		zoe := f.Login(f.zoe.Email)
		admin := f.Login(f.maria.Email)
		list := admin.Get("/contacts")
		if n := htmlDoc(t, list.Body).Find(`[data-testid="bulk-form"] input[type=checkbox][name=id]`).Length(); n != 9 {
			t.Errorf("All Contacts has %d row checkboxes, want one per row (9)", n)
		}
		if label, _ := htmlDoc(t, list.Body).Find(`input[name=id][value="` + fmt.Sprint(f.zoe.ID) + `"]`).Attr("aria-label"); label != "Select Zoë Ærø" {
			t.Errorf("Zoë's checkbox is labelled %q", label)
		}

		// Lock selected: herself, the last admin, someone locked already, another tenant's.
		resp := bulkAct(t, admin, "lock", "Lock 5 contacts?",
			bulkForm("", f.maria.ID, f.soren.ID, f.zoe.ID, f.amir.ID, f.kwame.ID))
		if got := testText(t, resp.Body, "bulk-message"); got != "1 contact has been locked out." {
			t.Errorf("lock message %q", got)
		}
		want := map[string]string{
			"Maria Anders":            string(contacts.SkipYourself),
			"Søren Nielsen":           string(contacts.SkipLastAdmin),
			"Amir Haddad":             string(contacts.SkipAlreadyLocked),
			"A contact you asked for": string(contacts.SkipOutsideScope),
		}
		if got := skippedRows(t, resp.Body); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("lock skipped %v, want %v", got, want)
		}
		if strings.Contains(resp.Body, "Kwame") {
			t.Error("the skip list names another tenant's contact")
		}
		if !f.Reload(f.zoe).Locked() || f.Reload(f.kwame).Locked() || f.Reload(f.maria).Locked() || f.Reload(f.soren).Locked() {
			t.Error("the wrong contacts were locked")
		}
		if r := zoe.Get("/"); r.StatusCode != http.StatusSeeOther {
			t.Error("a contact locked in bulk is still signed in")
		}
		if n, _ := f.check.CountAudit(f.Ctx, db.ActionContactLocked, f.zoe.ID); n != 1 {
			t.Errorf("%d lock rows for Zoë, want 1", n)
		}

		// Unlock selected: two locked, one active.
		resp = bulkAct(t, admin, "unlock", "Unlock 3 contacts?", bulkForm("", f.zoe.ID, f.amir.ID, f.lukasz.ID))
		if got := testText(t, resp.Body, "bulk-message"); got != "2 contacts have been unlocked." {
			t.Errorf("unlock message %q", got)
		}
		if got := skippedRows(t, resp.Body); fmt.Sprint(got) != fmt.Sprint(map[string]string{"Łukasz Kowalski": string(contacts.SkipNotLocked)}) {
			t.Errorf("unlock skipped %v", got)
		}

		// Send reset links: Olu has had three links this hour already.
		for range contacts.MaxLinksPerHour {
			if r := admin.PostForm(fmt.Sprintf("/contacts/%d/reset-link", f.olu.ID), nil); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("reset link for Olu: %d", r.StatusCode)
			}
		}
		f.Lock(f.maria, f.zoe)
		before, _ := f.check.MailTo(f.Ctx, f.lukasz.ID)
		resp = bulkAct(t, admin, "reset", "Send reset links to 4 contacts?", bulkForm("", f.lukasz.ID, f.zoe.ID, nina.ID, f.olu.ID))
		if got := testText(t, resp.Body, "bulk-message"); got != "1 contact has been sent a reset link." {
			t.Errorf("reset message %q", got)
		}
		want = map[string]string{
			"Zoë Ærø":      string(contacts.SkipLocked),
			"Nina Invited": string(contacts.SkipNoPassword),
			"Olu Adeyemi":  string(contacts.SkipMailLimit),
		}
		if got := skippedRows(t, resp.Body); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("reset skipped %v, want %v", got, want)
		}
		if after, _ := f.check.MailTo(f.Ctx, f.lukasz.ID); len(after) != len(before)+1 || after[len(after)-1].Kind != db.MailReset {
			t.Errorf("Łukasz has %d mails (was %d), want one more reset link", len(after), len(before))
		}
		if mails, _ := f.check.MailTo(f.Ctx, nina.ID); len(mails) != 0 {
			t.Errorf("Nina, who has no password yet, got %d mails", len(mails))
		}

		// Nothing ticked, and an action that isn't one.
		resp = admin.PostForm("/contacts/bulk", bulkForm("lock"))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("nothing selected: %d", resp.StatusCode)
		}
		if got := testText(t, admin.Get(resp.Header.Get("Location")).Body, "alert-error"); got != "Select one or more contacts first." {
			t.Errorf("nothing selected: %q", got)
		}
		if r := admin.PostForm("/contacts/bulk", bulkForm("delete", f.zoe.ID)); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("an unknown action: %d", r.StatusCode)
		}
		if r := admin.PostForm("/contacts/bulk/delete", bulkForm("", f.zoe.ID)); r.StatusCode != http.StatusNotFound {
			t.Errorf("an unknown action's URL: %d", r.StatusCode)
		}
		// Bulk actions are for contact admins, with a token.
		if r := f.Login(f.lukasz.Email).PostForm("/contacts/bulk/lock", bulkForm("", f.olu.ID)); r.StatusCode != http.StatusForbidden {
			t.Errorf("a contact who is no admin: %d", r.StatusCode)
		}
		if f.Reload(f.olu).Locked() {
			t.Error("a refused bulk action locked someone")
		}
	})
}

// TestSelectAllMatching: "Select all N matching contacts" takes the whole section under the
// search, beyond the page, as the confirmation counted them: a contact that starts to match
// after the confirmation is not taken, one that is locked meanwhile is left as it is.
func TestSelectAllMatching(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		var pages []db.Contact
		for i := range 30 {
			pages = append(pages, f.Contact(f.grandchild, "Paula", fmt.Sprintf("Pagewood%02d", i), fmt.Sprintf("paula%02d@northwind.example", i)))
		}
		admin := f.Login(f.maria.Email)
		list := admin.Get("/contacts?q=pagewood")
		d := htmlDoc(t, list.Body)
		if got := strings.Join(strings.Fields(d.Find(`label.select-all`).Text()), " "); got != "Select all 30 matching contacts" {
			t.Errorf("select all reads %q", got)
		}
		if all := admin.Get("/contacts?q=Haddad"); strings.Contains(all.Body, `data-testid="select-all-matching"`) {
			t.Error("Select all matching is offered when the page holds every match")
		}
		form := url.Values{"all": {"1"}, "q": {"pagewood"}, "id": {fmt.Sprint(pages[0].ID)}}
		form.Set("action", "lock")
		confirm := admin.PostForm("/contacts/bulk", form)
		d = htmlDoc(t, confirm.Body)
		if got := strings.TrimSpace(d.Find(`[data-testid="bulk-confirm"] h1`).Text()); got != "Lock 30 contacts?" {
			t.Fatalf("confirmation %q", got)
		}
		confirmed := url.Values{}
		d.Find(`[data-testid="bulk-confirm"] form input[type=hidden]`).Each(func(_ int, s *goquery.Selection) {
			confirmed.Add(s.AttrOr("name", ""), s.AttrOr("value", ""))
		})
		// Meanwhile another admin locks one of them, and one more contact starts to match: the
		// action takes the 30 it named, the one locked meanwhile as it is now.
		f.Lock(f.maria, pages[3])
		extra := f.Contact(f.child, "Peter", "Pagewood", "peter@northwind.example")
		resp := admin.PostForm("/contacts/bulk/lock", confirmed)
		if got := testText(t, resp.Body, "bulk-message"); got != "29 contacts have been locked out." {
			t.Errorf("message %q", got)
		}
		if got := skippedRows(t, resp.Body); len(got) != 1 || got[pages[3].Name()] != string(contacts.SkipAlreadyLocked) {
			t.Errorf("left alone: %v, want only %s, already locked out", got, pages[3].Name())
		}
		for _, c := range pages {
			if !f.Reload(c).Locked() {
				t.Errorf("%s not locked", c.Email)
			}
		}
		if f.Reload(extra).Locked() {
			t.Error("a contact that came to match the search after the confirmation was locked")
		}
		if n, _ := f.check.CountAudit(f.Ctx, db.ActionContactLocked, pages[3].ID); n != 1 {
			t.Errorf("the contact locked meanwhile has %d lock rows, want 1", n)
		}
		for _, c := range []db.Contact{f.zoe, f.olu, f.lukasz} {
			if f.Reload(c).Locked() {
				t.Errorf("%s, who doesn't match, was locked", c.Email)
			}
		}
		// A form that names no confirmed contacts acts on nobody.
		if r := admin.PostForm("/contacts/bulk/lock", url.Values{"all": {"1"}, "q": {"pagewood"}}); r.StatusCode != http.StatusUnprocessableEntity || f.Reload(extra).Locked() {
			t.Errorf("lock without a confirmation: %d, Peter locked %v; want 422 and not locked", r.StatusCode, f.Reload(extra).Locked())
		}
		// The Locked out section under the same search: unlock them all again.
		resp = bulkAct(t, admin, "unlock", "Unlock 30 contacts?", url.Values{"all": {"1"}, "q": {"pagewood"}, "section": {"locked"}})
		if got := testText(t, resp.Body, "bulk-message"); got != "30 contacts have been unlocked." {
			t.Errorf("message %q", got)
		}
	})
}

// TestBulkTenThousand: one action takes 10,000 contacts, in batches, with an audit row
// each; 10,001 are refused with a message and change nothing.
func TestBulkTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 contacts")
	}
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		big := f.Account("Northwind Field Staff", &f.root)
		err := f.Store.Write(f.Ctx, func(tx *db.Tx) error {
			for i := range contacts.MaxBulk + 1 {
				if _, err := tx.CreateContact(f.Ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: big.ID,
					FirstName: "Field", LastName: fmt.Sprintf("Worker%05d", i), Email: fmt.Sprintf("field%05d@northwind.example", i)},
					PasswordHash: "x"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		admin := f.Login(f.maria.Email)
		resp := admin.PostForm("/contacts/bulk", url.Values{"action": {"lock"}, "all": {"1"}, "q": {"field"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("10,001: %d", resp.StatusCode)
		}
		if got := testText(t, admin.Get(resp.Header.Get("Location")).Body, "alert-error"); got != "A bulk action takes at most 10,000 contacts at once. Search to narrow them down." {
			t.Errorf("10,001: %q", got)
		}
		// One of them is locked out meanwhile: 10,000 active ones are left.
		last, err := f.Store.ContactByEmail(f.Ctx, fmt.Sprintf("field%05d@northwind.example", contacts.MaxBulk))
		if err != nil {
			t.Fatal(err)
		}
		f.Lock(f.maria, last)
		started := time.Now()
		resp = bulkAct(t, admin, "lock", "Lock 10,000 contacts?", url.Values{"all": {"1"}, "q": {"field"}})
		t.Logf("%s: locked 10,000 in %v", engine, time.Since(started).Round(time.Millisecond))
		if got := testText(t, resp.Body, "bulk-message"); got != "10,000 contacts have been locked out." {
			t.Errorf("message %q", got)
		}
		if n, _ := f.check.CountAudit(f.Ctx, db.ActionContactLocked, 0); n != 10_000+2 { // and Amir's, and the one locked meanwhile
			t.Errorf("%d lock rows, want 10,002", n)
		}
	})
}

// TestBulkLockByTwoAdmins: two admins lock overlapping selections at once; every contact is
// locked once, by one of them, with one audit row, and their counts add up.
func TestBulkLockByTwoAdmins(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		second := f.Contact(f.root, "Hugo", "Second", "hugo@northwind.example", db.RoleContactAdmin)
		var ids []int64
		for i := range 1200 {
			ids = append(ids, f.Contact(f.grandchild, "Member", fmt.Sprintf("M%04d", i), fmt.Sprintf("m%04d@northwind.example", i)).ID)
		}
		first, other := ids[:800], ids[400:]
		var wg sync.WaitGroup
		results := make([]contacts.BulkResult, 2)
		for i, job := range []struct {
			admin db.Contact
			ids   []int64
		}{{f.maria, first}, {second, other}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := f.App.Contacts().LockContacts(f.Ctx, f.actor(t, job.admin), job.ids)
				if err != nil {
					t.Error(err)
				}
				results[i] = r
			}()
		}
		wg.Wait()
		if got := results[0].Done + results[1].Done; got != len(ids) {
			t.Errorf("locked %d + %d, want %d in all", results[0].Done, results[1].Done, len(ids))
		}
		if got := len(results[0].Skipped) + len(results[1].Skipped); got != 400 {
			t.Errorf("skipped %d in all, want the 400 both asked for", got)
		}
		for _, r := range results {
			for _, s := range r.Skipped {
				if s.Reason != contacts.SkipAlreadyLocked {
					t.Errorf("skipped %d: %q", s.ID, s.Reason)
				}
			}
		}
		if n, _ := f.check.CountAudit(f.Ctx, db.ActionContactLocked, 0); n != len(ids)+1 { // and Amir's
			t.Errorf("%d lock rows, want %d", n, len(ids)+1)
		}
		sample, _ := f.Store.ContactByID(f.Ctx, ids[600])
		if !sample.Locked() || !slices.Contains([]string{"Maria Anders", "Hugo Second"}, sample.LockedByName) {
			t.Errorf("contact in both selections: %s by %q", sample.Status, sample.LockedByName)
		}
	})
}

// TestExportSelectedAndView: Export selected exports the ticked contacts of the scope;
// the menu's current view exports the section under the search.
func TestExportSelectedAndView(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		admin := f.Login(f.maria.Email)
		page := admin.PostForm("/contacts/bulk", bulkForm("export", f.zoe.ID, f.olu.ID, f.kwame.ID))
		d := htmlDoc(t, page.Body)
		if got := strings.TrimSpace(d.Find(`[data-testid="bulk-export-page"] h1`).Text()); got != "Export 3 contacts" {
			t.Errorf("export page: %q", got)
		}
		href, _ := d.Find(`[data-testid="bulk-export-csv"]`).Attr("href")
		emails := func(body string) []string {
			rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\uFEFF"))).ReadAll()
			if err != nil {
				t.Fatalf("not CSV: %v", err)
			}
			var out []string
			for _, r := range rows[1:] {
				out = append(out, r[2])
			}
			slices.Sort(out)
			return out
		}
		if got := emails(admin.Get(href).Body); strings.Join(got, " ") != "olu@northwind.example zoe@northwind.example" {
			t.Errorf("Export selected: %v", got)
		}
		if n, _ := f.check.CountAudit(f.Ctx, db.ActionContactsExported, 0); n != 1 {
			t.Errorf("%d export rows", n)
		}
		if got := emails(admin.Get("/contacts/export.csv?section=locked").Body); strings.Join(got, " ") != "amir@northwind.example" {
			t.Errorf("locked section: %v", got)
		}
		if got := emails(admin.Get("/contacts/export.csv?section=active&q=nielsen").Body); strings.Join(got, " ") != "soren@northwind.example" {
			t.Errorf("active matching nielsen: %v", got)
		}
		list := admin.Get("/contacts?q=nielsen&section=active")
		if href, _ := htmlDoc(t, list.Body).Find(`[data-testid="export-view-csv"]`).Attr("href"); href != "/contacts/export.csv?q=nielsen&section=active" {
			t.Errorf("the menu's current view links to %q", href)
		}
		frag := admin.HTMXGet("/contacts?q=lund&section=locked")
		if !strings.Contains(frag.Body, `id="export-view" data-hx-swap-oob="true"`) || !strings.Contains(frag.Body, "Locked out contacts matching “lund”") {
			t.Error("the list's fragment doesn't bring the current view's export with it")
		}
	})
}

// TestABulkActionThatStopsPartWaySaysHowFarItGot: a batch of Lock selected fails (here a
// trigger refuses one contact's lock) after a batch before it is done. The result page says
// what was done and how many contacts it never came to, rather than an error page saying
// that nothing was changed; doing it again finishes it.
func TestABulkActionThatStopsPartWaySaysHowFarItGot(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		field := f.Account("Northwind Field Staff", &f.root)
		const n = 2*contacts.BulkBatch + 200
		var ids []int64
		err := f.Store.Write(f.Ctx, func(tx *db.Tx) error {
			ids = ids[:0]
			for i := range n {
				id, err := tx.CreateContact(f.Ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: field.ID,
					FirstName: "Field", LastName: fmt.Sprintf("Worker%05d", i), Email: fmt.Sprintf("field%05d@northwind.example", i)},
					PasswordHash: "x"})
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		refused := ids[n-1] // the last one created: in the last batch, whatever the order of the batches
		if engine == portaltest.Postgres {
			dbtest.Exec(t, f.Config.DBPath, `CREATE FUNCTION refuse_lock() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'a failure, for the test'; END $$`)
			dbtest.Exec(t, f.Config.DBPath, fmt.Sprintf(`CREATE TRIGGER refuse_lock BEFORE UPDATE ON contacts FOR EACH ROW
				WHEN (NEW.id = %d AND NEW.status = 'locked') EXECUTE FUNCTION refuse_lock()`, refused))
		} else {
			dbtest.Exec(t, f.Config.DBPath, fmt.Sprintf(`CREATE TRIGGER refuse_lock BEFORE UPDATE ON contacts
				WHEN NEW.id = %d AND NEW.status = 'locked' BEGIN SELECT RAISE(ABORT, 'a failure, for the test'); END`, refused))
		}

		admin := f.Login(f.maria.Email)
		resp := bulkAct(t, admin, "lock", "Lock 1,200 contacts?", url.Values{"all": {"1"}, "q": {"field"}})
		locked, _ := f.check.CountAudit(f.Ctx, db.ActionContactLocked, 0)
		locked-- // Amir's, locked by newFamily
		if locked < contacts.BulkBatch || locked >= n {
			t.Fatalf("%d contacts locked, want the batches before the failing one", locked)
		}
		if got, want := testText(t, resp.Body, "bulk-message"), fmt.Sprintf("%s contacts have been locked out.", export.Thousands(locked)); got != want {
			t.Errorf("message %q, want %q", got, want)
		}
		want := fmt.Sprintf("The portal stopped before it had finished. "+
			"%s contacts were not reached and are as before. Do it again to finish: what is done already is left as it is.", export.Thousands(n-locked))
		if got := strings.Join(strings.Fields(testText(t, resp.Body, "bulk-stopped")), " "); got != want {
			t.Errorf("stopped: %q, want %q", got, want)
		}
		if c := f.Reload(db.Contact{ID: refused}); c.Locked() {
			t.Error("the contact whose lock failed is locked")
		}

		dbtest.Exec(t, f.Config.DBPath, `DROP TRIGGER refuse_lock`+map[bool]string{true: ` ON contacts`}[engine == portaltest.Postgres])
		// The selection is the active contacts matching the search: those not reached.
		resp = bulkAct(t, admin, "lock", fmt.Sprintf("Lock %d contacts?", n-locked), url.Values{"all": {"1"}, "q": {"field"}})
		if got, want := testText(t, resp.Body, "bulk-message"), fmt.Sprintf("%s contacts have been locked out.", export.Thousands(n-locked)); got != want {
			t.Errorf("done again: message %q, want %q", got, want)
		}
		if htmlDoc(t, resp.Body).Find(`[data-testid="bulk-stopped"]`).Length() != 0 {
			t.Error("done again: the page still says it stopped")
		}
		if all, _ := f.check.CountAudit(f.Ctx, db.ActionContactLocked, 0); all != n+1 {
			t.Errorf("%d lock rows after doing it again, want one per contact, %d", all, n+1)
		}
	})
}
