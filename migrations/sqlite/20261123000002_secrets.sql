-- Envelope encryption, secrets with their version history, plain variables and the audit log.
-- Times are Unix milliseconds (UTC) in both backends.

-- One row per master key ever used. The key itself is never stored: `id` is derived from it and
-- `key_check` is a value only that key can open, so a wrong key is refused at start-up.
CREATE TABLE master_keys (
    id         TEXT PRIMARY KEY,
    key_check  BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);

-- Installation-wide keys (the fingerprint key), wrapped by a master key.
CREATE TABLE instance_keys (
    purpose       TEXT PRIMARY KEY,
    master_key_id TEXT NOT NULL REFERENCES master_keys (id),
    wrapped_key   BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Projects, and the one team scope whose secrets every project shares.
CREATE TABLE projects (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('team', 'project')),
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX projects_one_team ON projects (kind) WHERE kind = 'team';
INSERT INTO projects (kind, name, slug, created_at, updated_at)
VALUES ('team', 'Team', '_team', strftime('%s', 'now') * 1000, strftime('%s', 'now') * 1000);

-- Each project's data key, wrapped by a master key.
CREATE TABLE project_keys (
    project_id    INTEGER PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    master_key_id TEXT NOT NULL REFERENCES master_keys (id),
    wrapped_key   BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE secrets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id      INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    description     TEXT,
    secret_type     TEXT NOT NULL,
    current_version INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    updated_at      INTEGER NOT NULL,
    updated_by      TEXT NOT NULL,
    UNIQUE (project_id, key)
);

-- Every value a secret has had, sealed with its project's data key; kept for rollback.
CREATE TABLE secret_versions (
    secret_id    INTEGER NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    sealed_value BLOB NOT NULL,
    fingerprint  BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (secret_id, version)
);
CREATE INDEX secret_versions_fingerprint ON secret_versions (fingerprint);

-- Plain environment variables: not secret, shown and exported as they are.
CREATE TABLE variables (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id        INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key               TEXT NOT NULL,
    value             TEXT NOT NULL,
    include_in_export BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        INTEGER NOT NULL,
    created_by        TEXT NOT NULL,
    updated_at        INTEGER NOT NULL,
    updated_by        TEXT NOT NULL,
    UNIQUE (project_id, key)
);

-- Who did what, when. No foreign keys: events outlive the things they describe. Never a value
-- or a fingerprint.
CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    project_id   INTEGER,
    project_slug TEXT,
    secret_key   TEXT,
    version      INTEGER,
    ip           TEXT,
    details      TEXT
);
CREATE INDEX audit_events_at ON audit_events (at);
