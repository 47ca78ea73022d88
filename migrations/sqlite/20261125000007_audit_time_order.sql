-- The Audit page lists events newest first by time, with the id breaking ties, and pages by the
-- keyset (at, id): no OFFSET. Every filter column gets an index (column, at, id), so each filter,
-- with or without a date range, is one index range scan read backwards, at any depth. The date
-- range alone uses (at, id).
DROP INDEX audit_events_at;
DROP INDEX audit_events_action;
DROP INDEX audit_events_actor;
DROP INDEX audit_events_project;
DROP INDEX audit_events_key;
CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_action ON audit_events (action, at, id);
CREATE INDEX audit_events_actor ON audit_events (actor, at, id);
CREATE INDEX audit_events_project ON audit_events (project_slug, at, id);
CREATE INDEX audit_events_key ON audit_events (secret_key, at, id);
