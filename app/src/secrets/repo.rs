//! The SQL of secrets and their versions: one method per statement, run on the connection of the
//! caller's transaction (`tx.claim(…)`), so that the service reads as its steps. Every statement
//! is portable SQL, written once. Data keys are the keyring's ([`crate::keyring::repo`]).
//!
//! [`SecretRows`] is implemented for both sqlx connection types by
//! [`crate::store::for_both_backends!`], from one text.

use super::VersionChange;
use crate::{
    crypto::Binding,
    ids::{EnvironmentId, ProjectId, Version},
    store::{RepoResult, for_both_backends},
    time::Millis,
};

/// A new secret's row (its current version is 1).
pub struct NewSecretRow<'a> {
    pub project_id: ProjectId,
    pub environment_id: EnvironmentId,
    pub key: &'a str,
    pub description: Option<&'a str>,
    pub secret_type: &'a str,
    pub at: Millis,
    pub by: &'a str,
}

/// One sealed version of a secret, sealed with [`Binding::CURRENT`].
pub struct VersionRow<'a> {
    pub secret_id: i64,
    pub version: Version,
    pub key_generation: i64,
    pub sealed: &'a [u8],
    pub fingerprint: &'a [u8],
    pub at: Millis,
    pub by: &'a str,
    /// The secret's description as of this version.
    pub description: Option<&'a str>,
    pub change: VersionChange,
    /// A rollback's: the version it restored.
    pub restored_from: Option<Version>,
}

/// A stored version as [`super::service::Vault::open_version`] opens it: its number, the
/// generation of the data key and the binding it was sealed with, and the sealed bytes.
pub struct SealedAt<'a> {
    pub version: Version,
    pub key_generation: i64,
    pub binding: i64,
    pub sealed: &'a [u8],
}

/// A stored version as a reseal needs it.
#[derive(sqlx::FromRow)]
pub struct StoredVersion {
    pub key_generation: i64,
    /// The associated data it was sealed with (the `binding` column).
    pub binding: i64,
    #[sqlx(rename = "sealed_value")]
    pub sealed: Vec<u8>,
    pub fingerprint: Vec<u8>,
    /// The description as of this version; not known for a version written before histories
    /// (`change` is `None` then).
    pub description: Option<String>,
    pub change: Option<String>,
}

/// One version as a secret's history lists it: never its value.
#[derive(sqlx::FromRow)]
pub struct HistoryRow {
    pub version: Version,
    pub created_at: Millis,
    pub created_by: String,
    /// Compared with the version before's, for versions written before histories.
    pub fingerprint: Vec<u8>,
    pub change: Option<String>,
    pub restored_from: Option<Version>,
    pub current_version: Version,
}

/// A secret's metadata as stored: never a value.
#[derive(sqlx::FromRow)]
pub struct MetaRow {
    pub key: String,
    pub description: Option<String>,
    pub secret_type: String,
    pub current_version: Version,
    pub created_at: Millis,
    pub created_by: String,
    pub updated_at: Millis,
    pub updated_by: String,
}

/// A secret's current version as a read opens it.
#[derive(sqlx::FromRow)]
pub struct CurrentSealed {
    pub version: Version,
    pub updated_at: Millis,
    pub key_generation: i64,
    pub binding: i64,
    pub sealed: Vec<u8>,
}

/// A secret's current version with its metadata: what a copy into another environment takes.
#[derive(sqlx::FromRow)]
pub struct CopySource {
    pub description: Option<String>,
    pub secret_type: String,
    pub version: Version,
    pub key_generation: i64,
    pub binding: i64,
    pub sealed: Vec<u8>,
    pub fingerprint: Vec<u8>,
}

/// A secret's current version in one of a project's environments, as the comparison shows it.
#[derive(sqlx::FromRow)]
pub struct CurrentCell {
    pub environment_id: EnvironmentId,
    pub key: String,
    pub version: Version,
    pub updated_at: Millis,
    pub fingerprint: Vec<u8>,
}

/// A version whose value has a given fingerprint, with where it is.
#[derive(sqlx::FromRow)]
pub struct FingerprintMatch {
    /// `project` or `team`.
    pub kind: String,
    pub slug: String,
    pub environment: String,
    pub key: String,
    pub version: Version,
    pub current_version: Version,
}

