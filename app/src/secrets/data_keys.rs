//! How the [`Vault`] finds a project's data keys: the newest (which seals what is written, made
//! at first use for the team scope) and the one of a stored version's generation (which opens
//! it), from this server's cache or unwrapped from the database; and forgetting the ones a
//! rotation elsewhere retired.
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{
    repo::SealedAt,
    service::{ProjectRef, Result, Vault, VaultError, stored_address},
};
use crate::{
    crypto::{DataKey, Sealed},
    ids::ProjectId,
    keyring::{project_key_aad, repo::KeyRows},
    store::with_pool,
    time::Millis,
};

impl Vault {
    /// Drops the remembered data keys that a rotation (run by another process) has deleted, so
    /// that a retired key does not live on in this server's memory; how many. The periodic
    /// clean-up calls it.
    pub async fn forget_retired_keys(&self) -> Result<usize> {
        let held = self.keyring.remembered_data_keys();
        if held.is_empty() {
            return Ok(0);
        }
        let stored = with_pool!(self.store, |pool| pool
            .acquire()
            .await?
            .every_data_key_generation()
            .await?);
        let retired: Vec<(ProjectId, i64)> =
            held.into_iter().filter(|held| !stored.contains(held)).collect();
        for (project_id, generation) in &retired {
            self.keyring.forget_data_key(*project_id, *generation);
        }
        Ok(retired.len())
    }

    /// The project's data key of `generation`, which sealed a stored version: from the cache,
    /// else unwrapped from the database.
    pub(super) async fn data_key_at(
        &self,
        project_id: ProjectId,
        generation: i64,
    ) -> Result<Arc<DataKey>> {
        if let Some(key) = self.keyring.cached_data_key(project_id, generation) {
            return Ok(key);
        }
        with_pool!(self.store, |pool| {
            let mut connection = pool.acquire().await?;
            self.data_key_in(&mut *connection, project_id, generation).await
        })
    }

    /// A wrapped data key, unwrapped (or found in the cache) and remembered.
    pub(super) fn unwrapped(
        &self,
        project_id: ProjectId,
        generation: i64,
        master_key_id: &str,
        wrapped: &[u8],
    ) -> Result<Arc<DataKey>> {
        if let Some(key) = self.keyring.cached_data_key(project_id, generation) {
            return Ok(key);
        }
        let aad = project_key_aad(project_id, generation);
        let key = self.keyring.unwrap_key(master_key_id, wrapped, &aad)?;
        Ok(self.keyring.remember_data_key(project_id, generation, key))
    }

    /// The project's newest data key, which seals what is written (created at first use for the
    /// team scope), read with the transaction's own connection: a second connection taken from
    /// the pool while a write transaction holds one could wait on a pool that writers have
    /// exhausted.
    ///
    /// On SQLite the caller's transaction holds the write lock, and on PostgreSQL the audit
    /// chain's lock (taken by the triggers of its first write), before it reads the current
    /// generation: a data-key rotation deletes an old key under the same lock, so it never
    /// deletes a key that a write still in flight seals with.
    pub(super) async fn current_data_key<C: KeyRows + Send>(
        &self,
        tx: &mut C,
        project_id: ProjectId,
    ) -> Result<(i64, Arc<DataKey>)> {
        let mut newest = tx.newest_data_key(project_id).await?;
        if newest.is_none() {
            let fresh =
                self.keyring.wrap_key(&DataKey::generate(), &project_key_aad(project_id, 1));
            let current = self.keyring.current_id();
            tx.insert_first_data_key(project_id, current, &fresh, Millis::now()).await?;
            newest = tx.newest_data_key(project_id).await?;
        }
        let key = newest.ok_or(VaultError::KeyRetired)?;
        let unwrapped =
            self.unwrapped(project_id, key.generation, &key.master_key_id, &key.wrapped)?;
        Ok((key.generation, unwrapped))
    }

    /// The project's data key of `generation` (one that sealed a stored version), read with the
    /// transaction's own connection when this server does not hold it.
    pub(super) async fn data_key_in<C: KeyRows + Send>(
        &self,
        tx: &mut C,
        project_id: ProjectId,
        generation: i64,
    ) -> Result<Arc<DataKey>> {
        if let Some(key) = self.keyring.cached_data_key(project_id, generation) {
            return Ok(key);
        }
        let key = tx.data_key(project_id, generation).await?.ok_or(VaultError::KeyRetired)?;
        self.unwrapped(project_id, generation, &key.master_key_id, &key.wrapped)
    }

    /// Opens a stored version of `key` in `project`: with `current` (the newest key, from
    /// [`Vault::current_data_key`] in the same transaction) when it sealed the version, else with
    /// the key of the version's generation.
    pub(super) async fn open_version<C: KeyRows + Send>(
        &self,
        tx: &mut C,
        current: &(i64, Arc<DataKey>),
        project: &ProjectRef,
        key: &str,
        stored: SealedAt<'_>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let (generation, newest) = current;
        let data_key = match stored.key_generation == *generation {
            true => newest.clone(),
            false => self.data_key_in(tx, project.project_id, stored.key_generation).await?,
        };
        let at = stored_address(project, key, stored.version, stored.binding)?;
        Ok(data_key.open_secret(&at, &Sealed::from_bytes(stored.sealed)?)?)
    }
}
