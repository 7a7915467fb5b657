package handlers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"portal/app"
	"portal/contacts"
	"portal/db"
	"portal/db/dbtest"
	"portal/portaltest"
)

// family is one customer three organizations deep, with a sibling organization and
// another tenant beside it:
//
//	Northwind Traders (maria, admin)
//	├── Northwind Logistics (soren, its only admin; zoe; lukasz; amir, locked by maria)
//	│   └── Northwind Logistics Nordics (freja, its only admin; olu)
//	└── Northwind Retail (ines, admin; noah)
//	Contoso Pharma (kwame, admin)
type family struct {
	*portaltest.Env
	check                                       *dbtest.DB
	root, child, grandchild, sibling, other     db.Account
	maria, soren, zoe, lukasz, amir, freja, olu db.Contact
	ines, noah, kwame                           db.Contact
	childContacts                               []db.Contact // of child and grandchild
}

func newFamily(t *testing.T, engine portaltest.Engine) family {
	t.Helper()
	env := portaltest.New(t, portaltest.Options{Engine: engine})
	f := family{Env: env, check: env.Check()}
	f.root = env.Account("Northwind Traders", nil)
	f.child = env.Account("Northwind Logistics", &f.root)
	f.grandchild = env.Account("Northwind Logistics Nordics", &f.child)
	f.sibling = env.Account("Northwind Retail", &f.root)
	f.other = env.Account("Contoso Pharma", nil)
	f.maria = env.Contact(f.root, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
	f.soren = env.Contact(f.child, "Søren", "Nielsen", "soren@northwind.example", db.RoleContactAdmin)
	f.zoe = env.Contact(f.child, "Zoë", "Ærø", "zoe@northwind.example", db.RoleIncidentContact)
	f.lukasz = env.Contact(f.child, "Łukasz", "Kowalski", "lukasz@northwind.example")
	f.amir = env.Contact(f.child, "Amir", "Haddad", "amir@northwind.example")
	f.freja = env.Contact(f.grandchild, "Freja", "Lund", "freja@northwind.example", db.RoleContactAdmin)
	f.olu = env.Contact(f.grandchild, "Olu", "Adeyemi", "olu@northwind.example")
	f.ines = env.Contact(f.sibling, "Inès", "Dubois", "ines@northwind.example", db.RoleContactAdmin)
	f.noah = env.Contact(f.sibling, "Noah", "Berg", "noah@northwind.example")
	f.kwame = env.Contact(f.other, "Kwame", "Mensah", "kwame@contoso.example", db.RoleContactAdmin)
	env.Lock(f.maria, f.amir)
	f.amir = env.Reload(f.amir)
	f.childContacts = []db.Contact{f.soren, f.zoe, f.lukasz, f.amir, f.freja, f.olu}
	return f
}

func (f family) actor(t *testing.T, c db.Contact) contacts.Actor {
	t.Helper()
	a, err := f.App.Contacts().Admin(f.Ctx, c, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// accessEndsForm is the Edit contact form of c with Access ends set to at ("" for none).
func accessEndsForm(t *testing.T, b *portaltest.Browser, c db.Contact, at string) url.Values {
	t.Helper()
	v := editFormOf(c, editVersion(t, b, c.ID))
	v.Set("access_ends", at)
	return v
}

// TestAccessEnds: an access end set on Edit contact is shown on the contact's page; at its
// second the contact can't sign in and its session ends; the job locks it once, with the
// reason; a reset link never lifts that lock; unlocking asks for a new date.
func TestAccessEnds(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		admin := f.Login(f.maria.Email)
		ends := f.Clock.Now().Add(26 * time.Hour).Truncate(time.Minute)
		field := ends.Format("2006-01-02T15:04")

		// A time that has passed is refused, and nothing changes.
		past := accessEndsForm(t, admin, f.zoe, f.Clock.Now().Add(-time.Hour).Format("2006-01-02T15:04"))
		resp := admin.PostForm(fmt.Sprintf("/contacts/%d", f.zoe.ID), past)
		if resp.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(resp.Body, "Choose a date and time in the future, or leave Access ends empty.") {
			t.Fatalf("past access end: got %d; %.300s", resp.StatusCode, resp.Body)
		}
		for _, bad := range []string{"tomorrow", "2026-13-01T10:00", "30/11/2026 10:00"} {
			resp := admin.PostForm(fmt.Sprintf("/contacts/%d", f.zoe.ID), accessEndsForm(t, admin, f.zoe, bad))
			if resp.StatusCode != http.StatusUnprocessableEntity || testText(t, resp.Body, "error-access_ends") == "" {
				t.Errorf("access end %q: got %d, want 422 with a message under the field", bad, resp.StatusCode)
			}
			if got, _ := htmlDoc(t, resp.Body).Find(`[data-testid="field-account_name"]`).Attr("value"); got != f.zoe.AccountName {
				t.Errorf("access end %q: the form comes back with Account Name %q, want %q", bad, got, f.zoe.AccountName)
			}
		}
		if got := f.Reload(f.zoe).AccessEndsAt; !got.IsZero() {
			t.Fatalf("a refused access end was stored: %v", got)
		}

		resp = admin.PostForm(fmt.Sprintf("/contacts/%d", f.zoe.ID), accessEndsForm(t, admin, f.zoe, field))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("save access end: got %d; %.300s", resp.StatusCode, resp.Body)
		}
		page := admin.Get(fmt.Sprintf("/contacts/%d", f.zoe.ID))
		want := ends.Format("2 Jan 2006, 15:04 UTC")
		if got := testText(t, page.Body, "details-access-ends"); got != want {
			t.Errorf("Access ends on the page: %q, want %q", got, want)
		}
		if got, _ := htmlDoc(t, admin.Get(fmt.Sprintf("/contacts/%d/edit", f.zoe.ID)).Body).
			Find(`[name="access_ends"]`).Attr("value"); got != field {
			t.Errorf("the edit form shows Access ends %q, want %q", got, field)
		}
		if n, _ := f.check.CountAudit(f.Ctx, db.ActionContactEdited, f.zoe.ID); n != 1 {
			t.Errorf("%d edit audit rows, want 1", n)
		}
		row := htmlDoc(t, admin.Get("/contacts?q=zoe").Body).Find(fmt.Sprintf(`[data-contact-id="%d"]`, f.zoe.ID))
		if got := strings.TrimSpace(row.Find(`[data-testid="contact-access-ends"]`).Text()); got != "Access ends "+want {
			t.Errorf("All Contacts shows %q under her name, want %q", got, "Access ends "+want)
		}

		// One second before: she signs in. At the second: refused, and her session ends.
		f.Clock.Advance(ends.Sub(f.Clock.Now()) - time.Second)
		admin = f.Login(f.maria.Email) // a day later: signed in again
		zoe := f.Login(f.zoe.Email)
		f.Clock.Advance(time.Second)
		if r := zoe.Get("/"); r.StatusCode != http.StatusSeeOther {
			t.Errorf("her session still works when her access has ended: %d", r.StatusCode)
		}
		if r := f.Browser().Login(f.zoe.Email, portaltest.Password); r.StatusCode != http.StatusUnauthorized ||
			!strings.Contains(r.Body, "Invalid user name or password") {
			t.Errorf("sign-in when access has ended: got %d", r.StatusCode)
		}
		if f.Reload(f.zoe).Locked() {
			t.Fatal("locked before the job ran")
		}

		// The job locks her, once.
		if n, err := f.App.Contacts().EndExpiredAccess(f.Ctx); err != nil || n != 1 {
			t.Fatalf("job: locked %d, %v; want 1", n, err)
		}
		if n, err := f.App.Contacts().EndExpiredAccess(f.Ctx); err != nil || n != 0 {
			t.Fatalf("job again: locked %d, %v; want 0", n, err)
		}
		c := f.Reload(f.zoe)
		if !c.Locked() || c.LockReason != db.LockedAccessEnded || !c.LockedAt.Equal(ends) {
			t.Fatalf("after the job: %s %q at %v", c.Status, c.LockReason, c.LockedAt)
		}
		if n, _ := f.check.CountAudit(f.Ctx, db.ActionAccessEnded, f.zoe.ID); n != 1 {
			t.Errorf("%d access_ended audit rows, want 1", n)
		}
		if n, _ := f.check.CountSessions(f.Ctx, f.zoe.ID); n != 0 {
			t.Errorf("%d sessions left", n)
		}
		page = admin.Get(fmt.Sprintf("/contacts/%d", f.zoe.ID))
		if got := testText(t, page.Body, "lock-reason"); got != "Access ended on "+want {
			t.Errorf("lock reason %q", got)
		}
		list := admin.Get("/contacts?section=locked")
		if !strings.Contains(list.Body, "Zoë Ærø") {
			t.Error("she is not in Locked out contacts")
		}

		// Forgot password? sends nothing that would lift it.
		before, _ := f.check.MailTo(f.Ctx, f.zoe.ID)
		b := f.Browser()
		b.Get("/forgot-password")
		if r := b.PostForm("/forgot-password", url.Values{"email": {f.zoe.Email}}); !strings.Contains(r.Body, `data-testid="forgot-sent"`) {
			t.Errorf("forgot password answered differently: %d", r.StatusCode)
		}
		if after, _ := f.check.MailTo(f.Ctx, f.zoe.ID); len(after) != len(before) {
			t.Errorf("a reset link was queued for a contact whose access ended (%d mails, was %d)", len(after), len(before))
		}
		if !f.Reload(f.zoe).Locked() {
			t.Error("unlocked by Forgot password?")
		}

		// Unlocking asks for a new date, or none: a past one is refused.
		if _, ok := htmlDoc(t, page.Body).Find(`[data-testid="unlock-access-ends"]`).Attr("name"); !ok {
			t.Error("Unlock offers no new access end")
		}
		resp = admin.PostForm(fmt.Sprintf("/contacts/%d/unlock", f.zoe.ID),
			url.Values{"access_ends": {f.Clock.Now().Add(-time.Minute).Format("2006-01-02T15:04")}})
		if !f.Reload(f.zoe).Locked() {
			t.Fatal("unlocked with a date that has passed")
		}
		if resp.StatusCode == http.StatusSeeOther {
			resp = admin.Get(resp.Header.Get("Location"))
		}
		if got := testText(t, resp.Body, "alert-error"); got != "Choose a new access end in the future, or leave it empty, to unlock Zoë Ærø." {
			t.Errorf("message for a past date: %q", got)
		}
		next := f.Clock.Now().Add(30 * 24 * time.Hour).Truncate(time.Minute)
		resp = admin.PostForm(fmt.Sprintf("/contacts/%d/unlock", f.zoe.ID), url.Values{"access_ends": {next.Format("2006-01-02T15:04")}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("unlock with a new date: %d", resp.StatusCode)
		}
		if c := f.Reload(f.zoe); c.Locked() || !c.AccessEndsAt.Equal(next) {
			t.Errorf("after unlocking: %s, access ends %v; want active until %v", c.Status, c.AccessEndsAt, next)
		}
		f.Login(f.zoe.Email)
	})
}

// TestAccessEndsJobRunsOnceOnTwoServers: two portals on one database run the job at the same
// time; each contact whose access ended is locked and audited exactly once.
func TestAccessEndsJobRunsOnceOnTwoServers(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		second, err := app.New(context.Background(), f.Config, slog.New(slog.NewTextHandler(io.Discard, nil)),
			app.WithClock(f.Clock.Now), app.WithHasher(f.Hasher))
		if err != nil {
			t.Fatal(err)
		}
		defer second.Close()
		ending := []db.Contact{f.zoe, f.lukasz, f.olu, f.noah}
		err = f.Store.Write(f.Ctx, func(tx *db.Tx) error {
			for i, c := range ending {
				if err := tx.SetAccessEnds(f.Ctx, c.ID, f.Clock.Now().Add(time.Duration(i+1)*time.Minute)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		f.Clock.Advance(10 * time.Minute)
		for round := 0; round < 3; round++ {
			var wg sync.WaitGroup
			counts := make([]int, 2)
			for i, rules := range []*contacts.Service{f.App.Contacts(), second.Contacts()} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, err := rules.EndExpiredAccess(f.Ctx)
					if err != nil {
						t.Errorf("job on server %d: %v", i+1, err)
					}
					counts[i] = n
				}()
			}
			wg.Wait()
			want := 0
			if round == 0 {
				want = len(ending)
			}
			if counts[0]+counts[1] != want {
				t.Errorf("round %d: the servers locked %v, want %d in all", round, counts, want)
			}
		}
		for _, c := range ending {
			if n, _ := f.check.CountAudit(f.Ctx, db.ActionAccessEnded, c.ID); n != 1 || !f.Reload(c).Locked() {
				t.Errorf("%s: %d access_ended rows, locked %v; want 1, true", c.Email, n, f.Reload(c).Locked())
			}
		}
	})
}

// TestLockOrganization: Lock organization on a child organization locks its contacts and
// those of the organization below it, skips (and lists) the last active admin of each
// account and those already locked, and audits each contact and the organization. Unlock
// organization lifts only its own locks.
func TestLockOrganization(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		zoe := f.Login(f.zoe.Email)
		admin := f.Login(f.maria.Email)
		if !strings.Contains(admin.Get("/my-contacts").Body, `href="/organizations"`) {
			t.Error("My contacts has no way to Organizations")
		}
		orgs := htmlDoc(t, admin.Get("/organizations").Body)
		var names []string
		orgs.Find(`[data-testid="organization-row"] td[data-label="Organization"]`).Each(func(_ int, s *goquery.Selection) {
			names = append(names, strings.TrimSpace(s.Text()))
		})
		if got := strings.Join(names, "|"); got != "Northwind Logistics|Northwind Logistics Nordics|Northwind Retail" {
			t.Errorf("organizations listed: %q, want the three below Northwind Traders", got)
		}

		checkOrganizationCounts(t, f, admin, "before")

		confirm := admin.Get(fmt.Sprintf("/organizations/%d/lock", f.child.ID))
		if got := testText(t, confirm.Body, "confirm-organization"); !strings.Contains(got, "Lock Northwind Logistics?") ||
			!strings.Contains(got, "The 5 active contacts of Northwind Logistics") {
			t.Errorf("confirmation: %q", got)
		}
		resp := admin.PostForm(fmt.Sprintf("/organizations/%d/lock", f.child.ID), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("lock organization: %d; %.300s", resp.StatusCode, resp.Body)
		}
		if got := testText(t, resp.Body, "bulk-message"); got != "3 contacts have been locked out." {
			t.Errorf("message %q", got)
		}
		skipped := map[string]string{}
		htmlDoc(t, resp.Body).Find(`[data-testid="skipped-row"]`).Each(func(_ int, s *goquery.Selection) {
			text := strings.Join(strings.Fields(s.Text()), " ")
			name, why, _ := strings.Cut(text, ": ")
			skipped[name] = why
		})
		wantSkipped := map[string]string{
			"Søren Nielsen": string(contacts.SkipLastAdmin),
			"Freja Lund":    string(contacts.SkipLastAdmin),
		}
		if fmt.Sprint(skipped) != fmt.Sprint(wantSkipped) {
			t.Errorf("skipped %v, want %v", skipped, wantSkipped)
		}
		for _, c := range []db.Contact{f.zoe, f.lukasz, f.olu} {
			got := f.Reload(c)
			if got.LockReason != db.LockedWithOrganization || got.LockedByName != "Maria Anders" || got.LockedWith != "Northwind Logistics" {
				t.Errorf("%s: %s %q by %q with %q, want locked with the organization by Maria", c.Email, got.Status, got.LockReason, got.LockedByName, got.LockedWith)
			}
			if n, _ := f.check.CountAudit(f.Ctx, db.ActionContactLocked, c.ID); n != 1 {
				t.Errorf("%s: %d lock audit rows, want 1", c.Email, n)
			}
		}
		locked := htmlDoc(t, admin.Get("/contacts?section=locked").Body)
		why := strings.TrimSpace(locked.Find(fmt.Sprintf(`[data-contact-id="%d"] [data-testid="contact-why-locked"]`, f.zoe.ID)).Text())
		if !strings.HasPrefix(why, "Locked with Northwind Logistics by Maria Anders on ") {
			t.Errorf("Locked out contacts says why %q, want the organization and who locked it", why)
		}
		for _, c := range []db.Contact{f.soren, f.freja, f.ines, f.noah, f.maria, f.kwame} {
			if f.Reload(c).Locked() {
				t.Errorf("%s was locked", c.Email)
			}
		}
		if n, _ := f.check.CountAudit(f.Ctx, db.ActionOrganizationLocked, 0); n != 1 {
			t.Errorf("%d organization_locked rows, want 1", n)
		}
		rows := checkOrganizationCounts(t, f, admin, "after Lock organization")
		if got, want := fmt.Sprint(rows), "[Northwind Logistics: 2 active, 4 locked out, unlock Northwind Logistics Nordics: 1 active, 1 locked out Northwind Retail: 2 active, 0 locked out]"; got != want {
			t.Errorf("Organizations after Lock organization:\n got %s\nwant %s", got, want)
		}
		if r := zoe.Get("/"); r.StatusCode != http.StatusSeeOther {
			t.Error("a locked contact's session still works")
		}
		page := admin.Get(fmt.Sprintf("/contacts/%d", f.olu.ID))
		if got := testText(t, page.Body, "lock-reason"); !strings.HasPrefix(got, "Locked with Northwind Logistics by Maria Anders on ") {
			t.Errorf("lock reason %q", got)
		}

		// Someone locked with the organization but unlocked by hand and locked again by an
		// admin stays locked: Unlock organization lifts only its own locks.
		if _, err := f.App.Contacts().Unlock(f.Ctx, f.actor(t, f.maria), f.lukasz.ID, time.Time{}); err != nil {
			t.Fatal(err)
		}
		f.Lock(f.maria, f.lukasz)

		confirm = admin.Get(fmt.Sprintf("/organizations/%d/unlock", f.child.ID))
		if got := testText(t, confirm.Body, "confirm-organization"); !strings.Contains(got, "The 2 contacts that Lock organization locked out") {
			t.Errorf("unlock confirmation: %q", got)
		}
		resp = admin.PostForm(fmt.Sprintf("/organizations/%d/unlock", f.child.ID), nil)
		if got := testText(t, resp.Body, "bulk-message"); got != "2 contacts have been unlocked." {
			t.Errorf("unlock message %q", got)
		}
		for _, tc := range []struct {
			c      db.Contact
			locked bool
		}{{f.zoe, false}, {f.olu, false}, {f.lukasz, true}, {f.amir, true}} {
			if c, locked := tc.c, tc.locked; f.Reload(c).Locked() != locked {
				t.Errorf("%s locked %v after Unlock organization, want %v", c.Email, !locked, locked)
			}
		}
		if n, _ := f.check.CountAudit(f.Ctx, db.ActionOrganizationUnlocked, 0); n != 1 {
			t.Errorf("%d organization_unlocked rows, want 1", n)
		}
		checkOrganizationCounts(t, f, admin, "after Unlock organization")

		// Its own account is not a child organization; another tenant's is not found; a
		// child admin sees only what is below them.
		if r := admin.PostForm(fmt.Sprintf("/organizations/%d/lock", f.root.ID), nil); r.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(r.Body, "Lock organization is for the organizations below your own.") {
			t.Errorf("lock own account: %d", r.StatusCode)
		}
		if r := admin.PostForm(fmt.Sprintf("/organizations/%d/lock", f.other.ID), nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("lock another tenant: %d", r.StatusCode)
		}
		if f.Reload(f.maria).Locked() || f.Reload(f.kwame).Locked() {
			t.Error("a refused Lock organization locked someone")
		}
		soren := f.Login(f.soren.Email)
		body := soren.Get("/organizations").Body
		if !strings.Contains(body, "Northwind Logistics Nordics") || strings.Contains(body, "Northwind Retail") {
			t.Errorf("a child admin's organizations: %.500s", body)
		}
		if r := soren.PostForm(fmt.Sprintf("/organizations/%d/lock", f.sibling.ID), nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("child admin locks a sibling organization: %d", r.StatusCode)
		}
		if r := f.Login(f.zoe.Email).Get("/organizations"); r.StatusCode != http.StatusForbidden {
			t.Errorf("a contact who is no admin opens Organizations: %d", r.StatusCode)
		}
	})
}

