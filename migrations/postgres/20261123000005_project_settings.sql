-- Project settings: the secrets a project needs, and how old a secret may get before it is due
-- for rotation.
ALTER TABLE projects ADD COLUMN max_secret_age_days BIGINT;

CREATE TABLE required_secrets (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    PRIMARY KEY (project_id, key)
);
