package db_test

import (
	"context"
	"testing"

	"portal/db"
	"portal/db/dbtest"
)

// TestPostgresStoreBasics: the store opens a PostgreSQL URL, migrates it (twice, the second
// time doing nothing), and keeps and reads contacts, their locks and audit rows there.
func TestPostgresStoreBasics(t *testing.T) {
	ctx := context.Background()
	url := dbtest.PostgresURL(t)
	s, err := db.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	if !s.Postgres() {
		t.Fatal("a postgres:// URL opened something else")
	}
	north, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	child, err := s.CreateAccount(ctx, "Northwind Retail", north.ID)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	err = s.Write(ctx, func(tx *db.Tx) error {
		id, err = tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: child.ID,
			FirstName: "Zoë", LastName: "Ærø", Email: "Zoe@Northwind.example", Roles: []db.Role{db.RoleIncidentContact}}})
		if err != nil {
			return err
		}
		if _, err := tx.LockContact(ctx, id, 0); err != nil {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionContactLocked, TargetID: id, AccountID: child.ID})
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.ContactByEmail(ctx, "zoe@northwind.EXAMPLE")
	if err != nil || c.ID != id || !c.Locked() || c.AccountName != "Northwind Retail" || !c.HasRole(db.RoleIncidentContact) {
		t.Fatalf("contact by email: got %+v, %v", c, err)
	}
	sc, err := s.ScopeOf(ctx, north.ID)
	if err != nil || len(sc.Accounts()) != 2 || !sc.Contains(child.ID) {
		t.Fatalf("scope: got %+v, %v", sc.Accounts(), err)
	}
	p, err := s.ContactPage(ctx, sc, id, db.SessionLimits{})
	if err != nil || len(p.History) != 1 {
		t.Fatalf("contact page: got %+v, %v", p, err)
	}
	counts, err := s.ContactCounts(ctx, sc)
	if err != nil || counts.Locked != 1 || counts.Active != 0 {
		t.Errorf("counts: got %+v, %v; want 1 locked", counts, err)
	}
	err = s.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: north.ID,
			FirstName: "Z", LastName: "A", Email: "ZOE@northwind.example"}})
		return err
	})
	if err == nil {
		t.Error("a second contact with the same user name was stored")
	}
}
