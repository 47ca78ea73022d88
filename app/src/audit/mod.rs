//! Writing audit events. Every mutation writes its event with the mutation's own transaction
//! (the [`record!`] macro takes that executor), so there is no change without its event.
//! Events never hold a value, a fingerprint or a password.

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
pub struct Event<'a> {
    pub actor: &'a Actor,
    pub action: &'static str,
    pub project_id: Option<i64>,
    pub project_slug: Option<&'a str>,
    pub secret_key: Option<&'a str>,
    pub version: Option<i64>,
    pub details: Option<String>,
}

impl<'a> Event<'a> {
    /// An event about no project or secret (sign-in, members, keys).
    pub fn general(actor: &'a Actor, action: &'static str, details: Option<String>) -> Self {
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
}

/// Inserts an [`Event`] with the given executor (usually the mutation's transaction).
macro_rules! record {
    ($executor:expr, $event:expr) => {{
        let event: $crate::audit::Event<'_> = $event;
        sqlx::query(
            "INSERT INTO audit_events \
             (at, actor, action, project_id, project_slug, secret_key, version, ip, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind($crate::store::now_millis())
        .bind(&event.actor.name)
        .bind(event.action)
        .bind(event.project_id)
        .bind(event.project_slug)
        .bind(event.secret_key)
        .bind(event.version)
        .bind(event.actor.ip.as_deref())
        .bind(event.details)
        .execute($executor)
        .await?;
    }};
}
pub(crate) use record;
