package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Sort orders of All Contacts. Names, emails and accounts read A to Z; last login shows the
// most recent first, which is what people look for.
const (
	SortName      = "name"
	SortEmail     = "email"
	SortAccount   = "account"
	SortLastLogin = "last_login"
)

// Sorts lists the sort orders in the order the UI offers them.
var Sorts = []string{SortName, SortEmail, SortAccount, SortLastLogin}

// ListQuery asks for one page of one section of All Contacts.
type ListQuery struct {
	Status string // StatusActive or StatusLocked
	Sort   string // one of Sorts; anything else sorts by name
	Search string // what the user typed; empty lists everyone
	After  int64  // keyset cursor: the page starts after this contact
	Before int64  // keyset cursor: the page ends before this contact (After wins)
	Limit  int    // rows per page
}

// ListRow is a contact as a line of All Contacts.
type ListRow struct {
	ID          int64
	FirstName   string
	LastName    string
	Email       string
	AccountID   int64
	AccountName string
	Status      string
	LastLoginAt time.Time
	Roles       []Role
	// Why a locked contact is locked, for the Locked out contacts section (SPEC 3.4).
	Lock
}

// Name is "First Last".
func (r ListRow) Name() string { return strings.TrimSpace(r.FirstName + " " + r.LastName) }

// Page is one page of a section. PrevID and NextID are the cursors of the neighbouring
// pages (0 when there is none).
type Page struct {
	Counts SectionCounts // both sections, or in search mode their matches
	Rows   []ListRow
	PrevID int64 // use as Before
	NextID int64 // use as After
}

// SectionCounts are the sizes of the two sections of All Contacts. In search mode they
// count the matches; AtLeast says the count stopped at SearchCountCap.
type SectionCounts struct {
	Active  int
	Locked  int
	AtLeast bool
}

// SearchCountCap bounds how many matches a search counts: "1,000+" tells a person to type
// more, and counting stays cheap however common the word (the count is the largest part of
// a common word's search: each match is checked against the scope).
const SearchCountCap = 1000

// unionMaxAccounts is the largest scope listed with one ordered branch per account; beyond
// it a single IN query (which sorts the whole scope) costs less than planning many branches.
// A variable only so that tests can run the fallback on a small tree.
var unionMaxAccounts = 64

// ContactCounts returns the section sizes of the whole scope from contact_counts, which
// triggers keep, so a page never counts 100,000 rows.
func (s *Store) ContactCounts(ctx context.Context, sc Scope) (SectionCounts, error) {
	rows, err := s.read.QueryContext(ctx,
		`SELECT status, sum(n) FROM contact_counts WHERE account_id IN `+sc.inList()+` GROUP BY status`)
	if err != nil {
		return SectionCounts{}, fmt.Errorf("store: contact counts: %w", err)
	}
	return scanSectionCounts(rows, "contact counts")
}

// scanSectionCounts reads (status, count) rows into the two sections' counts.
func scanSectionCounts(rows *sql.Rows, what string) (SectionCounts, error) {
	defer rows.Close()
	var c SectionCounts
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return SectionCounts{}, fmt.Errorf("store: %s: %w", what, err)
		}
		switch status {
		case StatusActive:
			c.Active = n
		case StatusLocked:
			c.Locked = n
		}
	}
	return c, rows.Err()
}

