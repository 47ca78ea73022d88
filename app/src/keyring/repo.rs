//! The SQL of keys: master keys (their checks), instance keys, projects' data keys, and what
//! rotation reads and rewrites (versions sealed under an older generation, the maintenance
//! lease). One method per statement, run on the caller's connection or transaction; portable SQL,
//! written once for both backends by [`crate::store::for_both_backends!`].
//!
//! Longer than the other repositories (~550 lines) because the keyring owns four tables, each
//! statement a few lines; split by table, rotation would import the three traits together for
//! every step, which reads worse than one trait whose methods are grouped by table below.

use crate::{
    crypto::Binding,
    ids::{EnvironmentId, ProjectId, Version},
    store::{RepoResult, for_both_backends},
    time::Millis,
};

/// A wrapped data key: its generation, the master key that wrapped it, and the wrapped bytes.
pub struct WrappedKey {
    pub generation: i64,
    pub master_key_id: String,
    pub wrapped: Vec<u8>,
}

/// A data key wrapped by a master key other than the current one.
#[derive(sqlx::FromRow)]
pub struct StaleDataKey {
    pub project_id: ProjectId,
    pub generation: i64,
    pub master_key_id: String,
    pub wrapped_key: Vec<u8>,
}

/// An instance key (fingerprint, shown-once, audit chain) as stored.
#[derive(sqlx::FromRow)]
pub struct InstanceKey {
    pub purpose: String,
    pub master_key_id: String,
    pub wrapped_key: Vec<u8>,
}

/// A version sealed under an older data key, as a rotation batch reads it.
#[derive(sqlx::FromRow)]
pub struct OldVersion {
    pub secret_id: i64,
    pub version: Version,
    pub key_generation: i64,
    /// The associated data it was sealed with ([`crate::crypto::Binding`]'s stored number).
    pub binding: i64,
    pub environment_id: EnvironmentId,
    pub key: String,
    pub sealed_value: Vec<u8>,
}

/// A scope as rotation walks them: the team scope and every project.
#[derive(sqlx::FromRow)]
pub struct ScopeRow {
    pub id: ProjectId,
    /// `project` or `team`.
    pub kind: String,
    pub slug: String,
}

/// A lease row: who holds the lease `name`, until when.
pub struct LeaseRow<'a> {
    pub name: &'a str,
    pub holder: &'a str,
    pub expires_at: Millis,
}

pub(crate) trait KeyRows {
    /// The project's newest data key.
    fn newest_data_key(
        &mut self,
        project_id: ProjectId,
    ) -> impl Future<Output = RepoResult<Option<WrappedKey>>> + Send;

    /// The project's data key of `generation`.
    fn data_key(
        &mut self,
        project_id: ProjectId,
        generation: i64,
    ) -> impl Future<Output = RepoResult<Option<WrappedKey>>> + Send;

    /// The project's data-key generations, newest first.
    fn data_key_generations(
        &mut self,
        project_id: ProjectId,
    ) -> impl Future<Output = RepoResult<Vec<i64>>> + Send;

    /// Every stored data key, as (project id, generation).
    fn every_data_key_generation(
        &mut self,
    ) -> impl Future<Output = RepoResult<Vec<(ProjectId, i64)>>> + Send;

