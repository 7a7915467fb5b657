package db

import (
	"context"
	"fmt"
	"strings"
)

// Scope is the set of accounts a contact admin manages: their own account and every
// descendant. It can only be built by ScopeOf, and every query over contacts takes one,
// so no query can forget the rule (SPEC R-SCOPE).
type Scope struct {
	root     int64
	accounts []Account // root first, then depth-first in name order
	ids      map[int64]bool
}

// ScopeOf computes the scope rooted at accountID with a recursive query over the tree.
func (s *Store) ScopeOf(ctx context.Context, accountID int64) (Scope, error) {
	rows, err := s.read.QueryContext(ctx, `
		WITH RECURSIVE tree(id, name, parent_id, depth, path) AS (
			SELECT id, name, coalesce(parent_id, 0), 0, name_key FROM accounts WHERE id = ?
			UNION ALL
			SELECT a.id, a.name, a.parent_id, tree.depth + 1, tree.path || char(31) || a.name_key
			FROM accounts a JOIN tree ON a.parent_id = tree.id
		)
		SELECT id, name, parent_id, depth FROM tree ORDER BY path`, accountID)
	if err != nil {
		return Scope{}, fmt.Errorf("store: scope of account %d: %w", accountID, err)
	}
	defer rows.Close()
	sc := Scope{root: accountID, ids: map[int64]bool{}}
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.ID, &a.Name, &a.ParentID, &a.Depth); err != nil {
			return Scope{}, fmt.Errorf("store: scope of account %d: %w", accountID, err)
		}
		sc.accounts = append(sc.accounts, a)
		sc.ids[a.ID] = true
	}
	if err := rows.Err(); err != nil {
		return Scope{}, fmt.Errorf("store: scope of account %d: %w", accountID, err)
	}
	if len(sc.accounts) == 0 {
		return Scope{}, ErrNotFound
	}
	return sc, nil
}

// Root is the account the scope was built from (the admin's own account).
func (sc Scope) Root() Account {
	if len(sc.accounts) == 0 {
		return Account{}
	}
	return sc.accounts[0]
}

// Accounts lists the accounts in scope, root first, children indented by Depth.
func (sc Scope) Accounts() []Account { return sc.accounts }

// Contains reports whether accountID lies in the scope.
func (sc Scope) Contains(accountID int64) bool { return sc.ids[accountID] }

// inList renders the scope's ids as a literal SQL list. The ids are integers read from the
// database, so embedding them is safe and lets SQLite plan an IN over constants.
func (sc Scope) inList() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, a := range sc.accounts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d", a.ID)
	}
	if len(sc.accounts) == 0 {
		b.WriteString("NULL")
	}
	b.WriteByte(')')
	return b.String()
}
