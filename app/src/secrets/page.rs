//! The secrets table with its Add, Edit and Delete dialogs, for a project or for the team. Values
//! go in and never come out: nothing here returns or renders one.
use leptos::prelude::*;
use leptos_router::{components::Form, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use super::{SecretMeta, domain::SecretType};
use crate::{
    components::{
        ConfirmDialog, ReturnHere, Timestamp, UrlDialog, announce_successes, count_successes,
        dialog_error, dialog_href, field_error, form_error, open_dialog, page_error, typed,
    },
    error::AppError,
};

/// The scope name of the team secrets (projects' slugs never start with `_`).
pub const TEAM: &str = "_team";

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRow {
    pub meta: SecretMeta,
    /// A team secret shown in a project (managed under Settings → Team secrets).
    pub team: bool,
    /// A project secret that takes the place of a team secret with the same key.
    pub overrides_team: bool,
    /// Older than the project's maximum secret age.
    pub overdue: bool,
}

/// Everything the secrets table shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsView {
    pub can_manage: bool,
    pub now: i64,
    pub rows: Vec<SecretRow>,
    /// Required keys set neither in the project nor for the team.
    pub missing_required: Vec<String>,
}

/// The table's data; anyone signed in.
#[server(prefix = "/rpc", endpoint = "list_secrets")]
pub async fn list_secrets(scope: String) -> Result<SecretsView, AppError> {
    crate::error::respond(ssr::list_secrets(scope).await)
}

/// Owners and admins: adds a secret. An empty type takes the one the value suggests.
#[server(prefix = "/rpc", endpoint = "create_secret")]
pub async fn create_secret(
    scope: String,
    key: String,
    value: String,
    description: String,
    secret_type: String,
) -> Result<String, AppError> {
    crate::error::respond(ssr::create_secret(scope, key, value, description, secret_type).await)
}

/// Owners and admins: a new value (empty keeps the current one) and/or description.
#[server(prefix = "/rpc", endpoint = "update_secret")]
pub async fn update_secret(
    scope: String,
    key: String,
    version: i64,
    value: String,
    description: String,
) -> Result<String, AppError> {
    crate::error::respond(ssr::update_secret(scope, key, version, value, description).await)
}

