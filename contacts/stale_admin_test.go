package contacts_test

import (
	"errors"
	"testing"
	"time"

	"portal/contacts"
	"portal/db"
	"portal/db/dbtest"
	"portal/portaltest"
)

// An admin's request passes the checks of the middleware, then its transaction begins. If
// the admin was locked, demoted or moved in between, the change it asks for must not be
// committed: each admin write re-reads the actor inside its transaction. The tests take the
// actor as the middleware built it, revoke it in the database, then let the request run.
func TestAStaleAdminChangesNothing(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		for _, revoke := range []struct {
			name string
			do   func(t *testing.T, e *portaltest.Env, admin, colleague db.Contact, elsewhere db.Account)
		}{
			{"locked by a colleague", func(t *testing.T, e *portaltest.Env, admin, colleague db.Contact, _ db.Account) {
				e.Lock(colleague, admin)
			}},
			{"Contact admin role removed", func(t *testing.T, e *portaltest.Env, admin, _ db.Contact, _ db.Account) {
				execDirectly(t, e, `DELETE FROM contact_roles WHERE contact_id = $1 AND role = 'contact_admin'`, admin.ID)
			}},
			{"moved to another account", func(t *testing.T, e *portaltest.Env, admin, _ db.Contact, elsewhere db.Account) {
				execDirectly(t, e, `UPDATE contacts SET account_id = $1 WHERE id = $2`, elsewhere.ID, admin.ID)
			}},
		} {
			t.Run(revoke.name, func(t *testing.T) {
				e := portaltest.New(t, portaltest.Options{Engine: engine})
				acc := e.Account("Northwind Traders", nil)
				elsewhere := e.Account("Contoso Pharma", nil)
				admin := e.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
				colleague := e.Contact(acc, "Ana", "Trujillo", "ana@northwind.example", db.RoleContactAdmin)
				target := e.Contact(acc, "Łukasz", "Kowalski", "lukasz@northwind.example")
				locked := e.Contact(acc, "Zoë", "Ærø", "zoe@northwind.example")
				e.Lock(colleague, locked)
				sc, err := e.Store.ScopeOf(e.Ctx, acc.ID)
				if err != nil {
					t.Fatal(err)
				}
				invited, err := e.App.Contacts().Create(e.Ctx, contacts.System(sc), db.ContactFields{AccountID: acc.ID,
					FirstName: "Hanna", LastName: "Moos", Email: "hanna@northwind.example"}, "")
				if err != nil {
					t.Fatal(err)
				}
				rules := e.App.Contacts()
				actor, err := rules.Admin(e.Ctx, admin, "192.0.2.1") // what the middleware built
				if err != nil {
					t.Fatal(err)
				}
				revoke.do(t, e, admin, colleague, elsewhere)
				auditBefore := auditCount(t, e, sc)

				for _, op := range []struct {
					name string
					do   func() error
				}{
					{"lock", func() error { _, err := rules.Lock(e.Ctx, actor, target.ID); return err }},
					{"unlock", func() error { _, err := rules.Unlock(e.Ctx, actor, locked.ID, time.Time{}); return err }},
					{"edit", func() error {
						f := target.Fields()
						f.Email = "attacker@example.test"
						_, err := rules.Update(e.Ctx, actor, target.ID, f, target.EditVersion(""))
						return err
					}},
					{"create", func() error {
						_, err := rules.Create(e.Ctx, actor, db.ContactFields{AccountID: acc.ID, FirstName: "Eve",
							LastName: "Intruder", Email: "eve@northwind.example", Roles: []db.Role{db.RoleContactAdmin}}, "")
						return err
					}},
					{"send a reset link", func() error { _, err := rules.SendResetLinkTo(e.Ctx, actor, target.ID); return err }},
					{"send a reset link by email", func() error { _, err := rules.SendResetLink(e.Ctx, actor, target.Email); return err }},
					{"resend an invitation", func() error { _, err := rules.ResendInvitation(e.Ctx, actor, invited.ID); return err }},
					{"export", func() error {
						exp, err := rules.BeginExport(e.Ctx, actor, "CSV", 0, db.ExportView{})
						if err == nil {
							exp.Close()
						}
						return err
					}},
				} {
					if err := op.do(); !errors.Is(err, contacts.ErrNotAdmin) {
						t.Errorf("%s by the stale admin: error %v, want ErrNotAdmin", op.name, err)
					}
				}
				if got := auditCount(t, e, sc); got != auditBefore {
					t.Errorf("audit events %d after the refused requests, want %d (nothing happened)", got, auditBefore)
				}
				if c := e.Reload(target); c.Locked() || c.Email != target.Email {
					t.Errorf("target after the refused requests: locked %v email %q, want active and %q", c.Locked(), c.Email, target.Email)
				}
				if c := e.Reload(locked); !c.Locked() {
					t.Error("locked contact unlocked by the stale admin")
				}
				if _, err := e.Store.ContactByEmail(e.Ctx, "eve@northwind.example"); !errors.Is(err, db.ErrNotFound) {
					t.Errorf("contact created by the stale admin: lookup error %v, want ErrNotFound", err)
				}
			})
		}
	})
}

// A colleague who is still an admin is not affected by the check.
func TestACurrentAdminStillActs(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := portaltest.New(t, portaltest.Options{Engine: engine})
		acc := e.Account("Northwind Traders", nil)
		admin := e.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
		target := e.Contact(acc, "Łukasz", "Kowalski", "lukasz@northwind.example")
		actor, err := e.App.Contacts().Admin(e.Ctx, admin, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.App.Contacts().Lock(e.Ctx, actor, target.ID); err != nil {
			t.Fatalf("lock by an active admin: %v, want success", err)
		}
		if !e.Reload(target).Locked() {
			t.Error("target not locked")
		}
	})
}

func auditCount(t *testing.T, e *portaltest.Env, sc db.Scope) int {
	t.Helper()
	events, err := e.Store.AuditLog(e.Ctx, sc, db.AuditFilter{}, 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}

// execDirectly changes the database behind the app's back, as an operator with sqlite3 or
// psql would ($N placeholders).
func execDirectly(t *testing.T, e *portaltest.Env, query string, args ...any) {
	t.Helper()
	dbtest.Exec(t, e.Config.DBPath, query, args...)
}
