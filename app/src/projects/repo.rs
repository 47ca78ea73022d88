//! The SQL of projects, their settings and their variables: one method per statement, run on the
//! connection of the caller's transaction (`tx.insert_project(…)`) or of a read
//! (`pool.acquire().await?.project(…)`). Every statement is portable SQL, written once; the
//! project's data key is the keyring's ([`crate::keyring::repo`]).

use super::Variable;
use crate::{
    ids::{EnvironmentId, ProjectId},
    store::{RepoResult, for_both_backends},
    time::Millis,
};

/// A project as the services need it.
#[derive(sqlx::FromRow)]
pub struct ProjectRow {
    pub id: ProjectId,
    pub slug: String,
    pub name: String,
    pub max_secret_age_days: Option<i64>,
}

/// A row of the projects list, before its last change is worked out.
#[derive(sqlx::FromRow)]
pub struct ListRow {
    pub name: String,
    pub slug: String,
    pub updated_at: Millis,
    pub secrets: i64,
    pub missing_required: i64,
    pub secret_change: Option<Millis>,
    pub variable_change: Option<Millis>,
}

/// A project's new settings.
pub struct SettingsRow<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub max_secret_age_days: Option<i64>,
    pub at: Millis,
}

/// A variable as written.
pub struct VariableRow<'a> {
    pub project_id: ProjectId,
    pub environment_id: EnvironmentId,
    pub key: &'a str,
    pub value: &'a str,
    pub include_in_export: bool,
    pub at: Millis,
    pub by: &'a str,
}

pub(crate) trait ProjectRows {
    /// Inserts a project; a unique violation means its slug is taken.
    fn insert_project(
        &mut self,
        name: &str,
        slug: &str,
        at: Millis,
    ) -> impl Future<Output = RepoResult<ProjectId>> + Send;

    /// Deletes a project (its secrets, versions, variables and keys go with it): its id, or
    /// `None` when there was none.
    fn delete_project(
        &mut self,
        slug: &str,
    ) -> impl Future<Output = RepoResult<Option<ProjectId>>> + Send;

    /// Every project by name, with what its list row shows.
    fn list_projects(&mut self) -> impl Future<Output = RepoResult<Vec<ListRow>>> + Send;

    fn project(
        &mut self,
        slug: &str,
    ) -> impl Future<Output = RepoResult<Option<ProjectRow>>> + Send;

    /// The id of the project `slug`.
    fn project_id(
        &mut self,
        slug: &str,
    ) -> impl Future<Output = RepoResult<Option<ProjectId>>> + Send;

    /// The project's required secrets, by key.
    /// The project's id, with its row locked until the transaction ends (an update that changes
    /// nothing): changes to its environments, which read before they write, run one at a time
    /// on PostgreSQL too (SQLite's write transactions already do).
    fn lock_project(
        &mut self,
        slug: &str,
    ) -> impl Future<Output = RepoResult<Option<ProjectId>>> + Send;

    fn required_secrets(
        &mut self,
        project_id: ProjectId,
    ) -> impl Future<Output = RepoResult<Vec<String>>> + Send;

    /// Renames the project and sets its maximum secret age: its id, or `None` when there is none.
    fn update_settings(
        &mut self,
        row: &SettingsRow<'_>,
    ) -> impl Future<Output = RepoResult<Option<ProjectId>>> + Send;

    /// Replaces the project's required secrets.
    fn replace_required_secrets(
        &mut self,
        project_id: ProjectId,
        keys: &[&str],
    ) -> impl Future<Output = RepoResult<()>> + Send;

    fn variables(
        &mut self,
        environment_id: EnvironmentId,
    ) -> impl Future<Output = RepoResult<Vec<Variable>>> + Send;

