//! What every request handler and server function can reach, provided through Leptos context.
use axum::extract::FromRef;
use leptos::prelude::*;

use crate::{
    accounts::service::Accounts,
    audit::AuditLog,
    environments::service::Environments,
    error::AppError,
    projects::service::Projects,
    secrets::{runtime::RunTime, service::Vault},
    store::Store,
    tokens::service::Tokens,
};

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub audit: AuditLog,
    pub vault: Vault,
    pub run_time: RunTime,
    pub accounts: Accounts,
    pub projects: Projects,
    pub tokens: Tokens,
    pub environments: Environments,
}

impl AppState {
    /// The state of the current request, from Leptos context.
    pub fn from_context() -> Result<Self, AppError> {
        use_context::<Self>()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState is missing from context")))
    }
}
