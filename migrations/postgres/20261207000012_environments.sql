-- Environments: a project holds its secrets, variables and tokens per environment
-- (`development`, `staging`, `production`, …), in the order people arranged them. What a project
-- held before this upgrade becomes its `production` environment, and its tokens are bound to it.
-- The team scope has one environment, `*`: its secrets apply to every environment.
CREATE TABLE environments (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    position   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);
INSERT INTO environments (project_id, name, position, created_at)
SELECT id, CASE kind WHEN 'team' THEN '*' ELSE 'production' END, 1, created_at FROM projects;

ALTER TABLE secrets ADD COLUMN environment_id BIGINT REFERENCES environments (id) ON DELETE CASCADE;
UPDATE secrets SET environment_id = e.id FROM environments e WHERE e.project_id = secrets.project_id;
ALTER TABLE secrets ALTER COLUMN environment_id SET NOT NULL;
ALTER TABLE secrets DROP CONSTRAINT secrets_project_id_key_key;
ALTER TABLE secrets ADD CONSTRAINT secrets_environment_id_key_key UNIQUE (environment_id, key);
CREATE INDEX secrets_project ON secrets (project_id);

-- `binding` names the associated data a value was sealed with: 1 = project, key and version (what
-- every value held before this upgrade), 2 = with the environment too. Start-up reseals the 1s as
-- 2s with the master key (which a migration does not have) and new values are always 2.
ALTER TABLE secret_versions ADD COLUMN binding BIGINT NOT NULL DEFAULT 1 CHECK (binding IN (1, 2));
ALTER TABLE secret_versions ALTER COLUMN binding DROP DEFAULT;
CREATE INDEX secret_versions_binding ON secret_versions (binding);

ALTER TABLE variables ADD COLUMN environment_id BIGINT REFERENCES environments (id) ON DELETE CASCADE;
UPDATE variables SET environment_id = e.id FROM environments e WHERE e.project_id = variables.project_id;
ALTER TABLE variables ALTER COLUMN environment_id SET NOT NULL;
ALTER TABLE variables DROP CONSTRAINT variables_project_id_key_key;
ALTER TABLE variables ADD CONSTRAINT variables_environment_id_key_key UNIQUE (environment_id, key);
CREATE INDEX variables_project ON variables (project_id);

-- Renaming or deleting an environment changes what its tokens read.
CREATE TRIGGER run_time_changed BEFORE UPDATE OR DELETE ON environments
FOR EACH STATEMENT EXECUTE FUNCTION run_time_changed();

-- A token reads and writes one environment.
ALTER TABLE service_tokens ADD COLUMN environment_id BIGINT REFERENCES environments (id) ON DELETE CASCADE;
UPDATE service_tokens SET environment_id = e.id
FROM environments e WHERE e.project_id = service_tokens.project_id;
ALTER TABLE service_tokens ALTER COLUMN environment_id SET NOT NULL;
CREATE INDEX service_tokens_environment ON service_tokens (environment_id);
DROP TRIGGER run_time_changed ON service_tokens;
CREATE TRIGGER run_time_changed
BEFORE UPDATE OF project_id, environment_id, name, scope, token_hash, expires_at, revoked_at
OR DELETE ON service_tokens
FOR EACH STATEMENT EXECUTE FUNCTION run_time_changed();

-- Every audit event names its environment (NULL for events about no environment, and for events
-- written before this upgrade); the Audit page filters by it.
ALTER TABLE audit_events ADD COLUMN environment TEXT;
CREATE INDEX audit_events_environment ON audit_events (environment, at, id);
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit events are append-only';
    END IF;
    IF OLD.hash IS NOT NULL
        OR (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.project_id, NEW.project_slug,
            NEW.secret_key, NEW.version, NEW.ip, NEW.details, NEW.environment)
           IS DISTINCT FROM
           (OLD.id, OLD.at, OLD.actor, OLD.action, OLD.project_id, OLD.project_slug,
            OLD.secret_key, OLD.version, OLD.ip, OLD.details, OLD.environment) THEN
        RAISE EXCEPTION 'audit events are append-only';
    END IF;
    RETURN NEW;
END
$$;
