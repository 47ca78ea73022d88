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
