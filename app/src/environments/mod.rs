//! Environments: each project holds its secrets, variables and tokens per environment
//! (`development`, `staging`, `production`, …), ordered as its owners arranged them. The team
//! scope has one environment, [`TEAM_ENVIRONMENT`], whose secrets every environment gets.
use serde::{Deserialize, Serialize};

use crate::ids::EnvironmentId;

pub mod domain;
pub mod page;
#[cfg(feature = "ssr")]
pub mod place;
#[cfg(feature = "ssr")]
pub(crate) mod repo;
#[cfg(feature = "ssr")]
pub mod service;
mod switcher;

pub use domain::EnvironmentName;
pub use switcher::EnvironmentSwitcher;

/// What a new project starts with, in this order.
pub const DEFAULT_ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];
/// The team scope's one environment: its secrets apply to every environment of every project.
pub const TEAM_ENVIRONMENT: &str = "*";
/// What a project held before environments existed became this environment.
pub const MIGRATED_ENVIRONMENT: &str = "production";

/// One environment of a project, as the pages and the API list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Environment {
    pub id: EnvironmentId,
    pub name: String,
    pub position: i64,
}
