-- A counter that every change to what a program can read at run time moves forward: secrets and
-- their versions, variables, projects and their keys, and tokens (except the note of their last
-- use). A server may keep what it read at generation N in memory and use it while the counter is
-- still N; the audit appender checks the counter in the transaction that records the read, so a
-- value is never delivered from a copy older than the last committed change.
CREATE TABLE run_time_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO run_time_generation (id, value) VALUES (1, 0);

-- Before the statement touches a row, take the audit chain's lock (held to the end of the
-- transaction, as every audited change takes it anyway) and then the counter's row: always in
-- that order, so two writers cannot each hold one and wait for the other. The appender reads the
-- counter under the same lock, so it sees every change committed before its batch.
CREATE FUNCTION run_time_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7301190815);
    UPDATE run_time_generation SET value = value + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER run_time_changed BEFORE INSERT OR UPDATE OR DELETE ON secrets
FOR EACH STATEMENT EXECUTE FUNCTION run_time_changed();
CREATE TRIGGER run_time_changed BEFORE INSERT OR UPDATE OR DELETE ON secret_versions
FOR EACH STATEMENT EXECUTE FUNCTION run_time_changed();
CREATE TRIGGER run_time_changed BEFORE INSERT OR UPDATE OR DELETE ON variables
FOR EACH STATEMENT EXECUTE FUNCTION run_time_changed();
CREATE TRIGGER run_time_changed BEFORE UPDATE OR DELETE ON projects
FOR EACH STATEMENT EXECUTE FUNCTION run_time_changed();
CREATE TRIGGER run_time_changed BEFORE UPDATE OR DELETE ON project_keys
FOR EACH STATEMENT EXECUTE FUNCTION run_time_changed();
-- A new token cannot be in anybody's memory yet, and noting its last use changes nothing a
-- program reads; everything else about a token does.
CREATE TRIGGER run_time_changed
BEFORE UPDATE OF project_id, name, scope, token_hash, expires_at, revoked_at OR DELETE
ON service_tokens
FOR EACH STATEMENT EXECUTE FUNCTION run_time_changed();
