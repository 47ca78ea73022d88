-- Sessions of Sealbox's own store: a row is found by the SHA-256 of the cookie's id, never by the
-- id itself, so a copy of the database holds no session a cookie can use. `user_id` lets a role
-- change or a deactivation end every session of that person at once. The old table (keyed by the
-- cookie value) goes: everyone signs in again once after this upgrade.
DROP SCHEMA IF EXISTS tower_sessions CASCADE;
CREATE TABLE sessions (
    id_hash    BYTEA PRIMARY KEY,
    user_id    BIGINT,
    data       BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Sign-ins refused by throttling, counted per account (`account:EMAIL`) or address (`ip:ADDR`)
-- for one window; the periodic cleanup closes a window with one audit event carrying the count.
CREATE TABLE sign_in_throttles (
    subject  TEXT PRIMARY KEY,
    first_at BIGINT NOT NULL,
    refused  BIGINT NOT NULL
);

-- TRUNCATE fires no row trigger: refuse it with a statement trigger of its own.
CREATE FUNCTION audit_events_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END
$$;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
FOR EACH STATEMENT EXECUTE FUNCTION audit_events_no_truncate();
