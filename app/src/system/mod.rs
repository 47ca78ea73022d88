//! What the server says about itself: its version and whether its database answers.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{components::ReturnHere, error::AppError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    pub version: String,
    pub database_ready: bool,
}

#[server(prefix = "/rpc", endpoint = "check_server")]
pub async fn check_server() -> Result<ServerStatus, AppError> {
    crate::error::respond(ssr::check_server().await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::ServerStatus;
    use crate::{error::AppError, state::AppState};

    pub async fn check_server() -> Result<ServerStatus, AppError> {
        let state = AppState::from_context()?;
        Ok(ServerStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            database_ready: state.store.ping().await.is_ok(),
        })
    }
}

/// The footer line: the server's version and database state, rendered on the server, and a
/// "Check status" button that asks again through a server function.
#[component]
pub fn ServerStatusLine() -> impl IntoView {
    let initial = Resource::new(|| (), |_| check_server());
    let check = ServerAction::<CheckServer>::new();

    view! {
        <span class="status-result" role="status" aria-live="polite">
            <Suspense fallback=|| {
                view! { <span class="muted">"Sealbox"</span> }
            }>
                {move || Suspend::new(async move {
                    let initial = initial.await;
                    move || {
                        let status = check.value().get().unwrap_or_else(|| initial.clone());
                        view! { <StatusText status /> }
                    }
                })}
            </Suspense>
        </span>
        // A form, so it works without JavaScript too: the server sends the browser back to the
        // page, rendered with a fresh status.
        <ActionForm action=check attr:class="inline-form">
            <ReturnHere />
            <button type="submit" class="link-button" disabled=move || check.pending().get()>
                {move || if check.pending().get() { "Checking…" } else { "Check status" }}
            </button>
        </ActionForm>
    }
}

#[component]
fn StatusText(status: Result<ServerStatus, AppError>) -> impl IntoView {
    match status {
        Ok(ServerStatus { version, database_ready }) => view! {
            <span class="server-version">{format!("Sealbox {version}")}</span>
            <span class=if database_ready {
                "badge ok"
            } else {
                "badge warn"
            }>{if database_ready { "Database ready" } else { "Database unavailable" }}</span>
        }
        .into_any(),
        Err(error) => view! { <span class="badge warn">{error.to_string()}</span> }.into_any(),
    }
}
