-- Two-step verification (SPEC 3.11). Every secret a second factor needs (an authenticator
-- app's secret, a passkey's record) is sealed with the key of --secrets-key-file before it
-- is stored (package secrets), so this file alone gives none of them away; recovery codes
-- are stored as hashes.

-- two_factor: the contact has an authenticator app or a passkey. The code that adds and
-- removes factors keeps it, so that All Contacts and the exports read one column.
-- password_short: the password is shorter than 15 characters, which only a contact with a
-- second factor may have; without one it must choose a longer one at the next sign-in.
ALTER TABLE contacts ADD COLUMN two_factor INTEGER NOT NULL DEFAULT 0 CHECK (two_factor IN (0, 1));
ALTER TABLE contacts ADD COLUMN password_short INTEGER NOT NULL DEFAULT 0 CHECK (password_short IN (0, 1));

-- Authenticator apps (TOTP, RFC 6238). A new secret waits unconfirmed until the first code
-- from the app proves it was scanned; it then replaces the contact's confirmed one, if any.
CREATE TABLE totp_factors (
    id           INTEGER PRIMARY KEY,
    contact_id   INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    secret       BLOB    NOT NULL, -- sealed
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,          -- NULL: waiting for its first code
    last_step    INTEGER NOT NULL DEFAULT 0 -- the newest 30-second step whose code was used: it and older ones are refused
) STRICT;
CREATE UNIQUE INDEX totp_factors_confirmed ON totp_factors(contact_id) WHERE confirmed_at IS NOT NULL;
CREATE UNIQUE INDEX totp_factors_waiting ON totp_factors(contact_id) WHERE confirmed_at IS NULL;

-- Passkeys (WebAuthn). The user handle is random and the same for every passkey of a contact.
CREATE TABLE passkey_users (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
    handle     BLOB    NOT NULL UNIQUE
) STRICT;
CREATE TABLE passkeys (
    id            INTEGER PRIMARY KEY,
    contact_id    INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    rp_id         TEXT    NOT NULL, -- the relying party it was made for (the base URL's host)
    credential_id BLOB    NOT NULL,
    name          TEXT    NOT NULL,
    record        BLOB    NOT NULL, -- the library's credential record as JSON, sealed
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) STRICT;
CREATE UNIQUE INDEX passkeys_by_credential ON passkeys(rp_id, credential_id);
CREATE INDEX passkeys_by_contact ON passkeys(contact_id);
-- A passkey ceremony under way (adding one, or signing in with one): its challenge, for
-- a few minutes. One per contact: a newer one replaces it.
CREATE TABLE passkey_ceremonies (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('register', 'login')),
    data       BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

-- Recovery codes: ten per contact, SHA-256 of each, single use.
CREATE TABLE recovery_codes (
    id         INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    code_hash  BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX recovery_codes_by_contact ON recovery_codes(contact_id);

-- A sign-in between the password and the rest: the second step, setting up a factor the
-- organization requires, or choosing a longer password. It grants nothing but the pages of
-- that step, for five minutes; the browser holds a random id, this table its SHA-256.
CREATE TABLE pending_signins (
    id_hash    BLOB    PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    stage      TEXT    NOT NULL CHECK (stage IN ('verify', 'setup', 'password')),
    next       TEXT    NOT NULL DEFAULT '', -- where to go once signed in
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX pending_signins_by_contact ON pending_signins(contact_id);
CREATE INDEX pending_signins_by_expiry ON pending_signins(expires_at);

-- Accounts whose contact admins require two-step verification, for the account and every
-- account below it.
CREATE TABLE two_factor_requirements (
    account_id  INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    required_by INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    required_at INTEGER NOT NULL
) STRICT;
