//! The one statement sequence that appends an event inside a caller's transaction (the chain's
//! lock, the row, the previous row's link, the new link), and the counts a chain's start reads.
//! Implemented for both sqlx connection
//! types by [`crate::store::for_both_backends!`], from one text.
use super::{
    Event,
    chain::{self, Canonical, ChainKey, ChainLock},
};
use crate::{
    store::{RepoResult, for_both_backends},
    time::Millis,
};

pub(crate) trait AuditRows: ChainLock {
    /// Appends `event` to the chain on this connection, which must be the mutation's own
    /// transaction: the event commits or rolls back with the change.
    ///
    /// Appends are serialized so that the chain has one order: on PostgreSQL by a
    /// transaction-scoped advisory lock taken first, on SQLite by the write lock the insert
    /// takes. The row is inserted, the previous row's hash read, and the new hash set (the
    /// triggers allow setting it once).
    fn append_event(
        &mut self,
        key: Option<&ChainKey>,
        event: &Event<'_>,
    ) -> impl Future<Output = RepoResult<()>> + Send;

    /// How many events have the action `action`.
    fn count_action(&mut self, action: &str) -> impl Future<Output = RepoResult<i64>> + Send;

    /// How many events there are, and the newest one's link.
    fn count_and_head(&mut self)
    -> impl Future<Output = RepoResult<(i64, Option<Vec<u8>>)>> + Send;
}

for_both_backends! {
    impl AuditRows {
        async fn append_event(
            &mut self,
            key: Option<&ChainKey>,
            event: &Event<'_>,
        ) -> sqlx::Result<()> {
            if let Some(lock) = <Self as ChainLock>::LOCK {
                sqlx::query(lock).execute(&mut *self).await?;
            }
            let at = Millis::now();
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO audit_events \
                 (at, actor, action, project_id, project_slug, secret_key, version, ip, details, \
                 environment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            )
            .bind(at)
            .bind(&event.actor.name)
            .bind(event.action.as_str())
            .bind(event.project_id)
            .bind(event.project_slug)
            .bind(event.secret_key)
            .bind(event.version)
            .bind(event.actor.ip.as_deref())
            .bind(event.details.as_deref())
            .bind(event.environment)
            .fetch_one(&mut *self)
            .await?;
            let previous: Option<Option<Vec<u8>>> = sqlx::query_scalar(
                "SELECT hash FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut *self)
            .await?;
            let hash = chain::link(
                key,
                previous.flatten().as_deref(),
                &Canonical {
                    id,
                    at,
                    actor: &event.actor.name,
                    action: event.action.as_str(),
                    project_id: event.project_id,
                    project_slug: event.project_slug,
                    secret_key: event.secret_key,
                    version: event.version,
                    ip: event.actor.ip.as_deref(),
                    details: event.details.as_deref(),
                    environment: event.environment,
                },
            );
            sqlx::query("UPDATE audit_events SET hash = $1 WHERE id = $2")
                .bind(&hash[..])
                .bind(id)
                .execute(&mut *self)
                .await?;
            Ok(())
        }

        async fn count_action(&mut self, action: &str) -> sqlx::Result<i64> {
            sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = $1")
                .bind(action)
                .fetch_one(&mut *self)
                .await
        }

        async fn count_and_head(&mut self) -> sqlx::Result<(i64, Option<Vec<u8>>)> {
            sqlx::query_as(
                "SELECT (SELECT count(*) FROM audit_events), \
                 (SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1)",
            )
            .fetch_one(&mut *self)
            .await
        }
    }
}