// checkOrganizationCounts checks every row of admin's Organizations page against the
// contacts that Lock organization and Unlock organization would act on, and returns the
// rows as "name: n active, n locked out[, unlock]".
func checkOrganizationCounts(t *testing.T, f family, admin *portaltest.Browser, step string) []string {
	t.Helper()
	sc, err := f.Store.ScopeOf(f.Ctx, f.root.ID)
	if err != nil {
		t.Fatal(err)
	}
	count := func(org int64, status string, lockedWith bool) int {
		ids, err := f.Store.OrganizationContacts(f.Ctx, sc, org, status, lockedWith)
		if err != nil {
			t.Fatal(err)
		}
		return len(ids)
	}
	var rows []string
	htmlDoc(t, admin.Get("/organizations").Body).Find(`[data-testid="organization-row"]`).Each(func(_ int, row *goquery.Selection) {
		id, _ := strconv.ParseInt(row.AttrOr("data-org-id", ""), 10, 64)
		cell := func(label string) string {
			return strings.TrimSpace(row.Find(`td[data-label="` + label + `"]`).Text())
		}
		unlock := row.Find(`[data-testid="unlock-organization"]`).Length() > 0
		got := fmt.Sprintf("%s active, %s locked out, unlock %v", cell("Active"), cell("Locked out"), unlock)
		want := fmt.Sprintf("%d active, %d locked out, unlock %v", count(id, db.StatusActive, false),
			count(id, db.StatusLocked, false), count(id, db.StatusLocked, true) > 0)
		if got != want {
			t.Errorf("%s: Organizations shows %s: %s, want %s", step, cell("Organization"), got, want)
		}
		line := fmt.Sprintf("%s: %s active, %s locked out", cell("Organization"), cell("Active"), cell("Locked out"))
		if unlock {
			line += ", unlock"
		}
		rows = append(rows, line)
	})
	if len(rows) == 0 {
		t.Errorf("%s: Organizations lists no organization", step)
	}
	return rows
}

