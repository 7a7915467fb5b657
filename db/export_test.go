package db

import (
	"context"
	"fmt"
)

// MaxMergedAccounts and SearchWalkRows are ListContacts' limits, for tests that build data
// crossing them.
const (
	MaxMergedAccounts = maxMergedAccounts
	SearchWalkRows    = searchWalkRows
)

// ListStatement is the statement ListContacts runs first to find the page q asks for, built
// by the same functions, for the plans that read one statement (a company's range, or merged
// accounts' ranges): the plan tests EXPLAIN it, and BenchmarkListContactsSQL runs it bare.
func (s *Store) ListStatement(ctx context.Context, sc Scope, q ListQuery) (string, []any, error) {
	l, err := s.newListing(ctx, sc, q)
	if err != nil {
		return "", nil, err
	}
	var ordered string
	var args []any
	switch plan := choosePlan(sc, l.q, l.match != "", l.counts); plan {
	case planCompany:
		ordered, args = companyRange(l)
	case planMergedAccounts:
		ordered, args = mergedRanges(l)
	default:
		return "", nil, fmt.Errorf("plan %q runs more than one statement", plan)
	}
	if l.match != "" {
		query, args := walkMatches(ordered, args, l.q.Search, l.limit())
		return query, args, nil
	}
	return firstIDs(ordered, l.limit()), args, nil
}

// ExportQuery is the SQL an export of sc runs, for the benchmarks that compare the exports
// with other programs (the sqlite3 shell, bare writers) running the very same query.
func ExportQuery(sc Scope) string { return exportQuery(sc, "") }

// ExplainQueryPlan returns the plan of query, one line per node.
func (s *Store) ExplainQueryPlan(query string, args ...any) ([]string, error) {
	rows, err := s.read.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		out = append(out, detail)
	}
	return out, rows.Err()
}

// RunForTest runs query on the read pool and counts its rows.
func (s *Store) RunForTest(query string, args ...any) (int, error) {
	rows, err := s.read.Query(query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}
