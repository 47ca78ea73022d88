//! The SQL of environments: one method per statement, run on the connection of the caller's
//! transaction or read, implemented for both backends from one text
//! ([`crate::store::for_both_backends!`]).
use super::Environment;
use crate::{
    ids::{EnvironmentId, ProjectId},
    store::{RepoResult, for_both_backends},
    time::Millis,
};

/// Where a secret, variable or token lives, as looked up by names: the project (or team scope)
/// and, when it exists, its environment of that name.
#[derive(sqlx::FromRow)]
pub struct PlaceRow {
    pub project_id: ProjectId,
    pub slug: String,
    pub environment_id: Option<EnvironmentId>,
}

const ENVIRONMENTS: &str = "SELECT id, name, position FROM environments WHERE project_id = $1 \
     ORDER BY position, id";

pub(crate) trait EnvironmentRows {
    /// The project `slug` (or the team scope, for `None`) and its environment `name`.
    fn place(
        &mut self,
        slug: Option<&str>,
        name: &str,
    ) -> impl Future<Output = RepoResult<Option<PlaceRow>>> + Send;

    /// A project's environments in their order.
    fn environments(
        &mut self,
        project_id: ProjectId,
    ) -> impl Future<Output = RepoResult<Vec<Environment>>> + Send;

    /// Adds an environment after the project's last one; a unique violation means the name is
    /// taken.
    fn insert_environment(
        &mut self,
        project_id: ProjectId,
        name: &str,
        at: Millis,
    ) -> impl Future<Output = RepoResult<EnvironmentId>> + Send;

    /// Renames an environment: its id, or `None` when the project has none of that name.
    fn rename_environment(
        &mut self,
        project_id: ProjectId,
        from: &str,
        to: &str,
    ) -> impl Future<Output = RepoResult<Option<EnvironmentId>>> + Send;

    fn set_position(
        &mut self,
        environment_id: EnvironmentId,
        position: i64,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Makes the team scope's environment `name` (where its secrets for the environments of
    /// that name live) unless it exists.
    fn ensure_team_environment(
        &mut self,
        name: &str,
        at: Millis,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Every environment name in use, by a project or by the team scope (whose `*` aside), in
    /// the order projects place them (the lowest position first).
    fn environment_names(&mut self) -> impl Future<Output = RepoResult<Vec<String>>> + Send;

    /// Deletes an environment with its secrets, versions, variables and tokens: its id, or
    /// `None` when there was none.
    fn delete_environment(
        &mut self,
        project_id: ProjectId,
        name: &str,
    ) -> impl Future<Output = RepoResult<Option<EnvironmentId>>> + Send;
}

for_both_backends! {
    impl EnvironmentRows {
        async fn place(&mut self, slug: Option<&str>, name: &str) -> sqlx::Result<Option<PlaceRow>> {
            sqlx::query_as(
                "SELECT p.id AS project_id, p.slug, e.id AS environment_id FROM projects p \
                 LEFT JOIN environments e ON e.project_id = p.id AND e.name = $2 \
                 WHERE ($1 IS NULL AND p.kind = 'team') \
                 OR (p.kind = 'project' AND p.slug = $1)",
            )
            .bind(slug)
            .bind(name)
            .fetch_optional(&mut *self)
            .await
        }

        async fn environments(&mut self, project_id: ProjectId) -> sqlx::Result<Vec<Environment>> {
            sqlx::query_as(ENVIRONMENTS).bind(project_id).fetch_all(&mut *self).await
        }

        async fn insert_environment(
            &mut self,
            project_id: ProjectId,
            name: &str,
            at: Millis,
        ) -> sqlx::Result<EnvironmentId> {
            sqlx::query_scalar(
                "INSERT INTO environments (project_id, name, position, created_at) \
                 SELECT $1, $2, COALESCE(MAX(position), 0) + 1, $3 FROM environments \
                 WHERE project_id = $1 RETURNING id",
            )
            .bind(project_id)
            .bind(name)
            .bind(at)
            .fetch_one(&mut *self)
            .await
        }

        async fn rename_environment(
            &mut self,
            project_id: ProjectId,
            from: &str,
            to: &str,
        ) -> sqlx::Result<Option<EnvironmentId>> {
            sqlx::query_scalar(
                "UPDATE environments SET name = $3 WHERE project_id = $1 AND name = $2 \
                 RETURNING id",
            )
            .bind(project_id)
            .bind(from)
            .bind(to)
            .fetch_optional(&mut *self)
            .await
        }

        async fn ensure_team_environment(&mut self, name: &str, at: Millis) -> sqlx::Result<()> {
            sqlx::query(
                "INSERT INTO environments (project_id, name, position, created_at) \
                 SELECT id, $1, 1, $2 FROM projects WHERE kind = 'team' \
                 ON CONFLICT (project_id, name) DO NOTHING",
            )
            .bind(name)
            .bind(at)
            .execute(&mut *self)
            .await
            .map(|_| ())
        }

        async fn environment_names(&mut self) -> sqlx::Result<Vec<String>> {
            sqlx::query_scalar(
                "SELECT e.name FROM environments e JOIN projects p ON p.id = e.project_id \
                 WHERE e.name <> '*' GROUP BY e.name \
                 ORDER BY COALESCE(min(CASE WHEN p.kind = 'project' THEN e.position END), \
                 1000000000), e.name",
            )
            .fetch_all(&mut *self)
            .await
        }

        async fn set_position(&mut self, environment_id: EnvironmentId, position: i64) -> sqlx::Result<()> {
            sqlx::query("UPDATE environments SET position = $2 WHERE id = $1")
                .bind(environment_id)
                .bind(position)
                .execute(&mut *self)
                .await
                .map(|_| ())
        }

        async fn delete_environment(
            &mut self,
            project_id: ProjectId,
            name: &str,
        ) -> sqlx::Result<Option<EnvironmentId>> {
            sqlx::query_scalar(
                "DELETE FROM environments WHERE project_id = $1 AND name = $2 RETURNING id",
            )
            .bind(project_id)
            .bind(name)
            .fetch_optional(&mut *self)
            .await
        }
    }
}
