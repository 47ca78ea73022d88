//! The exposure report's SQL: the current versions a person wrote, the tokens they created, the
//! audit events those tokens read with, and the current versions of an environment. Implemented
//! for both sqlx connection types by [`crate::store::for_both_backends!`], from one text.
use crate::{
    ids::{EnvironmentId, ProjectId, TokenId, Version},
    store::{RepoResult, for_both_backends},
    time::Millis,
};

/// A secret at its current version, with where it is.
#[derive(sqlx::FromRow)]
pub struct CurrentSecret {
    /// `project` or `team`.
    pub kind: String,
    pub slug: String,
    pub environment: String,
    pub key: String,
    pub version: Version,
    pub created_at: Millis,
    pub fingerprint: Vec<u8>,
}

/// One version of a secret a token of an environment reads, with its value's fingerprint and
/// the secret's current version.
#[derive(sqlx::FromRow)]
pub struct ReadableVersion {
    /// `project` or `team`.
    pub kind: String,
    pub slug: String,
    pub environment: String,
    pub key: String,
    pub version: Version,
    pub current_version: Version,
    pub created_at: Millis,
    pub fingerprint: Vec<u8>,
}

impl ReadableVersion {
    /// The secret at this version, if it is the current one.
    pub fn current(&self) -> Option<CurrentSecret> {
        (self.version == self.current_version).then(|| CurrentSecret {
            kind: self.kind.clone(),
            slug: self.slug.clone(),
            environment: self.environment.clone(),
            key: self.key.clone(),
            version: self.version,
            created_at: self.created_at,
            fingerprint: self.fingerprint.clone(),
        })
    }
}

/// A token as the report lists it.
#[derive(sqlx::FromRow)]
pub struct TokenRow {
    pub id: TokenId,
    pub project_id: ProjectId,
    pub environment_id: EnvironmentId,
    pub slug: String,
    pub name: String,
    pub environment: String,
    pub scope: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

/// A read by a token: a single secret (`key`, `version`) or a whole environment (`details`).
#[derive(sqlx::FromRow)]
pub struct TokenRead {
    pub action: String,
    pub key: Option<String>,
    pub version: Option<Version>,
    pub details: Option<String>,
}

pub(crate) trait ExposureRows {
    /// The secrets whose current value is one `person` typed (they created a secret with it or
    /// gave one that value, anywhere; a version from before histories that they wrote counts).
    fn typed_by(
        &mut self,
        person: &str,
    ) -> impl Future<Output = RepoResult<Vec<CurrentSecret>>> + Send;

    /// The tokens `person` created, of every project, newest first.
    fn tokens_by(&mut self, person: &str)
    -> impl Future<Output = RepoResult<Vec<TokenRow>>> + Send;

    /// What the token `actor` (`token:NAME`) of a project read while it lived.
    fn reads_of(
        &mut self,
        actor: &str,
        project_id: ProjectId,
        from: Millis,
        until: Millis,
    ) -> impl Future<Output = RepoResult<Vec<TokenRead>>> + Send;

    /// Every version of the secrets a token of the environment reads: its own and the team's
    /// for every environment and for the environment's name.
    fn versions_for(
        &mut self,
        environment_id: EnvironmentId,
    ) -> impl Future<Output = RepoResult<Vec<ReadableVersion>>> + Send;
}

for_both_backends! {
    impl ExposureRows {
        async fn typed_by(&mut self, person: &str) -> sqlx::Result<Vec<CurrentSecret>> {
            sqlx::query_as(
                "SELECT p.kind, p.slug, e.name AS environment, s.key, s.current_version AS version, \
                 v.created_at, v.fingerprint FROM secrets s \
                 JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
                 JOIN projects p ON p.id = s.project_id \
                 JOIN environments e ON e.id = s.environment_id \
                 WHERE v.fingerprint IN (SELECT w.fingerprint FROM secret_versions w \
                 WHERE w.created_by = $1 \
                 AND (w.change IS NULL OR w.change IN ('created', 'value', 'value+description'))) \
                 ORDER BY p.kind, p.slug, e.position, e.name, s.key",
            )
            .bind(person)
            .fetch_all(&mut *self)
            .await
        }

        async fn tokens_by(&mut self, person: &str) -> sqlx::Result<Vec<TokenRow>> {
            sqlx::query_as(
                "SELECT t.id, t.project_id, t.environment_id, p.slug, t.name, e.name AS environment, \
                 t.scope, t.created_at, t.last_used_at, t.revoked_at FROM service_tokens t \
                 JOIN projects p ON p.id = t.project_id \
                 JOIN environments e ON e.id = t.environment_id \
                 WHERE t.created_by = $1 ORDER BY t.created_at DESC, t.id DESC",
            )
            .bind(person)
            .fetch_all(&mut *self)
            .await
        }

        async fn reads_of(
            &mut self,
            actor: &str,
            project_id: ProjectId,
            from: Millis,
            until: Millis,
        ) -> sqlx::Result<Vec<TokenRead>> {
            sqlx::query_as(
                "SELECT action, secret_key AS key, version, details FROM audit_events \
                 WHERE actor = $1 AND project_id = $2 AND at >= $3 AND at <= $4 \
                 AND action IN ('secret.read', 'environment.read') ORDER BY id",
            )
            .bind(actor)
            .bind(project_id)
            .bind(from)
            .bind(until)
            .fetch_all(&mut *self)
            .await
        }

        async fn versions_for(&mut self, environment_id: EnvironmentId) -> sqlx::Result<Vec<ReadableVersion>> {
            sqlx::query_as(
                "SELECT p.kind, p.slug, e.name AS environment, s.key, v.version, \
                 s.current_version, v.created_at, v.fingerprint \
                 FROM secrets s JOIN secret_versions v ON v.secret_id = s.id \
                 JOIN projects p ON p.id = s.project_id \
                 JOIN environments e ON e.id = s.environment_id \
                 WHERE s.environment_id = $1 OR (p.kind = 'team' AND (e.name = '*' OR e.name = \
                 (SELECT name FROM environments WHERE id = $1)))",
            )
            .bind(environment_id)
            .fetch_all(&mut *self)
            .await
        }
    }
}
