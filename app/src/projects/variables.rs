//! The Variables tab: plain environment variables (not secret: values are shown), audited like
//! secrets, and "Export .env" of those marked for export.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    Variable,
    project::{use_environment, use_slug},
};
use crate::{
    components::{
        ConfirmDialog, ReturnHere, Timestamp, UrlDialog, announce_successes, count_successes,
        dialog_error, dialog_href, field_error, form_error, open_dialog, page_error, typed,
    },
    environments::EnvironmentSwitcher,
    error::AppError,
    time::Millis,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariablesView {
    pub can_manage: bool,
    pub now: Millis,
    /// The environment shown, and the project's environments for the switcher.
    pub environment: String,
    pub environments: Vec<String>,
    pub variables: Vec<Variable>,
}

/// An environment's variables (none named: the project's first); anyone signed in.
#[server(prefix = "/rpc", endpoint = "list_variables")]
pub async fn list_variables(
    slug: String,
    environment: Option<String>,
) -> Result<VariablesView, AppError> {
    crate::error::respond(ssr::list_variables(slug, environment).await)
}

/// Owners and admins: adds a variable.
#[server(prefix = "/rpc", endpoint = "create_variable")]
pub async fn create_variable(
    slug: String,
    environment: Option<String>,
    key: String,
    value: String,
    include_in_export: Option<String>,
) -> Result<String, AppError> {
    let place = ssr::Place { slug, environment, key };
    crate::error::respond(ssr::save_variable(place, value, include_in_export, true).await)
}

/// Owners and admins: changes a variable's value or export flag.
#[server(prefix = "/rpc", endpoint = "update_variable")]
pub async fn update_variable(
    slug: String,
    environment: Option<String>,
    key: String,
    value: String,
    include_in_export: Option<String>,
) -> Result<String, AppError> {
    let place = ssr::Place { slug, environment, key };
    crate::error::respond(ssr::save_variable(place, value, include_in_export, false).await)
}

/// Owners and admins: deletes a variable.
#[server(prefix = "/rpc", endpoint = "delete_variable")]
pub async fn delete_variable(
    slug: String,
    environment: Option<String>,
    key: String,
) -> Result<String, AppError> {
    crate::error::respond(ssr::delete_variable(ssr::Place { slug, environment, key }).await)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use axum::{
        extract::{Path, State},
        http::{HeaderValue, StatusCode, header},
        response::{IntoResponse, Response},
    };
    use tower_sessions::Session;

    use super::VariablesView;
    use crate::{
        accounts::{
            auth::ssr::{manager, signed_in},
            session,
        },
        environments::EnvironmentName,
        error::AppError,
        projects::{ProjectSlug, VariableValue, project::ssr::slug, variable_key},
        state::AppState,
        time::Millis,
    };

    /// Which variable a call names: the project, the environment (none: the first) and the key.
    pub struct Place {
        pub slug: String,
        pub environment: Option<String>,
        pub key: String,
    }

    impl Place {
        fn bounds(&self) -> crate::bounds::SecretInput<'_> {
            crate::bounds::SecretInput::named(&self.slug, &self.key)
                .in_environment(self.environment.as_deref().unwrap_or_default())
        }

        async fn resolve(
            &self,
            state: &AppState,
        ) -> Result<(ProjectSlug, EnvironmentName), AppError> {
            let slug = slug(&self.slug)?;
            let environment =
                state.environments.named_or_first(&slug, self.environment.as_deref()).await?;
            Ok((slug, environment))
        }
    }

    pub async fn list_variables(
        slug_text: String,
        environment: Option<String>,
    ) -> Result<VariablesView, AppError> {
        let place = Place { slug: slug_text, environment, key: String::new() };
        crate::bounds::gate(&place.bounds())?;
        let caller = signed_in().await?;
        let (slug, environment) = place.resolve(&caller.state).await?;
        let variables = caller.state.projects.variables(&slug, &environment).await?;
        let environments = caller.state.environments.list(&slug).await?;
        Ok(VariablesView {
            can_manage: caller.user.role.can_manage(),
            now: Millis::now(),
            environment: environment.to_string(),
            environments: environments.into_iter().map(|e| e.name).collect(),
            variables,
        })
    }

    pub async fn save_variable(
        place: Place,
        value: String,
        include_in_export: Option<String>,
        new: bool,
    ) -> Result<String, AppError> {
        crate::bounds::gate(&crate::bounds::SecretInput { value: &value, ..place.bounds() })?;
        let caller = manager().await?;
        let (slug, environment) = place.resolve(&caller.state).await?;
        let key = variable_key(&place.key)?;
        let value = VariableValue::parse(value)?;
        let include = include_in_export.is_some_and(|flag| flag != "false");
        let (projects, actor) = (&caller.state.projects, &caller.actor);
        if new {
            projects.create_variable(actor, &slug, &environment, &key, value, include).await?;
            Ok(format!("Variable {key} created"))
        } else {
            projects.update_variable(actor, &slug, &environment, &key, value, include).await?;
            Ok(format!("Variable {key} updated"))
        }
    }

    pub async fn delete_variable(place: Place) -> Result<String, AppError> {
        crate::bounds::gate(&place.bounds())?;
        let caller = manager().await?;
        let (slug, environment) = place.resolve(&caller.state).await?;
        let key = crate::secrets::domain::SecretKey::existing(&place.key)?;
        caller.state.projects.delete_variable(&caller.actor, &slug, &environment, &key).await?;
        Ok(format!("Variable {key} deleted"))
    }

    /// What an export's URL names: `/projects/{slug}/variables.env` (the first environment) or
    /// `/projects/{slug}/{environment}/variables.env`.
    #[derive(serde::Deserialize)]
    pub struct ExportPath {
        slug: String,
        environment: Option<String>,
    }

    /// `GET /projects/{slug}[/{environment}]/variables.env`: the environment's variables marked
    /// for export, as a download. Never secrets. Anyone signed in (the same people who see the
    /// values on the tab).
    pub async fn export_env(
        State(state): State<AppState>,
        session: Session,
        Path(path): Path<ExportPath>,
    ) -> Response {
        let result = async {
            session::require_user(session::session_user(&session, &state.accounts).await?)?;
            let place =
                Place { slug: path.slug, environment: path.environment, key: String::new() };
            crate::bounds::gate(&place.bounds())?;
            let (slug, environment) = place.resolve(&state).await?;
            let body = state.projects.export_env(&slug, &environment).await?;
            Ok::<_, AppError>((format!("{slug}.{environment}"), body))
        }
        .await;
        match result {
            Ok((name, body)) => {
                let disposition = format!("attachment; filename=\"{name}.env\"");
                let mut response = body.into_response();
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                if let Ok(value) = HeaderValue::from_str(&disposition) {
                    headers.insert(header::CONTENT_DISPOSITION, value);
                }
                response
            }
            Err(error) => {
                let status = StatusCode::from_u16(error.status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, error.to_string()).into_response()
            }
        }
    }
}