/// One entry of a project's run-time environment as stored: a variable (its `text`), a team
/// secret or one of the project's secrets (sealed).
#[derive(sqlx::FromRow)]
pub struct RunTimeRow {
    /// Which wins for a key: [`Self::VARIABLE`] < [`Self::TEAM`] < [`Self::TEAM_ENVIRONMENT`]
    /// < [`Self::PROJECT`].
    pub rank: i64,
    pub key: String,
    pub version: Version,
    /// The scope the secret belongs to (the data key that sealed it is that scope's).
    pub owner: ProjectId,
    /// The environment of the scope it belongs to (its associated data names it).
    pub owner_environment: EnvironmentId,
    pub text: Option<String>,
    pub generation: i64,
    pub binding: i64,
    pub sealed: Option<Vec<u8>>,
    /// A team secret's environment: `*` (every environment) or this environment's name.
    pub team_environment: Option<String>,
}

/// A version still sealed with the associated data of before environments
/// ([`Binding::Project`]), with what its reseal needs.
#[derive(sqlx::FromRow)]
pub struct UnboundVersion {
    pub secret_id: i64,
    pub version: Version,
    pub key_generation: i64,
    pub project_id: ProjectId,
    pub environment_id: EnvironmentId,
    pub key: String,
    pub sealed_value: Vec<u8>,
}

impl RunTimeRow {
    pub const VARIABLE: i64 = 0;
    /// A team secret for every environment.
    pub const TEAM: i64 = 1;
    /// A team secret for the environments of this one's name.
    pub const TEAM_ENVIRONMENT: i64 = 2;
    pub const PROJECT: i64 = 3;
}

const METAS: &str = "SELECT key, description, secret_type, current_version, created_at, \
     created_by, updated_at, updated_by FROM secrets WHERE environment_id = $1 ORDER BY key";
const META: &str = "SELECT key, description, secret_type, current_version, created_at, \
     created_by, updated_at, updated_by FROM secrets WHERE environment_id = $1 AND key = $2";

pub(crate) trait SecretRows {
    /// Every secret of an environment, by key.
    fn metas(
        &mut self,
        environment_id: EnvironmentId,
    ) -> impl Future<Output = RepoResult<Vec<MetaRow>>> + Send;

    fn meta(
        &mut self,
        environment_id: EnvironmentId,
        key: &str,
    ) -> impl Future<Output = RepoResult<Option<MetaRow>>> + Send;

    fn current_sealed(
        &mut self,
        environment_id: EnvironmentId,
        key: &str,
    ) -> impl Future<Output = RepoResult<Option<CurrentSealed>>> + Send;

    /// The current version of `key` in an environment, with the metadata a copy takes.
    fn copy_source(
        &mut self,
        environment_id: EnvironmentId,
        key: &str,
    ) -> impl Future<Output = RepoResult<Option<CopySource>>> + Send;

    /// Every secret's current version in every environment of a project.
    fn current_cells(
        &mut self,
        project_id: ProjectId,
    ) -> impl Future<Output = RepoResult<Vec<CurrentCell>>> + Send;

    /// The team secrets' keys with the team environment each is set for (`*`: every one).
    fn team_keys(&mut self) -> impl Future<Output = RepoResult<Vec<(String, String)>>> + Send;

    /// Every version, of every scope, whose value has this fingerprint.
    fn by_fingerprint(
        &mut self,
        fingerprint: &[u8],
    ) -> impl Future<Output = RepoResult<Vec<FingerprintMatch>>> + Send;

    /// Everything the programs of a project's environment get: its variables, the team secrets
    /// and its own secrets at their current versions. One query.
    fn run_time_rows(
        &mut self,
        environment_id: EnvironmentId,
    ) -> impl Future<Output = RepoResult<Vec<RunTimeRow>>> + Send;

    /// Inserts a secret's row; a unique violation means the key is taken.
    fn insert_secret(
        &mut self,
        row: &NewSecretRow<'_>,
    ) -> impl Future<Output = RepoResult<i64>> + Send;

    /// The id of the scope's secret `key`, if there is one.
    fn secret_id(
        &mut self,
        environment_id: EnvironmentId,
        key: &str,
    ) -> impl Future<Output = RepoResult<Option<i64>>> + Send;

