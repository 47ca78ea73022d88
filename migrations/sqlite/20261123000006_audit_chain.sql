-- Tamper evidence: each event's hash covers the previous event's hash and the event itself, so an
-- edited, deleted, inserted or reordered row breaks the chain (`sealbox audit verify`).
ALTER TABLE audit_events ADD COLUMN hash BLOB;

-- Append-only: an event can be written once and given its hash once, never changed or deleted.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN OLD.hash IS NOT NULL
  OR NEW.id IS NOT OLD.id OR NEW.at IS NOT OLD.at OR NEW.actor IS NOT OLD.actor
  OR NEW.action IS NOT OLD.action OR NEW.project_id IS NOT OLD.project_id
  OR NEW.project_slug IS NOT OLD.project_slug OR NEW.secret_key IS NOT OLD.secret_key
  OR NEW.version IS NOT OLD.version OR NEW.ip IS NOT OLD.ip OR NEW.details IS NOT OLD.details
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;

-- Results of `sealbox audit verify`, shown on the Audit page.
CREATE TABLE audit_verifications (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    events       INTEGER NOT NULL,
    intact       BOOLEAN NOT NULL,
    first_broken INTEGER,
    message      TEXT NOT NULL
);

-- The Audit page filters by one column and pages newest first by id (keyset): one index per
-- filter column, ending in id.
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_project ON audit_events (project_slug, id);
CREATE INDEX audit_events_key ON audit_events (secret_key, id);
