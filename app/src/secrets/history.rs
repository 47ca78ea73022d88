//! A secret's History page — `/projects/{slug}/{environment}/history/{KEY}`, and for team
//! secrets `/settings/team-secrets[/{name}]/history/{KEY}` — with Roll back to version N. Every
//! version is listed with when, by whom and what changed; never a value. Anyone who may see the
//! secret sees its history; owners and admins roll back.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use super::{SecretHistory, VersionChange, VersionInfo, page::team_secrets_href, rpc::TEAM};
use crate::{
    components::{
        ConfirmDialog, Timestamp, announce_successes, count_successes, dialog_href, open_dialog,
        page_error,
    },
    environments::TEAM_ENVIRONMENT,
    error::AppError,
    ids::Version,
    time::Millis,
};

/// What the History page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    pub can_manage: bool,
    pub now: Millis,
    /// The environment's name (`*`: the team's secrets for every environment).
    pub environment: String,
    pub history: SecretHistory,
}

/// A secret's versions, the newest first; anyone signed in (team secrets: owners and admins).
/// `scope` is a project's slug or [`TEAM`], `environment` as for `list_secrets`.
#[server(prefix = "/rpc", endpoint = "secret_versions")]
pub async fn secret_versions(
    scope: String,
    environment: Option<String>,
    key: String,
) -> Result<HistoryView, AppError> {
    crate::error::respond(ssr::secret_history(scope, environment, key).await)
}

