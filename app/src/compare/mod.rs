//! Compare: a project's secrets side by side, keys as rows and environments as columns — set
//! (and when), provided by a team secret, missing, or missing and required; for owners and
//! admins also which environments hold the same value (by fingerprint, nothing is decrypted) —
//! with Copy to environment from a cell.
use serde::{Deserialize, Serialize};

use crate::{ids::Version, time::Millis};

pub mod page;
#[cfg(feature = "ssr")]
pub mod service;

/// The grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub slug: String,
    pub can_manage: bool,
    pub now: Millis,
    /// The project's environments in their order: the columns.
    pub environments: Vec<String>,
    pub rows: Vec<ComparedKey>,
}

/// One key across the environments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComparedKey {
    pub key: String,
    /// One of the project's required secrets.
    pub required: bool,
    /// One cell per environment, in the columns' order.
    pub cells: Vec<Cell>,
}

/// What one environment has for a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cell {
    /// The environment's own secret.
    Set {
        version: Version,
        updated_at: Millis,
        /// The first other environment (in the project's order) whose current value is the
        /// same; shown to owners and admins only (`None` for members).
        same_as: Option<String>,
    },
    /// Not set here, but a team secret applies: the team environment it is set for (`*`:
    /// every environment).
    Team { from: String },
    /// Nothing applies. `copy_from`: the first environment that has it (what a manager may
    /// copy here).
    Missing { required: bool, copy_from: Option<String> },
}
