-- A counter that every change to what a program can read at run time moves forward: secrets and
-- their versions, variables, projects and their keys, and tokens (except the note of their last
-- use). A server may keep what it read at generation N in memory and use it while the counter is
-- still N; the audit appender checks the counter in the transaction that records the read, so a
-- value is never delivered from a copy older than the last committed change.
CREATE TABLE run_time_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO run_time_generation (id, value) VALUES (1, 0);

CREATE TRIGGER run_time_secrets_insert AFTER INSERT ON secrets
BEGIN UPDATE run_time_generation SET value = value + 1; END;
CREATE TRIGGER run_time_secrets_update AFTER UPDATE ON secrets
BEGIN UPDATE run_time_generation SET value = value + 1; END;
CREATE TRIGGER run_time_secrets_delete AFTER DELETE ON secrets
BEGIN UPDATE run_time_generation SET value = value + 1; END;

CREATE TRIGGER run_time_secret_versions_insert AFTER INSERT ON secret_versions
BEGIN UPDATE run_time_generation SET value = value + 1; END;
CREATE TRIGGER run_time_secret_versions_update AFTER UPDATE ON secret_versions
BEGIN UPDATE run_time_generation SET value = value + 1; END;
CREATE TRIGGER run_time_secret_versions_delete AFTER DELETE ON secret_versions
BEGIN UPDATE run_time_generation SET value = value + 1; END;

CREATE TRIGGER run_time_variables_insert AFTER INSERT ON variables
BEGIN UPDATE run_time_generation SET value = value + 1; END;
CREATE TRIGGER run_time_variables_update AFTER UPDATE ON variables
BEGIN UPDATE run_time_generation SET value = value + 1; END;
CREATE TRIGGER run_time_variables_delete AFTER DELETE ON variables
BEGIN UPDATE run_time_generation SET value = value + 1; END;

CREATE TRIGGER run_time_projects_update AFTER UPDATE ON projects
BEGIN UPDATE run_time_generation SET value = value + 1; END;
CREATE TRIGGER run_time_projects_delete AFTER DELETE ON projects
BEGIN UPDATE run_time_generation SET value = value + 1; END;

CREATE TRIGGER run_time_project_keys_update AFTER UPDATE ON project_keys
BEGIN UPDATE run_time_generation SET value = value + 1; END;
CREATE TRIGGER run_time_project_keys_delete AFTER DELETE ON project_keys
BEGIN UPDATE run_time_generation SET value = value + 1; END;

-- A new token cannot be in anybody's memory yet, and noting its last use changes nothing a
-- program reads; everything else about a token does.
CREATE TRIGGER run_time_service_tokens_update
AFTER UPDATE OF project_id, name, scope, token_hash, expires_at, revoked_at ON service_tokens
BEGIN UPDATE run_time_generation SET value = value + 1; END;
CREATE TRIGGER run_time_service_tokens_delete AFTER DELETE ON service_tokens
BEGIN UPDATE run_time_generation SET value = value + 1; END;
