package contacts_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"portal/auth"
	"portal/db"
	"portal/db/dbtest"
	"portal/portaltest"
)

// failFirst makes the first statement of the portal that inserts into table a row whose
// action (or, for other tables, any row) matches fail with a serialization failure, as a
// collision with another transaction would on PostgreSQL: db.Store.Write runs the whole
// transaction again. A sequence counts the tries because it is not rolled back with them.
func failFirst(t *testing.T, dsn, table, condition string) {
	t.Helper()
	dbtest.Exec(t, dsn, `CREATE SEQUENCE fail_first_`+table)
	dbtest.Exec(t, dsn, `CREATE FUNCTION fail_first_`+table+`() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF (`+condition+`) AND nextval('fail_first_`+table+`') = 1 THEN
				RAISE EXCEPTION 'a collision, for the test' USING ERRCODE = '40001';
			END IF;
			RETURN NEW;
		END $$`)
	dbtest.Exec(t, dsn, `CREATE TRIGGER fail_first BEFORE INSERT ON `+table+
		` FOR EACH ROW EXECUTE FUNCTION fail_first_`+table+`()`)
}

// TestARunAgainStartsAfresh: a write transaction that runs again does what the first run
// would have done, however far that run got.
func TestARunAgainStartsAfresh(t *testing.T) {
	t.Run("Update with a new email", func(t *testing.T) {
		e := portaltest.New(t, portaltest.Options{Engine: portaltest.Postgres})
		acc := e.Account("Northwind Traders", nil)
		maria := e.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
		zoe := e.Contact(acc, "Zoë", "Ærø", "zoe@northwind.example")
		failFirst(t, e.Config.DBPath, "email_changes", "true")

		rules := e.App.Contacts()
		actor, err := rules.Admin(e.Ctx, maria, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		actor.AuthenticatedAt = e.Clock.Now()
		f := zoe.Fields()
		f.Email, f.JobTitle = "zoe.aero@northwind.example", "Buyer"
		updated, err := rules.Update(e.Ctx, actor, zoe.ID, f, zoe.EditVersion(""))
		if err != nil {
			t.Fatal(err)
		}
		if updated.EmailChange.NewEmail != f.Email {
			t.Errorf("the update ran again and asked for no email change: %+v", updated.EmailChange)
		}
		now := e.Reload(zoe)
		if now.Email != zoe.Email || now.JobTitle != "Buyer" {
			t.Errorf("stored email %q, job title %q; want the old email until confirmed, and Buyer", now.Email, now.JobTitle)
		}
		if n, _ := e.Check().CountAudit(e.Ctx, db.ActionEmailChangeRequested, zoe.ID); n != 1 {
			t.Errorf("%d email change requests in the audit log, want 1", n)
		}
	})

	t.Run("sign-in that lifts an automatic lock", func(t *testing.T) {
		e := portaltest.New(t, portaltest.Options{Engine: portaltest.Postgres, Args: []string{"--auto-unlock", "30m"}})
		acc := e.Account("Northwind Traders", nil)
		zoe := e.Contact(acc, "Zoë", "Ærø", "zoe@northwind.example")
		dbtest.Exec(t, e.Config.DBPath, `UPDATE contacts SET status = 'locked', lock_reason = 'failed_logins',
			locked_at = $1, failed_logins = 10 WHERE id = $2`, e.Clock.Now().Unix(), zoe.ID)
		e.Clock.Advance(31 * time.Minute)
		failFirst(t, e.Config.DBPath, "audit_events", "NEW.action = '"+db.ActionLoginSucceeded+"'")

		result, err := e.App.Contacts().SignIn(e.Ctx, zoe.Email, portaltest.Password, "192.0.2.1", "")
		if err != nil {
			t.Fatalf("sign-in after the automatic lock expired: %v", err)
		}
		if result.Contact.ID != zoe.ID {
			t.Errorf("signed in as %d, want %d", result.Contact.ID, zoe.ID)
		}
		if now := e.Reload(zoe); now.Locked() {
			t.Errorf("signed in, but the contact is still %s (%s): the run again skipped the unlock", now.Status, now.LockReason)
		}
		if n, _ := e.Check().CountAudit(e.Ctx, db.ActionLoginSucceeded, zoe.ID); n != 1 {
			t.Errorf("%d sign-ins in the audit log, want 1", n)
		}
	})
}

// TestSignInsAtOnceWhileTheHashIsRenewed: two sign-ins with the right password at the same
// moment, while the stored hash is weaker than today's. Both check the old hash; the first
// to commit stores a new one. The other must then check again, not be refused or counted as
// a failure (which it was, about one round in three, when it compared the hashes only).
func TestSignInsAtOnceWhileTheHashIsRenewed(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := portaltest.New(t, portaltest.Options{Engine: engine, Args: []string{"--login-throttle-burst", "1000"}})
		acc := e.Account("Northwind Traders", nil)
		zoe := e.Contact(acc, "Zoë", "Ærø", "zoe@northwind.example")
		weaker := portaltest.FastParams
		weaker.Memory /= 2
		old := auth.NewHasher(weaker, 2)
		rules := e.App.Contacts()
		for round := range 12 {
			hash, err := old.Hash(e.Ctx, portaltest.Password)
			if err != nil {
				t.Fatal(err)
			}
			dbtest.Exec(t, e.Config.DBPath, `UPDATE contacts SET password_hash = $1 WHERE id = $2`, hash, zoe.ID)
			var errs [2]error
			var start, done sync.WaitGroup
			start.Add(1)
			for i := range errs {
				done.Add(1)
				go func() {
					defer done.Done()
					start.Wait()
					_, errs[i] = rules.SignIn(e.Ctx, zoe.Email, portaltest.Password, fmt.Sprintf("192.0.2.%d", i+1), "")
				}()
			}
			start.Done()
			done.Wait()
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("round %d: the sign-ins ended with %v", round, errs)
			}
			if c := e.Reload(zoe); c.FailedLogins != 0 || c.Locked() {
				t.Fatalf("round %d: %d failed logins, %s; want none", round, c.FailedLogins, c.Status)
			}
		}
	})
}
