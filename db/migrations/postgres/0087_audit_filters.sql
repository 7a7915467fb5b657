-- The audit log's filters (SPEC R-LIFECYCLE) and its order, newest first by time:
-- audit_by_time walks the log in that order, a date range being a range of it; audit_by_action
-- walks one action's events in the same order; audit_by_actor finds what a contact did, as
-- audit_by_target finds what was done to it.
CREATE INDEX audit_by_time   ON audit_events(at, id);
CREATE INDEX audit_by_action ON audit_events(action, at, id);
CREATE INDEX audit_by_actor  ON audit_events(actor_id, id);
