package db_test

import (
	"context"
	"strings"
	"testing"

	"portal/db"
)

// TestListPlanMergesBranches pins the plan the performance depends on: per-account index
// range scans merged without sorting, also for a search with many matches.
func TestListPlanMergesBranches(t *testing.T) {
	ctx := context.Background()
	store, sc := populated(t, 20_000, 4)
	for _, tc := range []struct {
		q         db.ListQuery
		want      []string
		forbidden []string
	}{
		{db.ListQuery{Limit: 25}, []string{"MERGE (UNION ALL)", "COVERING INDEX contacts_by_name"}, []string{"TEMP B-TREE"}},
		{db.ListQuery{Limit: 25, Sort: db.SortLastLogin}, []string{"MERGE (UNION ALL)", "COVERING INDEX contacts_by_last_login"}, []string{"TEMP B-TREE"}},
		// A common word walks the same merge and tests each row: nothing collects its matches.
		{db.ListQuery{Limit: 25, Search: "example"}, []string{"MERGE (UNION ALL)", "INDEX contacts_by_name"}, []string{"TEMP B-TREE", "contacts_fts", "MATERIALIZE"}},
		{db.ListQuery{Limit: 25, Search: "example", Sort: db.SortEmail}, []string{"MERGE (UNION ALL)", "INDEX contacts_by_email"}, []string{"TEMP B-TREE", "contacts_fts", "MATERIALIZE"}},
	} {
		if _, err := store.ListContacts(ctx, sc, tc.q); err != nil {
			t.Fatal(err)
		}
		last := (*db.LastListQuery).Load()
		lines, err := store.ExplainQueryPlan(db.LastListSQL(last), db.LastListArgs(last)...)
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
