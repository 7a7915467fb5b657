package db

import (
	"context"
	"fmt"
)

// ActionEmailKeyConflict records a contact whose user name was left under its old key:
// keyed under PRECIS (migration 71) it would have been the same user name as another's.
const ActionEmailKeyConflict = "email_key_conflict"

// migrateEmailKeys keys every user name under EmailKey. Contacts whose new keys would be the
// same are two people (or one twice) that the old folding told apart: they keep their old
// keys, never merged, and each is listed in email_key_conflicts and the audit log, for the
// operator to settle; the portal names them in its log at every start.
func migrateEmailKeys(ctx context.Context, tx *Tx) error {
	rows, err := tx.tx.QueryContext(ctx, `SELECT id, account_id, email, email_key FROM contacts ORDER BY id`)
	if err != nil {
		return err
	}
	type row struct {
		id, accountID  int64
		oldKey, newKey string
	}
	var all []row
	byKey := map[string][]int{}
	for rows.Next() {
		var r row
		var email string
		if err := rows.Scan(&r.id, &r.accountID, &email, &r.oldKey); err != nil {
			rows.Close()
			return err
		}
		r.newKey = EmailKey(email)
		byKey[r.newKey] = append(byKey[r.newKey], len(all))
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range all {
		same := byKey[r.newKey]
		if len(same) == 1 {
			if r.newKey != r.oldKey {
				if _, err := tx.tx.ExecContext(ctx, `UPDATE contacts SET email_key = ? WHERE id = ?`, r.newKey, r.id); err != nil {
					return fmt.Errorf("store: key the user name of contact %d: %w", r.id, err)
				}
			}
			continue
		}
		other := all[same[0]].id
		if other == r.id {
			other = all[same[1]].id
		}
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO email_key_conflicts(contact_id, other_id, noticed_at) VALUES (?, ?, ?)`,
			r.id, other, unix(tx.now)); err != nil {
			return err
		}
		if err := tx.Audit(ctx, Event{Action: ActionEmailKeyConflict, TargetID: r.id, AccountID: r.accountID,
			Detail: fmt.Sprintf("its user name and contact #%d's are the same once compared as user names now are; both are left as they were", other)}); err != nil {
			return err
		}
	}
	return nil
}

// EmailKeyConflict is a contact left under its old user-name key (see migrateEmailKeys).
type EmailKeyConflict struct {
	ContactID, OtherID int64
}

// EmailKeyConflicts lists the contacts whose user names collided when they were keyed
// under PRECIS and were left as they were.
func (s *Store) EmailKeyConflicts(ctx context.Context) ([]EmailKeyConflict, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT contact_id, other_id FROM email_key_conflicts ORDER BY contact_id`)
	if err != nil {
		return nil, fmt.Errorf("store: email key conflicts: %w", err)
	}
	defer rows.Close()
	var out []EmailKeyConflict
	for rows.Next() {
		var c EmailKeyConflict
		if err := rows.Scan(&c.ContactID, &c.OtherID); err != nil {
			return nil, fmt.Errorf("store: email key conflicts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
