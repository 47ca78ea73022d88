-- Tamper evidence: each event's hash covers the previous event's hash and the event itself, so an
-- edited, deleted, inserted or reordered row breaks the chain (`sealbox audit verify`).
ALTER TABLE audit_events ADD COLUMN hash BYTEA;

-- Append-only: an event can be written once and given its hash once, never changed or deleted.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit events are append-only';
    END IF;
    IF OLD.hash IS NOT NULL
        OR (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.project_id, NEW.project_slug,
            NEW.secret_key, NEW.version, NEW.ip, NEW.details)
           IS DISTINCT FROM
           (OLD.id, OLD.at, OLD.actor, OLD.action, OLD.project_id, OLD.project_slug,
            OLD.secret_key, OLD.version, OLD.ip, OLD.details) THEN
        RAISE EXCEPTION 'audit events are append-only';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- Results of `sealbox audit verify`, shown on the Audit page.
CREATE TABLE audit_verifications (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           BIGINT NOT NULL,
    events       BIGINT NOT NULL,
    intact       BOOLEAN NOT NULL,
    first_broken BIGINT,
    message      TEXT NOT NULL
);

-- The Audit page filters by one column and pages newest first by id (keyset): one index per
-- filter column, ending in id.
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_project ON audit_events (project_slug, id);
CREATE INDEX audit_events_key ON audit_events (secret_key, id);
