package handlers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"portal/db"
	"portal/portaltest"
)

func TestAuditLogShowsTheScopeOnly(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := portaltest.New(t, portaltest.Options{Engine: engine})
		parent := e.Account("Northwind Traders", nil)
		child := e.Account("Northwind Retail", &parent)
		other := e.Account("Contoso Pharma", nil)
		parentAdmin := e.Contact(parent, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
		childAdmin := e.Contact(child, "Chad", "Child", "chad@northwind.example", db.RoleContactAdmin)
		childMember := e.Contact(child, "Zoë", "Ærø", "zoe@northwind.example")
		e.Contact(other, "Olga", "Ivanova", "olga@contoso.example", db.RoleContactAdmin)
		e.Contact(other, "Oscar", "Other", "oscar@contoso.example")

		// Something happens in each account: the child's admin locks a member, the other
		// tenant's admin exports, the parent's admin signs in.
		chad := e.Login(childAdmin.Email)
		chad.Get(fmt.Sprintf("/contacts/%d", childMember.ID))
		if resp := chad.PostForm(fmt.Sprintf("/contacts/%d/lock", childMember.ID), nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("lock: status %d", resp.StatusCode)
		}
		olga := e.Login("olga@contoso.example")
		if resp := olga.Get("/contacts/export.csv"); resp.StatusCode != http.StatusOK {
			t.Fatalf("export: status %d", resp.StatusCode)
		}
		maria := e.Login(parentAdmin.Email)

		actions := func(b *portaltest.Browser) map[string]int {
			resp := b.Get("/audit")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/audit: status %d", resp.StatusCode)
			}
			doc, _ := goquery.NewDocumentFromReader(strings.NewReader(resp.Body))
			got := map[string]int{}
			doc.Find(`[data-testid="audit-row"]`).Each(func(_ int, s *goquery.Selection) {
				got[s.AttrOr("data-action", "")]++
			})
			if strings.Contains(resp.Body, "Oscar") || strings.Contains(resp.Body, "Olga") || strings.Contains(resp.Body, "Contoso") {
				t.Errorf("audit log shows another tenant's people")
			}
			return got
		}
		if got := actions(maria); got[db.ActionContactLocked] != 1 || got[db.ActionLoginSucceeded] < 2 || got[db.ActionContactsExported] != 0 {
			t.Errorf("parent admin's audit log: %v, want the child's lock, both sign-ins, and no other tenant's export", got)
		}
		chadSees := actions(chad)
		if chadSees[db.ActionContactLocked] != 1 {
			t.Errorf("child admin's audit log: %v, want the lock", chadSees)
		}
		// The parent admin's sign-in belongs to the parent account, outside the child's scope.
		resp := chad.Get("/audit")
		if strings.Contains(resp.Body, "Maria Anders") {
			t.Error("child admin sees the parent admin's events")
		}

		member := e.Login("oscar@contoso.example")
		if resp := member.Get("/audit"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("contact without roles: status %d, want 403", resp.StatusCode)
		}
		if resp := maria.Get("/audit?before=nonsense"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("bad cursor: status %d, want 400", resp.StatusCode)
		}
	})
}

func TestAuditLogPages(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := portaltest.New(t, portaltest.Options{Engine: engine})
		acc := e.Account("Northwind Traders", nil)
		admin := e.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
		for i := 0; i < 120; i++ {
			if err := e.Store.Audit(e.Ctx, db.Event{Action: db.ActionContactEdited, ActorID: admin.ID, TargetID: admin.ID,
				AccountID: acc.ID, Detail: fmt.Sprintf("change %03d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		b := e.Login(admin.Email)
		seen := map[string]bool{}
		path, pages := "/audit", 0
		for path != "" {
			pages++
			doc, _ := goquery.NewDocumentFromReader(strings.NewReader(b.Get(path).Body))
			doc.Find(`[data-testid="audit-row"] td[data-label="Details"]`).Each(func(_ int, s *goquery.Selection) {
				if d := s.Text(); strings.HasPrefix(d, "change ") {
					if seen[d] {
						t.Errorf("%s shown twice", d)
					}
					seen[d] = true
				}
			})
			path = doc.Find(`[data-testid="audit-older"]`).AttrOr("href", "")
		}
		if len(seen) != 120 || pages != 3 {
			t.Errorf("saw %d of 120 events over %d pages, want all of them over 3 pages of 50", len(seen), pages)
		}
	})
}
