-- Search reads one column of folded words, search_text (see db/search.go), indexed by FTS5
-- with the ascii tokenizer so that its tokens are exactly those words. The Go code fills the
-- column for existing contacts and rebuilds the index once, in migration 50 (a step written
-- in Go, migrateContactKeys), since the folding rule lives in Go.
ALTER TABLE contacts ADD COLUMN search_text TEXT NOT NULL DEFAULT '';

DROP TRIGGER contacts_fts_insert;
DROP TRIGGER contacts_fts_delete;
DROP TRIGGER contacts_fts_update;
DROP TABLE contacts_fts;

CREATE VIRTUAL TABLE contacts_fts USING fts5(
    search_text,
    content = 'contacts', content_rowid = 'id',
    tokenize = 'ascii',
    prefix = '1 2 3'
);
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts(rowid, search_text) VALUES (NEW.id, NEW.search_text);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts(contacts_fts, rowid, search_text) VALUES ('delete', OLD.id, OLD.search_text);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF search_text ON contacts BEGIN
    INSERT INTO contacts_fts(contacts_fts, rowid, search_text) VALUES ('delete', OLD.id, OLD.search_text);
    INSERT INTO contacts_fts(rowid, search_text) VALUES (NEW.id, NEW.search_text);
END;
