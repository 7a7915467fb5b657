package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	TwoFactor   bool // has an authenticator app or a passkey (SPEC 3.11)
	// AccessEndsAt is when the contact's access ends; zero: never (SPEC 3.10).
	AccessEndsAt time.Time
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

// searchCounts counts the matches of a search in scope per section, up to SearchCountCap in
// all. Which matches make up a count that stops at the cap is up to the engine.
func (s *Store) searchCounts(ctx context.Context, sc Scope, search string) (SectionCounts, error) {
	from, match, args := s.engine.searchFrom(search)
	rows, err := s.read.QueryContext(ctx, `
		SELECT status, count(*) FROM (
			SELECT c.status FROM `+from+`
			WHERE `+match+` AND c.account_id IN `+sc.inList()+`
			LIMIT ?) AS matched
		GROUP BY status`, append(args, SearchCountCap+1)...)
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

// listing is a ListQuery made ready to plan: defaults filled in, the cursor read back from
// its contact, the section counted.
type listing struct {
	sc       Scope
	q        ListQuery // q.Search is "" when nothing searchable was typed
	spec     sortSpec
	cur      *cursor // the contact the page starts after, or ends before when backward; nil: from the top
	backward bool
	counts   SectionCounts
}

// searching reports whether the page lists the matches of a search (or everyone).
func (l listing) searching() bool { return l.q.Search != "" }

func (s *Store) newListing(ctx context.Context, sc Scope, q ListQuery) (listing, error) {
	if q.Limit <= 0 {
		q.Limit = 25
	}
	// The status is written into the SQL as a literal (it is one of two constants): bound
	// as a parameter, it made SQLite re-plan every branch on every run, five times slower.
	if q.Status != StatusLocked {
		q.Status = StatusActive
	}
	l := listing{sc: sc, q: q, spec: specOf(q.Sort)}
	if len(searchPhrases(q.Search)) == 0 {
		l.q.Search = "" // nothing searchable was typed: list everyone
	}
	l.backward = q.After == 0 && q.Before != 0
	curID := q.After
	if l.backward {
		curID = q.Before
	}
	var err error
	if l.cur, err = s.cursorOf(ctx, sc, l.spec, curID); err != nil {
		return listing{}, err
	}
	if l.cur == nil {
		l.backward = false
	}
	if l.searching() {
		l.counts, err = s.searchCounts(ctx, sc, l.q.Search)
	} else {
		l.counts, err = s.ContactCounts(ctx, sc)
	}
	return l, err
}

// direction is the order the page reads its sort in, and the keyset comparison that goes
// with it: a backward page reads the rows before the cursor, nearest first.
func (l listing) direction() (dir, cmp string) {
	if l.spec.desc != l.backward {
		return "DESC", "<"
	}
	return "ASC", ">"
}

// limit is one more than a page: the extra row tells whether another page follows.
func (l listing) limit() int { return l.q.Limit + 1 }

// A listPlan is how a page of All Contacts is found; choosePlan picks one.
type listPlan string

const (
	planCompany          listPlan = "company"            // one range of the company's sort index (listCompany)
	planMergedAccounts   listPlan = "merged accounts"    // one range of each account's sort index, merged (listMergedAccounts)
	planAccountByAccount listPlan = "account by account" // sort by account: the accounts' ranges in turn (listAccountByAccount)
	planSortedScope      listPlan = "sorted scope"       // one query over the scope, sorted by SQLite (listSortedScope)
)

// maxMergedAccounts is the largest scope listed by merging one sorted range per account;
// beyond it one query over the whole scope (which sorts the scope) costs less than planning
// that many branches.
const maxMergedAccounts = 64

// choosePlan picks how to find a page. The first three plans read index ranges in list
// order and stop after a page, so page 2,000 costs what page 1 costs and nothing is sorted;
// a search with many matches walks those ranges testing each row (pageOfMatches). A search
// with few matches is found faster through the search index and sorted, and a scope of too
// many accounts below the top of a company has too many ranges to merge: both are one
// query over the scope.
func choosePlan(sc Scope, q ListQuery, searching bool, counts SectionCounts) listPlan {
	switch {
	case searching && !counts.AtLeast:
		return planSortedScope
	case q.Sort != SortAccount && sc.wholeCompany():
		return planCompany
	case len(sc.accounts) > maxMergedAccounts:
		return planSortedScope
	case q.Sort == SortAccount:
		return planAccountByAccount
	}
	return planMergedAccounts
}

// ListContacts returns one page of one section of All Contacts in scope, by keyset (never
// OFFSET: page 2,000 costs what page 1 costs), with the section counts (in search mode, the
// counts of the matches, up to SearchCountCap). choosePlan says how the page is found.
func (s *Store) ListContacts(ctx context.Context, sc Scope, q ListQuery) (Page, error) {
	l, err := s.newListing(ctx, sc, q)
	if err != nil {
		return Page{}, err
	}
	var rows []ListRow
	switch choosePlan(sc, l.q, l.searching(), l.counts) {
	case planCompany:
		rows, err = s.listCompany(ctx, l)
	case planMergedAccounts:
		rows, err = s.listMergedAccounts(ctx, l)
	case planAccountByAccount:
		rows, err = s.listAccountByAccount(ctx, l)
	default:
		rows, err = s.listSortedScope(ctx, l)
	}
	if err != nil {
		return Page{}, fmt.Errorf("store: list contacts: %w", err)
	}
	return finishPage(l, rows), nil
}

// listCompany reads a whole company (an admin of a top-level account) from one range of
// its company's sort index, contacts(tenant_id, status, key, id), from the cursor on,
// however many accounts the company has.
func (s *Store) listCompany(ctx context.Context, l listing) ([]ListRow, error) {
	return s.pageOfOrdered(ctx, l, func(int) (string, []any) { return companyRange(l) })
}

// companyRange is the company's section in list order, from the cursor on.
func companyRange(l listing) (ordered string, args []any) {
	dir, _ := l.direction()
	ordered, args = indexRange(l, fmt.Sprintf("tenant_id = %d", l.sc.root), l.cur != nil)
	return ordered + fmt.Sprintf(` ORDER BY %s %s, id %s`, l.spec.key, dir, dir), args
}

// listMergedAccounts reads a scope below the top of a company from one range of each
// account's sort index, contacts(account_id, status, key, id), from the cursor on, merged
// in list order.
func (s *Store) listMergedAccounts(ctx context.Context, l listing) ([]ListRow, error) {
	if len(l.sc.accounts) == 0 {
		return nil, nil // the zero Scope holds nobody
	}
	return s.pageOfOrdered(ctx, l, func(rows int) (string, []any) { return mergedRanges(s.engine, l, rows) })
}

// mergedRanges is the scope's section in list order, from the cursor on, for a reader of at
// most rows rows (0: all): one branch per account, each sorted by its index, which the
// engine merges lazily (mergeSorted), so a page reads about a page of index entries per
// account and sorts nothing (an `account_id IN (...)` with ORDER BY would sort the whole
// scope).
func mergedRanges(e engine, l listing, rows int) (ordered string, args []any) {
	dir, _ := l.direction()
	branches := make([]string, len(l.sc.accounts))
	for i, a := range l.sc.accounts {
		var branchArgs []any
		branches[i], branchArgs = indexRange(l, fmt.Sprintf("account_id = %d", a.ID), l.cur != nil)
		args = append(args, branchArgs...)
	}
	return e.mergeSorted(branches, fmt.Sprintf(` ORDER BY %s %s, id %s`, l.spec.key, dir, dir), rows), args
}

// listAccountByAccount reads the accounts' ranges one after another until the page is full:
// sorted by account, an account's contacts come together, so each account is read from its
// index in turn. (Merging them under ORDER BY account, key made SQLite sort the whole
// scope: 20 ms a page instead of 1.)
func (s *Store) listAccountByAccount(ctx context.Context, l listing) ([]ListRow, error) {
	var ids []int64
	for _, r := range accountRanges(l) {
		var more []int64
		var err error
		if l.searching() {
			more, err = s.pageOfMatches(ctx, r.sorted, l.q.Search, l.limit()-len(ids))
		} else {
			more, err = s.queryIDs(ctx, firstIDs(r.ordered, l.limit()-len(ids)), r.args...)
		}
		if err != nil {
			return nil, err
		}
		if ids = append(ids, more...); len(ids) >= l.limit() {
			break
		}
	}
	return s.rowsByID(ctx, l, ids)
}

// orderedRange is one account's section in list order: a SELECT and its arguments.
type orderedRange struct {
	ordered string
	args    []any
}

// sorted is the range as a sortedSection.
func (r orderedRange) sorted(int) (string, []any) { return r.ordered, r.args }

// A sortedSection is a section in list order, written for a reader of at most rows of its
// rows (0: all of them): a SELECT of id, the sort key and, when searching, search_text,
// with its arguments.
type sortedSection func(rows int) (ordered string, args []any)

// accountRanges are the accounts' sections in the order of the accounts' names (reversed
// for a page read backwards), each in list order. Accounts wholly before the cursor's are
// left out, the cursor's is read from the cursor on, and those after it from their start.
func accountRanges(l listing) []orderedRange {
	dir, _ := l.direction()
	accounts := slices.Clone(l.sc.accounts)
	slices.SortFunc(accounts, func(a, b Account) int { return strings.Compare(FoldKey(a.Name), FoldKey(b.Name)) })
	if dir == "DESC" {
		slices.Reverse(accounts)
	}
	if l.cur != nil {
		at := slices.IndexFunc(accounts, func(a Account) bool { return a.ID == l.cur.accountID })
		accounts = accounts[max(at, 0):]
	}
	ranges := make([]orderedRange, len(accounts))
	for i, a := range accounts {
		keyset := l.cur != nil && a.ID == l.cur.accountID
		ordered, args := indexRange(l, fmt.Sprintf("account_id = %d", a.ID), keyset)
		ranges[i] = orderedRange{ordered + fmt.Sprintf(` ORDER BY %s %s, id %s`, l.spec.key, dir, dir), args}
	}
	return ranges
}

// indexRange is a SELECT of the section's contacts where within holds (one account, or one
// company), with their sort key (and search text, for the walk of pageOfMatches), from the
// cursor on when keyset is set: one range of a sort index.
func indexRange(l listing, within string, keyset bool) (string, []any) {
	columns := "id, " + l.spec.key
	if l.searching() {
		columns += ", search_text"
	}
	query := `SELECT ` + columns + ` FROM contacts WHERE ` + within + ` AND status = '` + l.q.Status + `'`
	if !keyset {
		return query, nil
	}
	_, cmp := l.direction()
	return query + ` AND (` + l.spec.key + `, id) ` + cmp + ` (?, ?)`, []any{l.cur.key, l.cur.id}
}

// listSortedScope finds the page with one query over the whole scope, which the database
// sorts.
func (s *Store) listSortedScope(ctx context.Context, l listing) ([]ListRow, error) {
	query, args := sortedScope(s.engine, l)
	return s.readRows(ctx, l, query, args...)
}

// sortedScope is the ids of the page in one query over the whole scope. A search is driven
// by its matches (the engine's searchFrom), so a rare word costs a few lookups however large
// the scope.
func sortedScope(e engine, l listing) (query string, args []any) {
	dir, cmp := l.direction()
	from := `contacts c`
	where := `c.account_id IN ` + l.sc.inList() + ` AND c.status = '` + l.q.Status + `'`
	if l.searching() {
		var match string
		from, match, args = e.searchFrom(l.q.Search)
		where += ` AND ` + match
	}
	order := fmt.Sprintf(`c.%s %s, c.id %s`, l.spec.key, dir, dir)
	if l.q.Sort == SortAccount {
		from += ` JOIN accounts a ON a.id = c.account_id`
		order = fmt.Sprintf(`a.name_key %s, c.name_key %s, c.id %s`, dir, dir, dir)
	}
	switch {
	case l.cur != nil && l.q.Sort == SortAccount:
		where += ` AND (a.name_key, c.name_key, c.id) ` + cmp + ` ((SELECT name_key FROM accounts WHERE id = ?), ?, ?)`
		args = append(args, l.cur.accountID, l.cur.key, l.cur.id)
	case l.cur != nil:
		where += ` AND (c.` + l.spec.key + `, c.id) ` + cmp + ` (?, ?)`
		args = append(args, l.cur.key, l.cur.id)
	}
	return fmt.Sprintf(`SELECT c.id FROM %s WHERE %s ORDER BY %s LIMIT %d`, from, where, order, l.limit()), args
}

// pageOfOrdered reads the page from the section in list order: its first rows, or with a
// search its first matches.
func (s *Store) pageOfOrdered(ctx context.Context, l listing, section sortedSection) ([]ListRow, error) {
	if !l.searching() {
		ordered, args := section(l.limit())
		return s.readRows(ctx, l, firstIDs(ordered, l.limit()), args...)
	}
	ids, err := s.pageOfMatches(ctx, section, l.q.Search, l.limit())
	if err != nil {
		return nil, err
	}
	return s.rowsByID(ctx, l, ids)
}

// firstIDs is the ids of the first n rows of ordered.
func firstIDs(ordered string, n int) string {
	return fmt.Sprintf(`SELECT id FROM (%s) AS ordered LIMIT %d`, ordered, n)
}

// searchWalkRows bounds how many rows pageOfMatches tests in list order before it collects
// the match set instead: a common word's matches are spread through name order, but can all
// sit far down another order (in email order, "anna" starts after every "a..." before it).
const searchWalkRows = 4000

// pageOfMatches reads the first limit ids, in list order, of the rows of the section that
// match search, a search with many matches.
//
// It walks the sorted rows and keeps those whose search_text holds every typed phrase (the
// same test as the search index's match, see search.go). For a common word a page is found
// within a few thousand rows, so the search costs about what a page costs however large the
// database. Should searchWalkRows rows not fill the page, the engine's probeMatches goes on
// through the whole order, which is slower but bounded by the section.
func (s *Store) pageOfMatches(ctx context.Context, section sortedSection, search string, limit int) ([]int64, error) {
	ordered, args := section(searchWalkRows)
	query, walkArgs := walkMatches(s.engine, ordered, args, search, searchWalkRows, limit)
	ids, err := s.queryIDs(ctx, query, walkArgs...)
	if err != nil || len(ids) == limit {
		return ids, err
	}
	ordered, args = section(0)
	query, probeArgs := s.engine.probeMatches(ordered, args, search, limit)
	return s.queryIDs(ctx, query, probeArgs...)
}

// walkMatches is the first limit ids of the matches of search among the first rows rows of
// ordered (all of them when rows is 0).
func walkMatches(e engine, ordered string, args []any, search string, rows, limit int) (string, []any) {
	var tests []string
	walkArgs := slices.Clone(args)
	for _, n := range searchNeedles(search) {
		tests = append(tests, e.holdsNeedle())
		walkArgs = append(walkArgs, n)
	}
	walked := ordered
	if rows > 0 {
		walked = fmt.Sprintf(`SELECT id, search_text FROM (%s) AS ordered LIMIT %d`, ordered, rows)
	}
	return fmt.Sprintf(`SELECT id FROM (%s) AS walked WHERE %s LIMIT %d`, walked, strings.Join(tests, ` AND `), limit), walkArgs
}

// finishPage makes the page of rows (one more than a page when another follows, nearest
// first when backward) and its links to the pages before and after.
func finishPage(l listing, rows []ListRow) Page {
	more := len(rows) > l.q.Limit
	if more {
		rows = rows[:l.q.Limit]
	}
	if l.backward {
		slices.Reverse(rows)
	}
	p := Page{Counts: l.counts, Rows: rows}
	if len(rows) > 0 {
		first, last := rows[0].ID, rows[len(rows)-1].ID
		switch {
		case l.backward:
			p.NextID = last // we came back from there
			if more {
				p.PrevID = first
			}
		default:
			if more {
				p.NextID = last
			}
			if l.cur != nil {
				p.PrevID = first
			}
		}
	}
	return p
}

func (s *Store) queryIDs(ctx context.Context, query string, args ...any) ([]int64, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanIDs(rows)
}

// scanIDs reads rows of one id each, and closes them.
func scanIDs(rows *sql.Rows) ([]int64, error) {
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

// rowsByID reads the lines of the contacts ids, in that order.
func (s *Store) rowsByID(ctx context.Context, l listing, ids []int64) ([]ListRow, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	from, orderBy, arg, err := s.engine.pageOfIDs(ids)
	if err != nil {
		return nil, fmt.Errorf("store: list rows: %w", err)
	}
	return s.scanRows(ctx, l, from, orderBy, arg)
}

// readRows reads the lines of the contacts that ids (a SELECT of one column, id) yields, in
// its order, in one statement.
func (s *Store) readRows(ctx context.Context, l listing, ids string, args ...any) ([]ListRow, error) {
	from, orderBy := s.engine.pageFrom(ids)
	return s.scanRows(ctx, l, from, orderBy, args...)
}

// scanRows reads the lines of the contacts c that from (pageFrom, pageOfIDs) joins to a page,
// in the page's order. Contacts outside the scope or the section are left out, whatever the
// page holds. Only Locked out contacts show why they are locked, so only that section reads
// the lock's columns (each column read costs calls into SQLite for every row). The locker's
// name is looked up for the rows of the page only, and only for rows an admin locked.
func (s *Store) scanRows(ctx context.Context, l listing, from, orderBy string, args ...any) ([]ListRow, error) {
	sc, q := l.sc, l.q
	query := `SELECT c.id, c.first_name, c.last_name, c.email, c.account_id, c.last_login_at,
			coalesce((SELECT string_agg(role, ',') FROM contact_roles r WHERE r.contact_id = c.id), ''), c.two_factor,
			c.access_ends_at`
	locked := q.Status == StatusLocked
	if locked {
		query += `, c.lock_reason,
			CASE WHEN c.locked_by IS NULL THEN ''
				ELSE coalesce((SELECT ` + nameOf("l") + ` FROM contacts l WHERE l.id = c.locked_by), '') END,
			c.locked_at, c.failed_logins, c.last_failed_at,
			coalesce((SELECT o.name FROM accounts o WHERE o.id = c.locked_org_id), '')`
	}
	rows, err := s.read.QueryContext(ctx, query+` FROM `+from+`
		WHERE c.status = '`+q.Status+`' AND c.account_id IN `+sc.inList()+orderBy, args...)
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
	var lockedAt, lastFailed, accessEnds sql.NullInt64
	dest := []any{&r.ID, &r.FirstName, &r.LastName, &r.Email, &r.AccountID, &lastLogin, &roles, &r.TwoFactor, &accessEnds}
	if locked {
		dest = append(dest, &r.LockReason, &r.LockedByName, &lockedAt, &r.FailedLogins, &lastFailed, &r.LockedWith)
	}
	for rows.Next() {
		r = ListRow{Status: q.Status}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("store: list rows: %w", err)
		}
		r.LockedAt = timeOrZero(lockedAt)
		r.LastFailedAt = timeOrZero(lastFailed)
		r.AccessEndsAt = timeOrZero(accessEnds)
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
