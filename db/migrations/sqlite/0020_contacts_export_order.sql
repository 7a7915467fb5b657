-- Exports list every contact of a scope by account, then name, active and locked together.
-- With this index SQLite walks accounts in name order and each account's contacts in name
-- order, so an export of 100,000 contacts streams without sorting them first.
CREATE INDEX contacts_by_account_name ON contacts(account_id, name_key, id);