// TestLockOrganizationBesideBulkUnlock: Lock organization runs while another admin unlocks
// the same contacts in bulk. Whatever the order, every contact ends either active or
// locked with the organization, and its audit rows say exactly how it got there.
func TestLockOrganizationBesideBulkUnlock(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		var ids []int64
		for i := range 40 {
			c := f.Contact(f.grandchild, "Member", fmt.Sprintf("%02d", i), fmt.Sprintf("member%02d@northwind.example", i))
			ids = append(ids, c.ID)
		}
		// Maria in two tabs.
		maria, tab := f.actor(t, f.maria), f.actor(t, f.maria)
		var wg sync.WaitGroup
		var locked contacts.BulkResult
		wg.Add(2)
		go func() {
			defer wg.Done()
			var err error
			if locked, err = f.App.Contacts().LockOrganization(f.Ctx, maria, f.child.ID); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			for range 5 {
				if _, err := f.App.Contacts().UnlockContacts(f.Ctx, tab, ids); err != nil {
					t.Error(err)
				}
			}
		}()
		wg.Wait()
		lockRows := 0
		for _, id := range ids {
			c, err := f.Store.ContactByID(f.Ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			locks, _ := f.check.CountAudit(f.Ctx, db.ActionContactLocked, id)
			unlocks, _ := f.check.CountAudit(f.Ctx, db.ActionContactUnlocked, id)
			lockRows += locks
			want := 0
			if c.Locked() {
				want = 1
				if c.LockReason != db.LockedWithOrganization {
					t.Errorf("contact %d locked with reason %q", id, c.LockReason)
				}
			}
			if locks > 1 || locks-unlocks != want {
				t.Errorf("contact %d (%s): %d lock and %d unlock rows", id, c.Status, locks, unlocks)
			}
		}
		// Besides the 40, it locked Zoë, Łukasz and Olu, whom nobody unlocked.
		if locked.Done != lockRows+3 {
			t.Errorf("Lock organization reported %d locked, the audit %d of the 40 and 3 others", locked.Done, lockRows)
		}
		for _, c := range []db.Contact{f.zoe, f.lukasz, f.olu} {
			if f.Reload(c).LockReason != db.LockedWithOrganization {
				t.Errorf("%s is not locked with the organization", c.Email)
			}
		}
	})
}

