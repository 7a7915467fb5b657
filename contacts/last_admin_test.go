package contacts_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"portal/contacts"
	"portal/db"
	"portal/portaltest"
)

// An account keeps one active contact admin, however many requests try to take its last two
// away at the same moment. The rule reads the other admins and then writes; on SQLite the
// one writer makes such transactions take turns, on PostgreSQL they are SERIALIZABLE and the
// one that collides runs again (db.Store.Write), so it reads what the other committed.
func TestTheLastTwoAdminsCantBothGoAtOnce(t *testing.T) {
	// Each case is two changes started together, by actors[0] and actors[1], to targets[0]
	// and targets[1] (indexes into admins, the account's two admins, or parents, two admins
	// of the account above it, who manage it too).
	type change func(ctx context.Context, rules *contacts.Service, actor contacts.Actor, target db.Contact) error
	lock := func(ctx context.Context, rules *contacts.Service, actor contacts.Actor, target db.Contact) error {
		_, err := rules.Lock(ctx, actor, target.ID)
		return err
	}
	demote := func(ctx context.Context, rules *contacts.Service, actor contacts.Actor, target db.Contact) error {
		f := target.Fields()
		f.Roles = nil
		_, err := rules.Update(ctx, actor, target.ID, f, target.EditVersion(""))
		return err
	}
	for _, tc := range []struct {
		name    string
		parents bool // the actors are the parent account's admins; else the two admins themselves
		changes [2]change
		// refused is what the change that loses gets: ErrLastAdmin when its actor is still
		// an admin, ErrNotAdmin when the other change took its own role away.
		refused error
	}{
		{"each admin locks the other", false, [2]change{lock, lock}, contacts.ErrNotAdmin},
		{"each admin demotes the other", false, [2]change{demote, demote}, contacts.ErrNotAdmin},
		{"one locks the other, who demotes the first", false, [2]change{lock, demote}, contacts.ErrNotAdmin},
		{"admins above lock both", true, [2]change{lock, lock}, contacts.ErrLastAdmin},
		{"admins above demote both", true, [2]change{demote, demote}, contacts.ErrLastAdmin},
		{"admins above lock one and demote the other", true, [2]change{lock, demote}, contacts.ErrLastAdmin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
				t.Parallel()
				e := portaltest.New(t, portaltest.Options{Engine: engine})
				top := e.Account("Northwind Traders", nil)
				acc := e.Account("Northwind Retail", &top)
				parents := []db.Contact{
					e.Contact(top, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin),
					e.Contact(top, "Ana", "Trujillo", "ana@northwind.example", db.RoleContactAdmin),
				}
				admins := []db.Contact{
					e.Contact(acc, "Zoë", "Ærø", "zoe@northwind.example", db.RoleContactAdmin),
					e.Contact(acc, "Łukasz", "Kowalski", "lukasz@northwind.example", db.RoleContactAdmin),
				}
				rules := e.App.Contacts()
				const rounds = 15
				for round := range rounds {
					// Both admins are active admins again at the start of every round.
					restore(t, e, parents[0], admins)
					actors, targets := admins, []db.Contact{e.Reload(admins[1]), e.Reload(admins[0])}
					if tc.parents {
						actors, targets = parents, []db.Contact{e.Reload(admins[0]), e.Reload(admins[1])}
					}
					var errs [2]error
					var start, done sync.WaitGroup
					start.Add(1)
					for i := range 2 {
						actor, err := rules.Admin(e.Ctx, e.Reload(actors[i]), "192.0.2.1")
						if err != nil {
							t.Fatal(err)
						}
						actor.AuthenticatedAt = e.Clock.Now() // just signed in: roles may change
						done.Add(1)
						go func() {
							defer done.Done()
							start.Wait()
							errs[i] = tc.changes[i](e.Ctx, rules, actor, targets[i])
						}()
					}
					start.Done()
					done.Wait()

					succeeded := slices.IndexFunc(errs[:], func(err error) bool { return err == nil })
					refused := slices.IndexFunc(errs[:], func(err error) bool { return errors.Is(err, tc.refused) })
					if succeeded < 0 || refused < 0 || succeeded == refused {
						t.Fatalf("round %d: the changes ended with %v, want one done and one refused with %v", round, errs, tc.refused)
					}
					if n := activeAdmins(t, e, admins); n != 1 {
						t.Fatalf("round %d: %d of the account's two admins are active admins after %v, want 1", round, n, errs)
					}
				}
			})
		})
	}
}

