package db_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"portal/auth"
	"portal/db"
	"portal/db/testdb"
	"portal/demo"
)

// copySource is a SQLite portal with rows in every table: the demo organization with
// generated contacts (some locked by an admin created after them, so a contact refers to a
// later id), a session, a reset link whose token was minted (bytes), a queued mail, an
// email change, an email key conflict, a pending import and a setting.
type copySource struct {
	store      *db.Store
	admin      db.Contact
	sessionID  []byte
	resetToken string
}

func newCopySource(t *testing.T, contacts int) copySource {
	t.Helper()
	ctx := context.Background()
	store, look := engineStore(t, testdb.SQLite)
	hasher := auth.NewHasher(auth.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 1)
	email, _, err := demo.Seed(ctx, store, hasher, demo.Bulk{Contacts: contacts, Accounts: 3})
	if err != nil {
		t.Fatal(err)
	}
	src := copySource{store: store}
	if src.admin, err = store.ContactByEmail(ctx, email); err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256([]byte("a session id"))
	src.sessionID = id[:]
	// Written by hand rather than through the Store, whose session methods grow with the
	// sessions' features: what matters here is a row, with bytes in it, to copy.
	now := store.Now().Unix()
	if _, err := look.Exec(`INSERT INTO sessions(id_hash, contact_id, data, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)`,
		src.sessionID, src.admin.ID, []byte("session data"), now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := store.SettingOrCreate(ctx, "session_secret", func() (string, error) { return "s3cret", nil }); err != nil {
		t.Fatal(err)
	}
	var zoe, anna db.Contact
	if zoe, err = store.ContactByEmail(ctx, "zoe.nielsen2@northwind.example"); err != nil {
		t.Fatal(err)
	}
	if anna, err = store.ContactByEmail(ctx, "anna.kowalski0@northwind.example"); err != nil {
		t.Fatal(err)
	}
	err = store.Write(ctx, func(tx *db.Tx) error {
		if _, err := tx.IssueLink(ctx, db.LinkRequest{Contact: zoe, Purpose: db.PurposeReset, TTL: time.Hour, RequestedBy: &src.admin}); err != nil {
			return err
		}
		if _, err := tx.RequestEmailChange(ctx, anna, "anna.new@northwind.example", &src.admin); err != nil {
			return err
		}
		_, err := tx.SaveImport(ctx, db.PendingImport{ContactID: src.admin.ID, FileName: "team.csv", Header: `{"has":[true]}`,
			Rows: []db.ImportRow{{Line: 2, Email: "ada@northwind.example", Cells: []string{"Ada", "Lovelace", "ada@northwind.example"}}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		m, ok, err := store.ClaimMail(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if m.TokenID != 0 {
			if src.resetToken, _, err = store.MintLink(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := look.Exec(`INSERT INTO email_key_conflicts(contact_id, other_id, noticed_at) VALUES (?, ?, 1700000000)`,
		zoe.ID, anna.ID); err != nil {
		t.Fatal(err)
	}
	// Two-step verification, by hand too: sealed bytes are bytes to the copy. Zoë has it on,
	// a boolean in PostgreSQL and 1 in SQLite.
	for _, stmt := range []string{
		`UPDATE contacts SET two_factor = 1, password_short = 1 WHERE id = ?`,
		`INSERT INTO totp_factors(contact_id, secret, created_at, confirmed_at, last_step) VALUES (?, x'0102', 1700000000, 1700000001, 56666666)`,
		`INSERT INTO passkey_users(contact_id, handle) VALUES (?, x'a1a2a3')`,
		`INSERT INTO passkeys(contact_id, rp_id, credential_id, name, record, created_at, last_used_at) VALUES (?, 'localhost', x'c1c2', 'Laptop', x'0304', 1700000000, NULL)`,
		`INSERT INTO passkey_ceremonies(contact_id, purpose, data, expires_at) VALUES (?, 'login', x'05', 1700000300)`,
		`INSERT INTO recovery_codes(contact_id, code_hash, created_at, used_at) VALUES (?, x'0607', 1700000000, NULL)`,
		`INSERT INTO pending_signins(id_hash, contact_id, stage, next, created_at, expires_at) VALUES (x'0809', ?, 'verify', '/contacts', 1700000000, 1700000300)`,
	} {
		if _, err := look.Exec(stmt, zoe.ID); err != nil {
			t.Fatal(stmt, err)
		}
	}
	if _, err := look.Exec(`INSERT INTO two_factor_requirements(account_id, required_by, required_at) VALUES (?, ?, 1700000000)`,
		zoe.AccountID, anna.ID); err != nil {
		t.Fatal(err)
	}
	var forward int
	if err := look.QueryRow(`SELECT count(*) FROM contacts WHERE locked_by > id`).Scan(&forward); err != nil || (contacts > 0 && forward == 0) {
		t.Fatalf("%d contacts locked by a later contact (%v); the source needs some", forward, err)
	}
	return src
}

// TestCopyMovesEveryTableToPostgres: portal copy's work. Every table of a SQLite portal
// arrives in PostgreSQL with its rows as stored (the checksums of both sides agree, and so
// do the counts, companies and keys the portal reads), the target's schema ends as its
// migrations made it, its sequences continue after the copied ids, the copied session,
// reset link and settings work there, a changed row is noticed, and a second copy into the
// same database is refused.
func TestCopyMovesEveryTableToPostgres(t *testing.T) {
	ctx := context.Background()
	src := newCopySource(t, 5000)
	to, look := engineStore(t, testdb.Postgres)
	schema := schemaObjects(t, look, testdb.Postgres, false)

	report, err := db.Copy(ctx, src.store, to, io.Discard)
	if err != nil {
		t.Fatalf("copy: %v\n%+v", err, report)
	}
	var tables []string
	for _, r := range report {
		tables = append(tables, r.Table)
		if !r.Same() || len(r.SourceSum) != 64 {
			t.Errorf("%s: %d rows, sum %s read from SQLite; %d rows, sum %s from PostgreSQL; want the same",
				r.Table, r.SourceRows, r.SourceSum, r.TargetRows, r.TargetSum)
		}
		if r.SourceRows == 0 {
			t.Errorf("%s: no rows in the source, so the copy of this table went untested", r.Table)
		}
	}
	want := []string{"accounts", "audit_events", "contact_counts", "contact_import_rows", "contact_imports", "contact_roles",
		"contacts", "email_changes", "email_key_conflicts", "outbox", "passkey_ceremonies", "passkey_users", "passkeys",
		"password_tokens", "pending_signins", "recovery_codes", "roles", "sessions", "settings", "totp_factors",
		"two_factor_requirements"}
	if !slices.Equal(tables, want) {
		t.Errorf("copied tables %v, want %v", tables, want)
	}
	if after := schemaObjects(t, look, testdb.Postgres, false); !slices.Equal(after, schema) {
		t.Errorf("schema after the copy:\n%s\nwant as migrated:\n%s", strings.Join(after, "\n"), strings.Join(schema, "\n"))
	}

	// What the portal reads agrees, through the Store on each side.
	for _, name := range []string{demo.RootAccount, "Northwind Bulk 1", "Contoso Pharma"} {
		var counts [2]db.SectionCounts
		for i, s := range []*db.Store{src.store, to} {
			a, err := s.AccountByName(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := s.ScopeOf(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if counts[i], err = s.ContactCounts(ctx, sc); err != nil {
				t.Fatal(err)
			}
		}
		if counts[0] != counts[1] || counts[0].Active == 0 {
			t.Errorf("%s: section counts %+v on SQLite, %+v on PostgreSQL; want the same", name, counts[0], counts[1])
		}
	}
	if _, c, err := to.LiveSession(ctx, src.sessionID, db.SessionLimits{Idle: time.Hour, Absolute: 24 * time.Hour}); err != nil || c.ID != src.admin.ID {
		t.Errorf("the copied session: contact %d, %v; want %d", c.ID, err, src.admin.ID)
	}
	if tok, err := to.TokenByRaw(ctx, src.resetToken); err != nil || !tok.Minted {
		t.Errorf("the copied reset link: %+v, %v; want it usable", tok, err)
	}
	if secret, err := to.SettingOrCreate(ctx, "session_secret", func() (string, error) { return "new", nil }); err != nil || secret != "s3cret" {
		t.Errorf("session secret %q (%v), want the copied one", secret, err)
	}

	// New rows take ids after the copied ones.
	var maxContact, maxAccount, maxAudit, maxSeq int64
	if err := look.QueryRow(`SELECT (SELECT max(id) FROM contacts), (SELECT max(id) FROM accounts),
		(SELECT max(id) FROM audit_events), (SELECT max(seq) FROM outbox)`).Scan(&maxContact, &maxAccount, &maxAudit, &maxSeq); err != nil {
		t.Fatal(err)
	}
	acc, err := to.CreateAccount(ctx, "After The Copy", 0)
	if err != nil || acc.ID != maxAccount+1 {
		t.Errorf("new account: id %d (%v), want %d", acc.ID, err, maxAccount+1)
	}
	var contactID int64
	err = to.Write(ctx, func(tx *db.Tx) error {
		var err error
		contactID, err = tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: acc.ID,
			FirstName: "Ada", LastName: "Lovelace", Email: "ada@after.example"}})
		if err != nil {
			return err
		}
		c, err := tx.ContactByID(ctx, contactID)
		if err != nil {
			return err
		}
		if _, err := tx.IssueLink(ctx, db.LinkRequest{Contact: c, Purpose: db.PurposeInvite, TTL: time.Hour}); err != nil {
			return err
		}
		return nil
	})
	if err != nil || contactID != maxContact+1 {
		t.Errorf("new contact: id %d (%v), want %d", contactID, err, maxContact+1)
	}
	var audit, seq int64
	if err := look.QueryRow(`SELECT (SELECT max(id) FROM audit_events), (SELECT max(seq) FROM outbox)`).Scan(&audit, &seq); err != nil ||
		audit != maxAudit+1 || seq != maxSeq+1 {
		t.Errorf("new audit event %d and mail %d (%v), want %d and %d", audit, seq, err, maxAudit+1, maxSeq+1)
	}

	// The comparison notices a change on either side: a new row, and a changed value.
	if report, err := db.CompareCopy(ctx, src.store, to); !errors.Is(err, db.ErrCopyDiffers) {
		t.Errorf("compare after changes: %v, want ErrCopyDiffers", err)
	} else {
		var differ []string
		for _, r := range report {
			if !r.Same() {
				differ = append(differ, r.Table)
			}
		}
		if want := []string{"accounts", "audit_events", "contact_counts", "contacts", "outbox", "password_tokens"}; !slices.Equal(differ, want) {
			t.Errorf("tables that differ after the changes: %v, want %v", differ, want)
		}
	}

	// A second copy into the now used database is refused, and changes nothing.
	if _, err := db.Copy(ctx, src.store, to, io.Discard); !errors.Is(err, db.ErrTargetNotEmpty) {
		t.Errorf("copy into a database with accounts: %v, want ErrTargetNotEmpty", err)
	}
	if _, err := to.ContactByEmail(ctx, "ada@after.example"); err != nil {
		t.Errorf("the contact created after the copy: %v, want it kept", err)
	}
}

// TestCompareCopyNoticesAChangedValue: one changed value in one row (a phone number, the
// same length) makes its table differ, and only that one.
func TestCompareCopyNoticesAChangedValue(t *testing.T) {
	ctx := context.Background()
	src := newCopySource(t, 0)
	to, look := engineStore(t, testdb.Postgres)
	if _, err := db.Copy(ctx, src.store, to, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := look.Exec(`UPDATE contacts SET phone = translate(phone, '0123456789', '1234567890') WHERE id = $1`, src.admin.ID); err != nil {
		t.Fatal(err)
	}
	report, err := db.CompareCopy(ctx, src.store, to)
	if !errors.Is(err, db.ErrCopyDiffers) {
		t.Fatalf("compare: %v, want ErrCopyDiffers", err)
	}
	for _, r := range report {
		if r.Same() == (r.Table == "contacts") {
			t.Errorf("%s: same %v (%d and %d rows)", r.Table, r.Same(), r.SourceRows, r.TargetRows)
		}
	}
}
