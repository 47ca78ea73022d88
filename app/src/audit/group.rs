//! Group commit for events that go with no other change — above all, value reads by programs.
//! Each request hands its event to one appender task and waits; the task appends everything that
//! is waiting in one transaction with one commit, then answers every request in the batch. A
//! request that delivers a value returns only after its event is committed, and fails when the
//! batch fails (fail closed); the chain stays one order because there is one appender per
//! process, and, between processes, the same lock every append takes.
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use super::{Event, chain};
use crate::store::{Db, now_millis};

/// The most events one transaction appends.
const MAX_BATCH: usize = 1_024;
/// Requests that can wait for the appender before senders wait too.
const QUEUE: usize = 16_384;

/// An [`Event`] that owns its text, so that it can wait in the queue.
struct Pending {
    actor: String,
    action: &'static str,
    project_id: Option<i64>,
    project_slug: Option<String>,
    secret_key: Option<String>,
    version: Option<i64>,
    ip: Option<String>,
    details: Option<String>,
}

impl Pending {
    fn new(event: Event<'_>) -> Self {
        Self {
            actor: event.actor.name.clone(),
            action: event.action,
            project_id: event.project_id,
            project_slug: event.project_slug.map(str::to_string),
            secret_key: event.secret_key.map(str::to_string),
            version: event.version,
            ip: event.actor.ip.clone(),
            details: event.details,
        }
    }
}

type Reply = oneshot::Sender<Result<(), Arc<sqlx::Error>>>;

/// Why an event was not appended.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("the audit event was not written: {0}")]
    Database(Arc<sqlx::Error>),
    #[error("the audit appender has stopped")]
    Stopped,
}

/// The process's appender: started on first use, stopped when the last [`crate::store::Store`]
/// clone is dropped.
#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: OnceLock<mpsc::Sender<(Pending, Reply)>>,
}

impl GroupCommit {
    /// Appends `event` with whatever else is waiting; returns once it is committed.
    pub(crate) async fn append(&self, db: &Db, event: Event<'_>) -> Result<(), AppendError> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(run(db.clone(), receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        queue.send((Pending::new(event), reply)).await.map_err(|_| AppendError::Stopped)?;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(AppendError::Database(error)),
            Err(_) => Err(AppendError::Stopped),
        }
    }
}

async fn run(db: Db, mut receiver: mpsc::Receiver<(Pending, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let events: Vec<&Pending> = batch.iter().map(|(event, _)| event).collect();
        let result = append(&db, &events).await.map_err(Arc::new);
        if let Err(error) = &result {
            tracing::error!(error = %error, events = batch.len(), "audit batch failed");
        }
        for (_, reply) in batch.drain(..) {
            // A request that gave up waiting has nobody to tell.
            let _ = reply.send(result.clone());
        }
    }
}

/// One row as the database stored it: what its hash covers.
#[derive(sqlx::FromRow)]
struct Stored {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    project_id: Option<i64>,
    project_slug: Option<String>,
    secret_key: Option<String>,
    version: Option<i64>,
    ip: Option<String>,
    details: Option<String>,
}

/// Appends `events` in one transaction: the lock, one multi-row insert, the previous hash, one
/// update that sets every new hash. The hashes are computed from the rows as the database
/// returned them, so they cover exactly what was stored.
async fn append(db: &Db, events: &[&Pending]) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 9;
    let at = now_millis();
    let values = (0..events.len())
        .map(|row| {
            let first = row * COLUMNS;
            let marks: Vec<String> = (1..=COLUMNS).map(|i| format!("${}", first + i)).collect();
            format!("({})", marks.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let insert = format!(
        "INSERT INTO audit_events \
         (at, actor, action, project_id, project_slug, secret_key, version, ip, details) \
         VALUES {values} RETURNING id, at, actor, action, project_id, project_slug, secret_key, \
         version, ip, details"
    );
    let update = |count: usize| {
        let cases: String =
            (0..count).map(|i| format!(" WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2)).collect();
        let ids: Vec<String> = (0..count).map(|i| format!("${}", 2 * i + 1)).collect();
        format!(
            "UPDATE audit_events SET hash = CASE id{cases} END WHERE id IN ({})",
            ids.join(", ")
        )
    };
    // The body is compiled once per backend, as `with_pool!` does for a store.
    macro_rules! on {
        ($pool:expr) => {{
            let pool = $pool;
            let mut tx = pool.begin().await?;
            if let Some(lock) = chain::lock_statement(&*tx) {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            let mut query = sqlx::query_as::<_, Stored>(&insert);
            for event in events {
                query = query
                    .bind(at)
                    .bind(&event.actor)
                    .bind(event.action)
                    .bind(event.project_id)
                    .bind(event.project_slug.as_deref())
                    .bind(event.secret_key.as_deref())
                    .bind(event.version)
                    .bind(event.ip.as_deref())
                    .bind(event.details.as_deref());
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
            let mut query = sqlx::query(&update);
            for row in &rows {
                let hash = chain::link(
                    previous.as_deref(),
                    &chain::Canonical {
                        id: row.id,
                        at: row.at,
                        actor: &row.actor,
                        action: &row.action,
                        project_id: row.project_id,
                        project_slug: row.project_slug.as_deref(),
                        secret_key: row.secret_key.as_deref(),
                        version: row.version,
                        ip: row.ip.as_deref(),
                        details: row.details.as_deref(),
                    },
                );
                query = query.bind(row.id).bind(hash.to_vec());
                previous = Some(hash.to_vec());
            }
            query.execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        }};
    }
    match db {
        Db::Sqlite(pool) => on!(pool),
        Db::Postgres(pool) => on!(pool),
    }
}

impl From<AppendError> for sqlx::Error {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Stopped => sqlx::Error::PoolClosed,
            AppendError::Database(cause) => sqlx::Error::Io(std::io::Error::other(cause)),
        }
    }
}
