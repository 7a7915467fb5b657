package db

import "testing"

// TestChoosePlan: ranges read in list order wherever they can be (a whole company's own
// range, merged accounts, accounts in turn when sorted by account), one sorted query for a
// search with few matches and for more accounts below the top of a company than are merged.
func TestChoosePlan(t *testing.T) {
	scope := func(top bool, accounts int) Scope {
		sc := Scope{root: 1}
		for i := range accounts {
			a := Account{ID: int64(i + 1), ParentID: int64(i)} // 0 for the root: a top-level account
			if !top {
				a.ParentID = int64(i) + 100
			}
			sc.accounts = append(sc.accounts, a)
		}
		return sc
	}
	few, many := SectionCounts{Active: 12}, SectionCounts{Active: 900, Locked: 101, AtLeast: true}
	for _, tc := range []struct {
		name      string
		sc        Scope
		sort      string
		searching bool
		counts    SectionCounts
		want      listPlan
	}{
		{"whole company", scope(true, 3), SortName, false, SectionCounts{}, planCompany},
		{"whole company of many accounts", scope(true, maxMergedAccounts+1), SortLastLogin, false, SectionCounts{}, planCompany},
		{"whole company by account", scope(true, 3), SortAccount, false, SectionCounts{}, planAccountByAccount},
		{"whole company of many accounts by account", scope(true, maxMergedAccounts+1), SortAccount, false, SectionCounts{}, planSortedScope},
		{"below the top", scope(false, maxMergedAccounts), SortEmail, false, SectionCounts{}, planMergedAccounts},
		{"below the top, too many to merge", scope(false, maxMergedAccounts+1), SortEmail, false, SectionCounts{}, planSortedScope},
		{"below the top by account", scope(false, 3), SortAccount, false, SectionCounts{}, planAccountByAccount},
		{"a rare word in a whole company", scope(true, 3), SortName, true, few, planSortedScope},
		{"a rare word below the top", scope(false, 3), SortAccount, true, few, planSortedScope},
		{"a common word in a whole company", scope(true, 3), SortName, true, many, planCompany},
		{"a common word below the top", scope(false, 3), SortEmail, true, many, planMergedAccounts},
		{"a common word by account", scope(false, 3), SortAccount, true, many, planAccountByAccount},
		{"a common word below the top, too many to merge", scope(false, maxMergedAccounts+1), SortName, true, many, planSortedScope},
	} {
		if got := choosePlan(tc.sc, ListQuery{Sort: tc.sort}, tc.searching, tc.counts); got != tc.want {
			t.Errorf("%s: got plan %q, want %q", tc.name, got, tc.want)
		}
	}
}
