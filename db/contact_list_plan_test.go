package db_test

import (
	"context"
	"strings"
	"testing"

	"portal/db"
	"portal/db/testdb"
)

// TestListPlan pins the plans the performance depends on: a whole company is one range of
// its company index, part of a company merges per-account index ranges; neither sorts, also
// for a search with many matches. SQLite's plans (EXPLAIN QUERY PLAN) on SQLite's data, made
// by the demo's bulk population; TestListPlanPostgres pins PostgreSQL's.
func TestListPlan(t *testing.T) {
	ctx := context.Background()
	company, companyScope := populated(t, 20_000, 4)
	part, partScope := populatedBelow(t, 20_000, 4)
	for _, tc := range []struct {
		store     *db.Store
		sc        db.Scope
		q         db.ListQuery
		want      []string
		forbidden []string
	}{
		{company, companyScope, db.ListQuery{Limit: 25}, []string{"COVERING INDEX contacts_tenant_by_name"}, []string{"TEMP B-TREE", "MERGE"}},
		{company, companyScope, db.ListQuery{Limit: 25, Sort: db.SortLastLogin, Status: db.StatusLocked}, []string{"COVERING INDEX contacts_tenant_by_last_login"}, []string{"TEMP B-TREE", "MERGE"}},
		// A common word walks the same range and tests each row: nothing collects its matches.
		{company, companyScope, db.ListQuery{Limit: 25, Search: "example"}, []string{"INDEX contacts_tenant_by_name"}, []string{"TEMP B-TREE", "contacts_fts", "MATERIALIZE", "MERGE"}},
		{company, companyScope, db.ListQuery{Limit: 25, Search: "example", Sort: db.SortEmail}, []string{"INDEX contacts_tenant_by_email"}, []string{"TEMP B-TREE", "contacts_fts", "MATERIALIZE", "MERGE"}},
		{part, partScope, db.ListQuery{Limit: 25}, []string{"MERGE (UNION ALL)", "COVERING INDEX contacts_by_name"}, []string{"TEMP B-TREE", "tenant"}},
		{part, partScope, db.ListQuery{Limit: 25, Sort: db.SortLastLogin}, []string{"MERGE (UNION ALL)", "COVERING INDEX contacts_by_last_login"}, []string{"TEMP B-TREE", "tenant"}},
		{part, partScope, db.ListQuery{Limit: 25, Search: "example"}, []string{"MERGE (UNION ALL)", "INDEX contacts_by_name"}, []string{"TEMP B-TREE", "contacts_fts", "MATERIALIZE", "tenant"}},
		{part, partScope, db.ListQuery{Limit: 25, Search: "example", Sort: db.SortEmail}, []string{"MERGE (UNION ALL)", "INDEX contacts_by_email"}, []string{"TEMP B-TREE", "contacts_fts", "MATERIALIZE", "tenant"}},
	} {
		query, args, err := tc.store.ListStatement(ctx, tc.sc, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := tc.store.ExplainQueryPlan(query, args...)
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		for _, w := range tc.want {
			if !strings.Contains(plan, w) {
				t.Errorf("%+v: plan lacks %q:\n%s", tc.q, w, plan)
			}
		}
		for _, f := range tc.forbidden {
			if strings.Contains(plan, f) {
				t.Errorf("%+v: plan has %q:\n%s", tc.q, f, plan)
			}
		}
	}
}

// TestListPlanPostgres pins PostgreSQL's plans the same way: a page of a whole company reads
// the company's sort index in order, part of a company merges its accounts' index ranges
// (Merge Append), a common word walks those ranges testing each row, and a rare word is found
// through the trigram index contacts_search. The first three sort nothing and scan no table:
// their rows come in list order from the indexes, which is also what keeps the order through
// the statements around them (PostgreSQL promises none without an ORDER BY of their own).
func TestListPlanPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	company, companyScope := populatedOn(t, testdb.Postgres, 10_000, 4, false)
	part, partScope := populatedOn(t, testdb.Postgres, 10_000, 4, true)
	// Plan nodes that would read more than a page or lose the index's order.
	unordered := []string{"Sort", "Incremental Sort", "Seq Scan", "Hash", "Bitmap Heap Scan", "Gather"}
	for _, tc := range []struct {
		store          *db.Store
		sc             db.Scope
		q              db.ListQuery
		want           []string // in the plan
		forbiddenNodes []string // starting a node
		forbidden      []string // anywhere in the plan
	}{
		{company, companyScope, db.ListQuery{Limit: 25}, []string{"contacts_tenant_by_name"}, unordered, []string{"Merge Append"}},
		{company, companyScope, db.ListQuery{Limit: 25, Sort: db.SortLastLogin, Status: db.StatusLocked},
			[]string{"Backward using contacts_tenant_by_last_login"}, unordered, nil},
		{company, companyScope, db.ListQuery{Limit: 25, Search: "example"}, []string{"contacts_tenant_by_name", "strpos"},
			unordered, []string{"contacts_search"}},
		{company, companyScope, db.ListQuery{Limit: 25, Search: "example", Sort: db.SortEmail},
			[]string{"contacts_tenant_by_email", "strpos"}, unordered, []string{"contacts_search"}},
		{company, companyScope, db.ListQuery{Limit: 25, Search: "anna.k"}, []string{"Bitmap Index Scan on contacts_search"},
			[]string{"Seq Scan"}, nil},
		{part, partScope, db.ListQuery{Limit: 25}, []string{"Merge Append", "using contacts_by_"}, unordered, []string{"tenant"}},
		{part, partScope, db.ListQuery{Limit: 25, Sort: db.SortLastLogin}, []string{"Merge Append", "Backward using contacts_by_last_login"},
			unordered, []string{"tenant"}},
		{part, partScope, db.ListQuery{Limit: 25, Search: "example"}, []string{"Merge Append", "using contacts_by_", "strpos"},
			unordered, []string{"tenant", "contacts_search"}},
		{part, partScope, db.ListQuery{Limit: 25, Search: "example", Sort: db.SortEmail},
			[]string{"Merge Append", "using contacts_by_email", "strpos"}, unordered, []string{"tenant", "contacts_search"}},
	} {
		query, args, err := tc.store.ListStatement(ctx, tc.sc, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := tc.store.ExplainQueryPlan(query, args...)
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		for _, w := range tc.want {
			if !strings.Contains(plan, w) {
				t.Errorf("%+v: plan lacks %q:\n%s", tc.q, w, plan)
			}
		}
		for _, f := range tc.forbidden {
			if strings.Contains(plan, f) {
				t.Errorf("%+v: plan has %q:\n%s", tc.q, f, plan)
			}
		}
		for i, line := range lines {
			node, isNode := strings.CutPrefix(strings.TrimSpace(line), "->  ")
			if !isNode && i > 0 {
				continue // a detail of the node above (Sort Key, Filter, ...)
			}
			for _, f := range tc.forbiddenNodes {
				if strings.HasPrefix(node, f) {
					t.Errorf("%+v: plan has a %s node:\n%s", tc.q, f, plan)
				}
			}
		}
	}
}
