//! The secrets table, for a project or for the team, with its Add, Edit and Delete dialogs
//! (`dialogs.rs`) and server functions (`rpc.rs`). Values go in and never come out: nothing here
//! returns or renders one.
use leptos::prelude::*;
use leptos_router::{components::Form, hooks::use_query_map};

pub use super::rpc::TEAM;
use super::{
    dialogs::{AddSecretDialog, DeleteSecretDialog, EditSecretDialog},
    rpc::{CreateSecret, DeleteSecret, SecretRow, SecretsView, UpdateSecret, list_secrets},
};
use crate::{
    components::{Timestamp, announce_successes, count_successes, dialog_href, page_error},
    environments::{EnvironmentSwitcher, TEAM_ENVIRONMENT},
    time::Millis,
};

/// Settings → Team secrets: the team's secrets for every environment; those for the
/// environments of one name are at `{TEAM_SECRETS_URL}/{name}`.
pub const TEAM_SECRETS_URL: &str = "/settings/team-secrets";

/// The page of the team's secrets for `environment` (`*`: for every environment).
pub fn team_secrets_href(environment: &str) -> String {
    match environment {
        TEAM_ENVIRONMENT => TEAM_SECRETS_URL.to_string(),
        name => format!("{TEAM_SECRETS_URL}/{name}"),
    }
}

/// The History page's URL for `key` of `scope` in `environment`.
pub fn history_href(scope: &str, environment: &str, key: &str) -> String {
    match scope {
        TEAM => match environment {
            TEAM_ENVIRONMENT => format!("{}/history/{key}", team_secrets_href(TEAM_ENVIRONMENT)),
            name => format!("{}/history/{key}", team_secrets_href(name)),
        },
        slug => format!("/projects/{slug}/{environment}/history/{key}"),
    }
}

