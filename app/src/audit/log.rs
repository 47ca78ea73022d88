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
use crate::store::{Db, RepoResult, Store};

/// The audit log of one database. Cheap to clone; the appender stops when the last clone is
/// dropped.
#[derive(Clone)]
pub struct AuditLog {
    db: Db,
    appender: Arc<GroupCommit>,
    chain_key: Arc<OnceLock<ChainKey>>,
}

impl AuditLog {
    /// The log of a database whose chain is keyed (every database a server has started on):
    /// events are linked with `key` (from `Keyring::open_chain_key`).
    pub fn keyed(store: &Store, key: ChainKey) -> Self {
        let log = Self::unkeyed(store);
        let _ = log.chain_key.set(key);
        log
    }

    /// The log of a database whose chain is not keyed yet (as an earlier release left it):
    /// events get plain links, which a keyed chain would count as a break. Only for tests and
    /// tools that set up such a database.
    pub fn unkeyed(store: &Store) -> Self {
        Self { db: store.db().clone(), appender: Arc::default(), chain_key: Arc::default() }
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
    ) -> RepoResult<()> {
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
