-- A contact's whole life (SPEC R-LIFECYCLE): a removed status, the lock reasons of access
-- that ends and of a locked organization, and the columns they need.
ALTER TABLE contacts DROP CONSTRAINT contacts_status_check;
ALTER TABLE contacts ADD CONSTRAINT contacts_status_check CHECK (status IN ('active', 'locked', 'removed'));
ALTER TABLE contacts DROP CONSTRAINT contacts_lock_reason_check;
ALTER TABLE contacts ADD CONSTRAINT contacts_lock_reason_check
    CHECK (lock_reason IN ('', 'admin', 'failed_logins', 'access_ended', 'organization'));
ALTER TABLE contacts ADD COLUMN access_ends_at BIGINT; -- the contact's access ends then; NULL: never
ALTER TABLE contacts ADD COLUMN locked_org_id BIGINT REFERENCES accounts(id) ON DELETE SET NULL;
ALTER TABLE contacts ADD COLUMN removed_at BIGINT; -- when it was removed and its personal data erased
CREATE INDEX contacts_access_ends ON contacts(access_ends_at) WHERE access_ends_at IS NOT NULL;
