package db_test

import (
	"context"
	"strings"
	"testing"

	"portal/db"
)

// TestListPlan pins the plans the performance depends on: a whole company is one range of
// its company index, part of a company merges per-account index ranges; neither sorts, also
// for a search with many matches.
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
