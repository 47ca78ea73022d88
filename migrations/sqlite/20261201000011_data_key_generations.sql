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

ALTER TABLE secret_versions ADD COLUMN key_generation INTEGER NOT NULL DEFAULT 1;
CREATE INDEX secret_versions_key_generation ON secret_versions (key_generation);
