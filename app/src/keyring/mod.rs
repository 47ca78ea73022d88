//! The keyring: the configured master keys (checked against the database), the instance keys
//! they wrap, and a cache of unwrapped project data keys.
//! [`rotation`] gives projects fresh data keys.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

mod chain_key;
pub mod master;
pub(crate) mod repo;
pub mod rotation;

pub use chain_key::OpenError;

use self::repo::{InstanceKey, KeyRows};
use crate::{
    crypto::{self, CryptoError, DataKey, FingerprintKey, MasterKey},
    ids::ProjectId,
    store::{Store, with_pool},
    time::Millis,
};

const FINGERPRINT_PURPOSE: &str = "fingerprint";
const SHOWN_ONCE_PURPOSE: &str = "shown-once";
const SHOWN_ONCE_LABEL: &[u8] = b"sealbox/shown-once/v1";

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(
        "the master key does not match this database: it was set up with master key {expected}, \
         and the configured key is {configured}"
    )]
    WrongMasterKey { expected: String, configured: String },
    #[error(
        "data in this database is wrapped by master key {0}, which is not configured; give it as \
         an older key until `sealbox admin rotate-master-key` has re-wrapped everything"
    )]
    MissingMasterKey(String),
    #[error("the stored key check for master key {0} does not open with it: wrong key")]
    KeyCheckFailed(String),
    #[error("a wrapped key in the database does not open: {0}")]
    Unwrap(CryptoError),
    #[error(
        "this database has no audit chain key yet: start the server once with this release, \
         which keys the chain"
    )]
    NoChainKey,
    #[error("database error while loading the keyring: {0}")]
    Database(#[from] sqlx::Error),
    /// A repository statement failed: the error names it.
    #[error(transparent)]
    Repo(#[from] crate::store::RepoError),
}

/// The master keys, the fingerprint key, and a cache of unwrapped project data keys.
///
/// # Security
/// Unwrapped data keys live only in this cache and are zeroized when evicted or dropped.
pub struct Keyring {
    /// The newest key, which wraps everything new; then older keys, which only unwrap.
    keys: Vec<(String, MasterKey)>,
    fingerprint: FingerprintKey,
    /// Seals what a page shows once (a new token, a generated password) while it waits in the
    /// session for the page; derived from an instance key that the master key wraps.
    shown_once: DataKey,
    /// Per project, the newest data key this server has met and its generation.
    data_keys: Mutex<HashMap<ProjectId, (i64, Arc<DataKey>)>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Keyring").field("master_key_ids", &ids).finish_non_exhaustive()
    }
}

impl Keyring {
    /// Checks the configured master keys against the database and loads the fingerprint key.
    /// `current` wraps new keys; `older` keys are accepted for unwrapping until rotation.
    pub async fn load(
        store: &Store,
        current: MasterKey,
        older: Vec<MasterKey>,
    ) -> Result<Self, KeyringError> {
        let keys: Vec<(String, MasterKey)> =
            std::iter::once(current).chain(older).map(|key| (key.id(), key)).collect();
        let known = with_pool!(store, |pool| pool.acquire().await?.active_master_keys().await?);
        for (id, check) in &known {
            if let Some((_, key)) = keys.iter().find(|(configured, _)| configured == id)
                && !key.made_key_check(check)
            {
                return Err(KeyringError::KeyCheckFailed(id.clone()));
            }
        }
        let (current_id, current_key) = &keys[0];
        let current_known = known.iter().any(|(id, _)| id == current_id);
        let any_configured_known =
            known.iter().any(|(id, _)| keys.iter().any(|(configured, _)| configured == id));
        if !current_known {
            if let Some((expected, _)) = known.first().filter(|_| !any_configured_known) {
                return Err(KeyringError::WrongMasterKey {
                    expected: expected.clone(),
                    configured: current_id.clone(),
                });
            }
            let check = current_key.key_check();
            with_pool!(store, |pool| {
                pool.acquire().await?.insert_master_key(current_id, &check, Millis::now()).await?;
            });
        }
        let in_use = with_pool!(store, |pool| pool.acquire().await?.master_keys_in_use().await?);
        if let Some(missing) =
            in_use.iter().find(|id| !keys.iter().any(|(configured, _)| configured == *id))
        {
            return Err(KeyringError::MissingMasterKey(missing.clone()));
        }
        let mut keyring = Self {
            keys,
            shown_once: DataKey::generate(),
            fingerprint: FingerprintKey::from_data_key(&DataKey::generate()),
            data_keys: Mutex::new(HashMap::new()),
        };
        keyring.fingerprint = keyring.load_fingerprint_key(store).await?;
        // An instance key of its own, so that every server (and every master key during a
        // rotation) opens what another sealed.
        let shown_once = keyring.load_instance_key(store, SHOWN_ONCE_PURPOSE).await?;
        keyring.shown_once = shown_once.derive(SHOWN_ONCE_LABEL);
        Ok(keyring)
    }

    async fn load_fingerprint_key(&self, store: &Store) -> Result<FingerprintKey, KeyringError> {
        let key = self.load_instance_key(store, FINGERPRINT_PURPOSE).await?;
        Ok(FingerprintKey::from_data_key(&key))
    }

