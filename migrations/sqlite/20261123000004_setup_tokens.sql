-- One-time first-run set-up tokens (hashed): each server that starts with no users adds one and
-- logs its URL; any of them creates the first owner, after which all are deleted.
CREATE TABLE setup_tokens (
    token_hash BLOB PRIMARY KEY,
    created_at INTEGER NOT NULL
);
