//! The leak check's SQL: the versions with a fingerprint, the checks a person ran lately, and the
//! audit events that delivered a version. Implemented for both sqlx connection types by
//! [`crate::store::for_both_backends!`], from one text.
use crate::{
    ids::{ProjectId, Version},
    store::{RepoResult, for_both_backends},
    time::Millis,
};

/// A version whose value has the fingerprint, with where it is and who wrote it.
#[derive(sqlx::FromRow)]
pub struct HeldBy {
    /// `project` or `team`.
    pub kind: String,
    pub project_id: ProjectId,
    pub slug: String,
    pub environment: String,
    pub key: String,
    pub version: Version,
    pub current_version: Version,
    pub created_at: Millis,
    pub created_by: String,
}

/// An `environment.read` event that may have delivered a key (its details name it).
#[derive(sqlx::FromRow)]
pub struct EnvironmentRead {
    pub at: Millis,
    pub project_id: Option<ProjectId>,
    pub environment: Option<String>,
    pub actor: String,
    pub details: Option<String>,
}

pub(crate) trait LeakRows {
    /// Every version, of every scope, whose value has this fingerprint: projects first by slug,
    /// then the team's; environments in their order; the newest version first.
    fn held_by(
        &mut self,
        fingerprint: &[u8],
    ) -> impl Future<Output = RepoResult<Vec<HeldBy>>> + Send;

    /// How many leak checks `actor` ran since `since` (their audit events).
    fn checks_since(
        &mut self,
        actor: &str,
        action: &str,
        since: Millis,
    ) -> impl Future<Output = RepoResult<i64>> + Send;

    /// Who read the version through a single-secret read since `since` (when it was written:
    /// an earlier secret of the key, deleted since, had versions of the same numbers), and how
    /// often.
    fn secret_reads(
        &mut self,
        project_id: ProjectId,
        environment: &str,
        key: &str,
        version: Version,
        since: Millis,
    ) -> impl Future<Output = RepoResult<Vec<(String, i64)>>> + Send;

    /// The whole-environment reads since `since` whose details mention `key` (to be parsed).
    fn environment_reads(
        &mut self,
        key: &str,
        since: Millis,
    ) -> impl Future<Output = RepoResult<Vec<EnvironmentRead>>> + Send;
}

for_both_backends! {
    impl LeakRows {
        async fn held_by(&mut self, fingerprint: &[u8]) -> sqlx::Result<Vec<HeldBy>> {
            sqlx::query_as(
                "SELECT p.kind, p.id AS project_id, p.slug, e.name AS environment, s.key, \
                 v.version, s.current_version, v.created_at, v.created_by \
                 FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
                 JOIN projects p ON p.id = s.project_id \
                 JOIN environments e ON e.id = s.environment_id \
                 WHERE v.fingerprint = $1 \
                 ORDER BY p.kind, p.slug, e.position, e.name, s.key, v.version DESC",
            )
            .bind(fingerprint)
            .fetch_all(&mut *self)
            .await
        }

        async fn checks_since(&mut self, actor: &str, action: &str, since: Millis) -> sqlx::Result<i64> {
            sqlx::query_scalar(
                "SELECT count(*) FROM audit_events WHERE action = $1 AND actor = $2 AND at >= $3",
            )
            .bind(action)
            .bind(actor)
            .bind(since)
            .fetch_one(&mut *self)
            .await
        }

        async fn secret_reads(
            &mut self,
            project_id: ProjectId,
            environment: &str,
            key: &str,
            version: Version,
            since: Millis,
        ) -> sqlx::Result<Vec<(String, i64)>> {
            sqlx::query_as(
                "SELECT actor, count(*) FROM audit_events WHERE action = 'secret.read' \
                 AND project_id = $1 AND environment = $2 AND secret_key = $3 AND version = $4 \
                 AND at >= $5 GROUP BY actor ORDER BY min(id)",
            )
            .bind(project_id)
            .bind(environment)
            .bind(key)
            .bind(version)
            .bind(since)
            .fetch_all(&mut *self)
            .await
        }

        async fn environment_reads(&mut self, key: &str, since: Millis) -> sqlx::Result<Vec<EnvironmentRead>> {
            // Keys hold letters, digits and `_`, which LIKE reads as "any character".
            let pattern = format!("%{} v%", key.replace('\\', "\\\\").replace('_', "\\_").replace('%', "\\%"));
            sqlx::query_as(
                "SELECT at, project_id, environment, actor, details FROM audit_events \
                 WHERE action = 'environment.read' AND at >= $1 AND details LIKE $2 ESCAPE '\\' \
                 ORDER BY id",
            )
            .bind(since)
            .bind(pattern)
            .fetch_all(&mut *self)
            .await
        }
    }
}
