package db

// SetUnionMaxAccounts lets tests run ListContacts' single-query fallback on small scopes;
// the returned function restores the limit.
func SetUnionMaxAccounts(n int) (restore func()) {
	old := unionMaxAccounts
	unionMaxAccounts = n
	return func() { unionMaxAccounts = old }
}

// SetSearchWalkRows lets tests make a search's walk fall short of a page, so that it collects
// the match set; the returned function restores the bound.
func SetSearchWalkRows(n int) (restore func()) {
	old := searchWalkRows
	searchWalkRows = n
	return func() { searchWalkRows = old }
}

// LastListQuery is the SQL of the last ListContacts page (tests look at its plan).
var LastListQuery = &lastListQuery

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

func LastListSQL(l *listQueryArgs) string { return l.query }
func LastListArgs(l *listQueryArgs) []any { return l.args }

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
