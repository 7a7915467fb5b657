package db

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Scope is the set of accounts a contact admin manages: their own account and every
// descendant. It can only be built by ScopeOf, and every query over contacts takes one,
// so no query can forget the rule (SPEC R-SCOPE).
type Scope struct {
	root     int64
	accounts []Account     // root first, then depth-first in name order
	index    map[int64]int // account id → position in accounts
}

// ScopeOf returns the scope rooted at accountID, computed with a recursive query over the
// tree. Every request of a contact admin needs it, so computed scopes are kept. Accounts are
// only ever added, never moved or deleted, so a kept scope can only lack accounts added
// since, never hold one it shouldn't: adding an account in this process drops the kept
// scopes at once, and one added by another process (the CLI) is noticed by the largest
// account id, which is looked up at most once every scopeCheckInterval.
func (s *Store) ScopeOf(ctx context.Context, accountID int64) (Scope, error) {
	now := s.now()
	if sc, ok := s.scopes.fresh(accountID, now); ok {
		return sc, nil
	}
	var newest int64
	if err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM accounts`).Scan(&newest); err != nil {
		return Scope{}, fmt.Errorf("store: scope of account %d: %w", accountID, err)
	}
	if sc, ok := s.scopes.checked(accountID, newest, now); ok {
		return sc, nil
	}
	sc, err := s.computeScope(ctx, accountID)
	if err != nil {
		return Scope{}, err
	}
	s.scopes.put(accountID, newest, sc)
	return sc, nil
}

// scopeCheckInterval is how long kept scopes are used before the largest account id is
// looked up again (a query on every request was 3% of a page's time).
const scopeCheckInterval = time.Second

// scopeCache holds the scopes computed while newest was the largest account id, which was
// last confirmed at checkedAt.
type scopeCache struct {
	mu        sync.Mutex
	newest    int64
	checkedAt time.Time
	scopes    map[int64]Scope
}

// fresh returns the kept scope of accountID if the account ids were checked recently.
func (c *scopeCache) fresh(accountID int64, now time.Time) (Scope, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc, ok := c.scopes[accountID]
	return sc, ok && now.Sub(c.checkedAt) < scopeCheckInterval && !now.Before(c.checkedAt)
}

// checked records that newest is the largest account id now, dropping every kept scope if
// an account was added, and returns the kept scope of accountID if there is one.
func (c *scopeCache) checked(accountID, newest int64, now time.Time) (Scope, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.newest != newest {
		c.newest, c.scopes = newest, nil
	}
	c.checkedAt = now
	sc, ok := c.scopes[accountID]
	return sc, ok
}

func (c *scopeCache) put(accountID, newest int64, sc Scope) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.newest != newest {
		return // an account was added meanwhile; the next call computes again
	}
	if c.scopes == nil {
		c.scopes = map[int64]Scope{}
	}
	c.scopes[accountID] = sc
}

// reset drops every kept scope (an account was added by this process).
func (c *scopeCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.newest, c.scopes = 0, nil
}

func (s *Store) computeScope(ctx context.Context, accountID int64) (Scope, error) {
	rows, err := s.read.QueryContext(ctx, `
		WITH RECURSIVE tree(id, name, parent_id, depth, path) AS (
			SELECT id, name, coalesce(parent_id, 0), 0, name_key FROM accounts WHERE id = ?
			UNION ALL
			SELECT a.id, a.name, a.parent_id, tree.depth + 1, tree.path || ?2 || a.name_key
			FROM accounts a JOIN tree ON a.parent_id = tree.id
		)
		SELECT id, name, parent_id, depth FROM tree ORDER BY path`, accountID, "\x1f") // a separator below every letter
	if err != nil {
		return Scope{}, fmt.Errorf("store: scope of account %d: %w", accountID, err)
	}
	defer rows.Close()
	sc := Scope{root: accountID, index: map[int64]int{}}
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.ID, &a.Name, &a.ParentID, &a.Depth); err != nil {
			return Scope{}, fmt.Errorf("store: scope of account %d: %w", accountID, err)
		}
		sc.index[a.ID] = len(sc.accounts)
		sc.accounts = append(sc.accounts, a)
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
func (sc Scope) Contains(accountID int64) bool {
	_, ok := sc.index[accountID]
	return ok
}

// Name is the name of accountID, an account in the scope ("" for others).
func (sc Scope) Name(accountID int64) string {
	if i, ok := sc.index[accountID]; ok {
		return sc.accounts[i].Name
	}
	return ""
}

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
