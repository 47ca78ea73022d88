//! The offboarding exposure report (Settings → Members → a person's Exposure, and after
//! deactivating someone): what they could know — every current secret version whose value they
//! typed, every current secret version read by a token they created (and those tokens, with
//! Revoke all), the team secrets among them. A line goes once the secret has a newer version
//! (it has been rotated). Exported as CSV; viewing it is audited.
use serde::{Deserialize, Serialize};

use crate::{
    ids::{TokenId, UserId, Version},
    time::Millis,
};

#[cfg(feature = "ssr")]
pub mod export;
pub mod page;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;

/// Why a secret is in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Exposure {
    /// They wrote its current value.
    Typed,
    /// A token they created read its current value.
    ReadByToken,
}

/// One secret they could know, at its current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposedSecret {
    pub exposure: Exposure,
    /// The project's slug; `None` for a team secret.
    pub project: Option<String>,
    /// The environment (`*`: a team secret for every environment).
    pub environment: String,
    pub key: String,
    pub version: Version,
    /// When that version was written.
    pub set_at: Millis,
    /// For [`Exposure::ReadByToken`]: the tokens that read it (`project/NAME`).
    pub tokens: Vec<String>,
}

/// A token the person created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub id: TokenId,
    pub project: String,
    pub name: String,
    pub environment: String,
    pub scope: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked: bool,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureReport {
    pub user_id: UserId,
    pub email: String,
    pub active: bool,
    pub now: Millis,
    pub secrets: Vec<ExposedSecret>,
    pub tokens: Vec<CreatedToken>,
}

impl ExposureReport {
    /// How many of the secrets are team secrets.
    pub fn team_secrets(&self) -> usize {
        self.secrets.iter().filter(|secret| secret.project.is_none()).count()
    }
}
