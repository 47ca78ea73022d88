//! Writing audit events. Every mutation writes its event with the mutation's own transaction
//! ([`AuditLog::record`] takes that transaction), so there is no change without its event.
//! Events never hold a value, a fingerprint or a password.

mod action;
#[cfg(feature = "ssr")]
pub mod chain;
#[cfg(feature = "ssr")]
pub mod export;
#[cfg(feature = "ssr")]
pub mod group;
#[cfg(feature = "ssr")]
mod log;
pub mod page;
#[cfg(feature = "ssr")]
pub mod query;
#[cfg(feature = "ssr")]
pub(crate) mod repo;
pub mod view;

pub use action::AuditAction;
#[cfg(feature = "ssr")]
pub use log::AuditLog;

use crate::ids::{ProjectId, Version};

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
    pub project_id: Option<ProjectId>,
    pub project_slug: Option<&'a str>,
    /// The environment the event is about (`*` for the team scope's), when it is about one.
    pub environment: Option<&'a str>,
    pub secret_key: Option<&'a str>,
    pub version: Option<Version>,
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
            environment: None,
            secret_key: None,
            version: None,
            details,
        }
    }

    /// An event about a project itself (created, deleted), with no details.
    pub fn about_project(
        actor: &'a Actor,
        action: AuditAction,
        project_id: ProjectId,
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
        project_id: ProjectId,
        slug: &'a str,
        details: String,
    ) -> Self {
        Self {
            project_id: Some(project_id),
            project_slug: Some(slug),
            ..Self::general(actor, action, Some(details))
        }
    }

    /// The same event, about the environment `name`.
    pub fn in_environment(self, name: &'a str) -> Self {
        Self { environment: Some(name), ..self }
    }
}