/// Owners and admins: deletes a secret and its history, if nobody changed it since `version`.
#[server(prefix = "/rpc", endpoint = "delete_secret")]
pub async fn delete_secret(scope: String, key: String, version: i64) -> Result<String, AppError> {
    crate::error::respond(ssr::delete_secret(scope, key, version).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use std::collections::BTreeMap;

    use super::{SecretRow, SecretsView, TEAM};
    use crate::{
        accounts::auth::ssr::{manager, signed_in},
        error::AppError,
        projects::ProjectSlug,
        secrets::{
            domain::{Description, SecretKey, SecretType, SecretValue},
            service::{NewSecret, Scope, SecretUpdate},
        },
        store::now_millis,
    };

    const DAY_MS: i64 = 24 * 60 * 60 * 1000;

    fn scope(text: &str) -> Result<Scope, AppError> {
        if text == TEAM {
            return Ok(Scope::Team);
        }
        let slug = ProjectSlug::parse(text)
            .map_err(|_| AppError::NotFound(format!("There is no project at /projects/{text}")))?;
        Ok(Scope::Project(slug))
    }

    pub async fn list_secrets(scope_text: String) -> Result<SecretsView, AppError> {
        let caller = signed_in().await?;
        let scope = scope(&scope_text)?;
        let vault = &caller.state.vault;
        let now = now_millis();
        let own = vault.list_secrets(&scope).await?;
        let (team, settings) = match &scope {
            Scope::Team => (Vec::new(), None),
            Scope::Project(slug) => (
                vault.list_secrets(&Scope::Team).await?,
                Some(caller.state.projects.settings(slug).await?),
            ),
        };
        let max_age_ms = settings.as_ref().and_then(|s| s.max_secret_age_days).map(|d| d * DAY_MS);
        let overdue = |meta: &crate::secrets::SecretMeta| {
            max_age_ms.is_some_and(|max| now - meta.updated_at > max)
        };
        let team_keys: BTreeMap<String, ()> =
            team.iter().map(|meta| (meta.key.clone(), ())).collect();
        let own_keys: BTreeMap<String, ()> =
            own.iter().map(|meta| (meta.key.clone(), ())).collect();
        let mut rows: Vec<SecretRow> = own
            .into_iter()
            .map(|meta| SecretRow {
                team: false,
                overrides_team: team_keys.contains_key(&meta.key),
                overdue: overdue(&meta),
                meta,
            })
            .collect();
        rows.extend(team.into_iter().filter(|meta| !own_keys.contains_key(&meta.key)).map(
            |meta| SecretRow { team: true, overrides_team: false, overdue: overdue(&meta), meta },
        ));
        rows.sort_by(|a, b| a.meta.key.cmp(&b.meta.key));
        let missing_required = settings
            .map(|settings| {
                settings
                    .required
                    .into_iter()
                    .filter(|key| !rows.iter().any(|row| &row.meta.key == key))
                    .collect()
            })
            .unwrap_or_default();
        Ok(SecretsView { can_manage: caller.user.role.can_manage(), now, rows, missing_required })
    }

    pub async fn create_secret(
        scope_text: String,
        key: String,
        value: String,
        description: String,
        secret_type: String,
    ) -> Result<String, AppError> {
        crate::bounds::gate(&crate::bounds::SecretInput {
            scope: &scope_text,
            key: &key,
            value: &value,
            description: &description,
            secret_type: &secret_type,
        })?;
        let caller = manager().await?;
        let scope = scope(&scope_text)?;
        let secret = NewSecret {
            key: SecretKey::parse(&key)?,
            value: SecretValue::new(value)?,
            description: Description::parse(Some(&description))?,
            secret_type: match secret_type.trim() {
                "" => None,
                text => Some(SecretType::parse(text)?),
            },
        };
        let meta = caller.state.vault.create_secret(&caller.actor, &scope, secret).await?;
        Ok(format!("Secret {} created", meta.key))
    }

    pub async fn update_secret(
        scope_text: String,
        key: String,
        version: i64,
        value: String,
        description: String,
    ) -> Result<String, AppError> {
        crate::bounds::gate(&crate::bounds::SecretInput {
            value: &value,
            description: &description,
            ..crate::bounds::SecretInput::named(&scope_text, &key)
        })?;
        let caller = manager().await?;
        let scope = scope(&scope_text)?;
        let key = SecretKey::parse(&key)?;
        let update = SecretUpdate {
            expected_version: version,
            value: if value.is_empty() { None } else { Some(SecretValue::new(value)?) },
            description: Description::parse(Some(&description))?,
        };
        let meta = caller.state.vault.update_secret(&caller.actor, &scope, &key, update).await?;
        Ok(format!("Secret {} updated", meta.key))
    }

    pub async fn delete_secret(
        scope_text: String,
        key: String,
        version: i64,
    ) -> Result<String, AppError> {
        crate::bounds::gate(&crate::bounds::SecretInput::named(&scope_text, &key))?;
        let caller = manager().await?;
        let scope = scope(&scope_text)?;
        let key = SecretKey::existing(&key)?;
        caller.state.vault.delete_secret(&caller.actor, &scope, &key, Some(version)).await?;
        Ok(format!("Secret {key} deleted"))
    }
}

/// The secrets of `scope` (a project's slug, or [`TEAM`]) with everything people do to them.
#[component]
pub fn SecretsPanel(#[prop(into)] scope: Signal<String>) -> impl IntoView {
    let create = ServerAction::<CreateSecret>::new();
    let update = ServerAction::<UpdateSecret>::new();
    let delete = ServerAction::<DeleteSecret>::new();
    let changes = RwSignal::new(0_u32);
    count_successes(create.value(), changes);
    count_successes(update.value(), changes);
    count_successes(delete.value(), changes);
    let data =
        Resource::new(move || (scope.get(), changes.get()), |(scope, _)| list_secrets(scope));
    let status = announce_successes([create.value(), update.value(), delete.value()]);
    view! {
        {status}
        <Transition fallback=|| view! { <p class="muted">"Loading secrets…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        view! { <SecretsTable view scope create update delete/> }.into_any()
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
    let SecretsView { can_manage, now, rows, missing_required } = view;
    let is_team = move || scope.get() == TEAM;
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
                    {can_manage.then(|| view! {
                        <a class="button small" href=href aria-label=format!("Add {key}")>"Add Secret"</a>
                    })}
                </div>
            }
        })
        .collect_view();
    view! {
        {warnings}
        <div class="toolbar">
            <Form method="GET" action="" attr:class="filter" attr:role="search">
                <label class="visually-hidden" for="secret-filter">"Filter secrets"</label>
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
            {can_manage.then(|| view! {
                <a class="button" href=dialog_href(Some("add"))>"Add Secret"</a>
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
            {can_manage.then(|| view! {
                <a class="button" href=dialog_href(Some("add"))>"Add Secret"</a>
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
                <For each=visible key=|row| (row.meta.key.clone(), row.meta.version, row.team) let:row>
                    <SecretTableRow row now can_manage in_team_page=is_team()/>
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
        {can_manage.then(|| view! {
            <AddSecretDialog scope create/>
            <EditSecretDialog scope update rows/>
            <DeleteSecretDialog scope delete rows/>
        })}
    }
}

#[component]
fn SecretTableRow(row: SecretRow, now: i64, can_manage: bool, in_team_page: bool) -> impl IntoView {
    let SecretRow { meta, team, overrides_team, overdue } = row;
    let key = meta.key.clone();
    // Team secrets are changed on their own page, not from inside a project.
    let editable = can_manage && !team;
    view! {
        <tr>
            <td>
                <code class="secret-key">{meta.key.clone()}</code>
                {(team && !in_team_page).then(|| view! { <span class="badge info">"Team"</span> })}
                {overrides_team.then(|| view! {
                    <span class="badge subtle" title="This project's value is used instead of the team secret">
                        "Overrides team secret"
                    </span>
                })}
                {overdue.then(|| view! { <span class="badge warn">"Overdue for rotation"</span> })}
            </td>
            <td>{meta.description.clone().unwrap_or_default()}</td>
            <td>{meta.secret_type.label()}</td>
            <td><Timestamp at=meta.created_at now/></td>
            <td><Timestamp at=meta.updated_at now/></td>
            <td class="actions">
                {editable.then(|| view! {
                    <a class="button small secondary" href=dialog_href(Some(&format!("edit:{key}"))) aria-label=format!("Edit {key}")>
                        "Edit"
                    </a>
                    <a class="button small secondary danger" href=dialog_href(Some(&format!("delete:{key}"))) aria-label=format!("Delete {key}")>
                        "Delete"
                    </a>
                })}
                {(team && !in_team_page && can_manage).then(|| view! {
                    <a class="muted" href="/settings/team-secrets">"Managed in Team secrets"</a>
                })}
            </td>
        </tr>
    }
}

/// `add` or `add:KEY` (a required secret's key filled in).
fn add_dialog_key(dialog: Option<String>) -> Option<String> {
    match dialog.as_deref() {
        Some("add") => Some(String::new()),
        Some(other) => other.strip_prefix("add:").map(str::to_string),
        None => None,
    }
}

#[component]
fn AddSecretDialog(scope: Signal<String>, create: ServerAction<CreateSecret>) -> impl IntoView {
    let dialog = open_dialog();
    let prefilled = Memo::new(move |_| add_dialog_key(dialog.get()));
    let open = Signal::from(Memo::new(move |_| prefilled.get().is_some()));
    let error = dialog_error(open, create.value());
    let shown = RwSignal::new(false);
    let value = RwSignal::new(String::new());
    let suggested = Memo::new(move |_| {
        let value = value.get();
        (!value.is_empty()).then(|| SecretType::suggest(&value))
    });
    // Forget what was typed once it is saved.
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            value.set(String::new());
            shown.set(false);
        }
    });
    let title = if scope.get_untracked() == TEAM { "Add team secret" } else { "Add Secret" };
    let (typed_key, typed_description, typed_type) =
        (typed("key"), typed("description"), typed("secret_type"));
    let chosen_type = Memo::new(move |_| {
        typed_type.get().and_then(|kind| SecretType::parse(&kind).ok()).or_else(|| suggested.get())
    });
    view! {
        <UrlDialog open title=title.to_string() id="add-secret">
            <ActionForm action=create attr:novalidate=true attr:class="stack">
                <ReturnHere/>
                <input type="hidden" name="scope" value=move || scope.get()/>
                <label for="add-key">"Secret Key"</label>
                <input
                    id="add-key"
                    name="key"
                    class="mono"
                    required
                    autocomplete="off"
                    spellcheck="false"
                    placeholder="DISCORD_BOT_TOKEN"
                    value=move || typed_key.get().or_else(|| prefilled.get()).unwrap_or_default()
                    aria-describedby="add-key-error"
                />
                {field_error(error, "key", "add-key-error")}
                <label for="add-value">"Secret Value"</label>
                <div class="with-buttons">
                    <input
                        id="add-value"
                        name="value"
                        type=move || if shown.get() { "text" } else { "password" }
                        required
                        autocomplete="off"
                        spellcheck="false"
                        prop:value=move || value.get()
                        on:input=move |event| value.set(event_target_value(&event))
                        aria-describedby="add-value-error"
                    />
                    <button
                        type="button"
                        class="secondary"
                        aria-pressed=move || shown.get().to_string()
                        on:click=move |_| shown.update(|shown| *shown = !*shown)
                    >
                        {move || if shown.get() { "Hide" } else { "Show" }}
                    </button>
                    <button type="button" class="secondary" on:click=move |_| {
                        if let Some(generated) = generate_value() {
                            value.set(generated);
                            shown.set(true);
                        }
                    }>
                        "Generate"
                    </button>
                </div>
                {field_error(error, "value", "add-value-error")}
                <label for="add-description">"Description"</label>
                <input
                    id="add-description"
                    name="description"
                    autocomplete="off"
                    value=move || typed_description.get().unwrap_or_default()
                    aria-describedby="add-description-error"
                />
                {field_error(error, "description", "add-description-error")}
                <label for="add-type">"Type"</label>
                <select id="add-type" name="secret_type">
                    <option value="" selected=move || chosen_type.get().is_none()>"Detect from the value"</option>
                    {SecretType::ALL.into_iter().map(|kind| view! {
                        <option value=kind.as_str() selected=move || chosen_type.get() == Some(kind)>
                            {kind.label()}
                        </option>
                    }).collect_view()}
                </select>
                {field_error(error, "type", "add-type-error")}
                {form_error(error)}
                <div class="dialog-buttons">
                    <button type="submit" class="primary" disabled=move || create.pending().get()>
                        "Create Secret"
                    </button>
                </div>
            </ActionForm>
        </UrlDialog>
    }
}

/// The key of the row an `edit:KEY` or `delete:KEY` dialog is about, if it exists.
fn row_for(
    dialog: Option<String>,
    prefix: &str,
    rows: StoredValue<Vec<SecretRow>>,
) -> Option<SecretRow> {
    let key = dialog?.strip_prefix(prefix)?.to_string();
    rows.with_value(|rows| rows.iter().find(|row| row.meta.key == key && !row.team).cloned())
}

#[component]
fn EditSecretDialog(
    scope: Signal<String>,
    update: ServerAction<UpdateSecret>,
    rows: StoredValue<Vec<SecretRow>>,
) -> impl IntoView {
    let dialog = open_dialog();
    let row = Memo::new(move |_| row_for(dialog.get(), "edit:", rows));
    let open = Signal::from(Memo::new(move |_| row.get().is_some()));
    let error = dialog_error(open, update.value());
    let title = Signal::derive(move || {
        row.get().map(|row| format!("Edit {}", row.meta.key)).unwrap_or_default()
    });
    view! {
        <UrlDialog open title id="edit-secret">
            {move || row.get().map(|row| view! {
                <ActionForm action=update attr:novalidate=true attr:class="stack">
                    <ReturnHere/>
                    <input type="hidden" name="scope" value=move || scope.get()/>
                    <input type="hidden" name="version" value=row.meta.version/>
                    <label for="edit-key">"Secret Key"</label>
                    <input id="edit-key" name="key" class="mono" readonly value=row.meta.key.clone()/>
                    <label for="edit-value">"New Value"</label>
                    <input
                        id="edit-value"
                        name="value"
                        type="password"
                        autocomplete="off"
                        aria-describedby="edit-value-help edit-value-error"
                    />
                    <p class="muted" id="edit-value-help">"Leave empty to keep the current value."</p>
                    {field_error(error, "value", "edit-value-error")}
                    <label for="edit-description">"Description"</label>
                    <input
                        id="edit-description"
                        name="description"
                        autocomplete="off"
                        value=typed("description")
                            .get_untracked()
                            .or(row.meta.description.clone())
                            .unwrap_or_default()
                        aria-describedby="edit-description-error"
                    />
                    {field_error(error, "description", "edit-description-error")}
                    {form_error(error)}
                    <div class="dialog-buttons">
                        <button type="submit" class="primary" disabled=move || update.pending().get()>
                            "Update Secret"
                        </button>
                    </div>
                </ActionForm>
            })}
        </UrlDialog>
    }
}

#[component]
fn DeleteSecretDialog(
    scope: Signal<String>,
    delete: ServerAction<DeleteSecret>,
    rows: StoredValue<Vec<SecretRow>>,
) -> impl IntoView {
    let dialog = open_dialog();
    let row = Memo::new(move |_| row_for(dialog.get(), "delete:", rows));
    view! {
        <ConfirmDialog
            item=row
            title=|row: &SecretRow| format!("Delete {}?", row.meta.key)
            id="delete-secret"
            action=delete
            confirm="Delete"
            message=|row: &SecretRow| view! {
                "This permanently deletes "<code>{row.meta.key.clone()}</code>
                " and all its earlier values. Programs that read it will no longer get it. "
                "This cannot be undone."
            }
            fields=move |row: &SecretRow| view! {
                <input type="hidden" name="scope" value=move || scope.get()/>
                <input type="hidden" name="key" value=row.meta.key.clone()/>
                <input type="hidden" name="version" value=row.meta.version/>
            }
        />
    }
}

/// A strong random value: 32 characters from 62 (about 190 bits), made in the browser. `None`
/// when the browser offers no cryptographic random numbers.
fn generate_value() -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut value = String::with_capacity(32);
    let mut bytes = [0u8; 64];
    // 248 = 4 × 62: bytes at or above it are skipped so every character is equally likely.
    while value.len() < 32 {
        if !random_bytes(&mut bytes) {
            return None;
        }
        for byte in bytes.iter().filter(|b| **b < 248) {
            if value.len() < 32 {
                value.push(char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
            }
        }
    }
    Some(value)
}

#[cfg(feature = "hydrate")]
fn random_bytes(bytes: &mut [u8]) -> bool {
    web_sys::window()
        .and_then(|window| window.crypto().ok())
        .is_some_and(|crypto| crypto.get_random_values_with_u8_array(bytes).is_ok())
}

/// Values are generated in the browser only (the button does nothing before hydration).
#[cfg(not(feature = "hydrate"))]
fn random_bytes(_bytes: &mut [u8]) -> bool {
    false
}
