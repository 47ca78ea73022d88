-- Project service tokens: what a program presents to read (or, with read-write, change) one
-- project's secrets at run time. Only the token's SHA-256 is stored; a revoked token keeps its
-- row so that a later request with it is told "revoked", not "invalid".
CREATE TABLE service_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'read-write')),
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
-- One live token of a name per project.
CREATE UNIQUE INDEX service_tokens_live_name ON service_tokens (project_id, name)
    WHERE revoked_at IS NULL;
