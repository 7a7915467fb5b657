package db

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Scope is the set of accounts a contact admin manages: their own account and every
// descendant. It can only be built by ScopeOf, and every query over contacts takes one,
// so no query can forget the rule (SPEC R-SCOPE).
type Scope struct {
	root     int64
	accounts []Account // root first, then depth-first in name order
	ids      map[int64]bool
}

// ScopeOf returns the scope rooted at accountID, computed with a recursive query over the
// tree. Every request of a contact admin needs it, so computed scopes are kept: accounts are
// only ever added, never moved or deleted, so a scope stays right until an account is added
// anywhere, and the largest account id (one index lookup) tells whether that happened, also
// when another process (the CLI) added it.
func (s *Store) ScopeOf(ctx context.Context, accountID int64) (Scope, error) {
	var newest int64
	if err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM accounts`).Scan(&newest); err != nil {
		return Scope{}, fmt.Errorf("store: scope of account %d: %w", accountID, err)
	}
	if sc, ok := s.scopes.get(accountID, newest); ok {
		return sc, nil
	}
	sc, err := s.computeScope(ctx, accountID)
	if err != nil {
		return Scope{}, err
	}
	s.scopes.put(accountID, newest, sc)
	return sc, nil
}

// scopeCache holds the scopes computed while newest was the largest account id.
type scopeCache struct {
	mu     sync.Mutex
	newest int64
	scopes map[int64]Scope
}

func (c *scopeCache) get(accountID, newest int64) (Scope, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc, ok := c.scopes[accountID]
	return sc, ok && c.newest == newest
}

func (c *scopeCache) put(accountID, newest int64, sc Scope) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.newest != newest || c.scopes == nil {
		c.newest, c.scopes = newest, map[int64]Scope{}
	}
	c.scopes[accountID] = sc
}

func (s *Store) computeScope(ctx context.Context, accountID int64) (Scope, error) {
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

// Accounts lists the accounts in scope, root first, children indented by Depth. Scopes are
// shared between requests: callers must not change the slice.
func (sc Scope) Accounts() []Account { return sc.accounts }

// wholeCompany reports whether the scope is a whole company: its root is a top-level
// account, so it holds exactly the contacts of tenant_id = root (see 0040_tenant_index.sql).
func (sc Scope) wholeCompany() bool { return len(sc.accounts) > 0 && sc.accounts[0].ParentID == 0 }

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