#[component]
pub fn VariablesTab() -> impl IntoView {
    let slug = use_slug();
    let environment = use_environment();
    let create = ServerAction::<CreateVariable>::new();
    let update = ServerAction::<UpdateVariable>::new();
    let delete = ServerAction::<DeleteVariable>::new();
    let changes = RwSignal::new(0_u32);
    count_successes(create.value(), changes);
    count_successes(update.value(), changes);
    count_successes(delete.value(), changes);
    let data = Resource::new(
        move || (slug.get(), environment.get(), changes.get()),
        |(slug, environment, _)| list_variables(slug, environment),
    );
    let status = announce_successes([create.value(), update.value(), delete.value()]);
    view! {
        {status}
        <Transition fallback=|| {
            view! { <p class="muted">"Loading variables…"</p> }
        }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        view! { <VariablesTable view slug create update delete /> }.into_any()
                    }
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

#[component]
fn VariablesTable(
    view: VariablesView,
    slug: Signal<String>,
    create: ServerAction<CreateVariable>,
    update: ServerAction<UpdateVariable>,
    delete: ServerAction<DeleteVariable>,
) -> impl IntoView {
    let VariablesView { can_manage, now, environment, environments, variables } = view;
    let base = format!("/projects/{}", slug.get_untracked());
    let export = format!("{base}/{environment}/variables.env");
    let promote = format!("{base}/promote?from={environment}");
    let switcher = view! { <EnvironmentSwitcher base environments current=environment.clone() suffix="/variables" /> };
    let environment = Signal::stored(environment);
    let variables = StoredValue::new(variables);
    let rows = variables
        .get_value()
        .into_iter()
        .map(|variable| {
            let key = variable.key.clone();
            view! {
                <tr>
                    <td>
                        <code>{variable.key.clone()}</code>
                    </td>
                    <td class="variable-value">
                        <code>{variable.value.clone()}</code>
                    </td>
                    <td>{if variable.include_in_export { "Yes" } else { "No" }}</td>
                    <td>
                        <Timestamp at=variable.updated_at now />
                    </td>
                    <td class="actions">
                        {can_manage
                            .then(|| {
                                view! {
                                    <a
                                        class="button small secondary"
                                        href=dialog_href(Some(&format!("edit-variable:{key}")))
                                        aria-label=format!("Edit {key}")
                                    >
                                        "Edit"
                                    </a>
                                    <a
                                        class="button small secondary danger"
                                        href=dialog_href(Some(&format!("delete-variable:{key}")))
                                        aria-label=format!("Delete {key}")
                                    >
                                        "Delete"
                                    </a>
                                }
                            })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    let empty = variables.with_value(Vec::is_empty);
    view! {
        {switcher}
        <div class="toolbar">
            <p class="muted">
                "Plain settings such as LOG_LEVEL or PORT. They are not secret: everyone in the project sees them."
            </p>
            <a class="button secondary" href=export download="">
                "Export .env"
            </a>
            <a class="button secondary" href=promote>
                "Promote…"
            </a>
            {can_manage
                .then(|| {
                    view! {
                        <a class="button" href=dialog_href(Some("add-variable"))>
                            "Add Variable"
                        </a>
                    }
                })}
        </div>
        // Both rendered, one hidden (see the secrets table).
        <p class="empty-state" hidden=!empty>
            "No variables yet."
        </p>
        <table class="data-table" hidden=empty>
            <thead>
                <tr>
                    <th scope="col">"Key"</th>
                    <th scope="col">"Value"</th>
                    <th scope="col">"Include in export"</th>
                    <th scope="col">"Last updated"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        {can_manage
            .then(|| view! { <VariableDialogs slug environment variables create update delete /> })}
    }
}

#[component]
fn VariableDialogs(
    slug: Signal<String>,
    environment: Signal<String>,
    variables: StoredValue<Vec<Variable>>,
    create: ServerAction<CreateVariable>,
    update: ServerAction<UpdateVariable>,
    delete: ServerAction<DeleteVariable>,
) -> impl IntoView {
    let dialog = open_dialog();
    let find = move |prefix: &str| {
        let key = dialog.get()?.strip_prefix(prefix)?.to_string();
        variables.with_value(|all| all.iter().find(|v| v.key == key).cloned())
    };
    let adding = Signal::from(Memo::new(move |_| dialog.get().as_deref() == Some("add-variable")));
    let editing = Memo::new(move |_| find("edit-variable:"));
    let deleting = Memo::new(move |_| find("delete-variable:"));
    let create_error = dialog_error(adding, create.value());
    let editing_open = Signal::from(Memo::new(move |_| editing.get().is_some()));
    let update_error = dialog_error(editing_open, update.value());
    view! {
        <UrlDialog open=adding title="Add Variable".to_string() id="add-variable">
            <ActionForm action=create attr:novalidate=true attr:class="stack">
                <ReturnHere />
                <input type="hidden" name="slug" value=move || slug.get() />
                <input type="hidden" name="environment" value=move || environment.get() />
                <label for="variable-key">"Variable Key"</label>
                <input
                    id="variable-key"
                    name="key"
                    class="mono"
                    required
                    autocomplete="off"
                    value=move || typed("key").get()
                    aria-describedby="variable-key-error"
                />
                {field_error(create_error, "key", "variable-key-error")}
                <label for="variable-value">"Value"</label>
                <textarea
                    id="variable-value"
                    name="value"
                    class="mono"
                    rows="3"
                    aria-describedby="variable-value-error"
                ></textarea>
                {field_error(create_error, "value", "variable-value-error")}
                <label class="checkbox">
                    <input type="checkbox" name="include_in_export" value="true" />
                    "Include in export"
                </label>
                {form_error(create_error)}
                <div class="dialog-buttons">
                    <button type="submit" class="primary">
                        "Create Variable"
                    </button>
                </div>
            </ActionForm>
        </UrlDialog>
        <UrlDialog
            open=Signal::from(Memo::new(move |_| editing.get().is_some()))
            title=Signal::derive(move || {
                editing.get().map(|v| format!("Edit {}", v.key)).unwrap_or_default()
            })
            id="edit-variable"
        >
            {move || {
                editing
                    .get()
                    .map(|variable| {
                        view! {
                            <ActionForm action=update attr:novalidate=true attr:class="stack">
                                <ReturnHere />
                                <input type="hidden" name="slug" value=move || slug.get() />
                                <input
                                    type="hidden"
                                    name="environment"
                                    value=move || environment.get()
                                />
                                <label for="edit-variable-key">"Variable Key"</label>
                                <input
                                    id="edit-variable-key"
                                    name="key"
                                    class="mono"
                                    readonly
                                    value=variable.key.clone()
                                />
                                <label for="edit-variable-value">"Value"</label>
                                <textarea
                                    id="edit-variable-value"
                                    name="value"
                                    class="mono"
                                    rows="3"
                                    aria-describedby="edit-variable-value-error"
                                >
                                    {variable.value.clone()}
                                </textarea>
                                {field_error(update_error, "value", "edit-variable-value-error")}
                                <label class="checkbox">
                                    <input
                                        type="checkbox"
                                        name="include_in_export"
                                        value="true"
                                        checked=variable.include_in_export
                                    />
                                    "Include in export"
                                </label>
                                {form_error(update_error)}
                                <div class="dialog-buttons">
                                    <button type="submit" class="primary">
                                        "Update Variable"
                                    </button>
                                </div>
                            </ActionForm>
                        }
                    })
            }}
        </UrlDialog>
        <ConfirmDialog
            item=deleting
            title=|variable: &Variable| format!("Delete {}?", variable.key)
            id="delete-variable"
            action=delete
            confirm="Delete"
            message=|variable: &Variable| {
                view! {
                    "This permanently deletes the variable "
                    <code>{variable.key.clone()}</code>
                    "."
                }
            }
            fields=move |variable: &Variable| {
                view! {
                    <input type="hidden" name="slug" value=move || slug.get() />
                    <input type="hidden" name="environment" value=move || environment.get() />
                    <input type="hidden" name="key" value=variable.key.clone() />
                }
            }
        />
    }
}
