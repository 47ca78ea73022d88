-- Data-key rotation (`sealbox admin rotate-data-keys`): a project holds one data key, and two
-- while a rotation re-encrypts its values. The highest generation seals what is written; every
-- version names the generation that sealed it; the rotation deletes the older key once no version
-- needs it. What a project held before this upgrade is generation 1.
CREATE TABLE project_keys_by_generation (
    project_id    INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    generation    INTEGER NOT NULL CHECK (generation > 0),
    master_key_id TEXT NOT NULL REFERENCES master_keys (id),
    wrapped_key   BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (project_id, generation)
);
INSERT INTO project_keys_by_generation (project_id, generation, master_key_id, wrapped_key, created_at)
SELECT project_id, 1, master_key_id, wrapped_key, created_at FROM project_keys;
DROP TABLE project_keys;
ALTER TABLE project_keys_by_generation RENAME TO project_keys;

CREATE TRIGGER run_time_project_keys_update AFTER UPDATE ON project_keys
BEGIN UPDATE run_time_generation SET value = value + 1; END;
CREATE TRIGGER run_time_project_keys_delete AFTER DELETE ON project_keys
BEGIN UPDATE run_time_generation SET value = value + 1; END;

-- Existing versions are generation 1. A new version must name its generation: SQLite cannot add
-- a NOT NULL column without a default, so the triggers refuse a missing one. A server of an older
-- release, which does not know generations, then fails to write instead of labelling what it
-- sealed with a key a rotation may delete.
ALTER TABLE secret_versions ADD COLUMN key_generation INTEGER;
UPDATE secret_versions SET key_generation = 1;
CREATE TRIGGER secret_versions_key_generation_insert BEFORE INSERT ON secret_versions
WHEN NEW.key_generation IS NULL
BEGIN SELECT RAISE(ABORT, 'NOT NULL constraint failed: secret_versions.key_generation'); END;
CREATE TRIGGER secret_versions_key_generation_update BEFORE UPDATE ON secret_versions
WHEN NEW.key_generation IS NULL
BEGIN SELECT RAISE(ABORT, 'NOT NULL constraint failed: secret_versions.key_generation'); END;
CREATE INDEX secret_versions_key_generation ON secret_versions (key_generation);

-- At most one maintenance job of a kind at a time (`rotate-data-keys`), held as a lease that
-- its holder renews; a crashed holder's lease runs out and the next run takes it over.
CREATE TABLE maintenance_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
