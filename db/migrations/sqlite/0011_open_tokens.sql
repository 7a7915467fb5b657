-- Voiding a contact's open links (on every new link and every password change) reads only
-- the open ones, however many used and voided links the contact has piled up.
CREATE INDEX password_tokens_open ON password_tokens(contact_id) WHERE used_at IS NULL AND voided_at IS NULL;
