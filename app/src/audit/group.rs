//! Group commit for events that go with no other change — above all, value reads by programs.
//! Each request hands its event to one appender task and waits; the task appends everything that
//! is waiting in one transaction with one commit, then answers every request in the batch. A
//! request that delivers a value returns only after its event is committed, and fails when the
//! batch fails (fail closed); the chain stays one order because there is one appender per
//! process, and, between processes, the same lock every append takes.
//!
//! An event may carry the `run_time_generation` its request read its data at (see
//! [`crate::store::snapshot`]). The batch reads the counter under the chain's lock; an event whose
//! generation is no longer current is not appended and its request is told to read again.
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use super::{Event, chain};
use crate::{
    ids::{ProjectId, Version},
    store::{Db, WritePool},
    time::Millis,
};

/// The most events one transaction appends.
const MAX_BATCH: usize = 1_024;
/// Requests that can wait for the appender before senders wait too.
const QUEUE: usize = 16_384;
/// How long one batch may take, lock wait included. A hung database connection then fails the
/// batch's requests instead of stalling every request behind it; PostgreSQL is also told to give
/// up (`statement_timeout`), so that the server side does not hold the chain's lock meanwhile.
const BATCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// An [`Event`] that owns its text, so that it can wait in the queue.
struct Pending {
    actor: String,
    action: &'static str,
    project_id: Option<ProjectId>,
    project_slug: Option<String>,
    secret_key: Option<String>,
    version: Option<Version>,
    ip: Option<String>,
    details: Option<String>,
    environment: Option<String>,
    /// Append only while `run_time_generation` is still this.
    generation: Option<i64>,
}

impl Pending {
    fn new(event: Event<'_>, generation: Option<i64>) -> Self {
        Self {
            actor: event.actor.name.clone(),
            action: event.action.as_str(),
            project_id: event.project_id,
            project_slug: event.project_slug.map(str::to_string),
            secret_key: event.secret_key.map(str::to_string),
            version: event.version,
            ip: event.actor.ip.clone(),
            details: event.details,
            environment: event.environment.map(str::to_string),
            generation,
        }
    }
}

/// Why one event of a batch was not appended.
#[derive(Debug, Clone)]
enum Refusal {
    Database(Arc<sqlx::Error>),
    Stale(i64),
}

type Reply = oneshot::Sender<Result<(), Refusal>>;

/// Why an event was not appended.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("the audit event was not written: {0}")]
    Database(Arc<sqlx::Error>),
    #[error("the audit appender has stopped")]
    Stopped,
    /// What the request read has changed since it was read: it must read again.
    #[error("the data read has changed since (now at generation {current})")]
    Stale { current: i64 },
}

/// The process's appender: started on first use, stopped when the last [`crate::store::Store`]
/// clone is dropped.
#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: OnceLock<mpsc::Sender<(Option<Pending>, Reply)>>,
}

impl GroupCommit {
    /// Appends `event` with whatever else is waiting; returns once it is committed. With a
    /// `generation`, appends only if `run_time_generation` is still that when the batch commits.
    pub(crate) async fn append(
        &self,
        db: &Db,
        chain_key: &Arc<OnceLock<chain::ChainKey>>,
        event: Event<'_>,
        generation: Option<i64>,
    ) -> Result<(), AppendError> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(run(db.clone(), chain_key.clone(), receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        let pending = Pending::new(event, generation);
        queue.send((Some(pending), reply)).await.map_err(|_| AppendError::Stopped)?;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Refusal::Database(error))) => Err(AppendError::Database(error)),
            Ok(Err(Refusal::Stale(current))) => Err(AppendError::Stale { current }),
            Err(_) => Err(AppendError::Stopped),
        }
    }

    /// Returns once every event handed over before this call is committed (or has failed), so
    /// that the pool can be closed without failing the events of requests still in flight.
    pub(crate) async fn flush(&self) {
        let Some(queue) = self.queue.get() else { return };
        let (reply, answer) = oneshot::channel();
        if queue.send((None, reply)).await.is_ok() {
            let _ = answer.await;
        }
    }
}

/// Appends what arrives, in batches. `None` is a flush: answered with the batch it arrived in,
/// after everything that arrived before it.
async fn run(
    db: Db,
    chain_key: Arc<OnceLock<chain::ChainKey>>,
    mut receiver: mpsc::Receiver<(Option<Pending>, Reply)>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let events: Vec<&Pending> = batch.iter().filter_map(|(event, _)| event.as_ref()).collect();
        let result = if events.is_empty() {
            Ok(None)
        } else {
            let key = chain_key.get();
            match tokio::time::timeout(BATCH_TIMEOUT, append(&db, key, &events)).await {
                Ok(appended) => appended.map_err(Arc::new),
                // Dropping the batch rolls its transaction back and lets the connection go.
                Err(_) => Err(Arc::new(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the audit batch did not commit within {BATCH_TIMEOUT:?}"),
                )))),
            }
        };
        if let Err(error) = &result {
            tracing::error!(error = %error, events = batch.len(), "audit batch failed");
        }
        for (event, reply) in batch.drain(..) {
            let answer = match &result {
                Err(error) => Err(Refusal::Database(error.clone())),
                Ok(current) => match (event.and_then(|event| event.generation), current) {
                    (Some(read), Some(current)) if read != *current => {
                        Err(Refusal::Stale(*current))
                    }
                    _ => Ok(()),
                },
            };
            // A request that gave up waiting has nobody to tell.
            let _ = reply.send(answer);
        }
    }
}

