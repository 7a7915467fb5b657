package db

import (
	"context"
	"fmt"
	"strings"
)

// Lock reasons and a status of a contact's whole life (SPEC R-LIFECYCLE), beside the lock
// reasons of contacts.go.
const (
	// LockedAccessEnded: the contact's access ended on the date it was given (AccessEndsAt).
	LockedAccessEnded = "access_ended"
	// LockedWithOrganization: Lock organization locked it with its organization
	// (LockedOrgID); Unlock organization lifts only these.
	LockedWithOrganization = "organization"
	// StatusRemoved is a removed contact: its personal data erased, its row kept so that
	// the audit log and the outbox still point somewhere ("Removed contact #id").
	StatusRemoved = "removed"
)

// migrateContactLifecycle builds contacts anew (SQLite changes constraints no other way)
// with a removed status, the lock reasons of access that ends and of a locked organization,
// and the columns they need. Every index and trigger of contacts is made again exactly as it
// was, from sqlite_master.
func migrateContactLifecycle(ctx context.Context, tx *Tx) error {
	rows, err := tx.tx.QueryContext(ctx, `SELECT sql FROM sqlite_master
		WHERE tbl_name = 'contacts' AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY rowid`)
	if err != nil {
		return err
	}
	var objects []string
	for rows.Next() {
		var ddl string
		if err := rows.Scan(&ddl); err != nil {
			rows.Close()
			return err
		}
		objects = append(objects, ddl)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	const columns = `id, account_id, first_name, last_name, email, email_key, name_key, phone, job_title, status,
		lock_reason, locked_by, locked_at, password_hash, password_changed_at, failed_logins, last_failed_at,
		last_login_at, created_by, created_at, updated_at, search_text, tenant_id`
	steps := []string{`
		CREATE TABLE contacts_new (
			id                  INTEGER PRIMARY KEY,
			account_id          INTEGER NOT NULL REFERENCES accounts(id) ON DELETE RESTRICT,
			first_name          TEXT    NOT NULL,
			last_name           TEXT    NOT NULL,
			email               TEXT    NOT NULL,
			email_key           TEXT    NOT NULL UNIQUE, -- the user name's key (db.EmailKey)
			name_key            TEXT    NOT NULL,        -- folded "last first": the sort key for names
			phone               TEXT    NOT NULL DEFAULT '',
			job_title           TEXT    NOT NULL DEFAULT '',
			status              TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'locked', 'removed')),
			lock_reason         TEXT    NOT NULL DEFAULT ''
				CHECK (lock_reason IN ('', 'admin', 'failed_logins', 'access_ended', 'organization')),
			locked_by           INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
			locked_at           INTEGER,
			password_hash       TEXT    NOT NULL DEFAULT '', -- empty: no password yet, the contact cannot log in
			password_changed_at INTEGER,
			failed_logins       INTEGER NOT NULL DEFAULT 0,
			last_failed_at      INTEGER,
			last_login_at       INTEGER NOT NULL DEFAULT 0, -- 0: never; keeps keyset paging free of NULLs
			created_by          INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
			created_at          INTEGER NOT NULL,
			updated_at          INTEGER NOT NULL,
			search_text         TEXT    NOT NULL DEFAULT '',
			tenant_id           INTEGER NOT NULL DEFAULT 0,
			access_ends_at      INTEGER, -- the contact's access ends then (unix seconds, UTC); NULL: never
			locked_org_id       INTEGER REFERENCES accounts(id) ON DELETE SET NULL, -- the organization Lock organization locked it with
			removed_at          INTEGER, -- when it was removed and its personal data erased
			CHECK ((status = 'locked') = (lock_reason <> ''))
		) STRICT`,
		`INSERT INTO contacts_new(` + columns + `) SELECT ` + columns + ` FROM contacts`,
		`DROP TABLE contacts`,
		`ALTER TABLE contacts_new RENAME TO contacts`,
	}
	steps = append(steps, objects...)
	steps = append(steps, `CREATE INDEX IF NOT EXISTS contacts_access_ends ON contacts(access_ends_at) WHERE access_ends_at IS NOT NULL`)
	for _, step := range steps {
		if _, err := tx.tx.ExecContext(ctx, step); err != nil {
			return fmt.Errorf("store: rebuild contacts: %s: %w", strings.Fields(step)[0], err)
		}
	}
	var broken int
	if err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_foreign_key_check`).Scan(&broken); err != nil {
		return err
	}
	if broken > 0 {
		return fmt.Errorf("store: rebuild contacts: %d rows refer to rows that are gone", broken)
	}
	return nil
}
