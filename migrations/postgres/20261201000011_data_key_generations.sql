-- Data-key rotation (`sealbox admin rotate-data-keys`): a project holds one data key, and two
-- while a rotation re-encrypts its values. The highest generation seals what is written; every
-- version names the generation that sealed it; the rotation deletes the older key once no version
-- needs it. What a project held before this upgrade is generation 1.
ALTER TABLE project_keys ADD COLUMN generation BIGINT NOT NULL DEFAULT 1 CHECK (generation > 0);
ALTER TABLE project_keys ALTER COLUMN generation DROP DEFAULT;
ALTER TABLE project_keys DROP CONSTRAINT project_keys_pkey;
ALTER TABLE project_keys ADD PRIMARY KEY (project_id, generation);

-- Existing versions are generation 1; a new one must name its generation (no default), so a
-- server of an older release, which does not know generations, fails to write instead of
-- labelling what it sealed with a key a rotation may delete.
ALTER TABLE secret_versions ADD COLUMN key_generation BIGINT NOT NULL DEFAULT 1;
ALTER TABLE secret_versions ALTER COLUMN key_generation DROP DEFAULT;
CREATE INDEX secret_versions_key_generation ON secret_versions (key_generation);

-- At most one maintenance job of a kind at a time (`rotate-data-keys`), held as a lease that
-- its holder renews; a crashed holder's lease runs out and the next run takes it over.
CREATE TABLE maintenance_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