    /// Inserts a variable; a unique violation means the key is taken.
    fn insert_variable(
        &mut self,
        row: &VariableRow<'_>,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Changes a variable if its value or export flag differ (and, with `holding`, only while
    /// its value is still that one): whether it did.
    fn update_variable(
        &mut self,
        row: &VariableRow<'_>,
        holding: Option<&str>,
    ) -> impl Future<Output = RepoResult<bool>> + Send;

    fn variable_exists(
        &mut self,
        environment_id: EnvironmentId,
        key: &str,
    ) -> impl Future<Output = RepoResult<bool>> + Send;

    /// Deletes a variable (with `holding`, only while its value is still that one): whether
    /// there was one.
    fn delete_variable(
        &mut self,
        environment_id: EnvironmentId,
        key: &str,
        holding: Option<&str>,
    ) -> impl Future<Output = RepoResult<bool>> + Send;
}

for_both_backends! {
    impl ProjectRows {
        async fn insert_project(&mut self, name: &str, slug: &str, at: Millis) -> sqlx::Result<ProjectId> {
            sqlx::query_scalar(
                "INSERT INTO projects (kind, name, slug, created_at, updated_at) \
                 VALUES ('project', $1, $2, $3, $3) RETURNING id",
            )
            .bind(name)
            .bind(slug)
            .bind(at)
            .fetch_one(&mut *self)
            .await
        }

        async fn delete_project(&mut self, slug: &str) -> sqlx::Result<Option<ProjectId>> {
            sqlx::query_scalar(
                "DELETE FROM projects WHERE slug = $1 AND kind = 'project' RETURNING id",
            )
            .bind(slug)
            .fetch_optional(&mut *self)
            .await
        }

        async fn list_projects(&mut self) -> sqlx::Result<Vec<ListRow>> {
            sqlx::query_as(
                "SELECT p.name, p.slug, p.updated_at, \
                 (SELECT count(DISTINCT s.key) FROM secrets s WHERE s.project_id = p.id) \
                 AS secrets, \
                 (SELECT count(*) FROM environments e WHERE e.project_id = p.id AND EXISTS \
                  (SELECT 1 FROM required_secrets r WHERE r.project_id = p.id \
                   AND NOT EXISTS (SELECT 1 FROM secrets s \
                    WHERE s.environment_id = e.id AND s.key = r.key) \
                   AND NOT EXISTS (SELECT 1 FROM secrets t \
                    JOIN environments te ON te.id = t.environment_id \
                    JOIN projects tp ON tp.id = te.project_id \
                    WHERE tp.kind = 'team' AND te.name IN ('*', e.name) AND t.key = r.key))) \
                 AS missing_required, \
                 (SELECT max(s.updated_at) FROM secrets s WHERE s.project_id = p.id) \
                 AS secret_change, \
                 (SELECT max(v.updated_at) FROM variables v WHERE v.project_id = p.id) \
                 AS variable_change \
                 FROM projects p WHERE p.kind = 'project' ORDER BY lower(p.name), p.slug",
            )
            .fetch_all(&mut *self)
            .await
        }

        async fn project(&mut self, slug: &str) -> sqlx::Result<Option<ProjectRow>> {
            sqlx::query_as(
                "SELECT id, slug, name, max_secret_age_days FROM projects \
                 WHERE slug = $1 AND kind = 'project'",
            )
            .bind(slug)
            .fetch_optional(&mut *self)
            .await
        }

        async fn project_id(&mut self, slug: &str) -> sqlx::Result<Option<ProjectId>> {
            sqlx::query_scalar("SELECT id FROM projects WHERE slug = $1 AND kind = 'project'")
                .bind(slug)
                .fetch_optional(&mut *self)
                .await
        }

        async fn lock_project(&mut self, slug: &str) -> sqlx::Result<Option<ProjectId>> {
            sqlx::query_scalar(
                "UPDATE projects SET updated_at = updated_at WHERE slug = $1 AND kind = 'project' \
                 RETURNING id",
            )
            .bind(slug)
            .fetch_optional(&mut *self)
            .await
        }

        async fn required_secrets(&mut self, project_id: ProjectId) -> sqlx::Result<Vec<String>> {
            sqlx::query_scalar(
                "SELECT key FROM required_secrets WHERE project_id = $1 ORDER BY key",
            )
            .bind(project_id)
            .fetch_all(&mut *self)
            .await
        }

        async fn update_settings(&mut self, row: &SettingsRow<'_>) -> sqlx::Result<Option<ProjectId>> {
            sqlx::query_scalar(
                "UPDATE projects SET name = $1, max_secret_age_days = $2, updated_at = $3 \
                 WHERE slug = $4 AND kind = 'project' RETURNING id",
            )
            .bind(row.name)
            .bind(row.max_secret_age_days)
            .bind(row.at)
            .bind(row.slug)
            .fetch_optional(&mut *self)
            .await
        }

        async fn replace_required_secrets(
            &mut self,
            project_id: ProjectId,
            keys: &[&str],
        ) -> sqlx::Result<()> {
            sqlx::query("DELETE FROM required_secrets WHERE project_id = $1")
                .bind(project_id)
                .execute(&mut *self)
                .await?;
            for key in keys {
                sqlx::query("INSERT INTO required_secrets (project_id, key) VALUES ($1, $2)")
                    .bind(project_id)
                    .bind(*key)
                    .execute(&mut *self)
                    .await?;
            }
            Ok(())
        }

        async fn variables(&mut self, environment_id: EnvironmentId) -> sqlx::Result<Vec<Variable>> {
            sqlx::query_as(
                "SELECT key, value, include_in_export, created_at, updated_at FROM variables \
                 WHERE environment_id = $1 ORDER BY key",
            )
            .bind(environment_id)
            .fetch_all(&mut *self)
            .await
        }

        async fn insert_variable(&mut self, row: &VariableRow<'_>) -> sqlx::Result<()> {
            sqlx::query(
                "INSERT INTO variables (project_id, key, value, include_in_export, created_at, \
                 created_by, updated_at, updated_by, environment_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $5, $6, $7)",
            )
            .bind(row.project_id)
            .bind(row.key)
            .bind(row.value)
            .bind(row.include_in_export)
            .bind(row.at)
            .bind(row.by)
            .bind(row.environment_id)
            .execute(&mut *self)
            .await
            .map(|_| ())
        }

        async fn update_variable(&mut self, row: &VariableRow<'_>, holding: Option<&str>) -> sqlx::Result<bool> {
            let changed = sqlx::query(
                "UPDATE variables SET value = $1, include_in_export = $2, updated_at = $3, \
                 updated_by = $4 WHERE environment_id = $5 AND key = $6 \
                 AND (value <> $1 OR include_in_export <> $2) AND ($7 IS NULL OR value = $7)",
            )
            .bind(row.value)
            .bind(row.include_in_export)
            .bind(row.at)
            .bind(row.by)
            .bind(row.environment_id)
            .bind(row.key)
            .bind(holding)
            .execute(&mut *self)
            .await?;
            Ok(changed.rows_affected() > 0)
        }

        async fn variable_exists(&mut self, environment_id: EnvironmentId, key: &str) -> sqlx::Result<bool> {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM variables WHERE environment_id = $1 AND key = $2",
            )
                    .bind(environment_id)
                    .bind(key)
                    .fetch_optional(&mut *self)
                    .await?;
            Ok(found.is_some())
        }

        async fn delete_variable(
            &mut self,
            environment_id: EnvironmentId,
            key: &str,
            holding: Option<&str>,
        ) -> sqlx::Result<bool> {
            let deleted = sqlx::query(
                "DELETE FROM variables WHERE environment_id = $1 AND key = $2 \
                 AND ($3 IS NULL OR value = $3)",
            )
                .bind(environment_id)
                .bind(key)
                .bind(holding)
                .execute(&mut *self)
                .await?;
            Ok(deleted.rows_affected() > 0)
        }
    }
}
