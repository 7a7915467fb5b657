package db

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAuditLogPlan pins the SQLite plans the audit log's pages depend on: each filter walks
// an index in the log's order and stops after the page, without sorting the scope's history;
// only a contact's events (few) are gathered from two indexes and sorted. Pages after the
// first start at their cursor (the bound on at), not at the newest end.
func TestAuditLogPlan(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	acc, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := s.ScopeOf(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		f         AuditFilter
		want      []string
		forbidden []string
	}{
		{"everything", AuditFilter{}, []string{"INDEX audit_by_time (at<?)"}, []string{"TEMP B-TREE"}},
		{"an action", AuditFilter{Action: ActionLoginFailed}, []string{"INDEX audit_by_action (action=? AND at<?)"}, []string{"TEMP B-TREE"}},
		{"a day", AuditFilter{From: day, Until: day.AddDate(0, 0, 1)}, []string{"INDEX audit_by_time (at>? AND at<?)"}, []string{"TEMP B-TREE"}},
		{"an action on a day", AuditFilter{Action: ActionLoginFailed, From: day, Until: day.AddDate(0, 0, 1)},
			[]string{"INDEX audit_by_action (action=? AND at>? AND at<?)"}, []string{"TEMP B-TREE"}},
		{"a contact", AuditFilter{ContactID: 7}, []string{"MULTI-INDEX OR", "audit_by_target", "audit_by_actor"}, nil},
	} {
		query, args := auditPageQuery(sc, tc.f, 1, 51)
		lines, err := s.ExplainQueryPlan(query, args...)
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		for _, w := range tc.want {
			if !strings.Contains(plan, w) {
				t.Errorf("%s: plan lacks %q:\n%s", tc.name, w, plan)
			}
		}
		for _, f := range tc.forbidden {
			if strings.Contains(plan, f) {
				t.Errorf("%s: plan has %q:\n%s", tc.name, f, plan)
			}
		}
		if testing.Verbose() {
			fmt.Printf("%s:\n%s\n", tc.name, plan)
		}
	}
}