/// Owners and admins: makes the value and description of version `to` current again, as a new
/// version, if the secret is still at `version`.
#[server(prefix = "/rpc", endpoint = "rollback_secret")]
pub async fn rollback_secret(
    scope: String,
    environment: Option<String>,
    key: String,
    version: Version,
    to: Version,
) -> Result<String, AppError> {
    crate::error::respond(ssr::rollback_secret(scope, environment, key, version, to).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::{HistoryView, TEAM};
    use crate::{
        accounts::auth::ssr::{manager, signed_in},
        bounds::SecretInput,
        error::AppError,
        ids::Version,
        secrets::{domain::SecretKey, rpc::ssr::scope},
        time::Millis,
    };

    pub async fn secret_history(
        scope_text: String,
        environment: Option<String>,
        key: String,
    ) -> Result<HistoryView, AppError> {
        let environment_text = environment.as_deref().unwrap_or_default();
        crate::bounds::gate(
            &SecretInput::named(&scope_text, &key).in_environment(environment_text),
        )?;
        // The team's secrets are shown to those who manage them.
        let caller = match scope_text == TEAM {
            true => manager().await?,
            false => signed_in().await?,
        };
        let scope = scope(&caller.state, &scope_text, environment.as_deref()).await?;
        let key = SecretKey::existing(&key)?;
        let history = caller.state.vault.history(&scope, &key).await?;
        Ok(HistoryView {
            can_manage: caller.user.role.can_manage(),
            now: Millis::now(),
            environment: scope.environment_name().to_string(),
            history,
        })
    }

    pub async fn rollback_secret(
        scope_text: String,
        environment: Option<String>,
        key: String,
        version: Version,
        to: Version,
    ) -> Result<String, AppError> {
        let environment_text = environment.as_deref().unwrap_or_default();
        crate::bounds::gate(
            &SecretInput::named(&scope_text, &key).in_environment(environment_text),
        )?;
        let caller = manager().await?;
        let scope = scope(&caller.state, &scope_text, environment.as_deref()).await?;
        let key = SecretKey::existing(&key)?;
        let meta = caller.state.vault.rollback(&caller.actor, &scope, &key, to, version).await?;
        Ok(format!("{key} rolled back to version {to} (now version {})", meta.version))
    }
}

/// `/projects/{slug}/{environment}/history/{KEY}`, inside the project's frame.
#[component]
pub fn SecretHistoryTab() -> impl IntoView {
    let params = use_params_map();
    let scope = Signal::derive(move || params.read().get("slug").unwrap_or_default());
    let environment = Signal::derive(move || params.read().get("env"));
    let key = Signal::derive(move || params.read().get("key").unwrap_or_default());
    view! { <SecretHistoryPanel scope environment key /> }
}

/// `/settings/team-secrets[/{name}]/history/{KEY}`.
#[component]
pub fn TeamSecretHistoryPage() -> impl IntoView {
    let params = use_params_map();
    let environment = Signal::derive(move || params.read().get("env"));
    let key = Signal::derive(move || params.read().get("key").unwrap_or_default());
    view! {
        <section class="page">
            <p class="breadcrumb">
                <a href="/settings">"Settings"</a>
                " / "
                <a href=move || {
                    team_secrets_href(environment.get().as_deref().unwrap_or(TEAM_ENVIRONMENT))
                }>"Team secrets"</a>
                " /"
            </p>
            <SecretHistoryPanel scope=TEAM.to_string() environment key />
        </section>
    }
}

/// The version a `rollback:N` dialog names, if it is one of the history's earlier versions.
fn rollback_target(dialog: Option<String>, history: &SecretHistory) -> Option<VersionInfo> {
    let version: i64 = dialog?.strip_prefix("rollback:")?.parse().ok()?;
    history
        .versions
        .iter()
        .find(|info| info.version == Version(version) && info.version != history.current)
        .cloned()
}

#[component]
fn SecretHistoryPanel(
    #[prop(into)] scope: Signal<String>,
    #[prop(into)] environment: Signal<Option<String>>,
    #[prop(into)] key: Signal<String>,
) -> impl IntoView {
    let rollback = ServerAction::<RollbackSecret>::new();
    let changes = RwSignal::new(0_u32);
    count_successes(rollback.value(), changes);
    let data = Resource::new(
        move || (scope.get(), environment.get(), key.get(), changes.get()),
        |(scope, environment, key, _)| secret_versions(scope, environment, key),
    );
    let status = announce_successes([rollback.value()]);
    view! {
        <Title text=move || format!("History of {}", key.get()) />
        {status}
        <Transition fallback=|| {
            view! { <p class="muted">"Loading the history…"</p> }
        }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <HistoryTable view scope rollback /> }.into_any(),
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

#[component]
fn HistoryTable(
    view: HistoryView,
    scope: Signal<String>,
    rollback: ServerAction<RollbackSecret>,
) -> impl IntoView {
    let HistoryView { can_manage, now, environment, history } = view;
    let scope_name = scope.get_untracked();
    let back = match scope_name.as_str() {
        TEAM => team_secrets_href(&environment),
        slug => format!("/projects/{slug}/{environment}"),
    };
    let place = match (scope_name.as_str(), environment.as_str()) {
        (TEAM, TEAM_ENVIRONMENT) => "the team secrets for every environment".to_string(),
        (TEAM, name) => format!("the team secrets for {name}"),
        (_, name) => name.to_string(),
    };
    let current = history.current;
    let key = history.key.clone();
    let rows = history
        .versions
        .iter()
        .map(|info| {
            let is_current = info.version == current;
            let roll_back = (can_manage && !is_current).then(|| {
                let href = dialog_href(Some(&format!("rollback:{}", info.version)));
                view! {
                    <a
                        class="button small secondary"
                        href=href
                        aria-label=format!("Roll back {key} to version {}", info.version)
                    >
                        "Roll back"
                    </a>
                }
            });
            view! {
                <tr>
                    <td data-label="Version">
                        <span class="mono">{format!("v{}", info.version)}</span>
                        {is_current.then(|| view! { <span class="badge info">"Current"</span> })}
                    </td>
                    <td data-label="When">
                        <Timestamp at=info.at now />
                    </td>
                    <td data-label="By">{info.by.clone()}</td>
                    <td data-label="What changed">{change_text(info)}</td>
                    <td class="actions">{roll_back}</td>
                </tr>
            }
        })
        .collect_view();
    let dialog = open_dialog();
    let stored = StoredValue::new(history);
    let target =
        Memo::new(move |_| stored.with_value(|history| rollback_target(dialog.get(), history)));
    let subject = StoredValue::new((scope_name, environment.clone(), key.clone(), current));
    view! {
        <h2>"History of " <code class="secret-key">{key.clone()}</code> " in " {place.clone()}</h2>
        <p class="muted">
            "Every version of this secret, the newest first. Values are never shown: a rollback writes a new version with an earlier version's value and description, and the history keeps every version. Deleting the secret deletes its history."
        </p>
        <p>
            <a href=back>"Back to the secrets"</a>
        </p>
        <div class="table-scroll">
            <table class="data-table history-table">
                <thead>
                    <tr>
                        <th scope="col">"Version"</th>
                        <th scope="col">"When"</th>
                        <th scope="col">"By"</th>
                        <th scope="col">"What changed"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {can_manage
            .then(|| {
                view! {
                    <ConfirmDialog
                        item=target
                        title=|info: &VersionInfo| format!("Roll back to version {}?", info.version)
                        id="rollback-secret"
                        action=rollback
                        confirm="Roll back"
                        message=move |info: &VersionInfo| {
                            let (_, _, key, current) = subject.get_value();
                            view! {
                                "This makes the value and description of version "
                                {info.version.to_string()}
                                " of "
                                <code>{key}</code>
                                {format!(
                                    " current again as version {}. Programs get that value from their next read; the history keeps every version.",
                                    current.next(),
                                )}
                            }
                        }
                        fields=move |info: &VersionInfo| {
                            let (scope, environment, key, current) = subject.get_value();
                            view! {
                                <input type="hidden" name="scope" value=scope />
                                <input type="hidden" name="environment" value=environment />
                                <input type="hidden" name="key" value=key />
                                <input type="hidden" name="version" value=current.to_string() />
                                <input type="hidden" name="to" value=info.version.to_string() />
                            }
                        }
                    />
                }
            })}
    }
}

/// "value", "rolled back to v3", …
fn change_text(info: &VersionInfo) -> String {
    match (info.change, info.restored_from) {
        (VersionChange::RolledBack, Some(from)) => format!("rolled back to v{from}"),
        (change, _) => change.label().to_string(),
    }
}
