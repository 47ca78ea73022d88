//! The Environments section of a project's Settings tab (owners and admins change it; everyone
//! sees it): rename, move earlier or later, delete after typing the name, and add. Every form
//! posts to a server function, so the section works without JavaScript.
use leptos::prelude::*;

use super::Environment;
use crate::{
    components::{
        ConfirmDialog, ReturnHere, announce_successes, count_successes, dialog_error, dialog_href,
        field_error, form_error, open_dialog, page_error,
    },
    error::AppError,
};

/// A project's environments in their order; anyone signed in.
#[server(prefix = "/rpc", endpoint = "list_environments")]
pub async fn list_environments(slug: String) -> Result<Vec<Environment>, AppError> {
    crate::error::respond(ssr::list(slug).await)
}

/// Owners and admins: adds an environment after the last one.
#[server(prefix = "/rpc", endpoint = "create_environment")]
pub async fn create_environment(slug: String, name: String) -> Result<String, AppError> {
    crate::error::respond(ssr::create(slug, name).await)
}

/// Owners and admins: renames an environment; its secrets, variables and tokens stay with it.
#[server(prefix = "/rpc", endpoint = "rename_environment")]
pub async fn rename_environment(
    slug: String,
    name: String,
    new_name: String,
) -> Result<String, AppError> {
    crate::error::respond(ssr::rename(slug, name, new_name).await)
}

/// Owners and admins: moves an environment one place `earlier` or `later`.
#[server(prefix = "/rpc", endpoint = "move_environment")]
pub async fn move_environment(
    slug: String,
    name: String,
    direction: String,
) -> Result<String, AppError> {
    crate::error::respond(ssr::reorder(slug, name, direction).await)
}

/// Owners and admins: deletes an environment with its secrets, versions, variables and tokens,
/// once its name is typed into `confirm`. A project keeps at least one.
#[server(prefix = "/rpc", endpoint = "delete_environment")]
pub async fn delete_environment(
    slug: String,
    name: String,
    confirm: String,
) -> Result<String, AppError> {
    crate::error::respond(ssr::delete(slug, name, confirm).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::Environment;
    use crate::{
        accounts::auth::ssr::{manager, signed_in},
        bounds::{EnvironmentInput, gate},
        environments::{EnvironmentName, service::Direction},
        error::AppError,
        not_found::NotFound,
        projects::{ProjectSlug, slug_in_url as slug},
        validation::FieldError,
    };

    fn input<'a>(
        slug: &'a str,
        name: &'a str,
        new_name: &'a str,
        confirm: &'a str,
    ) -> EnvironmentInput<'a> {
        EnvironmentInput { slug, name, new_name, confirm }
    }

    /// An existing environment named in a form: a name that breaks the rules names none.
    fn existing(slug: &ProjectSlug, name: &str) -> Result<EnvironmentName, AppError> {
        EnvironmentName::from_url(name).map_err(|_| NotFound::environment(slug, name).into())
    }

    pub async fn list(slug_text: String) -> Result<Vec<Environment>, AppError> {
        gate(&input(&slug_text, "", "", ""))?;
        let caller = signed_in().await?;
        Ok(caller.state.environments.list(&slug(&slug_text)?).await?)
    }

    pub async fn create(slug_text: String, name: String) -> Result<String, AppError> {
        gate(&input(&slug_text, &name, "", ""))?;
        let caller = manager().await?;
        let name = EnvironmentName::parse(&name)?;
        caller.state.environments.create(&caller.actor, &slug(&slug_text)?, &name).await?;
        Ok(format!("Environment {name} added"))
    }

    pub async fn rename(
        slug_text: String,
        name: String,
        new_name: String,
    ) -> Result<String, AppError> {
        gate(&input(&slug_text, &name, &new_name, ""))?;
        let caller = manager().await?;
        let slug = slug(&slug_text)?;
        let from = existing(&slug, &name)?;
        let to = EnvironmentName::parse(&new_name).map_err(|mut error| {
            error.field = "new_name".into();
            error
        })?;
        caller.state.environments.rename(&caller.actor, &slug, &from, &to).await?;
        Ok(format!("Environment {from} renamed to {to}"))
    }

    pub async fn reorder(
        slug_text: String,
        name: String,
        direction: String,
    ) -> Result<String, AppError> {
        gate(&input(&slug_text, &name, &direction, ""))?;
        let caller = manager().await?;
        let slug = slug(&slug_text)?;
        let name = existing(&slug, &name)?;
        let direction = match direction.as_str() {
            "earlier" => Direction::Earlier,
            "later" => Direction::Later,
            _ => return Err(FieldError::new("direction", "Choose earlier or later").into()),
        };
        caller.state.environments.reorder(&caller.actor, &slug, &name, direction).await?;
        Ok(format!("Environment {name} moved"))
    }

    pub async fn delete(
        slug_text: String,
        name: String,
        confirm: String,
    ) -> Result<String, AppError> {
        gate(&input(&slug_text, &name, "", &confirm))?;
        let caller = manager().await?;
        let slug = slug(&slug_text)?;
        let name = existing(&slug, &name)?;
        caller.state.environments.delete(&caller.actor, &slug, &name, &confirm).await?;
        Ok(format!("Environment {name} deleted"))
    }
}

