package db

// SetUnionMaxAccounts lets tests run ListContacts' single-query fallback on small scopes;
// the returned function restores the limit.
func SetUnionMaxAccounts(n int) (restore func()) {
	old := unionMaxAccounts
	unionMaxAccounts = n
	return func() { unionMaxAccounts = old }
}
