//! Secrets: the domain types, the page that manages them, and (server only) the service every
//! caller goes through.
use serde::{Deserialize, Serialize};

use domain::SecretType;

use crate::{ids::Version, time::Millis};

#[cfg(feature = "ssr")]
pub mod copy;
#[cfg(feature = "ssr")]
mod data_keys;
mod dialogs;
pub mod domain;
pub mod history;
pub mod page;
#[cfg(feature = "ssr")]
mod reads;
#[cfg(feature = "ssr")]
mod rebind;
#[cfg(feature = "ssr")]
pub mod repo;
pub mod rpc;
#[cfg(feature = "ssr")]
pub mod runtime;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
mod versions;

/// What anyone allowed to see a project may see of a secret: everything but its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretMeta {
    pub key: String,
    pub description: Option<String>,
    pub secret_type: SecretType,
    pub version: Version,
    pub created_at: Millis,
    pub created_by: String,
    pub updated_at: Millis,
    pub updated_by: String,
}

/// What one version of a secret changed (never the value itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionChange {
    Created,
    Value,
    Description,
    ValueAndDescription,
    /// The value and description of an earlier version, restored.
    RolledBack,
    /// Copied from another environment of the project.
    Copied,
}

impl VersionChange {
    pub const ALL: [Self; 6] = [
        Self::Created,
        Self::Value,
        Self::Description,
        Self::ValueAndDescription,
        Self::RolledBack,
        Self::Copied,
    ];

    /// The stored form (the `change` column), also the API's.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Value => "value",
            Self::Description => "description",
            Self::ValueAndDescription => "value+description",
            Self::RolledBack => "rolled_back",
            Self::Copied => "copied",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|change| change.as_str() == text)
    }

    /// What a person reads: "value", "value and description", …
    pub fn label(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Value => "value",
            Self::Description => "description",
            Self::ValueAndDescription => "value and description",
            Self::RolledBack => "rolled back",
            Self::Copied => "copied from another environment",
        }
    }
}

/// One version in a secret's history: when, by whom and what changed; never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub version: Version,
    pub at: Millis,
    /// A person's email, or `token:NAME`.
    pub by: String,
    pub change: VersionChange,
    /// A rollback's: the version whose value and description it restored.
    pub restored_from: Option<Version>,
}

/// A secret's versions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretHistory {
    pub key: String,
    pub current: Version,
    pub versions: Vec<VersionInfo>,
}
