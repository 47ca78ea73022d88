//! The audit chain's key: an instance key wrapped by the master key in `instance_keys`, from
//! which [`ChainKey`] is derived. Opening it is the keyring's job (it holds the master keys); the
//! audit log only uses the key it is given.
use super::{Keyring, KeyringError};
use crate::{
    audit::{
        Actor, AuditAction, Event,
        chain::{CHAIN_PURPOSE, ChainKey, KEYED_START, hex, lock_statement},
        repo::AuditRows,
    },
    crypto::{self, DataKey, MasterKey},
    store::{Store, WritePool, now_millis, with_pool},
};

/// Why the audit chain could not be opened at start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
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
        let wrapped_fresh = self.wrap_key(&fresh, &aad);
        // Every start after the first finds both without taking a lock (which would make a
        // start, or an admin command, wait for writes in flight).
        let (stored, started): (Option<(String, Vec<u8>)>, i64) = with_pool!(store, |pool| {
            let stored = sqlx::query_as(
                "SELECT master_key_id, wrapped_key FROM instance_keys WHERE purpose = $1",
            )
            .bind(CHAIN_PURPOSE)
            .fetch_optional(pool)
            .await?;
            let started = sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = $1")
                .bind(KEYED_START)
                .fetch_one(pool)
                .await?;
            (stored, started)
        });
        if let (Some((master_key_id, wrapped)), 1..) = (stored, started) {
            return Ok(ChainKey::derive(&self.unwrap_key(&master_key_id, &wrapped, &aad)?));
        }
        let sealbox = Actor::new("sealbox", None);
        with_pool!(store, |pool| {
            // SQLite: the write lock first, so that the looks below are not a stale snapshot.
            let mut tx = pool.begin_write().await?;
            if let Some(lock) = lock_statement(&*tx) {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            let stored: Option<(String, Vec<u8>)> = sqlx::query_as(
                "SELECT master_key_id, wrapped_key FROM instance_keys WHERE purpose = $1",
            )
            .bind(CHAIN_PURPOSE)
            .fetch_optional(&mut *tx)
            .await?;
            let started: i64 =
                sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = $1")
                    .bind(KEYED_START)
                    .fetch_one(&mut *tx)
                    .await?;
            let key = match (stored, started) {
                (Some((master_key_id, wrapped)), 1..) => {
                    ChainKey::derive(&self.unwrap_key(&master_key_id, &wrapped, &aad)?)
                }
                (Some(_), _) => {
                    return Err(OpenError::Tampered("the chain's keyed start is missing"));
                }
                (None, 1..) => return Err(OpenError::Tampered("the chain's key is missing")),
                (None, _) => {
                    sqlx::query(
                        "INSERT INTO instance_keys \
                         (purpose, master_key_id, wrapped_key, created_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(CHAIN_PURPOSE)
                    .bind(self.current_id())
                    .bind(&wrapped_fresh)
                    .bind(now_millis())
                    .execute(&mut *tx)
                    .await?;
                    let key = ChainKey::derive(&fresh);
                    let (before, head): (i64, Option<Vec<u8>>) = sqlx::query_as(
                        "SELECT (SELECT count(*) FROM audit_events), \
                         (SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1)",
                    )
                    .fetch_one(&mut *tx)
                    .await?;
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
        let row: Option<(String, Vec<u8>)> = with_pool!(store, |pool| {
            sqlx::query_as(
                "SELECT master_key_id, wrapped_key FROM instance_keys WHERE purpose = $1",
            )
            .bind(CHAIN_PURPOSE)
            .fetch_optional(pool)
            .await?
        });
        let (master_key_id, wrapped) = row.ok_or(KeyringError::NoChainKey)?;
        let master = keys
            .iter()
            .find(|key| key.id() == master_key_id)
            .ok_or_else(|| KeyringError::MissingMasterKey(master_key_id.clone()))?;
        let aad = crypto::data_key_aad(CHAIN_PURPOSE);
        let root = master.unwrap_key(&wrapped, &aad).map_err(KeyringError::Unwrap)?;
        Ok(ChainKey::derive(&root))
    }
}