// SearchCounts counts the matches of a search in scope per section, up to SearchCountCap in
// all. match is a SearchQuery result.
func (s *Store) SearchCounts(ctx context.Context, sc Scope, match string) (SectionCounts, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT status, count(*) FROM (
			SELECT c.status FROM contacts_fts f JOIN contacts c ON c.id = f.rowid
			WHERE contacts_fts MATCH ? AND c.account_id IN `+sc.inList()+`
			LIMIT ?)
		GROUP BY status`, match, SearchCountCap+1)
	if err != nil {
		return SectionCounts{}, fmt.Errorf("store: search counts: %w", err)
	}
	c, err := scanSectionCounts(rows, "search counts")
	if err != nil {
		return SectionCounts{}, err
	}
	c.AtLeast = c.Active+c.Locked > SearchCountCap
	return c, nil
}

// sortSpec is how one sort order reads in SQL.
type sortSpec struct {
	key  string // the contacts column after account and status in the order's index
	desc bool
}

func specOf(sort string) sortSpec {
	switch sort {
	case SortEmail:
		return sortSpec{key: "email_key"}
	case SortLastLogin:
		return sortSpec{key: "last_login_at", desc: true}
	}
	return sortSpec{key: "name_key"} // by name, and by name within each account
}

// cursor is the sort key of the contact a page starts after or ends before.
type cursor struct {
	accountID int64
	key       any
	id        int64
}

// cursorOf reads the sort key of contact id back, in scope. A cursor that no longer exists
// in scope (deleted, moved away) starts the list from the top.
func (s *Store) cursorOf(ctx context.Context, sc Scope, spec sortSpec, id int64) (*cursor, error) {
	if id <= 0 {
		return nil, nil
	}
	cur := cursor{id: id}
	err := s.read.QueryRowContext(ctx,
		`SELECT account_id, `+spec.key+` FROM contacts WHERE id = ? AND account_id IN `+sc.inList(), id).
		Scan(&cur.accountID, &cur.key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: list cursor %d: %w", id, err)
	}
	return &cur, nil
}

// ListContacts returns one page of one section of All Contacts in scope, by keyset (never
// OFFSET: page 2,000 costs what page 1 costs), with the section counts.
//
// A whole company (an admin of a top-level account) is one index range scan of
// contacts(tenant_id, status, key, id) from the cursor on, however many accounts it has.
// A scope below the top level of up to unionMaxAccounts accounts is a UNION ALL of one branch per
// account, each an index range scan of contacts(account_id, status, key, id) from the
// cursor on, under one ORDER BY: SQLite merges the sorted branches lazily, so a page reads
// about a page of index entries per account and sorts nothing (an `account_id IN (...)`
// with ORDER BY would sort the whole scope). Sorting by account skips accounts wholly
// before the cursor's and takes those after it without a keyset condition.
//
// A search first counts its matches through FTS5 (up to SearchCountCap). Few matches are
// fetched through FTS5 and sorted. Many are found in list order by pageOfMatches.
func (s *Store) ListContacts(ctx context.Context, sc Scope, q ListQuery) (Page, error) {
	if q.Limit <= 0 {
		q.Limit = 25
	}
	// The status is written into the SQL as a literal (it is one of two constants): bound
	// as a parameter, it made SQLite re-plan every branch on every run, five times slower.
	if q.Status != StatusLocked {
		q.Status = StatusActive
	}
	spec := specOf(q.Sort)
	backward := q.After == 0 && q.Before != 0
	curID := q.After
	if backward {
		curID = q.Before
	}
	cur, err := s.cursorOf(ctx, sc, spec, curID)
	if err != nil {
		return Page{}, err
	}
	if cur == nil {
		backward = false
	}
	match := SearchQuery(q.Search)
	if match == "" {
		q.Search = "" // nothing searchable was typed: list everyone
	}
	var counts SectionCounts
	if match != "" {
		counts, err = s.SearchCounts(ctx, sc, match)
	} else {
		counts, err = s.ContactCounts(ctx, sc)
	}
	if err != nil {
		return Page{}, err
	}
	walk := counts.AtLeast // many matches: walk the index and test each row instead of sorting them all

	// desc flips for a backward page: read the rows before the cursor nearest first.
	desc := spec.desc != backward
	dir, cmp := "ASC", ">"
	if desc {
		dir, cmp = "DESC", "<"
	}
	var args []any
	var query string
	accounts := slices.Clone(sc.accounts)
	if q.Sort == SortAccount {
		slices.SortFunc(accounts, func(a, b Account) int { return strings.Compare(FoldKey(a.Name), FoldKey(b.Name)) })
		if desc {
			slices.Reverse(accounts)
		}
	}
	limit := q.Limit + 1 // one more than a page tells whether another page follows

	// A branch reads one account's section in sort order from its index; no LIMIT is
	// needed, since the merge below pulls rows from the branches only as it needs them.
	columns := "id, %d AS k0, %s AS k1"
	if match != "" {
		columns += ", search_text" // for the walk of pageOfMatches
	}
	branch := func(within string, keyset bool, ordinal int) string {
		b := fmt.Sprintf(`SELECT `+columns+` FROM contacts WHERE %s AND status = '%s'`,
			ordinal, spec.key, within, q.Status)
		if keyset {
			b += ` AND (` + spec.key + `, id) ` + cmp + ` (?, ?)`
			args = append(args, cur.key, cur.id)
		}
		return b
	}

	// A whole company is one range of its tenant index, in any order but by account.
	company := sc.wholeCompany() && q.Sort != SortAccount
	switch {
	case (company || len(accounts) <= unionMaxAccounts) && (match == "" || walk):
		var branches []string
		if company {
			branches = append(branches, branch(fmt.Sprintf("tenant_id = %d", sc.root), cur != nil, 0))
		} else {
			for i, a := range accounts {
				keyset := cur != nil
				if q.Sort == SortAccount && cur != nil {
					switch {
					case a.ID == cur.accountID:
					case slices.IndexFunc(accounts, func(x Account) bool { return x.ID == cur.accountID }) > i:
						continue // the whole account lies before the cursor
					default:
						keyset = false // the whole account lies after the cursor
					}
				}
				branches = append(branches, branch(fmt.Sprintf("account_id = %d", a.ID), keyset, i))
			}
		}
		if len(branches) == 0 {
			return Page{Counts: counts}, nil
		}
		if q.Sort == SortAccount {
			// Accounts come one after another: read them in order, each from its index,
			// until the page is full. (Merging them under ORDER BY k0, k1 made SQLite sort
			// the whole scope: 20 ms instead of 1.)
			byAccount, err := s.pageAccountByAccount(ctx, branches, args, q.Search, dir, limit)
			if err != nil {
				return Page{}, fmt.Errorf("store: list contacts: %w", err)
			}
			return s.pageOfIDs(ctx, sc, q, counts, byAccount, backward, cur)
		}
		order := fmt.Sprintf(`k1 %s, id %s`, dir, dir)
		// A compound SELECT whose branches each come sorted from an index is merged by
		// SQLite (MERGE (UNION ALL) in the plan): a page reads about a page of index entries
		// per account and sorts nothing.
		merged := strings.Join(branches, " UNION ALL ") + ` ORDER BY ` + order
		if match != "" {
			ids, err := s.pageOfMatches(ctx, merged, args, q.Search, limit)
			if err != nil {
				return Page{}, fmt.Errorf("store: list contacts: %w", err)
			}
			return s.pageOfIDs(ctx, sc, q, counts, ids, backward, cur)
		}
		query = `SELECT id FROM (` + merged + `)` + fmt.Sprintf(` LIMIT %d`, limit)
	default:
		// Hundreds of accounts, or a search with few matches: one query over the whole scope,
		// sorted by SQLite. A search is driven by its matches (CROSS JOIN fixes the loop
		// order), so a rare word costs a few lookups however large the scope.
		key := `c.` + spec.key
		from := ` FROM contacts c`
		if match != "" {
			from = ` FROM contacts_fts f CROSS JOIN contacts c ON c.id = f.rowid`
		}
		if q.Sort == SortAccount {
			from += ` JOIN accounts a ON a.id = c.account_id`
		}
		where := ` WHERE c.account_id IN ` + sc.inList() + ` AND c.status = '` + q.Status + `'`
		if match != "" {
			where += ` AND contacts_fts MATCH ?`
			args = append(args, match)
		}
		if cur != nil {
			if q.Sort == SortAccount {
				where += ` AND (a.name_key, c.name_key, c.id) ` + cmp + ` ((SELECT name_key FROM accounts WHERE id = ?), ?, ?)`
				args = append(args, cur.accountID, cur.key, cur.id)
			} else {
				where += ` AND (` + key + `, c.id) ` + cmp + ` (?, ?)`
				args = append(args, cur.key, cur.id)
			}
		}
		order := fmt.Sprintf(` ORDER BY %s %s, c.id %s`, key, dir, dir)
		if q.Sort == SortAccount {
			order = fmt.Sprintf(` ORDER BY a.name_key %s, c.name_key %s, c.id %s`, dir, dir, dir)
		}
		query = `SELECT c.id` + from + where + order + fmt.Sprintf(` LIMIT %d`, limit)
	}

	rows, err := s.pageRows(ctx, sc, q, query, args...)
	if err != nil {
		return Page{}, err
	}
	return finishPage(q, counts, rows, backward, cur), nil
}

// searchWalkRows bounds how many rows pageOfMatches tests in list order before it collects
// the match set instead: a common word's matches are spread through name order, but can all
// sit far down another order (in email order, "anna" starts after every "a..." before it).
// A variable only so that tests can make the walk fall short.
var searchWalkRows = 4000

// pageOfMatches reads the first limit ids, in list order, of the rows of ordered (a sorted
// SELECT of id and search_text) that match search, a search with many matches.
//
// It walks the sorted rows and keeps those whose search_text holds every typed phrase (the
// same test as the FTS5 match, see search.go). For a common word a page is found within a
// few thousand rows, so the search costs about what a page costs however large the
// database. Should searchWalkRows rows not fill the page, it collects the FTS5 matches once
// and walks the whole order probing them, which is slower but bounded by the match count.
func (s *Store) pageOfMatches(ctx context.Context, ordered string, args []any, search string, limit int) ([]int64, error) {
	test, walkArgs := "1", slices.Clone(args)
	for _, n := range searchNeedles(search) {
		test += ` AND instr(search_text, ?) > 0`
		walkArgs = append(walkArgs, n)
	}
	ids, err := s.queryIDs(ctx, fmt.Sprintf(`SELECT id FROM (SELECT id, search_text FROM (%s) LIMIT %d) WHERE %s LIMIT %d`,
		ordered, searchWalkRows, test, limit), walkArgs...)
	if err != nil || len(ids) == limit {
		return ids, err
	}
	return s.queryIDs(ctx, fmt.Sprintf(`
		WITH matches(id) AS MATERIALIZED (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)
		SELECT id FROM (%s) WHERE +id IN matches LIMIT %d`, ordered, limit),
		append([]any{SearchQuery(search)}, args...)...)
}

// pageAccountByAccount reads up to limit ids from the branches in turn (each branch is one
// account's section; args holds the arguments of every branch's placeholders, in order),
// keeping only the matches of search when there is one.
func (s *Store) pageAccountByAccount(ctx context.Context, branches []string, args []any, search, dir string, limit int) ([]int64, error) {
	var ids []int64
	for _, b := range branches {
		n := strings.Count(b, "?")
		branchArgs := args[:n]
		args = args[n:]
		ordered := b + fmt.Sprintf(` ORDER BY k1 %s, id %s`, dir, dir)
		var more []int64
		var err error
		if search != "" {
			more, err = s.pageOfMatches(ctx, ordered, branchArgs, search, limit-len(ids))
		} else {
			more, err = s.queryIDs(ctx, `SELECT id FROM (`+ordered+`)`+fmt.Sprintf(` LIMIT %d`, limit-len(ids)), branchArgs...)
		}
		if err != nil {
			return nil, err
		}
		if ids = append(ids, more...); len(ids) >= limit {
			break
		}
	}
	return ids, nil
}

// pageOfIDs reads the rows of ids, found by queries of their own, and makes their page.
func (s *Store) pageOfIDs(ctx context.Context, sc Scope, q ListQuery, counts SectionCounts, ids []int64, backward bool, cur *cursor) (Page, error) {
	rows, err := s.rowsByID(ctx, sc, q, ids)
	if err != nil {
		return Page{}, err
	}
	return finishPage(q, counts, rows, backward, cur), nil
}

// finishPage makes the page of rows (one more than a page when another follows, nearest
// first when backward) and its links to the pages before and after.
func finishPage(q ListQuery, counts SectionCounts, rows []ListRow, backward bool, cur *cursor) Page {
	more := len(rows) > q.Limit
	if more {
		rows = rows[:q.Limit]
	}
	if backward {
		slices.Reverse(rows)
	}
	p := Page{Counts: counts, Rows: rows}
	if len(rows) > 0 {
		first, last := rows[0].ID, rows[len(rows)-1].ID
		switch {
		case backward:
			p.NextID = last // we came back from there
			if more {
				p.PrevID = first
			}
		default:
			if more {
				p.NextID = last
			}
			if cur != nil {
				p.PrevID = first
			}
		}
	}
	return p
}

// lastListQuery keeps the last statement that found a page's contacts (by queryIDs or
// pageRows), for the plan tests.
var lastListQuery atomic.Pointer[listQueryArgs]

type listQueryArgs struct {
	query string
	args  []any
}

func (s *Store) queryIDs(ctx context.Context, query string, args ...any) ([]int64, error) {
	lastListQuery.Store(&listQueryArgs{query, args})
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// pageRows reads the lines of section q.Status of the contacts that page yields (a SELECT
// of ids in list order), in that order: one statement finds and reads a page.
func (s *Store) pageRows(ctx context.Context, sc Scope, q ListQuery, page string, args ...any) ([]ListRow, error) {
	lastListQuery.Store(&listQueryArgs{page, args})
	return s.readRows(ctx, sc, q, page, args...)
}

// rowsByID reads the lines of section q.Status of the contacts ids, in that order.
func (s *Store) rowsByID(ctx context.Context, sc Scope, q ListQuery, ids []int64) ([]ListRow, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	// The ids travel as one JSON parameter, so the statement's text stays the same from page
	// to page and the connection's statement cache can reuse it.
	return s.readRows(ctx, sc, q, `SELECT value AS id FROM json_each(?)`, string(list))
}

// readRows reads the lines of the contacts that ids (a SELECT of one column, id) yields, in
// its order: the CROSS JOIN keeps ids as the outer loop. Contacts outside the scope or the
// section are left out, whatever ids holds. Only Locked out contacts show why they are
// locked, so only that section reads the lock's columns (each column read costs calls into
// SQLite for every row). The locker's name is looked up for the rows of the page only, and
// only for rows an admin locked.
func (s *Store) readRows(ctx context.Context, sc Scope, q ListQuery, ids string, args ...any) ([]ListRow, error) {
	query := `SELECT c.id, c.first_name, c.last_name, c.email, c.account_id, c.last_login_at,
			coalesce((SELECT group_concat(role, ',') FROM contact_roles r WHERE r.contact_id = c.id), '')`
	locked := q.Status == StatusLocked
	if locked {
		query += `, c.lock_reason,
			CASE WHEN c.locked_by IS NULL THEN ''
				ELSE coalesce((SELECT l.first_name || ' ' || l.last_name FROM contacts l WHERE l.id = c.locked_by), '') END,
			c.locked_at, c.failed_logins, c.last_failed_at`
	}
	rows, err := s.read.QueryContext(ctx, query+` FROM (`+ids+`) page CROSS JOIN contacts c ON c.id = page.id
		WHERE c.status = '`+q.Status+`' AND c.account_id IN `+sc.inList(), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list rows: %w", err)
	}
	defer rows.Close()
	// Sized for a page, and scanned through one set of destinations: the list is the most
	// requested page, and what it allocates sets how often the collector runs.
	out := make([]ListRow, 0, min(q.Limit+1, 256))
	var r ListRow
	var lastLogin int64
	var roles string
	var lockedAt, lastFailed sql.NullInt64
	dest := []any{&r.ID, &r.FirstName, &r.LastName, &r.Email, &r.AccountID, &lastLogin, &roles}
	if locked {
		dest = append(dest, &r.LockReason, &r.LockedByName, &lockedAt, &r.FailedLogins, &lastFailed)
	}
	for rows.Next() {
		r = ListRow{Status: q.Status}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("store: list rows: %w", err)
		}
		r.LockedAt = timeOrZero(lockedAt)
		r.LastFailedAt = timeOrZero(lastFailed)
		if lastLogin > 0 {
			r.LastLoginAt = time.Unix(lastLogin, 0).UTC()
		}
		r.Roles = parseRoles(roles)
		r.AccountName = sc.Name(r.AccountID)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list rows: %w", err)
	}
	return out, nil
}
