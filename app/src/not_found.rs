//! What a service did not find, shared by every service error: the kind (for an API error code)
//! and a message written for people that names it.
use std::fmt;

use crate::{error::AppError, ids::Version};

/// What was looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Project,
    Environment,
    Secret,
    Version,
    Variable,
    Token,
    /// The team scope is made by a migration: without it the database is broken.
    TeamScope,
}

/// A thing that is not there, and the sentence that says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NotFound {
    pub what: Missing,
    pub message: String,
}

impl NotFound {
    pub fn project(slug: impl fmt::Display) -> Self {
        Self { what: Missing::Project, message: format!("There is no project at /projects/{slug}") }
    }

    pub fn environment(slug: impl fmt::Display, name: impl fmt::Display) -> Self {
        Self {
            what: Missing::Environment,
            message: format!("The project {slug} has no environment named {name}"),
        }
    }

    /// The team scope holds nothing yet for the environments called `name`.
    pub fn team_environment(name: impl fmt::Display) -> Self {
        Self {
            what: Missing::Environment,
            message: format!("No team secret is set for {name} environments"),
        }
    }

    pub fn secret(key: impl fmt::Display) -> Self {
        Self { what: Missing::Secret, message: format!("There is no secret named {key}") }
    }

    pub fn variable(key: impl fmt::Display) -> Self {
        Self { what: Missing::Variable, message: format!("There is no variable named {key}") }
    }

    pub fn version(key: impl fmt::Display, version: Version) -> Self {
        Self {
            what: Missing::Version,
            message: format!("{key} has no version {version} to roll back to"),
        }
    }

    pub fn token() -> Self {
        Self {
            what: Missing::Token,
            message: "That token does not exist or was already revoked".into(),
        }
    }

    pub fn team_scope() -> Self {
        Self {
            what: Missing::TeamScope,
            message: "The team scope is missing from the database".into(),
        }
    }
}

impl From<NotFound> for AppError {
    fn from(missing: NotFound) -> Self {
        match missing.what {
            Missing::TeamScope => Self::internal(missing),
            _ => Self::NotFound(missing.message),
        }
    }
}