// restore makes both admins active contact admins again, as parent (an admin above them)
// would.
func restore(t *testing.T, e *portaltest.Env, parent db.Contact, admins []db.Contact) {
	t.Helper()
	rules := e.App.Contacts()
	actor, err := rules.Admin(e.Ctx, e.Reload(parent), "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	actor.AuthenticatedAt = e.Clock.Now()
	for _, a := range admins {
		c := e.Reload(a)
		if c.Locked() {
			if _, err := rules.Unlock(e.Ctx, actor, c.ID, time.Time{}); err != nil {
				t.Fatalf("unlock %s: %v", c.Email, err)
			}
		}
		if !c.IsAdmin() {
			f := c.Fields()
			f.Roles = []db.Role{db.RoleContactAdmin}
			if _, err := rules.Update(e.Ctx, actor, c.ID, f, c.EditVersion("")); err != nil {
				t.Fatalf("make %s an admin again: %v", c.Email, err)
			}
		}
	}
}

// activeAdmins counts the contacts of list that are active contact admins.
func activeAdmins(t *testing.T, e *portaltest.Env, list []db.Contact) int {
	t.Helper()
	n := 0
	for _, c := range list {
		if c = e.Reload(c); c.IsAdmin() && !c.Locked() {
			n++
		}
	}
	return n
}

// TestAnInvitedAdminIsNoActiveAdmin: the account keeps one active contact admin who can
// sign in, and a contact admin invited but without a password yet is not one. Every way to
// lock or remove it follows the same rule: its page offers Lock, and Lock, Lock selected and
// Remove all act, where the account has no other admin.
func TestAnInvitedAdminIsNoActiveAdmin(t *testing.T) {
	e := portaltest.New(t, portaltest.Options{})
	top := e.Account("Northwind Traders", nil)
	retail := e.Account("Northwind Retail", &top)
	maria := e.Contact(top, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
	rules := e.App.Contacts()
	actor, err := rules.Admin(e.Ctx, maria, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	actor.AuthenticatedAt = e.Clock.Now()
	invite := func(first string) db.Contact {
		c, err := rules.Create(e.Ctx, actor, db.ContactFields{AccountID: retail.ID, FirstName: first, LastName: "Invited",
			Email: first + "@northwind.example", Roles: []db.Role{db.RoleContactAdmin}}, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	zoe := invite("zoe")
	p, err := rules.Page(e.Ctx, actor, zoe.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.LastActiveAdmin || !p.CanLock || !p.CanRemove {
		t.Errorf("an invited admin's page: last active admin %v, Lock %v, Remove %v; want false, true, true",
			p.LastActiveAdmin, p.CanLock, p.CanRemove)
	}
	if _, err := rules.Lock(e.Ctx, actor, zoe.ID); err != nil {
		t.Errorf("Lock of an invited admin: %v", err)
	}

	ana := invite("ana")
	if r, err := rules.LockContacts(e.Ctx, actor, []int64{ana.ID}); err != nil || r.Done != 1 {
		t.Errorf("Lock selected of an invited admin: %d locked, skipped %v, %v", r.Done, r.Skipped, err)
	}

	ines := invite("ines")
	if _, err := rules.Remove(e.Ctx, actor, ines.ID); err != nil {
		t.Errorf("Remove of an invited admin: %v", err)
	}
}
