//! [`AuditLog`]: where the services write their events. It holds the chain's key (once the
//! keyring has unwrapped it) and the group-commit appender, and is reached through the state and
//! the services, never through the store.
use std::sync::{Arc, OnceLock};

use super::{
    Event,
    chain::ChainKey,
    group::{AppendError, GroupCommit},
    repo::AuditRows,
};
use crate::store::{Db, Store};

/// The audit log of one database. Cheap to clone; the appender stops when the last clone is
/// dropped.
#[derive(Clone)]
pub struct AuditLog {
    db: Db,
    appender: Arc<GroupCommit>,
    chain_key: Arc<OnceLock<ChainKey>>,
}

impl AuditLog {
    pub fn new(store: &Store) -> Self {
        Self { db: store.db().clone(), appender: Arc::default(), chain_key: Arc::default() }
    }

    /// Gives this log (and its clones) the chain's key; the first one given stays.
    pub fn install_chain_key(&self, key: ChainKey) {
        let _ = self.chain_key.set(key);
    }

    /// The chain's key, once installed; events are linked with it.
    pub fn chain_key(&self) -> Option<&ChainKey> {
        self.chain_key.get()
    }

    /// Appends `event` with the mutation's own transaction (`&mut *tx`), so that there is no
    /// change without its event.
    pub(crate) async fn record<C: AuditRows + Send>(
        &self,
        transaction: &mut C,
        event: Event<'_>,
    ) -> sqlx::Result<()> {
        transaction.append_event(self.chain_key(), &event).await
    }

    /// Appends an event that goes with no other change. Such events are group-committed (see
    /// [`super::group`]): this returns once the event is durable, and fails if it could not be
    /// written.
    pub async fn record_alone(&self, event: Event<'_>) -> sqlx::Result<()> {
        self.appender.append(&self.db, &self.chain_key, event, None).await.map_err(Into::into)
    }

    /// As [`AuditLog::record_alone`], but only while `run_time_generation` is still `generation`
    /// (see [`crate::store::snapshot`]): otherwise nothing is appended and the caller must read
    /// again.
    pub async fn record_alone_at(
        &self,
        event: Event<'_>,
        generation: i64,
    ) -> Result<(), AppendError> {
        self.appender.append(&self.db, &self.chain_key, event, Some(generation)).await
    }

    /// Returns once every event handed to the appender before this call is committed (or has
    /// failed): call it before closing the store.
    pub async fn flush(&self) {
        self.appender.flush().await;
    }
}
