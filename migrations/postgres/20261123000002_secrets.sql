-- Envelope encryption, secrets with their version history, plain variables and the audit log.
-- Times are Unix milliseconds (UTC) in both backends.

-- One row per master key ever used. The key itself is never stored: `id` is derived from it and
-- `key_check` is a value only that key can open, so a wrong key is refused at start-up.
CREATE TABLE master_keys (
    id         TEXT PRIMARY KEY,
    key_check  BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- Installation-wide keys (the fingerprint key), wrapped by a master key.
CREATE TABLE instance_keys (
    purpose       TEXT PRIMARY KEY,
    master_key_id TEXT NOT NULL REFERENCES master_keys (id),
    wrapped_key   BYTEA NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Projects, and the one team scope whose secrets every project shares.
CREATE TABLE projects (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('team', 'project')),
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX projects_one_team ON projects (kind) WHERE kind = 'team';
INSERT INTO projects (kind, name, slug, created_at, updated_at)
VALUES ('team', 'Team', '_team', (extract(epoch FROM now()) * 1000)::BIGINT, (extract(epoch FROM now()) * 1000)::BIGINT);

-- Each project's data key, wrapped by a master key.
CREATE TABLE project_keys (
    project_id    BIGINT PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    master_key_id TEXT NOT NULL REFERENCES master_keys (id),
    wrapped_key   BYTEA NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE secrets (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id      BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    description     TEXT,
    secret_type     TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    updated_by      TEXT NOT NULL,
    UNIQUE (project_id, key)
);

-- Every value a secret has had, sealed with its project's data key; kept for rollback.
CREATE TABLE secret_versions (
    secret_id    BIGINT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version      BIGINT NOT NULL,
    sealed_value BYTEA NOT NULL,
    fingerprint  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (secret_id, version)
);
CREATE INDEX secret_versions_fingerprint ON secret_versions (fingerprint);

-- Plain environment variables: not secret, shown and exported as they are.
CREATE TABLE variables (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id        BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key               TEXT NOT NULL,
    value             TEXT NOT NULL,
    include_in_export BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        BIGINT NOT NULL,
    created_by        TEXT NOT NULL,
    updated_at        BIGINT NOT NULL,
    updated_by        TEXT NOT NULL,
    UNIQUE (project_id, key)
);

-- Who did what, when. No foreign keys: events outlive the things they describe. Never a value
-- or a fingerprint.
CREATE TABLE audit_events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    project_id   BIGINT,
    project_slug TEXT,
    secret_key   TEXT,
    version      BIGINT,
    ip           TEXT,
    details      TEXT
);
CREATE INDEX audit_events_at ON audit_events (at);
