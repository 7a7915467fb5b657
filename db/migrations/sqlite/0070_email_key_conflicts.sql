-- User names are keyed under PRECIS's UsernameCaseMapped profile from migration 71 on (see
-- db.EmailKey). Contacts whose new keys would collide keep their old ones and are listed here,
-- never merged: an operator decides which of them is whose (docs/OPERATIONS.md).
CREATE TABLE email_key_conflicts (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
    other_id   INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    noticed_at INTEGER NOT NULL
) STRICT;
