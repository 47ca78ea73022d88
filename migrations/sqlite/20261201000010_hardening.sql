-- Sessions of Sealbox's own store: a row is found by the SHA-256 of the cookie's id, never by the
-- id itself, so a copy of the database holds no session a cookie can use. `user_id` lets a role
-- change or a deactivation end every session of that person at once. The old table (keyed by the
-- cookie value) goes: everyone signs in again once after this upgrade.
DROP TABLE IF EXISTS tower_sessions;
CREATE TABLE sessions (
    id_hash    BLOB PRIMARY KEY,
    user_id    INTEGER,
    data       BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Sign-ins refused by throttling, counted per account (`account:EMAIL`) or address (`ip:ADDR`)
-- for one window; the periodic cleanup closes a window with one audit event carrying the count.
CREATE TABLE sign_in_throttles (
    subject  TEXT PRIMARY KEY,
    first_at INTEGER NOT NULL,
    refused  INTEGER NOT NULL
);