    /// Moves the secret to its next version if it is still at `expected`: its id and description,
    /// or `None` when it is gone or someone changed it first. The write comes first in its
    /// transaction, so it takes the row (PostgreSQL) or database (SQLite) write lock.
    fn claim(
        &mut self,
        environment_id: EnvironmentId,
        key: &str,
        expected: Version,
        at: Millis,
        by: &str,
    ) -> impl Future<Output = RepoResult<Option<(i64, Option<String>)>>> + Send;

    fn version(
        &mut self,
        secret_id: i64,
        version: Version,
    ) -> impl Future<Output = RepoResult<Option<StoredVersion>>> + Send;

    /// Every version of the environment's secret `key`, the newest first; none when there is no
    /// such secret.
    fn history(
        &mut self,
        environment_id: EnvironmentId,
        key: &str,
    ) -> impl Future<Output = RepoResult<Vec<HistoryRow>>> + Send;

    fn insert_version(
        &mut self,
        row: &VersionRow<'_>,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    fn set_description(
        &mut self,
        secret_id: i64,
        description: Option<&str>,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Up to `limit` versions sealed with [`Binding::Project`], after the version `after` (a
    /// secret id and version) in that order.
    fn versions_bound_to_project(
        &mut self,
        after: (i64, Version),
        limit: i64,
    ) -> impl Future<Output = RepoResult<Vec<UnboundVersion>>> + Send;

    /// When start-up finished resealing the values sealed with [`Binding::Project`], if it has.
    fn reseal_finished(&mut self) -> impl Future<Output = RepoResult<Option<Millis>>> + Send;

    /// Records that the reseal finished at `at` (the first server to finish sets it).
    fn finish_reseal(&mut self, at: Millis) -> impl Future<Output = RepoResult<()>> + Send;

    /// Replaces a version's value resealed with [`Binding::CURRENT`], if it is still sealed
    /// with [`Binding::Project`] under `key_generation`: whether it was.
    fn rebind_version(
        &mut self,
        version: &UnboundVersion,
        sealed: &[u8],
    ) -> impl Future<Output = RepoResult<bool>> + Send;

    /// Deletes the secret with its versions (at `expected` only, when given): the version it
    /// had, or `None` when it is gone or someone changed it first.
    fn delete_secret(
        &mut self,
        environment_id: EnvironmentId,
        key: &str,
        expected: Option<Version>,
    ) -> impl Future<Output = RepoResult<Option<Version>>> + Send;
}

for_both_backends! {
    impl SecretRows {
        async fn metas(&mut self, environment_id: EnvironmentId) -> sqlx::Result<Vec<MetaRow>> {
            sqlx::query_as(METAS)
            .bind(environment_id)
            .fetch_all(&mut *self)
            .await
        }

        async fn meta(&mut self, environment_id: EnvironmentId, key: &str) -> sqlx::Result<Option<MetaRow>> {
            sqlx::query_as(META)
            .bind(environment_id)
            .bind(key)
            .fetch_optional(&mut *self)
            .await
        }

        async fn current_sealed(
            &mut self,
            environment_id: EnvironmentId,
            key: &str,
        ) -> sqlx::Result<Option<CurrentSealed>> {
            sqlx::query_as(
                "SELECT s.current_version AS version, s.updated_at, v.key_generation, \
                 v.binding, v.sealed_value AS sealed \
                 FROM secrets s \
                 JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
                 WHERE s.environment_id = $1 AND s.key = $2",
            )
            .bind(environment_id)
            .bind(key)
            .fetch_optional(&mut *self)
            .await
        }

        async fn by_fingerprint(&mut self, fingerprint: &[u8]) -> sqlx::Result<Vec<FingerprintMatch>> {
            sqlx::query_as(
                "SELECT p.kind, p.slug, e.name AS environment, s.key, v.version, \
                 s.current_version FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
                 JOIN projects p ON p.id = s.project_id \
                 JOIN environments e ON e.id = s.environment_id \
                 WHERE v.fingerprint = $1 ORDER BY p.slug, e.position, s.key, v.version",
            )
            .bind(fingerprint)
            .fetch_all(&mut *self)
            .await
        }

        async fn copy_source(&mut self, environment_id: EnvironmentId, key: &str) -> sqlx::Result<Option<CopySource>> {
            sqlx::query_as(
                "SELECT s.description, s.secret_type, s.current_version AS version, \
                 v.key_generation, v.binding, v.sealed_value AS sealed, v.fingerprint \
                 FROM secrets s \
                 JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
                 WHERE s.environment_id = $1 AND s.key = $2",
            )
            .bind(environment_id)
            .bind(key)
            .fetch_optional(&mut *self)
            .await
        }

        async fn current_cells(&mut self, project_id: ProjectId) -> sqlx::Result<Vec<CurrentCell>> {
            sqlx::query_as(
                "SELECT s.environment_id, s.key, s.current_version AS version, s.updated_at, \
                 v.fingerprint FROM secrets s \
                 JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
                 WHERE s.project_id = $1 ORDER BY s.key",
            )
            .bind(project_id)
            .fetch_all(&mut *self)
            .await
        }

        async fn team_keys(&mut self) -> sqlx::Result<Vec<(String, String)>> {
            sqlx::query_as(
                "SELECT s.key, e.name FROM secrets s \
                 JOIN environments e ON e.id = s.environment_id \
                 JOIN projects p ON p.id = s.project_id WHERE p.kind = 'team'",
            )
            .fetch_all(&mut *self)
            .await
        }

        async fn run_time_rows(&mut self, environment_id: EnvironmentId) -> sqlx::Result<Vec<RunTimeRow>> {
            // The ranks are RunTimeRow's constants. `o` is the environment a secret is stored
            // in: the project's own, the team's for every environment (`*`) or the team's for
            // environments named like this one.
            sqlx::query_as(
                "SELECT CAST(0 AS BIGINT) AS rank, key, CAST(0 AS BIGINT) AS version, \
                 project_id AS owner, environment_id AS owner_environment, value AS text, \
                 CAST(0 AS BIGINT) AS generation, CAST(0 AS BIGINT) AS binding, NULL AS sealed, \
                 NULL AS team_environment \
                 FROM variables WHERE environment_id = $1 \
                 UNION ALL \
                 SELECT CASE WHEN o.id = $1 THEN CAST(3 AS BIGINT) \
                 WHEN o.name = '*' THEN CAST(1 AS BIGINT) ELSE CAST(2 AS BIGINT) END, \
                 s.key, s.current_version, s.project_id, s.environment_id, NULL, \
                 v.key_generation, v.binding, v.sealed_value, \
                 CASE WHEN o.id = $1 THEN NULL ELSE o.name END \
                 FROM environments here \
                 JOIN environments o ON o.id = here.id OR (o.project_id = \
                  (SELECT id FROM projects WHERE kind = 'team') AND o.name IN ('*', here.name)) \
                 JOIN secrets s ON s.environment_id = o.id \
                 JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
                 WHERE here.id = $1",
            )
            .bind(environment_id)
            .fetch_all(&mut *self)
            .await
        }

        async fn insert_secret(&mut self, row: &NewSecretRow<'_>) -> sqlx::Result<i64> {
            sqlx::query_scalar(
                "INSERT INTO secrets (project_id, environment_id, key, description, secret_type, \
                 current_version, created_at, created_by, updated_at, updated_by) \
                 VALUES ($1, $7, $2, $3, $4, 1, $5, $6, $5, $6) RETURNING id",
            )
            .bind(row.project_id)
            .bind(row.key)
            .bind(row.description)
            .bind(row.secret_type)
            .bind(row.at)
            .bind(row.by)
            .bind(row.environment_id)
            .fetch_one(&mut *self)
            .await
        }

        async fn secret_id(&mut self, environment_id: EnvironmentId, key: &str) -> sqlx::Result<Option<i64>> {
            sqlx::query_scalar("SELECT id FROM secrets WHERE environment_id = $1 AND key = $2")
                .bind(environment_id)
                .bind(key)
                .fetch_optional(&mut *self)
                .await
        }

        async fn claim(
            &mut self,
            environment_id: EnvironmentId,
            key: &str,
            expected: Version,
            at: Millis,
            by: &str,
        ) -> sqlx::Result<Option<(i64, Option<String>)>> {
            sqlx::query_as(
                "UPDATE secrets SET current_version = current_version + 1, updated_at = $1, \
                 updated_by = $2 WHERE environment_id = $3 AND key = $4 AND current_version = $5 \
                 RETURNING id, description",
            )
            .bind(at)
            .bind(by)
            .bind(environment_id)
            .bind(key)
            .bind(expected)
            .fetch_optional(&mut *self)
            .await
        }

        async fn version(
            &mut self,
            secret_id: i64,
            version: Version,
        ) -> sqlx::Result<Option<StoredVersion>> {
            sqlx::query_as(
                "SELECT key_generation, binding, sealed_value, fingerprint, description, change \
                 FROM secret_versions WHERE secret_id = $1 AND version = $2",
            )
            .bind(secret_id)
            .bind(version)
            .fetch_optional(&mut *self)
            .await
        }

        async fn history(
            &mut self,
            environment_id: EnvironmentId,
            key: &str,
        ) -> sqlx::Result<Vec<HistoryRow>> {
            sqlx::query_as(
                "SELECT v.version, v.created_at, v.created_by, v.fingerprint, v.change, \
                 v.restored_from, s.current_version \
                 FROM secrets s JOIN secret_versions v ON v.secret_id = s.id \
                 WHERE s.environment_id = $1 AND s.key = $2 ORDER BY v.version DESC",
            )
            .bind(environment_id)
            .bind(key)
            .fetch_all(&mut *self)
            .await
        }

        async fn insert_version(&mut self, row: &VersionRow<'_>) -> sqlx::Result<()> {
            sqlx::query(
                "INSERT INTO secret_versions (secret_id, version, key_generation, sealed_value, \
                 fingerprint, created_at, created_by, binding, description, change, \
                 restored_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(row.secret_id)
            .bind(row.version)
            .bind(row.key_generation)
            .bind(row.sealed)
            .bind(row.fingerprint)
            .bind(row.at)
            .bind(row.by)
            .bind(Binding::CURRENT.stored())
            .bind(row.description)
            .bind(row.change.as_str())
            .bind(row.restored_from)
            .execute(&mut *self)
            .await
            .map(|_| ())
        }

        async fn set_description(
            &mut self,
            secret_id: i64,
            description: Option<&str>,
        ) -> sqlx::Result<()> {
            sqlx::query("UPDATE secrets SET description = $1 WHERE id = $2")
                .bind(description)
                .bind(secret_id)
                .execute(&mut *self)
                .await
                .map(|_| ())
        }

        async fn delete_secret(
            &mut self,
            environment_id: EnvironmentId,
            key: &str,
            expected: Option<Version>,
        ) -> sqlx::Result<Option<Version>> {
            sqlx::query_scalar(
                "DELETE FROM secrets WHERE environment_id = $1 AND key = $2 \
                 AND ($3 IS NULL OR current_version = $3) RETURNING current_version",
            )
            .bind(environment_id)
            .bind(key)
            .bind(expected)
            .fetch_optional(&mut *self)
            .await
        }

        async fn versions_bound_to_project(
            &mut self,
            after: (i64, Version),
            limit: i64,
        ) -> sqlx::Result<Vec<UnboundVersion>> {
            sqlx::query_as(
                "SELECT v.secret_id, v.version, v.key_generation, s.project_id, s.environment_id, \
                 s.key, v.sealed_value FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
                 WHERE v.binding = $1 AND (v.secret_id > $2 OR (v.secret_id = $2 AND v.version > $3)) \
                 ORDER BY v.secret_id, v.version LIMIT $4",
            )
            .bind(Binding::Project.stored())
            .bind(after.0)
            .bind(after.1)
            .bind(limit)
            .fetch_all(&mut *self)
            .await
        }

        async fn reseal_finished(&mut self) -> sqlx::Result<Option<Millis>> {
            sqlx::query_scalar("SELECT values_resealed_at FROM instance WHERE id = 1")
                .fetch_one(&mut *self)
                .await
        }

        async fn finish_reseal(&mut self, at: Millis) -> sqlx::Result<()> {
            sqlx::query(
                "UPDATE instance SET values_resealed_at = $1 \
                 WHERE id = 1 AND values_resealed_at IS NULL",
            )
            .bind(at)
            .execute(&mut *self)
            .await?;
            Ok(())
        }

        async fn rebind_version(&mut self, version: &UnboundVersion, sealed: &[u8]) -> sqlx::Result<bool> {
            let done = sqlx::query(
                "UPDATE secret_versions SET sealed_value = $1, binding = $2 \
                 WHERE secret_id = $3 AND version = $4 AND key_generation = $5 AND binding = $6",
            )
            .bind(sealed)
            .bind(Binding::CURRENT.stored())
            .bind(version.secret_id)
            .bind(version.version)
            .bind(version.key_generation)
            .bind(Binding::Project.stored())
            .execute(&mut *self)
            .await?;
            Ok(done.rows_affected() > 0)
        }
    }
}