/// The Environments section of the Settings tab.
#[component]
pub fn EnvironmentsSection(slug: Signal<String>, can_manage: bool) -> impl IntoView {
    let create = ServerAction::<CreateEnvironment>::new();
    let rename = ServerAction::<RenameEnvironment>::new();
    let reorder = ServerAction::<MoveEnvironment>::new();
    let delete = ServerAction::<DeleteEnvironment>::new();
    let changes = RwSignal::new(0_u32);
    count_successes(create.value(), changes);
    count_successes(rename.value(), changes);
    count_successes(reorder.value(), changes);
    count_successes(delete.value(), changes);
    let data =
        Resource::new(move || (slug.get(), changes.get()), |(slug, _)| list_environments(slug));
    let status =
        announce_successes([create.value(), rename.value(), reorder.value(), delete.value()]);
    view! {
        <h2 id="environments">"Environments"</h2>
        <p class="muted">
            "Each environment holds its own secrets, variables and tokens. The first one is where the project opens."
        </p>
        {status}
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(environments) => {
                        view! {
                            <EnvironmentsTable
                                slug
                                environments
                                can_manage
                                create
                                rename
                                reorder
                                delete
                            />
                        }
                            .into_any()
                    }
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

#[component]
fn EnvironmentsTable(
    slug: Signal<String>,
    environments: Vec<Environment>,
    can_manage: bool,
    create: ServerAction<CreateEnvironment>,
    rename: ServerAction<RenameEnvironment>,
    reorder: ServerAction<MoveEnvironment>,
    delete: ServerAction<DeleteEnvironment>,
) -> impl IntoView {
    let count = environments.len();
    let stored = StoredValue::new(environments.clone());
    let rename_error = move || rename.value().get().and_then(Result::err);
    let reorder_error = move || reorder.value().get().and_then(Result::err);
    let rows = environments
        .into_iter()
        .enumerate()
        .map(|(index, environment)| {
            let name = environment.name.clone();
            let input_id = format!("rename-{name}");
            let manage = can_manage.then(|| {
                let delete_href = dialog_href(Some(&format!("delete-environment:{name}")));
                let delete_label = format!("Delete {name}");
                let rename_label = format!("New name for {name}");
                let move_form =
                    |name: String, direction: &'static str, label: &'static str, shown: bool| {
                        shown.then(move || {
                            view! {
                                <ActionForm action=reorder attr:class="inline">
                                    <ReturnHere />
                                    <input type="hidden" name="slug" value=move || slug.get() />
                                    <input type="hidden" name="name" value=name.clone() />
                                    <input type="hidden" name="direction" value=direction />
                                    <button
                                        type="submit"
                                        class="small secondary"
                                        aria-label=format!("Move {name} {direction}")
                                    >
                                        {label}
                                    </button>
                                </ActionForm>
                            }
                        })
                    };
                let earlier = move_form(name.clone(), "earlier", "Move up", index > 0);
                let later = move_form(name.clone(), "later", "Move down", index + 1 < count);
                let (hidden_name, current_name) = (name.clone(), name.clone());
                view! {
                    <td>
                        <ActionForm action=rename attr:novalidate=true attr:class="inline">
                            <ReturnHere />
                            <input type="hidden" name="slug" value=move || slug.get() />
                            <input type="hidden" name="name" value=hidden_name />
                            <label class="visually-hidden" for=input_id.clone()>
                                {rename_label}
                            </label>
                            <input
                                id=input_id.clone()
                                name="new_name"
                                class="mono"
                                required
                                value=current_name
                                size="16"
                            />
                            <button type="submit" class="small secondary">
                                "Rename"
                            </button>
                        </ActionForm>
                    </td>
                    <td class="actions">
                        {earlier} {later}
                        {(count > 1)
                            .then(|| {
                                view! {
                                    <a
                                        class="button small secondary danger"
                                        href=delete_href
                                        aria-label=delete_label
                                    >
                                        "Delete"
                                    </a>
                                }
                            })}
                    </td>
                }
            });
            view! {
                <tr>
                    <td>
                        <code>{environment.name.clone()}</code>
                    </td>
                    {manage}
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data-table environments-table">
            <thead>
                <tr>
                    <th scope="col">"Environment"</th>
                    {can_manage
                        .then(|| {
                            view! {
                                <th scope="col">"Rename"</th>
                                <th scope="col">"Actions"</th>
                            }
                        })}
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        {form_error(rename_error)}
        {field_error(rename_error, "new_name", "rename-environment-error")}
        {form_error(reorder_error)}
        {can_manage.then(|| view! { <AddEnvironmentForm slug create /> })}
        {can_manage.then(|| view! { <DeleteEnvironmentDialog slug stored delete /> })}
    }
}

#[component]
fn AddEnvironmentForm(
    slug: Signal<String>,
    create: ServerAction<CreateEnvironment>,
) -> impl IntoView {
    let error = move || create.value().get().and_then(Result::err);
    view! {
        <ActionForm action=create attr:novalidate=true attr:class="stack narrow">
            <ReturnHere />
            <input type="hidden" name="slug" value=move || slug.get() />
            <label for="environment-name">"New environment"</label>
            <input
                id="environment-name"
                name="name"
                class="mono"
                required
                placeholder="preview"
                autocomplete="off"
                aria-describedby="environment-name-help environment-name-error"
            />
            <p class="muted" id="environment-name-help">
                "Lowercase letters, digits and single hyphens, at most 32 characters."
            </p>
            {field_error(error, "name", "environment-name-error")}
            {form_error(error)}
            <button type="submit" class="primary">
                "Add environment"
            </button>
        </ActionForm>
    }
}

#[component]
fn DeleteEnvironmentDialog(
    slug: Signal<String>,
    stored: StoredValue<Vec<Environment>>,
    delete: ServerAction<DeleteEnvironment>,
) -> impl IntoView {
    let dialog = open_dialog();
    let deleting = Memo::new(move |_| {
        let name = dialog.get()?.strip_prefix("delete-environment:")?.to_string();
        stored.with_value(|all| all.iter().find(|e| e.name == name).cloned())
    });
    // Opened and closed with the dialog: the error of an earlier attempt is not shown again.
    let _ =
        dialog_error(Signal::from(Memo::new(move |_| deleting.get().is_some())), delete.value());
    view! {
        <ConfirmDialog
            item=deleting
            title=|environment: &Environment| format!("Delete {}?", environment.name)
            id="delete-environment"
            action=delete
            confirm="Delete environment"
            message=|environment: &Environment| {
                view! {
                    "This permanently deletes the environment "
                    <code>{environment.name.clone()}</code>
                    " with its secrets, their history, its variables and its tokens. Programs using "
                    "its tokens lose access. This cannot be undone."
                }
            }
            fields=move |environment: &Environment| {
                view! {
                    <input type="hidden" name="slug" value=move || slug.get() />
                    <input type="hidden" name="name" value=environment.name.clone() />
                }
            }
            type_to_confirm=|environment: &Environment| environment.name.clone()
        />
    }
}
