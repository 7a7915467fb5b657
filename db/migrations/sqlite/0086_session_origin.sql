-- Where each session was signed in from, for the sessions list on a contact's page (SPEC
-- R-LIFECYCLE): the browser's User-Agent as it sent it, and the client's address as the
-- portal worked it out (behind trusted proxies, from X-Forwarded-For). Sessions from before
-- this step show an unknown browser and no address.
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN remote_ip  TEXT NOT NULL DEFAULT '';
