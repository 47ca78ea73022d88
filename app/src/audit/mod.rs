//! Writing audit events. Every mutation writes its event with the mutation's own transaction
//! (the [`record!`] macro takes that executor), so there is no change without its event.
//! Events never hold a value, a fingerprint or a password.

mod action;
#[cfg(feature = "ssr")]
pub mod chain;
#[cfg(feature = "ssr")]
pub mod group;
pub mod page;

pub use action::AuditAction;

/// Who is acting: a person's email, a token's name, or a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub ip: Option<String>,
}

impl Actor {
    pub fn new(name: impl Into<String>, ip: Option<String>) -> Self {
        Self { name: name.into(), ip }
    }
}

/// One audit row.
#[derive(Clone)]
pub struct Event<'a> {
    pub actor: &'a Actor,
    pub action: AuditAction,
    pub project_id: Option<i64>,
    pub project_slug: Option<&'a str>,
    pub secret_key: Option<&'a str>,
    pub version: Option<i64>,
    pub details: Option<String>,
}

impl<'a> Event<'a> {
    /// An event about no project or secret (sign-in, members, keys).
    pub fn general(actor: &'a Actor, action: AuditAction, details: Option<String>) -> Self {
        Self {
            actor,
            action,
            project_id: None,
            project_slug: None,
            secret_key: None,
            version: None,
            details,
        }
    }

    /// An event about a project itself (created, deleted), with no details.
    pub fn about_project(
        actor: &'a Actor,
        action: AuditAction,
        project_id: i64,
        slug: &'a str,
    ) -> Self {
        Self {
            project_id: Some(project_id),
            project_slug: Some(slug),
            ..Self::general(actor, action, None)
        }
    }

    /// An event about a project as a whole (its settings, variables, tokens).
    pub fn project(
        actor: &'a Actor,
        action: AuditAction,
        project_id: i64,
        slug: &'a str,
        details: String,
    ) -> Self {
        Self {
            project_id: Some(project_id),
            project_slug: Some(slug),
            ..Self::general(actor, action, Some(details))
        }
    }
}

#[cfg(feature = "ssr")]
/// Appends an [`Event`] to the chain with the given connection, which must be the mutation's
/// own transaction (`&mut *tx`): the event commits or rolls back with the change. The link is
/// keyed with the store's chain key.
///
/// Appends are serialized so that the chain has one order: on PostgreSQL by a transaction-scoped
/// advisory lock taken first, on SQLite by the write lock the insert takes. The row is inserted,
/// the previous row's hash read, and the new hash set (the triggers allow setting it once).
macro_rules! record {
    ($store:expr, $executor:expr, $event:expr) => {{
        let event: $crate::audit::Event<'_> = $event;
        if let Some(lock) = $crate::audit::chain::lock_statement(&*$executor) {
            sqlx::query(lock).execute(&mut *$executor).await?;
        }
        let at = $crate::store::now_millis();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit_events \
             (at, actor, action, project_id, project_slug, secret_key, version, ip, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
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
        .fetch_one(&mut *$executor)
        .await?;
        let previous: Option<Option<Vec<u8>>> = sqlx::query_scalar(
            "SELECT hash FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&mut *$executor)
        .await?;
        let hash = $crate::audit::chain::link(
            $store.chain_key(),
            previous.flatten().as_deref(),
            &$crate::audit::chain::Canonical {
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
            },
        );
        sqlx::query("UPDATE audit_events SET hash = $1 WHERE id = $2")
            .bind(&hash[..])
            .bind(id)
            .execute(&mut *$executor)
            .await?;
    }};
}
#[cfg(feature = "ssr")]
pub(crate) use record;

/// Appends an event that goes with no other change. Such events are group-committed (see
/// [`group`]): this returns once the event is durable, and fails if it could not be written.
#[cfg(feature = "ssr")]
pub async fn record_alone(
    store: &crate::store::Store,
    event: Event<'_>,
) -> Result<(), sqlx::Error> {
    store.append_audit(event).await.map_err(sqlx::Error::from)
}
