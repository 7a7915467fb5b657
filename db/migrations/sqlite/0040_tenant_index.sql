-- A contact admin of a top-level account manages the whole company: every account under it.
-- Listing such a scope merged one sorted index range per account, which costs a seek per
-- account on every page. Every account and contact now carries its company (tenant_id, the
-- top-level account above it), and the company's contacts have sort indexes of their own,
-- so a whole company is one index range however many accounts it has. Scopes below the top
-- level still merge their accounts' ranges (see ListContacts).
ALTER TABLE accounts ADD COLUMN tenant_id INTEGER REFERENCES accounts(id);
WITH RECURSIVE tree(id, tenant) AS (
    SELECT id, id FROM accounts WHERE parent_id IS NULL
    UNION ALL
    SELECT a.id, tree.tenant FROM accounts a JOIN tree ON a.parent_id = tree.id
)
UPDATE accounts SET tenant_id = (SELECT tenant FROM tree WHERE tree.id = accounts.id);
-- Accounts are only ever added under an existing parent, never moved.
CREATE TRIGGER accounts_tenant AFTER INSERT ON accounts BEGIN
    UPDATE accounts SET tenant_id = coalesce((SELECT tenant_id FROM accounts WHERE id = NEW.parent_id), NEW.id)
    WHERE id = NEW.id;
END;

ALTER TABLE contacts ADD COLUMN tenant_id INTEGER NOT NULL DEFAULT 0;
UPDATE contacts SET tenant_id = (SELECT tenant_id FROM accounts WHERE id = contacts.account_id);
-- Writers pass the company with the account (one lookup, no second write); these triggers
-- make any writer that doesn't, or passes a wrong one, right anyway.
CREATE TRIGGER contacts_tenant_insert AFTER INSERT ON contacts
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM accounts WHERE id = NEW.account_id) BEGIN
    UPDATE contacts SET tenant_id = (SELECT tenant_id FROM accounts WHERE id = NEW.account_id) WHERE id = NEW.id;
END;
CREATE TRIGGER contacts_tenant_move AFTER UPDATE OF account_id, tenant_id ON contacts
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM accounts WHERE id = NEW.account_id) BEGIN
    UPDATE contacts SET tenant_id = (SELECT tenant_id FROM accounts WHERE id = NEW.account_id) WHERE id = NEW.id;
END;
CREATE INDEX contacts_tenant_by_name       ON contacts(tenant_id, status, name_key, id);
CREATE INDEX contacts_tenant_by_email      ON contacts(tenant_id, status, email_key, id);
CREATE INDEX contacts_tenant_by_last_login ON contacts(tenant_id, status, last_login_at, id);

-- Prefix indexes up to five letters: a search is typed a letter at a time, and without a
-- prefix index of its length FTS5 gathers every match of every word with that prefix
-- before it returns the first (0.35 ms for "anna" at 1M contacts, growing with the
-- database); with one it reads them lazily. Words of six letters and more match few enough.
DROP TRIGGER contacts_fts_insert;
DROP TRIGGER contacts_fts_delete;
DROP TRIGGER contacts_fts_update;
DROP TABLE contacts_fts;
CREATE VIRTUAL TABLE contacts_fts USING fts5(
    search_text,
    content = 'contacts', content_rowid = 'id',
    tokenize = 'ascii',
    prefix = '1 2 3 4 5'
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
INSERT INTO contacts_fts(contacts_fts) VALUES ('rebuild');
INSERT INTO contacts_fts(contacts_fts) VALUES ('optimize');
