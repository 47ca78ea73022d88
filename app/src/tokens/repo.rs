//! The SQL of service tokens: one method per statement, run on the caller's connection or
//! transaction; portable SQL, written once for both backends by
//! [`crate::store::for_both_backends!`]. Only a token's SHA-256 is ever bound or read.

use crate::{
    ids::{EnvironmentId, ProjectId, TokenId},
    store::{RepoResult, for_both_backends},
    time::Millis,
};

/// A live token as the Tokens tab lists it.
#[derive(sqlx::FromRow)]
pub struct TokenRow {
    pub id: TokenId,
    pub name: String,
    pub scope: String,
    pub environment: String,
    pub created_at: Millis,
    pub created_by: String,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
}

/// A token found by its hash, with its project, as authentication reads it.
#[derive(sqlx::FromRow)]
pub struct HolderRow {
    pub id: TokenId,
    pub name: String,
    pub scope: String,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
    pub project_id: ProjectId,
    pub slug: String,
    pub environment_id: EnvironmentId,
    pub environment: String,
}

/// A token as created.
pub struct NewTokenRow<'a> {
    pub project_id: ProjectId,
    pub environment_id: EnvironmentId,
    pub name: &'a str,
    pub scope: &'a str,
    pub hash: &'a [u8],
    pub at: Millis,
    pub by: &'a str,
    pub expires_at: Option<Millis>,
}

pub(crate) trait TokenRows {
    /// The project's live (not revoked) tokens, newest first.
    fn live_tokens(
        &mut self,
        project_id: ProjectId,
    ) -> impl Future<Output = RepoResult<Vec<TokenRow>>> + Send;

    /// Whether the project has a live token named `name`.
    fn live_name_taken(
        &mut self,
        project_id: ProjectId,
        name: &str,
    ) -> impl Future<Output = RepoResult<bool>> + Send;

    /// Inserts a token; a unique violation means a live token has the name.
    fn insert_token(
        &mut self,
        row: &NewTokenRow<'_>,
    ) -> impl Future<Output = RepoResult<TokenId>> + Send;

    /// Revokes one of the project's live tokens: its name and its environment's, or `None` when
    /// there is none.
    fn revoke_token(
        &mut self,
        project_id: ProjectId,
        token_id: TokenId,
        at: Millis,
    ) -> impl Future<Output = RepoResult<Option<(String, String)>>> + Send;

    fn token_by_hash(
        &mut self,
        hash: &[u8],
    ) -> impl Future<Output = RepoResult<Option<HolderRow>>> + Send;

    /// Sets `last_used_at` to `at` unless it is newer than `noted_before`.
    fn note_token_use(
        &mut self,
        token_id: TokenId,
        at: Millis,
        noted_before: Millis,
    ) -> impl Future<Output = RepoResult<()>> + Send;
}

for_both_backends! {
    impl TokenRows {
        async fn live_tokens(&mut self, project_id: ProjectId) -> sqlx::Result<Vec<TokenRow>> {
            sqlx::query_as(
                "SELECT t.id, t.name, t.scope, e.name AS environment, t.created_at, \
                 t.created_by, t.expires_at, t.last_used_at FROM service_tokens t \
                 JOIN environments e ON e.id = t.environment_id \
                 WHERE t.project_id = $1 AND t.revoked_at IS NULL \
                 ORDER BY t.created_at DESC, t.id DESC",
            )
            .bind(project_id)
            .fetch_all(&mut *self)
            .await
        }

        async fn live_name_taken(&mut self, project_id: ProjectId, name: &str) -> sqlx::Result<bool> {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM service_tokens \
                 WHERE project_id = $1 AND name = $2 AND revoked_at IS NULL",
            )
            .bind(project_id)
            .bind(name)
            .fetch_optional(&mut *self)
            .await?;
            Ok(found.is_some())
        }

        async fn insert_token(&mut self, row: &NewTokenRow<'_>) -> sqlx::Result<TokenId> {
            sqlx::query_scalar(
                "INSERT INTO service_tokens \
                 (project_id, name, scope, token_hash, created_at, created_by, expires_at, \
                 environment_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(row.project_id)
            .bind(row.name)
            .bind(row.scope)
            .bind(row.hash)
            .bind(row.at)
            .bind(row.by)
            .bind(row.expires_at)
            .bind(row.environment_id)
            .fetch_one(&mut *self)
            .await
        }

        async fn revoke_token(
            &mut self,
            project_id: ProjectId,
            token_id: TokenId,
            at: Millis,
        ) -> sqlx::Result<Option<(String, String)>> {
            let revoked: Option<(String, EnvironmentId)> = sqlx::query_as(
                "UPDATE service_tokens SET revoked_at = $1 \
                 WHERE id = $2 AND project_id = $3 AND revoked_at IS NULL \
                 RETURNING name, environment_id",
            )
            .bind(at)
            .bind(token_id)
            .bind(project_id)
            .fetch_optional(&mut *self)
            .await?;
            let Some((name, environment_id)) = revoked else {
                return Ok(None);
            };
            let environment: String =
                sqlx::query_scalar("SELECT name FROM environments WHERE id = $1")
                    .bind(environment_id)
                    .fetch_one(&mut *self)
                    .await?;
            Ok(Some((name, environment)))
        }

        async fn token_by_hash(&mut self, hash: &[u8]) -> sqlx::Result<Option<HolderRow>> {
            sqlx::query_as(
                "SELECT t.id, t.name, t.scope, t.expires_at, t.last_used_at, t.revoked_at, \
                 t.project_id, p.slug, t.environment_id, e.name AS environment \
                 FROM service_tokens t JOIN projects p ON p.id = t.project_id \
                 JOIN environments e ON e.id = t.environment_id WHERE t.token_hash = $1",
            )
            .bind(hash)
            .fetch_optional(&mut *self)
            .await
        }

        async fn note_token_use(
            &mut self,
            token_id: TokenId,
            at: Millis,
            noted_before: Millis,
        ) -> sqlx::Result<()> {
            sqlx::query(
                "UPDATE service_tokens SET last_used_at = $1 \
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
            )
            .bind(at)
            .bind(token_id)
            .bind(noted_before)
            .execute(&mut *self)
            .await
            .map(|_| ())
        }
    }
}
