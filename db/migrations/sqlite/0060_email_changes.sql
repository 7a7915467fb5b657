-- An admin's change of a contact's email takes effect only when the new address confirms it
-- (SPEC R-EDIT): until then the old address stays the user name, and it is told at once,
-- with a link that cancels the change. Like password links, both links' tokens are minted
-- when their mail is sent, and only their SHA-256 is stored.
CREATE TABLE email_changes (
    id           INTEGER PRIMARY KEY,
    contact_id   INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    new_email    TEXT    NOT NULL,
    confirm_hash BLOB    UNIQUE, -- NULL until the confirmation mail to the new address is sent
    cancel_hash  BLOB    UNIQUE, -- NULL until the notice to the old address is sent
    requested_by INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL, -- the confirmation works while now <= expires_at
    confirmed_at INTEGER,
    cancelled_at INTEGER           -- cancelled, or replaced by a newer change
) STRICT;
CREATE INDEX email_changes_open ON email_changes(contact_id) WHERE confirmed_at IS NULL AND cancelled_at IS NULL;

-- The outbox learns the kinds of mail these changes send. Its kinds are no longer listed in
-- a CHECK (SQLite can only change one by rebuilding the table): the Go code names them.
CREATE TABLE outbox_new (
    id              TEXT    PRIMARY KEY, -- random; also the local part of the Message-ID
    kind            TEXT    NOT NULL,
    to_contact_id   INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    to_email        TEXT    NOT NULL,
    to_name         TEXT    NOT NULL,
    about_id        INTEGER REFERENCES contacts(id) ON DELETE SET NULL, -- the colleague a notice is about, or who asked for a link
    about_name      TEXT    NOT NULL DEFAULT '',
    about_email     TEXT    NOT NULL DEFAULT '',
    token_id        INTEGER REFERENCES password_tokens(id) ON DELETE CASCADE,
    email_change_id INTEGER REFERENCES email_changes(id) ON DELETE CASCADE,
    status          TEXT    NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'given_up', 'superseded')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER -- when it was sent, given up or superseded
) STRICT;
INSERT INTO outbox_new(id, kind, to_contact_id, to_email, to_name, about_id, about_name, about_email, token_id,
        status, attempts, next_attempt_at, last_error, created_at, finished_at)
    SELECT id, kind, to_contact_id, to_email, to_name, about_id, about_name, about_email, token_id,
        status, attempts, next_attempt_at, last_error, created_at, finished_at
    FROM outbox ORDER BY rowid;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_by_contact ON outbox(to_contact_id, created_at);