    /// The instance key for `purpose`, wrapped by a master key: the first server to start
    /// creates it; every other one (now or later) reads that one.
    async fn load_instance_key(
        &self,
        store: &Store,
        purpose: &str,
    ) -> Result<DataKey, KeyringError> {
        let aad = crypto::data_key_aad(purpose);
        let fresh = InstanceKey {
            purpose: purpose.to_string(),
            master_key_id: self.current_id().to_string(),
            wrapped_key: self.wrap_key(&DataKey::generate(), &aad),
        };
        let stored = with_pool!(store, |pool| {
            let mut connection = pool.acquire().await?;
            connection.insert_instance_key(&fresh, Millis::now(), true).await?;
            connection.instance_key(purpose).await?
        });
        // Just inserted, or kept because another server inserted it first.
        let stored = stored.ok_or(sqlx::Error::RowNotFound)?;
        self.unwrap_key(&stored.master_key_id, &stored.wrapped_key, &aad)
    }

    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Wraps a key under the current master key.
    pub fn wrap_key(&self, key: &DataKey, aad: &[u8]) -> Vec<u8> {
        self.keys[0].1.wrap_key(key, aad)
    }

    /// Unwraps a key with the master key named by `master_key_id`.
    pub fn unwrap_key(
        &self,
        master_key_id: &str,
        wrapped: &[u8],
        aad: &[u8],
    ) -> Result<DataKey, KeyringError> {
        let (_, master) = self
            .keys
            .iter()
            .find(|(id, _)| id == master_key_id)
            .ok_or_else(|| KeyringError::MissingMasterKey(master_key_id.to_string()))?;
        master.unwrap_key(wrapped, aad).map_err(KeyringError::Unwrap)
    }

    pub fn fingerprint_key(&self) -> &FingerprintKey {
        &self.fingerprint
    }

    /// The key that seals what waits in a session to be shown once.
    pub fn shown_once_key(&self) -> &DataKey {
        &self.shown_once
    }

    /// The project's data key of `generation`, if this server holds it.
    pub fn cached_data_key(&self, project_id: ProjectId, generation: i64) -> Option<Arc<DataKey>> {
        let cache = self.data_keys.lock().ok()?;
        cache.get(&project_id).filter(|(held, _)| *held == generation).map(|(_, key)| key.clone())
    }

    /// Keeps `key` as the project's data key if `generation` is the newest met so far; an older
    /// generation (one a rotation is retiring) is used by the caller and not kept. A kept key
    /// that a rotation then deletes is dropped by `Vault::forget_retired_keys`.
    pub fn remember_data_key(
        &self,
        project_id: ProjectId,
        generation: i64,
        key: DataKey,
    ) -> Arc<DataKey> {
        let key = Arc::new(key);
        if let Ok(mut cache) = self.data_keys.lock()
            && cache.get(&project_id).is_none_or(|(held, _)| *held <= generation)
        {
            cache.insert(project_id, (generation, key.clone()));
        }
        key
    }

    /// The (project, generation) of every data key held in memory.
    pub fn remembered_data_keys(&self) -> Vec<(ProjectId, i64)> {
        self.data_keys.lock().map_or_else(
            |_| Vec::new(),
            |cache| {
                cache.iter().map(|(project, (generation, _))| (*project, *generation)).collect()
            },
        )
    }

    /// Drops the project's data key of `generation` if that is the one held.
    pub fn forget_data_key(&self, project_id: ProjectId, generation: i64) {
        if let Ok(mut cache) = self.data_keys.lock()
            && cache.get(&project_id).is_some_and(|(held, _)| *held == generation)
        {
            cache.remove(&project_id);
        }
    }

    /// Drops a cached key (zeroized once the last user lets go of it).
    pub fn evict(&self, project_id: ProjectId) {
        if let Ok(mut cache) = self.data_keys.lock() {
            cache.remove(&project_id);
        }
    }
}

/// Associated data for a project's wrapped data key of one generation: a key wrapped for one
/// project or generation does not unwrap as another's, so a row copied from an older database
/// copy cannot bring a retired data key back into use. Generation 1 keeps the label it had
/// before rotation existed.
pub fn project_key_aad(project_id: ProjectId, generation: i64) -> Vec<u8> {
    if generation == 1 {
        crypto::data_key_aad(&format!("project:{project_id}"))
    } else {
        crypto::data_key_aad(&format!("project:{project_id}/generation:{generation}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_data_keys_are_bound_to_their_project_and_generation() {
        let first = project_key_aad(ProjectId(7), 1);
        assert_eq!(first, crypto::data_key_aad("project:7"), "generation 1 kept its label");
        for other in [
            project_key_aad(ProjectId(7), 2),
            project_key_aad(ProjectId(8), 1),
            project_key_aad(ProjectId(70), 1),
        ] {
            assert_ne!(first, other);
        }
        let master = MasterKey::generate();
        let wrapped = master.wrap_key(&DataKey::generate(), &project_key_aad(ProjectId(7), 1));
        assert!(master.unwrap_key(&wrapped, &project_key_aad(ProjectId(7), 2)).is_err());
    }

    #[test]
    fn only_the_newest_generation_of_a_data_key_is_kept_in_memory() {
        let keyring = Keyring {
            keys: vec![("id".into(), MasterKey::generate())],
            fingerprint: FingerprintKey::from_data_key(&DataKey::generate()),
            shown_once: DataKey::generate(),
            data_keys: Mutex::new(HashMap::new()),
        };
        keyring.remember_data_key(ProjectId(1), 2, DataKey::generate());
        keyring.remember_data_key(ProjectId(1), 1, DataKey::generate());
        assert!(
            keyring.cached_data_key(ProjectId(1), 1).is_none(),
            "an older generation is not kept"
        );
        assert!(keyring.cached_data_key(ProjectId(1), 2).is_some());
        keyring.remember_data_key(ProjectId(1), 3, DataKey::generate());
        assert!(keyring.cached_data_key(ProjectId(1), 2).is_none(), "a newer one replaces it");
        assert!(keyring.cached_data_key(ProjectId(1), 3).is_some());
    }
}
