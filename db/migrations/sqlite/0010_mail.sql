-- Password reset and set-your-password links. Only the SHA-256 of a link's token is stored,
-- and only from the moment the mail carrying it is sent: the outbox worker mints the token
-- then, so a queued mail never holds a usable secret and the database never holds a raw one.
CREATE TABLE password_tokens (
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    purpose     TEXT    NOT NULL CHECK (purpose IN ('reset', 'invite')),
    token_hash  BLOB    UNIQUE, -- NULL until the mail is sent
    created_by  INTEGER REFERENCES contacts(id) ON DELETE SET NULL, -- NULL: the contact itself or the command line
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL, -- usable while now <= expires_at
    used_at     INTEGER,
    voided_at   INTEGER           -- a newer link or a password change voided it
) STRICT;
CREATE INDEX password_tokens_by_contact ON password_tokens(contact_id, purpose, created_at);

-- Mail waiting to be sent, and a record of what was sent. Every row is written in the same
-- transaction as the change that causes it; the worker delivers it with retries.
CREATE TABLE outbox (
    id              TEXT    PRIMARY KEY, -- random; also the local part of the Message-ID
    kind            TEXT    NOT NULL CHECK (kind IN ('reset', 'invite', 'password_changed', 'auto_locked')),
    to_contact_id   INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    to_email        TEXT    NOT NULL,
    to_name         TEXT    NOT NULL,
    about_id        INTEGER REFERENCES contacts(id) ON DELETE SET NULL, -- the colleague a notice is about, or who asked for a link
    about_name      TEXT    NOT NULL DEFAULT '',
    about_email     TEXT    NOT NULL DEFAULT '',
    token_id        INTEGER REFERENCES password_tokens(id) ON DELETE CASCADE,
    status          TEXT    NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'given_up', 'superseded')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER -- when it was sent, given up or superseded
) STRICT;
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_by_contact ON outbox(to_contact_id, created_at);