/// The secrets of `scope` (a project's slug, or [`TEAM`]) in `environment` (none: the project's
/// first) with everything people do to them.
#[component]
pub fn SecretsPanel(
    #[prop(into)] scope: Signal<String>,
    #[prop(into, optional)] environment: Signal<Option<String>>,
) -> impl IntoView {
    let create = ServerAction::<CreateSecret>::new();
    let update = ServerAction::<UpdateSecret>::new();
    let delete = ServerAction::<DeleteSecret>::new();
    let changes = RwSignal::new(0_u32);
    count_successes(create.value(), changes);
    count_successes(update.value(), changes);
    count_successes(delete.value(), changes);
    let data = Resource::new(
        move || (scope.get(), environment.get(), changes.get()),
        |(scope, environment, _)| list_secrets(scope, environment),
    );
    let status = announce_successes([create.value(), update.value(), delete.value()]);
    view! {
        {status}
        <Transition fallback=|| {
            view! { <p class="muted">"Loading secrets…"</p> }
        }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        view! { <SecretsTable view scope create update delete /> }.into_any()
                    }
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

#[component]
fn SecretsTable(
    view: SecretsView,
    scope: Signal<String>,
    create: ServerAction<CreateSecret>,
    update: ServerAction<UpdateSecret>,
    delete: ServerAction<DeleteSecret>,
) -> impl IntoView {
    let query = use_query_map();
    let filter = RwSignal::new(query.read_untracked().get("q").unwrap_or_default());
    let SecretsView { can_manage, now, environment, environments, rows, missing_required } = view;
    let is_team = move || scope.get() == TEAM;
    // A project's secret may be copied to its other environments (on the Compare tab).
    let copy_from = (scope.get_untracked() != TEAM && environments.len() > 1)
        .then(|| format!("/projects/{}/compare?from={environment}&copy=", scope.get_untracked()));
    let switcher = if scope.get_untracked() == TEAM {
        let base = TEAM_SECRETS_URL.to_string();
        view! { <EnvironmentSwitcher base environments current=environment.clone() suffix="" every=true /> }
        .into_any()
    } else if environments.is_empty() {
        ().into_any()
    } else {
        let base = format!("/projects/{}", scope.get_untracked());
        view! { <EnvironmentSwitcher base environments current=environment.clone() suffix="" /> }
            .into_any()
    };
    // Each of the scope's own secrets has a History page: its URL without the key.
    let history_prefix = history_href(&scope.get_untracked(), &environment, "");
    let environment = Signal::stored(environment);
    let rows = StoredValue::new(rows);
    let visible = move || {
        let needle = filter.get().trim().to_lowercase();
        rows.get_value()
            .into_iter()
            .filter(|row| {
                needle.is_empty()
                    || row.meta.key.to_lowercase().contains(&needle)
                    || row
                        .meta
                        .description
                        .as_deref()
                        .unwrap_or("")
                        .to_lowercase()
                        .contains(&needle)
            })
            .collect::<Vec<_>>()
    };
    let empty = rows.with_value(Vec::is_empty);
    let warnings = missing_required
        .into_iter()
        .map(|key| {
            let href = dialog_href(Some(&format!("add:{key}")));
            view! {
                <div class="notice warn" role="alert">
                    <span>{format!("Required secret {key} is not set")}</span>
                    {can_manage
                        .then(|| {
                            view! {
                                <a class="button small" href=href aria-label=format!("Add {key}")>
                                    "Add Secret"
                                </a>
                            }
                        })}
                </div>
            }
        })
        .collect_view();
    view! {
        {switcher}
        {warnings}
        <div class="toolbar">
            <Form method="GET" action="" attr:class="filter" attr:role="search">
                <label class="visually-hidden" for="secret-filter">
                    "Filter secrets"
                </label>
                <input
                    id="secret-filter"
                    type="search"
                    name="q"
                    placeholder="Filter by key or description"
                    prop:value=move || filter.get()
                    value=filter.get_untracked()
                    on:input=move |event| filter.set(event_target_value(&event))
                />
            </Form>
            {can_manage
                .then(|| {
                    view! {
                        <a class="button" href=dialog_href(Some("add"))>
                            "Add Secret"
                        </a>
                    }
                })}
        </div>
        // Both are always rendered and one is hidden: switching between two different views
        // here when the last secret was deleted left the stale table on screen.
        <div class="empty-state" hidden=!empty>
            <h2>"No secrets yet"</h2>
            <p>
                "A secret is a value your programs need but that must not live in code: an API key, "
                "a bot token, a webhook URL or a database connection string. Sealbox encrypts it, "
                "and after you save it nobody can read it back here — programs receive it at run time."
            </p>
            {can_manage
                .then(|| {
                    view! {
                        <a class="button" href=dialog_href(Some("add"))>
                            "Add Secret"
                        </a>
                    }
                })}
        </div>
        <table class="data-table secrets-table" hidden=empty>
            <thead>
                <tr>
                    <th scope="col">"Key"</th>
                    <th scope="col">"Description"</th>
                    <th scope="col">"Type"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Last updated"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                <For
                    each=visible
                    key=|row| (row.meta.key.clone(), row.meta.version, row.team.clone())
                    let:row
                >
                    <SecretTableRow
                        row
                        now
                        can_manage
                        copy_from=copy_from.clone()
                        history_prefix=history_prefix.clone()
                        in_team_page=is_team()
                    />
                </For>
            </tbody>
        </table>
        <p class="muted" role="status">
            {move || {
                let shown = visible().len();
                let all = rows.with_value(Vec::len);
                if shown == all { String::new() } else { format!("{shown} of {all} secrets match") }
            }}
        </p>
        {can_manage
            .then(|| {
                view! {
                    <AddSecretDialog scope environment create />
                    <EditSecretDialog scope environment update rows />
                    <DeleteSecretDialog scope environment delete rows />
                }
            })}
    }
}

#[component]
fn SecretTableRow(
    row: SecretRow,
    now: Millis,
    can_manage: bool,
    /// The Compare tab's copy form, to which the key is added; none without another
    /// environment to copy to.
    copy_from: Option<String>,
    /// The History page's URL without the key.
    history_prefix: String,
    in_team_page: bool,
) -> impl IntoView {
    let SecretRow { meta, team, overrides_team, overdue } = row;
    let key = meta.key.clone();
    // Team secrets are changed on their own page, not from inside a project.
    let editable = can_manage && team.is_none();
    let team_badge = team.as_deref().map(|from| {
        let (label, title) = match (from, in_team_page) {
            (TEAM_ENVIRONMENT, true) => (
                "All environments".to_string(),
                "The team secret for every environment".to_string(),
            ),
            (TEAM_ENVIRONMENT, false) => {
                ("Team".to_string(), "A team secret for every environment".to_string())
            }
            (name, _) => {
                (format!("Team · {name}"), format!("A team secret for {name} environments"))
            }
        };
        view! {
            <span class="badge info" title=title>
                {label}
            </span>
        }
    });
    let overrides_badge = overrides_team.as_deref().map(|from| {
        let (label, title) = match (from, in_team_page) {
            (TEAM_ENVIRONMENT, true) => (
                "Overrides all environments".to_string(),
                "Used here instead of the team secret for every environment".to_string(),
            ),
            (TEAM_ENVIRONMENT, false) => (
                "Overrides team secret".to_string(),
                "This value is used instead of the team secret".to_string(),
            ),
            (name, _) => (
                format!("Overrides team · {name}"),
                format!("This value is used instead of the team secret for {name}"),
            ),
        };
        view! {
            <span class="badge subtle" title=title>
                {label}
            </span>
        }
    });
    // Everyone who sees a secret of this scope may read its history.
    let history = team.is_none().then(|| {
        view! {
            <a
                class="button small secondary"
                href=format!("{history_prefix}{key}")
                aria-label=format!("History of {key}")
            >
                "History"
            </a>
        }
    });
    let managed = team.as_deref().filter(|_| can_manage).map(|from| {
        let href = team_secrets_href(from);
        view! {
            <a class="muted" href=href>
                "Managed in Team secrets"
            </a>
        }
    });
    view! {
        <tr>
            <td>
                <code class="secret-key">{meta.key.clone()}</code>
                {team_badge}
                {overrides_badge}
                {overdue.then(|| view! { <span class="badge warn">"Overdue for rotation"</span> })}
            </td>
            <td>{meta.description.clone().unwrap_or_default()}</td>
            <td>{meta.secret_type.label()}</td>
            <td>
                <Timestamp at=meta.created_at now />
            </td>
            <td>
                <Timestamp at=meta.updated_at now />
            </td>
            <td class="actions">
                {history}
                {editable
                    .then(|| {
                        view! {
                            <a
                                class="button small secondary"
                                href=dialog_href(Some(&format!("edit:{key}")))
                                aria-label=format!("Edit {key}")
                            >
                                "Edit"
                            </a>
                            {copy_from
                                .map(|href| {
                                    view! {
                                        <a
                                            class="button small secondary"
                                            href=format!("{href}{key}")
                                            aria-label=format!("Copy {key} to another environment")
                                        >
                                            "Copy"
                                        </a>
                                    }
                                })}
                            <a
                                class="button small secondary danger"
                                href=dialog_href(Some(&format!("delete:{key}")))
                                aria-label=format!("Delete {key}")
                            >
                                "Delete"
                            </a>
                        }
                    })} {managed}
            </td>
        </tr>
    }
}