    /// Stores a data key; a unique violation means the generation exists.
    fn insert_data_key(
        &mut self,
        project_id: ProjectId,
        key: &WrappedKey,
        at: Millis,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Stores generation 1 of the project's data key unless one exists already.
    fn insert_first_data_key(
        &mut self,
        project_id: ProjectId,
        master_key_id: &str,
        wrapped: &[u8],
        at: Millis,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Deletes the project's data keys older than `generation`: the generations deleted.
    fn delete_data_keys_before(
        &mut self,
        project_id: ProjectId,
        generation: i64,
    ) -> impl Future<Output = RepoResult<Vec<i64>>> + Send;

    /// Every data key that a master key other than `current` wrapped.
    fn data_keys_not_wrapped_by(
        &mut self,
        current: &str,
    ) -> impl Future<Output = RepoResult<Vec<StaleDataKey>>> + Send;

    fn rewrap_data_key(
        &mut self,
        project_id: ProjectId,
        generation: i64,
        master_key_id: &str,
        wrapped: &[u8],
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Up to `limit` of the project's versions sealed under a generation older than `generation`.
    fn versions_sealed_before(
        &mut self,
        project_id: ProjectId,
        generation: i64,
        limit: i64,
    ) -> impl Future<Output = RepoResult<Vec<OldVersion>>> + Send;

    /// How many of the project's versions are sealed under a generation older than `generation`.
    fn count_sealed_before(
        &mut self,
        project_id: ProjectId,
        generation: i64,
    ) -> impl Future<Output = RepoResult<i64>> + Send;

    /// Replaces a version's sealed value if it is still under `old_generation`: whether it was.
    fn reseal_version(
        &mut self,
        version: &OldVersion,
        generation: i64,
        sealed: &[u8],
    ) -> impl Future<Output = RepoResult<bool>> + Send;

    /// The team scope first, then every project by slug.
    fn scopes(&mut self) -> impl Future<Output = RepoResult<Vec<ScopeRow>>> + Send;

    fn scope_exists(
        &mut self,
        project_id: ProjectId,
    ) -> impl Future<Output = RepoResult<bool>> + Send;

    /// The master keys not retired: their ids and key checks.
    fn active_master_keys(
        &mut self,
    ) -> impl Future<Output = RepoResult<Vec<(String, Vec<u8>)>>> + Send;

    /// Records a master key by its check, unless it is recorded already.
    fn insert_master_key(
        &mut self,
        id: &str,
        check: &[u8],
        at: Millis,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Retires every master key but `current`: the ids retired.
    fn retire_master_keys_but(
        &mut self,
        current: &str,
        at: Millis,
    ) -> impl Future<Output = RepoResult<Vec<String>>> + Send;

    /// Every master key id that wraps a stored key.
    fn master_keys_in_use(&mut self) -> impl Future<Output = RepoResult<Vec<String>>> + Send;

    fn instance_key(
        &mut self,
        purpose: &str,
    ) -> impl Future<Output = RepoResult<Option<InstanceKey>>> + Send;

    /// Stores an instance key; with `if_absent`, keeps one already stored instead of failing.
    fn insert_instance_key(
        &mut self,
        key: &InstanceKey,
        at: Millis,
        if_absent: bool,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Every instance key that a master key other than `current` wrapped.
    fn instance_keys_not_wrapped_by(
        &mut self,
        current: &str,
    ) -> impl Future<Output = RepoResult<Vec<InstanceKey>>> + Send;

    fn rewrap_instance_key(
        &mut self,
        purpose: &str,
        master_key_id: &str,
        wrapped: &[u8],
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// Takes the lease if nobody holds it or its holder's time ran out: whether it was taken.
    fn take_lease(
        &mut self,
        lease: &LeaseRow<'_>,
        now: Millis,
    ) -> impl Future<Output = RepoResult<bool>> + Send;

    /// Extends the lease if `holder` still holds it: whether it did.
    fn renew_lease(
        &mut self,
        lease: &LeaseRow<'_>,
    ) -> impl Future<Output = RepoResult<bool>> + Send;

    fn release_lease(
        &mut self,
        name: &str,
        holder: &str,
    ) -> impl Future<Output = RepoResult<()>> + Send;
}

for_both_backends! {
    impl KeyRows {
        async fn newest_data_key(&mut self, project_id: ProjectId) -> sqlx::Result<Option<WrappedKey>> {
            let row: Option<(i64, String, Vec<u8>)> = sqlx::query_as(
                "SELECT generation, master_key_id, wrapped_key FROM project_keys \
                 WHERE project_id = $1 ORDER BY generation DESC LIMIT 1",
            )
            .bind(project_id)
            .fetch_optional(&mut *self)
            .await?;
            Ok(row.map(|(generation, master_key_id, wrapped)| WrappedKey {
                generation,
                master_key_id,
                wrapped,
            }))
        }

        async fn data_key(
            &mut self,
            project_id: ProjectId,
            generation: i64,
        ) -> sqlx::Result<Option<WrappedKey>> {
            let row: Option<(String, Vec<u8>)> = sqlx::query_as(
                "SELECT master_key_id, wrapped_key FROM project_keys \
                 WHERE project_id = $1 AND generation = $2",
            )
            .bind(project_id)
            .bind(generation)
            .fetch_optional(&mut *self)
            .await?;
            Ok(row.map(|(master_key_id, wrapped)| WrappedKey { generation, master_key_id, wrapped }))
        }

        async fn data_key_generations(&mut self, project_id: ProjectId) -> sqlx::Result<Vec<i64>> {
            sqlx::query_scalar(
                "SELECT generation FROM project_keys WHERE project_id = $1 \
                 ORDER BY generation DESC",
            )
            .bind(project_id)
            .fetch_all(&mut *self)
            .await
        }

        async fn every_data_key_generation(&mut self) -> sqlx::Result<Vec<(ProjectId, i64)>> {
            sqlx::query_as("SELECT project_id, generation FROM project_keys")
                .fetch_all(&mut *self)
                .await
        }

        async fn insert_data_key(
            &mut self,
            project_id: ProjectId,
            key: &WrappedKey,
            at: Millis,
        ) -> sqlx::Result<()> {
            sqlx::query(
                "INSERT INTO project_keys \
                 (project_id, generation, master_key_id, wrapped_key, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(project_id)
            .bind(key.generation)
            .bind(&key.master_key_id)
            .bind(&key.wrapped)
            .bind(at)
            .execute(&mut *self)
            .await
            .map(|_| ())
        }

        async fn insert_first_data_key(
            &mut self,
            project_id: ProjectId,
            master_key_id: &str,
            wrapped: &[u8],
            at: Millis,
        ) -> sqlx::Result<()> {
            sqlx::query(
                "INSERT INTO project_keys \
                 (project_id, generation, master_key_id, wrapped_key, created_at) \
                 VALUES ($1, 1, $2, $3, $4) ON CONFLICT (project_id, generation) DO NOTHING",
            )
            .bind(project_id)
            .bind(master_key_id)
            .bind(wrapped)
            .bind(at)
            .execute(&mut *self)
            .await
            .map(|_| ())
        }

        async fn delete_data_keys_before(
            &mut self,
            project_id: ProjectId,
            generation: i64,
        ) -> sqlx::Result<Vec<i64>> {
            sqlx::query_scalar(
                "DELETE FROM project_keys WHERE project_id = $1 AND generation < $2 \
                 RETURNING generation",
            )
            .bind(project_id)
            .bind(generation)
            .fetch_all(&mut *self)
            .await
        }

        async fn data_keys_not_wrapped_by(&mut self, current: &str) -> sqlx::Result<Vec<StaleDataKey>> {
            sqlx::query_as(
                "SELECT project_id, generation, master_key_id, wrapped_key FROM project_keys \
                 WHERE master_key_id <> $1",
            )
            .bind(current)
            .fetch_all(&mut *self)
            .await
        }

        async fn rewrap_data_key(
            &mut self,
            project_id: ProjectId,
            generation: i64,
            master_key_id: &str,
            wrapped: &[u8],
        ) -> sqlx::Result<()> {
            sqlx::query(
                "UPDATE project_keys SET master_key_id = $1, wrapped_key = $2 \
                 WHERE project_id = $3 AND generation = $4",
            )
            .bind(master_key_id)
            .bind(wrapped)
            .bind(project_id)
            .bind(generation)
            .execute(&mut *self)
            .await
            .map(|_| ())
        }

        async fn versions_sealed_before(
            &mut self,
            project_id: ProjectId,
            generation: i64,
            limit: i64,
        ) -> sqlx::Result<Vec<OldVersion>> {
            sqlx::query_as(
                "SELECT v.secret_id, v.version, v.key_generation, v.binding, s.environment_id, \
                 s.key, v.sealed_value FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
                 WHERE s.project_id = $1 AND v.key_generation < $2 \
                 ORDER BY v.secret_id, v.version LIMIT $3",
            )
            .bind(project_id)
            .bind(generation)
            .bind(limit)
            .fetch_all(&mut *self)
            .await
        }

        async fn count_sealed_before(&mut self, project_id: ProjectId, generation: i64) -> sqlx::Result<i64> {
            sqlx::query_scalar(
                "SELECT count(*) FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
                 WHERE s.project_id = $1 AND v.key_generation < $2",
            )
            .bind(project_id)
            .bind(generation)
            .fetch_one(&mut *self)
            .await
        }

        async fn reseal_version(
            &mut self,
            version: &OldVersion,
            generation: i64,
            sealed: &[u8],
        ) -> sqlx::Result<bool> {
            let moved = sqlx::query(
                "UPDATE secret_versions SET sealed_value = $1, key_generation = $2, binding = $6 \
                 WHERE secret_id = $3 AND version = $4 AND key_generation = $5 AND binding = $7",
            )
            .bind(sealed)
            .bind(generation)
            .bind(version.secret_id)
            .bind(version.version)
            .bind(version.key_generation)
            .bind(Binding::CURRENT.stored())
            .bind(version.binding)
            .execute(&mut *self)
            .await?;
            Ok(moved.rows_affected() > 0)
        }

        async fn scopes(&mut self) -> sqlx::Result<Vec<ScopeRow>> {
            sqlx::query_as("SELECT id, kind, slug FROM projects ORDER BY kind DESC, slug")
                .fetch_all(&mut *self)
                .await
        }

        async fn scope_exists(&mut self, project_id: ProjectId) -> sqlx::Result<bool> {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM projects WHERE id = $1")
                .bind(project_id)
                .fetch_optional(&mut *self)
                .await?;
            Ok(found.is_some())
        }

        async fn active_master_keys(&mut self) -> sqlx::Result<Vec<(String, Vec<u8>)>> {
            sqlx::query_as("SELECT id, key_check FROM master_keys WHERE retired_at IS NULL")
                .fetch_all(&mut *self)
                .await
        }

        async fn insert_master_key(&mut self, id: &str, check: &[u8], at: Millis) -> sqlx::Result<()> {
            sqlx::query(
                "INSERT INTO master_keys (id, key_check, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(check)
            .bind(at)
            .execute(&mut *self)
            .await
            .map(|_| ())
        }

        async fn retire_master_keys_but(&mut self, current: &str, at: Millis) -> sqlx::Result<Vec<String>> {
            sqlx::query_scalar(
                "UPDATE master_keys SET retired_at = $1 WHERE id <> $2 AND retired_at IS NULL \
                 RETURNING id",
            )
            .bind(at)
            .bind(current)
            .fetch_all(&mut *self)
            .await
        }

        async fn master_keys_in_use(&mut self) -> sqlx::Result<Vec<String>> {
            sqlx::query_scalar(
                "SELECT master_key_id FROM project_keys UNION SELECT master_key_id FROM instance_keys",
            )
            .fetch_all(&mut *self)
            .await
        }

        async fn instance_key(&mut self, purpose: &str) -> sqlx::Result<Option<InstanceKey>> {
            sqlx::query_as(
                "SELECT purpose, master_key_id, wrapped_key FROM instance_keys WHERE purpose = $1",
            )
            .bind(purpose)
            .fetch_optional(&mut *self)
            .await
        }

        async fn insert_instance_key(
            &mut self,
            key: &InstanceKey,
            at: Millis,
            if_absent: bool,
        ) -> sqlx::Result<()> {
            let statement = if if_absent {
                "INSERT INTO instance_keys (purpose, master_key_id, wrapped_key, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (purpose) DO NOTHING"
            } else {
                "INSERT INTO instance_keys (purpose, master_key_id, wrapped_key, created_at) \
                 VALUES ($1, $2, $3, $4)"
            };
            sqlx::query(statement)
                .bind(&key.purpose)
                .bind(&key.master_key_id)
                .bind(&key.wrapped_key)
                .bind(at)
                .execute(&mut *self)
                .await
                .map(|_| ())
        }

        async fn instance_keys_not_wrapped_by(&mut self, current: &str) -> sqlx::Result<Vec<InstanceKey>> {
            sqlx::query_as(
                "SELECT purpose, master_key_id, wrapped_key FROM instance_keys \
                 WHERE master_key_id <> $1",
            )
            .bind(current)
            .fetch_all(&mut *self)
            .await
        }

        async fn rewrap_instance_key(
            &mut self,
            purpose: &str,
            master_key_id: &str,
            wrapped: &[u8],
        ) -> sqlx::Result<()> {
            sqlx::query(
                "UPDATE instance_keys SET master_key_id = $1, wrapped_key = $2 WHERE purpose = $3",
            )
            .bind(master_key_id)
            .bind(wrapped)
            .bind(purpose)
            .execute(&mut *self)
            .await
            .map(|_| ())
        }

        async fn take_lease(&mut self, lease: &LeaseRow<'_>, now: Millis) -> sqlx::Result<bool> {
            let taken = sqlx::query(
                "INSERT INTO maintenance_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                 expires_at = excluded.expires_at WHERE maintenance_leases.expires_at < $4",
            )
            .bind(lease.name)
            .bind(lease.holder)
            .bind(lease.expires_at)
            .bind(now)
            .execute(&mut *self)
            .await?;
            Ok(taken.rows_affected() == 1)
        }

        async fn renew_lease(&mut self, lease: &LeaseRow<'_>) -> sqlx::Result<bool> {
            let renewed = sqlx::query(
                "UPDATE maintenance_leases SET expires_at = $1 WHERE name = $2 AND holder = $3",
            )
            .bind(lease.expires_at)
            .bind(lease.name)
            .bind(lease.holder)
            .execute(&mut *self)
            .await?;
            Ok(renewed.rows_affected() == 1)
        }

        async fn release_lease(&mut self, name: &str, holder: &str) -> sqlx::Result<()> {
            sqlx::query("DELETE FROM maintenance_leases WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .execute(&mut *self)
                .await
                .map(|_| ())
        }
    }
}
