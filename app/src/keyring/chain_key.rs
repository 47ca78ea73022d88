//! The audit chain's key: an instance key wrapped by the master key in `instance_keys`, from
//! which [`ChainKey`] is derived. Opening it is the keyring's job (it holds the master keys); the
//! audit log only uses the key it is given.
use super::{
    Keyring, KeyringError,
    repo::{InstanceKey, KeyRows},
};
use crate::{
    audit::{
        Actor, AuditAction, Event,
        chain::{CHAIN_PURPOSE, ChainKey, KEYED_START, hex, lock_statement},
        repo::AuditRows,
    },
    crypto::{self, DataKey, MasterKey},
    store::{Store, WritePool, with_pool},
    time::Millis,
};

/// Why the audit chain could not be opened at start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A repository statement failed: the error names it.
    #[error(transparent)]
    Repo(#[from] crate::store::RepoError),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The key and the keyed start exist only together; one without the other means someone
    /// removed a part of the log (or its key) behind Sealbox's back.
    #[error(
        "the audit log was tampered with: {0}. Sealbox will not start on it, so as not to seal \
         what someone else wrote; restore the database from a backup, or run `sealbox audit \
         verify` to see where it breaks"
    )]
    Tampered(&'static str),
}

impl Keyring {
    /// The audit chain's key. The first start of a release with keyed chains makes the key and,
    /// in the same transaction, the [`KEYED_START`] event that names the plain head before it;
    /// every later start finds both, or refuses.
    pub async fn open_chain_key(&self, store: &Store) -> Result<ChainKey, OpenError> {
        let aad = crypto::data_key_aad(CHAIN_PURPOSE);
        let fresh = DataKey::generate();
        let wrapped_fresh = InstanceKey {
            purpose: CHAIN_PURPOSE.to_string(),
            master_key_id: self.current_id().to_string(),
            wrapped_key: self.wrap_key(&fresh, &aad),
        };
        // Every start after the first finds both without taking a lock (which would make a
        // start, or an admin command, wait for writes in flight).
        let (stored, started) = with_pool!(store, |pool| {
            let mut connection = pool.acquire().await?;
            let stored = connection.instance_key(CHAIN_PURPOSE).await?;
            (stored, connection.count_action(KEYED_START).await?)
        });
        if let (Some(stored), 1..) = (stored, started) {
            return Ok(ChainKey::derive(&self.unwrap(&stored, &aad)?));
        }
        let sealbox = Actor::new("sealbox", None);
        with_pool!(store, |pool| {
            // SQLite: the write lock first, so that the looks below are not a stale snapshot.
            let mut tx = pool.begin_write().await?;
            if let Some(lock) = lock_statement(&*tx) {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            let stored = tx.instance_key(CHAIN_PURPOSE).await?;
            let started = tx.count_action(KEYED_START).await?;
            let key = match (stored, started) {
                (Some(stored), 1..) => ChainKey::derive(&self.unwrap(&stored, &aad)?),
                (Some(_), _) => {
                    return Err(OpenError::Tampered("the chain's keyed start is missing"));
                }
                (None, 1..) => return Err(OpenError::Tampered("the chain's key is missing")),
                (None, _) => {
                    tx.insert_instance_key(&wrapped_fresh, Millis::now(), false).await?;
                    let key = ChainKey::derive(&fresh);
                    let (before, head) = tx.count_and_head().await?;
                    let details = format!(
                        "Keyed chain from here on; before it {before} event(s) with plain links, \
                         head {}",
                        head.as_deref().map_or_else(|| "none".to_string(), hex)
                    );
                    let start = Event::general(&sealbox, AuditAction::ChainKeyed, Some(details));
                    tx.append_event(Some(&key), &start).await?;
                    key
                }
            };
            tx.commit().await?;
            Ok(key)
        })
    }

    /// The audit chain's key for a command that only reads (`sealbox audit verify`): nothing is
    /// written, and a database whose chain key does not exist yet is an error.
    pub async fn read_chain_key(
        store: &Store,
        keys: &[MasterKey],
    ) -> Result<ChainKey, KeyringError> {
        let stored =
            with_pool!(store, |pool| pool.acquire().await?.instance_key(CHAIN_PURPOSE).await?);
        let stored = stored.ok_or(KeyringError::NoChainKey)?;
        let master = keys
            .iter()
            .find(|key| key.id() == stored.master_key_id)
            .ok_or_else(|| KeyringError::MissingMasterKey(stored.master_key_id.clone()))?;
        let aad = crypto::data_key_aad(CHAIN_PURPOSE);
        let root = master.unwrap_key(&stored.wrapped_key, &aad).map_err(KeyringError::Unwrap)?;
        Ok(ChainKey::derive(&root))
    }

    fn unwrap(&self, stored: &InstanceKey, aad: &[u8]) -> Result<DataKey, KeyringError> {
        self.unwrap_key(&stored.master_key_id, &stored.wrapped_key, aad)
    }
}
