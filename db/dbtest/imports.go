package dbtest

import (
	"context"
	"fmt"
)

// PendingImports counts the uploaded files waiting for their preview to be confirmed, and
// their rows.
func (d *DB) PendingImports(ctx context.Context) (imports, rows int, err error) {
	err = d.db.QueryRowContext(ctx,
		`SELECT (SELECT count(*) FROM contact_imports), (SELECT count(*) FROM contact_import_rows)`).Scan(&imports, &rows)
	if err != nil {
		return 0, 0, fmt.Errorf("dbtest: pending imports: %w", err)
	}
	return imports, rows, nil
}
