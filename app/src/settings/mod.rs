//! `/settings`: the index of what the signed-in person may configure.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    accounts::{auth::current_user, domain::Role},
    components::{ErrorPage, page_error},
    error::AppError,
    secrets::page::{SecretsPanel, TEAM},
};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <Title text="Settings" />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match user.await.and_then(|user| user.ok_or(AppError::Unauthorized)) {
                    Ok(user) => {
                        view! {
                            <section class="page">
                                <h1>"Settings"</h1>
                                <p class="muted">
                                    {format!(
                                        "You are signed in as {} ({}).",
                                        user.email,
                                        user.role.label(),
                                    )}
                                </p>
                                {if user.role >= Role::Admin {
                                    view! {
                                        <ul class="settings-links">
                                            <li>
                                                <a href="/settings/members">"Members"</a>
                                                <span class="muted">
                                                    " — who can sign in, and their roles"
                                                </span>
                                            </li>
                                            <li>
                                                <a href="/settings/audit">"Audit"</a>
                                                <span class="muted">" — who changed what, when"</span>
                                            </li>
                                            <li>
                                                <a href="/settings/team-secrets">"Team secrets"</a>
                                                <span class="muted">
                                                    " — secrets every project receives"
                                                </span>
                                            </li>
                                            <li>
                                                <a href="/settings/leak-check">"Leak check"</a>
                                                <span class="muted">
                                                    " — which secrets hold a value found somewhere it should not be"
                                                </span>
                                            </li>
                                        </ul>
                                    }
                                        .into_any()
                                } else {
                                    view! {
                                        <p>
                                            "Owners and admins manage members and settings. Ask one of them if you need a change."
                                        </p>
                                    }
                                        .into_any()
                                }}
                            </section>
                        }
                            .into_any()
                    }
                    Err(error) => page_error(error),
                }
            })}
        </Suspense>
    }
}

/// Settings → Team secrets: secrets every project receives unless it sets its own. Owners and
/// admins only (members are refused here; they see team secrets inside each project).
#[component]
pub fn TeamSecretsPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let params = use_params_map();
    let environment = Signal::derive(move || params.read().get("env"));
    view! {
        <Title text="Team secrets" />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match user.await.and_then(|user| user.ok_or(AppError::Unauthorized)) {
                    Ok(user) if user.role.can_manage() => {
                        view! {
                            <section class="page">
                                <p class="breadcrumb">
                                    <a href="/settings">"Settings"</a>
                                    " / Team secrets"
                                </p>
                                <h1>"Team secrets"</h1>
                                <p class="muted">
                                    "Every project receives these at run time. A secret set for one environment name (say production) takes the place of the one for all environments in the environments of that name, and a project's own secret with the same key takes the place of both."
                                </p>
                                <SecretsPanel scope=TEAM.to_string() environment />
                            </section>
                        }
                            .into_any()
                    }
                    Ok(_) => {
                        view! {
                            <ErrorPage error=AppError::Forbidden(
                                "Only owners and admins can do this.".into(),
                            ) />
                        }
                            .into_any()
                    }
                    Err(error) => page_error(error),
                }
            })}
        </Suspense>
    }
}
