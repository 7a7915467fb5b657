-- Accounts form a tree: a company and its child organizations, any depth.
CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL UNIQUE, -- folded name: account names are unique case-insensitively
    parent_id  INTEGER REFERENCES accounts(id) ON DELETE RESTRICT,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX accounts_by_parent ON accounts(parent_id);

CREATE TABLE contacts (
    id                  INTEGER PRIMARY KEY,
    account_id          INTEGER NOT NULL REFERENCES accounts(id) ON DELETE RESTRICT,
    first_name          TEXT    NOT NULL,
    last_name           TEXT    NOT NULL,
    email               TEXT    NOT NULL,
    email_key           TEXT    NOT NULL UNIQUE, -- folded email: unique across the portal, case-insensitively
    name_key            TEXT    NOT NULL,        -- folded "last first": the sort key for names
    phone               TEXT    NOT NULL DEFAULT '',
    job_title           TEXT    NOT NULL DEFAULT '',
    status              TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'locked')),
    lock_reason         TEXT    NOT NULL DEFAULT '' CHECK (lock_reason IN ('', 'admin', 'failed_logins')),
    locked_by           INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    locked_at           INTEGER,
    password_hash       TEXT    NOT NULL DEFAULT '', -- empty: no password yet, the contact cannot log in
    password_changed_at INTEGER,
    failed_logins       INTEGER NOT NULL DEFAULT 0,
    last_failed_at      INTEGER,
    last_login_at       INTEGER NOT NULL DEFAULT 0, -- 0: never; keeps keyset paging free of NULLs
    created_by          INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    CHECK ((status = 'locked') = (lock_reason <> ''))
) STRICT;
-- One index per sort order, each led by (account, status) so that a page of one section of one
-- account is an index range scan that stops after a page of rows.
CREATE INDEX contacts_by_name       ON contacts(account_id, status, name_key, id);
CREATE INDEX contacts_by_email      ON contacts(account_id, status, email_key, id);
CREATE INDEX contacts_by_last_login ON contacts(account_id, status, last_login_at, id);

CREATE TABLE roles (
    name  TEXT PRIMARY KEY,
    label TEXT NOT NULL
) STRICT;
INSERT INTO roles(name, label) VALUES
    ('contact_admin', 'Contact admin'),
    ('incident_contact', 'Incident contact');

CREATE TABLE contact_roles (
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    role       TEXT    NOT NULL REFERENCES roles(name),
    PRIMARY KEY (contact_id, role)
) STRICT, WITHOUT ROWID;
CREATE INDEX contact_roles_by_role ON contact_roles(role, contact_id);

-- Section counts of All Contacts, kept by triggers so that a page never counts 100,000 rows.
CREATE TABLE contact_counts (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status     TEXT    NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (account_id, status)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER contact_counts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contact_counts(account_id, status, n) VALUES (NEW.account_id, NEW.status, 1)
        ON CONFLICT(account_id, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER contact_counts_delete AFTER DELETE ON contacts BEGIN
    UPDATE contact_counts SET n = n - 1 WHERE account_id = OLD.account_id AND status = OLD.status;
END;
CREATE TRIGGER contact_counts_update AFTER UPDATE OF account_id, status ON contacts
WHEN OLD.account_id <> NEW.account_id OR OLD.status <> NEW.status BEGIN
    UPDATE contact_counts SET n = n - 1 WHERE account_id = OLD.account_id AND status = OLD.status;
    INSERT INTO contact_counts(account_id, status, n) VALUES (NEW.account_id, NEW.status, 1)
        ON CONFLICT(account_id, status) DO UPDATE SET n = n + 1;
END;

-- Search as you type: names and email, diacritics folded, prefix indexes for short prefixes.
CREATE VIRTUAL TABLE contacts_fts USING fts5(
    first_name, last_name, email,
    content = 'contacts', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3'
);
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts(rowid, first_name, last_name, email)
        VALUES (NEW.id, NEW.first_name, NEW.last_name, NEW.email);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts(contacts_fts, rowid, first_name, last_name, email)
        VALUES ('delete', OLD.id, OLD.first_name, OLD.last_name, OLD.email);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF first_name, last_name, email ON contacts BEGIN
    INSERT INTO contacts_fts(contacts_fts, rowid, first_name, last_name, email)
        VALUES ('delete', OLD.id, OLD.first_name, OLD.last_name, OLD.email);
    INSERT INTO contacts_fts(rowid, first_name, last_name, email)
        VALUES (NEW.id, NEW.first_name, NEW.last_name, NEW.email);
END;

-- Server-side sessions: the cookie holds a random id, the table only its SHA-256.
CREATE TABLE sessions (
    id_hash      BLOB    PRIMARY KEY,
    contact_id   INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    data         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_by_contact ON sessions(contact_id);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    action     TEXT    NOT NULL,
    actor_id   INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    target_id  INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    remote_ip  TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_by_target  ON audit_events(target_id, id);
CREATE INDEX audit_by_account ON audit_events(account_id, id);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
