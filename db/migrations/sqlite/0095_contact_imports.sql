-- Import contacts (SPEC 3.9): an uploaded file, read, waits here between its preview and the
-- admin's Import or Cancel, an hour at most. In the database rather than in a server's
-- memory, so that any server of several shows the preview and commits it.
CREATE TABLE contact_imports (
    id         TEXT    PRIMARY KEY, -- random: the preview's address
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE, -- the admin who uploaded it
    file_name  TEXT    NOT NULL,
    header     TEXT    NOT NULL, -- the file's columns as read (JSON, contacts.importHeader)
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX contact_imports_by_contact ON contact_imports(contact_id);
CREATE INDEX contact_imports_by_age ON contact_imports(created_at);

-- The file's rows, one each, keyed by the user name they name, so that removing a contact
-- (R-LIFECYCLE) erases its row from a pending import too.
CREATE TABLE contact_import_rows (
    import_id TEXT    NOT NULL REFERENCES contact_imports(id) ON DELETE CASCADE,
    line      INTEGER NOT NULL, -- the row's number in the spreadsheet
    email_key TEXT    NOT NULL,
    cells     TEXT    NOT NULL, -- the row's fields as read (JSON array)
    PRIMARY KEY (import_id, line)
) STRICT, WITHOUT ROWID;
CREATE INDEX contact_import_rows_by_email ON contact_import_rows(email_key);
