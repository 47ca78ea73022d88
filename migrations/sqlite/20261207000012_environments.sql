-- Environments: a project holds its secrets, variables and tokens per environment
-- (`development`, `staging`, `production`, …), in the order people arranged them. What a project
-- held before this upgrade becomes its `production` environment, and its tokens are bound to it.
-- The team scope has one environment, `*`: its secrets apply to every environment.
CREATE TABLE environments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, name)
);
INSERT INTO environments (project_id, name, position, created_at)
SELECT id, CASE kind WHEN 'team' THEN '*' ELSE 'production' END, 1, created_at FROM projects;

-- SQLite cannot drop the old UNIQUE (project_id, key) of secrets and variables: both tables are
-- rebuilt. The versions are copied first and their table dropped before the secrets', so that
-- dropping `secrets` cascades into nothing.
CREATE TABLE secrets_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id      INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id  INTEGER NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    description     TEXT,
    secret_type     TEXT NOT NULL,
    current_version INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    updated_at      INTEGER NOT NULL,
    updated_by      TEXT NOT NULL,
    UNIQUE (environment_id, key)
);
INSERT INTO secrets_new (id, project_id, environment_id, key, description, secret_type,
                         current_version, created_at, created_by, updated_at, updated_by)
SELECT s.id, s.project_id, e.id, s.key, s.description, s.secret_type, s.current_version,
       s.created_at, s.created_by, s.updated_at, s.updated_by
FROM secrets s JOIN environments e ON e.project_id = s.project_id;

-- `binding` names the associated data a value was sealed with: 1 = project, key and version (what
-- every value held before this upgrade), 2 = with the environment too. Start-up reseals the 1s as
-- 2s with the master key (which a migration does not have) and new values are always 2.
CREATE TABLE secret_versions_new (
    secret_id      INTEGER NOT NULL REFERENCES secrets_new (id) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    sealed_value   BLOB NOT NULL,
    fingerprint    BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    created_by     TEXT NOT NULL,
    key_generation INTEGER NOT NULL,
    binding        INTEGER NOT NULL CHECK (binding IN (1, 2)),
    PRIMARY KEY (secret_id, version)
);
INSERT INTO secret_versions_new (secret_id, version, sealed_value, fingerprint, created_at,
                                 created_by, key_generation, binding)
SELECT secret_id, version, sealed_value, fingerprint, created_at, created_by, key_generation, 1
FROM secret_versions;

DROP TABLE secret_versions;
DROP TABLE secrets;
ALTER TABLE secrets_new RENAME TO secrets;
ALTER TABLE secret_versions_new RENAME TO secret_versions;
CREATE INDEX secrets_project ON secrets (project_id);
CREATE INDEX secret_versions_fingerprint ON secret_versions (fingerprint);
CREATE INDEX secret_versions_key_generation ON secret_versions (key_generation);
CREATE INDEX secret_versions_binding ON secret_versions (binding);

CREATE TABLE variables_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id        INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id    INTEGER NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    key               TEXT NOT NULL,
    value             TEXT NOT NULL,
    include_in_export BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        INTEGER NOT NULL,
    created_by        TEXT NOT NULL,
    updated_at        INTEGER NOT NULL,
    updated_by        TEXT NOT NULL,
    UNIQUE (environment_id, key)
);
INSERT INTO variables_new (id, project_id, environment_id, key, value, include_in_export,
                           created_at, created_by, updated_at, updated_by)
SELECT v.id, v.project_id, e.id, v.key, v.value, v.include_in_export, v.created_at,
       v.created_by, v.updated_at, v.updated_by
FROM variables v JOIN environments e ON e.project_id = v.project_id;
DROP TABLE variables;
ALTER TABLE variables_new RENAME TO variables;
CREATE INDEX variables_project ON variables (project_id);

-- The run-time counter's triggers went with the rebuilt tables (a trigger belongs to its table).
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
-- Renaming or deleting an environment changes what its tokens read.
CREATE TRIGGER run_time_environments_update AFTER UPDATE ON environments
BEGIN UPDATE run_time_generation SET value = value + 1; END;
CREATE TRIGGER run_time_environments_delete AFTER DELETE ON environments
BEGIN UPDATE run_time_generation SET value = value + 1; END;

-- A token reads and writes one environment. SQLite adds a column with a foreign key only without
-- NOT NULL: the triggers refuse a missing environment instead.
ALTER TABLE service_tokens
    ADD COLUMN environment_id INTEGER REFERENCES environments (id) ON DELETE CASCADE;
UPDATE service_tokens
SET environment_id = (SELECT e.id FROM environments e WHERE e.project_id = service_tokens.project_id);
CREATE TRIGGER service_tokens_environment_insert BEFORE INSERT ON service_tokens
WHEN NEW.environment_id IS NULL
BEGIN SELECT RAISE(ABORT, 'NOT NULL constraint failed: service_tokens.environment_id'); END;
CREATE TRIGGER service_tokens_environment_update BEFORE UPDATE ON service_tokens
WHEN NEW.environment_id IS NULL
BEGIN SELECT RAISE(ABORT, 'NOT NULL constraint failed: service_tokens.environment_id'); END;
CREATE INDEX service_tokens_environment ON service_tokens (environment_id);
DROP TRIGGER run_time_service_tokens_update;
CREATE TRIGGER run_time_service_tokens_update
AFTER UPDATE OF project_id, environment_id, name, scope, token_hash, expires_at, revoked_at
ON service_tokens
BEGIN UPDATE run_time_generation SET value = value + 1; END;

-- Every audit event names its environment (NULL for events about no environment, and for events
-- written before this upgrade); the Audit page filters by it.
ALTER TABLE audit_events ADD COLUMN environment TEXT;
CREATE INDEX audit_events_environment ON audit_events (environment, at, id);
DROP TRIGGER audit_events_no_update;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN OLD.hash IS NOT NULL
  OR NEW.id IS NOT OLD.id OR NEW.at IS NOT OLD.at OR NEW.actor IS NOT OLD.actor
  OR NEW.action IS NOT OLD.action OR NEW.project_id IS NOT OLD.project_id
  OR NEW.project_slug IS NOT OLD.project_slug OR NEW.secret_key IS NOT OLD.secret_key
  OR NEW.version IS NOT OLD.version OR NEW.ip IS NOT OLD.ip OR NEW.details IS NOT OLD.details
  OR NEW.environment IS NOT OLD.environment
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;
