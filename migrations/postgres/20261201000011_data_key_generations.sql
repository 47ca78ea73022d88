-- Data-key rotation (`sealbox admin rotate-data-keys`): a project holds one data key, and two
-- while a rotation re-encrypts its values. The highest generation seals what is written; every
-- version names the generation that sealed it; the rotation deletes the older key once no version
-- needs it. What a project held before this upgrade is generation 1.
ALTER TABLE project_keys ADD COLUMN generation BIGINT NOT NULL DEFAULT 1 CHECK (generation > 0);
ALTER TABLE project_keys ALTER COLUMN generation DROP DEFAULT;
ALTER TABLE project_keys DROP CONSTRAINT project_keys_pkey;
ALTER TABLE project_keys ADD PRIMARY KEY (project_id, generation);

ALTER TABLE secret_versions ADD COLUMN key_generation BIGINT NOT NULL DEFAULT 1;
ALTER TABLE secret_versions ALTER COLUMN key_generation DROP DEFAULT;
CREATE INDEX secret_versions_key_generation ON secret_versions (key_generation);