// TestRemoveContact: Remove this contact asks, naming the contact, then erases its personal
// data from every table and from the search index (and, on SQLite, from the files), ends
// its sessions and links, keeps its audit rows under "Removed contact #id", and frees its
// email. Nobody removes themselves or the last active admin of an account.
func TestRemoveContact(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		quentin := f.Contact(f.child, "Quentin", "Vasquez-Oyelaran", "quentin.oyelaran@northwind.example", db.RoleIncidentContact)
		admin := f.Login(f.maria.Email)
		path := fmt.Sprintf("/contacts/%d", quentin.ID)
		// A life that leaves traces: edits, a session, a failed login, a lock and an unlock,
		// a reset link waiting in the outbox, and mail about him to his admins.
		v := editFormOf(quentin, editVersion(t, admin, quentin.ID))
		v.Set("phone", "+44 20 7946 0999")
		v.Set("job_title", "Chief Zymurgist")
		if r := admin.PostForm(path, v); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("edit: %d", r.StatusCode)
		}
		his := f.Login(quentin.Email)
		setUpApp(t, f.Env, his) // an authenticator app and recovery codes
		f.Browser().Login("Quentin.Oyelaran@northwind.example", "not his password at all")
		f.Lock(f.maria, quentin)
		admin.PostForm(path+"/unlock", nil)
		if r := admin.PostForm(path+"/reset-link", nil); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("reset link: %d", r.StatusCode)
		}
		for range 10 {
			if r := f.Browser().Login(quentin.Email, "still not his password"); r.StatusCode != http.StatusUnauthorized {
				t.Logf("failed login: %d %s", r.StatusCode, testText(t, r.Body, "login-error"))
			}
		}
		if c := f.Reload(quentin); !c.Locked() {
			t.Fatalf("not locked after 10 failures: %d failures", c.FailedLogins)
		}
		admin.PostForm(path+"/unlock", nil)
		// His email changed once, and was about to change again: every address he had is his.
		changeEmail(t, f.Env, admin, quentin, "q.vasquez@northwind.example")
		useLink(f.Env, mailedPath(t, f.Env, "q.vasquez@northwind.example", confirmEmailPrefix))
		if quentin = f.Reload(quentin); quentin.Email != "q.vasquez@northwind.example" {
			t.Fatalf("email change not confirmed: %q", quentin.Email)
		}
		if r := changeEmail(t, f.Env, admin, quentin, "qv.pending@northwind.example"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("second email change: %d", r.StatusCode)
		}
		f.DeliverMail()
		traces := []string{"Quentin", "Vasquez-Oyelaran", "oyelaran", "+44 20 7946 0999", "Zymurgist", "q.vasquez", "qv.pending"}
		if found, _ := f.check.Where(f.Ctx, "oyelaran"); len(found) < 3 {
			t.Fatalf("the test left too few traces to look for: %v", found)
		}
		factorTables := []string{"totp_factors", "recovery_codes"}
		for _, table := range factorTables {
			if n, err := f.check.CountRows(f.Ctx, table, quentin.ID); err != nil || n == 0 {
				t.Fatalf("%s: %d rows of his before the removal (%v), want some", table, n, err)
			}
		}

		confirm := admin.Get(path + "/remove")
		if got := testText(t, confirm.Body, "confirm-remove"); !strings.Contains(got, "Remove Quentin Vasquez-Oyelaran?") ||
			!strings.Contains(got, quentin.Email) {
			t.Errorf("confirmation: %q", got)
		}
		// Ten minutes after signing in, removal asks for the admin's password again (SPEC 3.11).
		f.Clock.Advance(10*time.Minute + time.Second)
		if page := admin.Get(path + "/remove"); !hasTestID(t, page.Body, "reauth") {
			t.Error("10 minutes after signing in, the confirmation asks no password")
		}
		for _, secret := range []string{"", "not my password"} {
			resp := admin.PostForm(path+"/remove", url.Values{"reauth": {secret}})
			if resp.StatusCode != http.StatusUnprocessableEntity || !hasTestID(t, resp.Body, "error-reauth") {
				t.Errorf("remove with reauth %q: %d, want 422 asking for the password", secret, resp.StatusCode)
			}
		}
		if c := f.Reload(quentin); c.Email != quentin.Email {
			t.Fatalf("removed without a fresh proof: %+v", c)
		}
		resp := admin.PostForm(path+"/remove", url.Values{"reauth": {portaltest.Password}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/contacts" {
			t.Fatalf("remove: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if got := testText(t, admin.Get("/contacts").Body, "alert-success"); got != "Quentin Vasquez-Oyelaran has been removed, and their personal data erased." {
			t.Errorf("confirmation %q", got)
		}

		for _, text := range traces {
			if found, err := f.check.Where(f.Ctx, text); err != nil || len(found) > 0 {
				t.Errorf("%q is still in %v (%v)", text, found, err)
			}
		}
		if engine == portaltest.SQLite {
			if n, err := f.check.SearchIndexMatches(f.Ctx, "oyelaran OR zymurgist OR quentin"); err != nil || n != 0 {
				t.Errorf("the search index still finds him: %d, %v", n, err)
			}
			for _, text := range []string{"oyelaran", "Quentin", "Zymurgist", "7946 0999"} {
				if files := dbtest.FilesContain(t, f.Config.DBPath, text); len(files) > 0 {
					t.Errorf("%q is still in the bytes of %v", text, files)
				}
			}
		}
		if n, _ := f.check.CountSessions(f.Ctx, quentin.ID); n != 0 {
			t.Errorf("%d sessions left", n)
		}
		for _, table := range append(factorTables, "passkeys", "passkey_users", "pending_signins") {
			if n, err := f.check.CountRows(f.Ctx, table, quentin.ID); err != nil || n != 0 {
				t.Errorf("%s: %d rows of his left (%v), want none", table, n, err)
			}
		}
		if r := his.Get("/"); r.StatusCode != http.StatusSeeOther {
			t.Errorf("his session still works: %d", r.StatusCode)
		}
		for action, want := range map[string]int{db.ActionContactEdited: 1, db.ActionContactLocked: 1, db.ActionContactUnlocked: 2,
			db.ActionAutoLocked: 1, db.ActionContactRemoved: 1} {
			if n, _ := f.check.CountAudit(f.Ctx, action, quentin.ID); n != want {
				t.Errorf("%d %s rows about him, want %d", n, action, want)
			}
		}
		audit := admin.Get("/audit").Body
		if !strings.Contains(audit, db.RemovedLabel(quentin.ID)) {
			t.Error("the audit log doesn't name him Removed contact #id")
		}
		// His history can still be pulled up: the Contact filter offers him by that name, and
		// filters and exports by him.
		label := db.RemovedLabel(quentin.ID)
		option := htmlDoc(t, audit).Find(fmt.Sprintf(`[data-testid="filter-contact"] option[value="%d"]`, quentin.ID))
		if got := strings.TrimSpace(option.Text()); got != label {
			t.Errorf("the Contact filter offers him as %q, want %q", got, label)
		}
		filtered := admin.Get(fmt.Sprintf("/audit?contact=%d", quentin.ID))
		rows := htmlDoc(t, filtered.Body).Find(`[data-testid="audit-row"]`).Length()
		if filtered.StatusCode != http.StatusOK || rows < 6 {
			t.Errorf("the audit log filtered by him: %d with %d rows, want 200 with his history", filtered.StatusCode, rows)
		}
		if sel := htmlDoc(t, filtered.Body).Find(`[data-testid="filter-contact"] option[selected]`); strings.TrimSpace(sel.Text()) != label {
			t.Errorf("the filter by him shows %q chosen, want %q", strings.TrimSpace(sel.Text()), label)
		}
		if r := admin.Get(fmt.Sprintf("/audit/export.csv?contact=%d", quentin.ID)); r.StatusCode != http.StatusOK ||
			strings.Count(strings.TrimSpace(r.Body), "\n") < rows || strings.Contains(strings.ToLower(r.Body), "oyelaran") {
			t.Errorf("the audit export filtered by him: %d, %d lines; want 200, his %d events and no trace of him", r.StatusCode,
				strings.Count(strings.TrimSpace(r.Body), "\n"), rows)
		}
		if r := admin.Get(path); r.StatusCode != http.StatusNotFound {
			t.Errorf("his page: %d, want 404", r.StatusCode)
		}
		if r := admin.PostForm(path+"/remove", nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("remove again: %d, want 404", r.StatusCode)
		}
		if r := admin.PostForm(path+"/lock", nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("lock a removed contact: %d, want 404", r.StatusCode)
		}
		if r := admin.Get("/contacts?q=Oyelaran"); strings.Contains(r.Body, `data-testid="contact-row"`) {
			t.Error("search still lists him")
		}
		csv := admin.Get("/contacts/export.csv").Body
		if lines := strings.Count(strings.TrimSpace(csv), "\n"); lines != 9 {
			t.Errorf("the export has %d contacts, want the 9 of Northwind left", lines)
		}

		// His email is anyone's again.
		if r := admin.PostForm("/contacts", createForm(f.child, "Quentin", "Second", "quentin.oyelaran@northwind.example")); r.StatusCode != http.StatusSeeOther {
			t.Errorf("create with the freed email: %d; %.300s", r.StatusCode, r.Body)
		}

		// Not yourself, not the last active admin: no button, and refused if forced.
		for _, c := range []db.Contact{f.maria, f.soren} {
			page := admin.Get(fmt.Sprintf("/contacts/%d", c.ID))
			if strings.Contains(page.Body, `data-testid="remove-contact"`) {
				t.Errorf("%s's page offers Remove this contact", c.Email)
			}
		}
		resp = admin.PostForm(fmt.Sprintf("/contacts/%d/remove", f.maria.ID), nil)
		if got := testText(t, admin.Get(resp.Header.Get("Location")).Body, "alert-error"); got != "You can't remove yourself." {
			t.Errorf("remove yourself: %q", got)
		}
		resp = admin.PostForm(fmt.Sprintf("/contacts/%d/remove", f.soren.ID), nil)
		if got := testText(t, admin.Get(resp.Header.Get("Location")).Body, "alert-error"); !strings.Contains(got, "is the last active contact admin of Northwind Logistics") {
			t.Errorf("remove the last admin: %q", got)
		}
		// Nor does the confirmation ask, when its address is typed: it says why at once.
		for _, tc := range []struct {
			c    db.Contact
			want string
		}{{f.maria, "You can't remove yourself."}, {f.soren, "is the last active contact admin of Northwind Logistics"}} {
			resp = admin.Get(fmt.Sprintf("/contacts/%d/remove", tc.c.ID))
			if resp.StatusCode != http.StatusSeeOther || hasTestID(t, resp.Body, "confirm-remove") {
				t.Errorf("the confirmation for %s: %d, want 303 to the page", tc.c.Email, resp.StatusCode)
			} else if got := testText(t, admin.Get(resp.Header.Get("Location")).Body, "alert-error"); !strings.Contains(got, tc.want) {
				t.Errorf("the confirmation for %s says %q, want %q", tc.c.Email, got, tc.want)
			}
		}
		if f.Reload(f.maria).Status == db.StatusRemoved || f.Reload(f.soren).Status == db.StatusRemoved {
			t.Error("a refused removal removed")
		}
		if !strings.Contains(admin.Get(fmt.Sprintf("/contacts/%d", f.zoe.ID)).Body, `data-testid="remove-contact"`) {
			t.Error("Zoë's page has no Remove this contact")
		}
	})
}
