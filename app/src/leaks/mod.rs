//! Leak check (Settings → Leak check, and `sealbox admin leak-check`): which secrets hold, or
//! held, exactly a given value — in every project, environment and the team's secrets, current
//! and older versions — with who set each and which tokens read it since. The value is compared
//! by its keyed fingerprint only: nothing is decrypted, and the value is never stored, logged,
//! echoed or audited (the check itself is audited, without it). An oracle, so rate-limited per
//! person.
use serde::{Deserialize, Serialize};

use crate::{ids::Version, time::Millis};

pub mod page;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;

/// How many checks one person may run in an hour.
pub const CHECKS_PER_HOUR: i64 = 30;

/// One secret version that holds the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeakMatch {
    /// The project's slug; `None` for a team secret.
    pub project: Option<String>,
    /// The environment (`*`: a team secret for every environment).
    pub environment: String,
    pub key: String,
    pub version: Version,
    /// Whether that version is the secret's current one.
    pub current: bool,
    pub set_at: Millis,
    /// Who wrote that version: a person's email or `token:NAME`.
    pub set_by: String,
    /// How many times that version was delivered since (a read of the secret or a whole
    /// environment that held it), from the audit log.
    pub reads: i64,
    /// Who read it: `token:NAME` (or a person), each once, in order.
    pub readers: Vec<String>,
}

/// The answer to one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeakReport {
    pub checked_at: Millis,
    pub matches: Vec<LeakMatch>,
}