/// Appends `events` in one transaction: the lock, the run-time generation (when an event carries
/// one), one multi-row insert of the events still current, the previous hash, one update that sets
/// every new hash. The hashes are computed from the rows as the database returned them, so they
/// cover exactly what was stored. Returns the generation it read, if it read one.
///
/// The statements' shapes vary with the batch size, so they are not kept prepared: a connection
/// keeps a bounded number of prepared statements and these would push out the ones every request
/// uses.
async fn append(
    db: &Db,
    key: Option<&chain::ChainKey>,
    events: &[&Pending],
) -> Result<Option<i64>, sqlx::Error> {
    const COLUMNS: usize = 10;
    let at = Millis::now();
    let insert = |count: usize| {
        let values = (0..count)
            .map(|row| {
                let first = row * COLUMNS;
                let marks: Vec<String> = (1..=COLUMNS).map(|i| format!("${}", first + i)).collect();
                format!("({})", marks.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO audit_events \
             (at, actor, action, project_id, project_slug, secret_key, version, ip, details, \
             environment) VALUES {values} RETURNING {}",
            chain::ROW_COLUMNS
        )
    };
    let update = |count: usize| {
        let cases: String =
            (0..count).map(|i| format!(" WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2)).collect();
        let ids: Vec<String> = (0..count).map(|i| format!("${}", 2 * i + 1)).collect();
        format!(
            "UPDATE audit_events SET hash = CASE id{cases} END WHERE id IN ({})",
            ids.join(", ")
        )
    };
    let checks = events.iter().any(|event| event.generation.is_some());
    // The body is compiled once per backend, as `with_pool!` does for a store.
    macro_rules! on {
        ($begin:expr) => {{
            let mut tx = $begin;
            if let Some(lock) = chain::lock_statement(&*tx) {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            let current: Option<i64> = if checks {
                Some(
                    sqlx::query_scalar("SELECT value FROM run_time_generation WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await?,
                )
            } else {
                None
            };
            let kept: Vec<&&Pending> = events
                .iter()
                .filter(|event| event.generation.is_none() || event.generation == current)
                .collect();
            if kept.is_empty() {
                tx.rollback().await?;
                return Ok(current);
            }
            let insert = insert(kept.len());
            let mut query = sqlx::query_as::<_, chain::StoredEvent>(&insert).persistent(false);
            for event in &kept {
                query = query
                    .bind(at)
                    .bind(&event.actor)
                    .bind(event.action)
                    .bind(event.project_id)
                    .bind(event.project_slug.as_deref())
                    .bind(event.secret_key.as_deref())
                    .bind(event.version)
                    .bind(event.ip.as_deref())
                    .bind(event.details.as_deref())
                    .bind(event.environment.as_deref());
            }
            let mut rows = query.fetch_all(&mut *tx).await?;
            rows.sort_by_key(|row| row.id);
            let first = rows.first().map_or(0, |row| row.id);
            let previous: Option<Option<Vec<u8>>> = sqlx::query_scalar(
                "SELECT hash FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(first)
            .fetch_optional(&mut *tx)
            .await?;
            let mut previous = previous.flatten();
            let update = update(rows.len());
            let mut query = sqlx::query(&update).persistent(false);
            for row in &rows {
                let hash = chain::link(key, previous.as_deref(), &row.canonical());
                query = query.bind(row.id).bind(hash.to_vec());
                previous = Some(hash.to_vec());
            }
            query.execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(current)
        }};
    }
    match db {
        // IMMEDIATE: take the write lock first, so that the generation read is the newest one
        // and no other writer can commit before this batch does.
        Db::Sqlite(pool) => on!(pool.begin_write().await?),
        Db::Postgres(pool) => on!({
            let mut tx = pool.begin_write().await?;
            sqlx::query(&format!("SET LOCAL statement_timeout = {}", BATCH_TIMEOUT.as_millis()))
                .execute(&mut *tx)
                .await?;
            tx
        }),
    }
}

impl From<AppendError> for sqlx::Error {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Stopped => sqlx::Error::PoolClosed,
            stale @ AppendError::Stale { .. } => sqlx::Error::Io(std::io::Error::other(stale)),
            AppendError::Database(cause) => sqlx::Error::Io(std::io::Error::other(cause)),
        }
    }
}
