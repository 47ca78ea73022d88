//! `/projects/{slug}`: the project's header and tabs (Secrets, Variables, Tokens, Settings), and
//! the Settings tab.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{A, Outlet},
    hooks::{use_location, use_params_map},
};
use serde::{Deserialize, Serialize};

use super::ProjectSettings;
use crate::{
    components::{
        ConfirmDialog, ReturnHere, count_successes, dialog_href, open_dialog, page_error,
    },
    environments::page::EnvironmentsSection,
    error::AppError,
    secrets::page::SecretsPanel,
};

/// The longest maximum secret age people can set, in days (ten years).
pub const MAX_AGE_DAYS_LIMIT: i64 = 3650;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectView {
    pub settings: ProjectSettings,
    pub can_manage: bool,
}

/// A project's name and settings; anyone signed in.
#[server(prefix = "/rpc", endpoint = "project")]
pub async fn project(slug: String) -> Result<ProjectView, AppError> {
    crate::error::respond(ssr::project(slug).await)
}

/// Owners and admins: renames the project (its URL stays) and sets its required secrets (one
/// key per line, or separated by commas or spaces) and maximum secret age in days (empty: none).
#[server(prefix = "/rpc", endpoint = "update_project_settings")]
pub async fn update_project_settings(
    slug: String,
    name: String,
    required: String,
    max_secret_age_days: String,
) -> Result<String, AppError> {
    crate::error::respond(
        ssr::update_project_settings(slug, name, required, max_secret_age_days).await,
    )
}

/// Owners and admins: deletes the project with everything in it, once its name is typed.
#[server(prefix = "/rpc", endpoint = "delete_project")]
pub async fn delete_project(slug: String, confirm: String) -> Result<(), AppError> {
    crate::error::respond(ssr::delete_project(slug, confirm).await)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use std::collections::BTreeSet;

    use super::{MAX_AGE_DAYS_LIMIT, ProjectView};
    use crate::{
        accounts::auth::ssr::{manager, signed_in},
        error::AppError,
        projects::ProjectName,
        secrets::domain::SecretKey,
        validation::FieldError,
    };

    pub use crate::projects::slug_in_url as slug;

    pub async fn project(slug_text: String) -> Result<ProjectView, AppError> {
        let caller = signed_in().await?;
        let settings = caller.state.projects.settings(&slug(&slug_text)?).await?;
        Ok(ProjectView { settings, can_manage: caller.user.role.can_manage() })
    }

    pub async fn update_project_settings(
        slug_text: String,
        name: String,
        required: String,
        max_age: String,
    ) -> Result<String, AppError> {
        crate::bounds::gate(&crate::bounds::ProjectInput {
            slug: &slug_text,
            name: &name,
            required: &required,
            max_age: &max_age,
        })?;
        let caller = manager().await?;
        let slug = slug(&slug_text)?;
        let name = ProjectName::parse(&name)?;
        let required = required
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|key| !key.is_empty())
            .map(|key| {
                SecretKey::parse(key).map_err(|error| {
                    FieldError::new("required", format!("{key}: {}", error.message))
                })
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        let max_age = match max_age.trim() {
            "" => None,
            text => match text.parse::<i64>() {
                Ok(days) if (1..=MAX_AGE_DAYS_LIMIT).contains(&days) => Some(days),
                _ => {
                    return Err(FieldError::new(
                        "max_secret_age_days",
                        "Maximum age must be a whole number of days from 1 to 3650, or empty",
                    )
                    .into());
                }
            },
        };
        caller
            .state
            .projects
            .update_settings(&caller.actor, &slug, name, required, max_age)
            .await?;
        Ok("Settings saved".to_string())
    }

    pub async fn delete_project(slug_text: String, confirm: String) -> Result<(), AppError> {
        crate::bounds::gate(&crate::bounds::ProjectInput {
            slug: &slug_text,
            name: &confirm,
            required: "",
            max_age: "",
        })?;
        let caller = manager().await?;
        let slug = slug(&slug_text)?;
        let settings = caller.state.projects.settings(&slug).await?;
        if confirm.trim() != settings.name {
            return Err(FieldError::new(
                "confirm",
                format!("Type the project name, {}, exactly to delete it", settings.name),
            )
            .into());
        }
        caller.state.projects.delete_project(&caller.actor, &slug).await?;
        leptos_axum::redirect("/projects");
        Ok(())
    }
}

/// The slug in the current URL.
pub fn use_slug() -> Signal<String> {
    let params = use_params_map();
    Signal::derive(move || params.read().get("slug").unwrap_or_default())
}

/// The environment the current URL names (`/projects/{slug}/{environment}…`), if it names one;
/// the project's first environment is shown otherwise. Read from the path, so that the project's
/// frame, which is not the route that names it, sees it too.
pub fn use_environment() -> Signal<Option<String>> {
    let location = use_location();
    Signal::derive(move || environment_in_path(&location.pathname.get()))
}

fn environment_in_path(path: &str) -> Option<String> {
    let mut segments = path.trim_matches('/').split('/');
    let (Some("projects"), Some(_slug), Some(third)) =
        (segments.next(), segments.next(), segments.next())
    else {
        return None;
    };
    let pages = ["variables", "tokens", "settings", "compare", "promote"];
    (!third.is_empty() && !pages.contains(&third)).then(|| third.to_string())
}

/// The project the Delete dialog names.
#[derive(Clone, PartialEq)]
struct ProjectToDelete {
    name: String,
    slug: String,
}

/// The frame of every project tab: the project's name and the tab bar.
///
/// The tab (`Outlet`) stands outside the frame's `Suspense`, so that it is rendered once: inside,
/// every pass of the suspense over the frame's own data made a new tab, which loaded its data
/// again (and a token waiting to be shown once was taken by a pass whose output was dropped). A
/// project that cannot be shown leaves the frame empty; the tab, whose data fails the same way,
/// says why.
#[component]
pub fn ProjectLayout() -> impl IntoView {
    let slug = use_slug();
    let environment = use_environment();
    let data = Resource::new(move || slug.get(), project);
    view! {
        <section class="page">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    data.await
                        .ok()
                        .map(|view| {
                            let base = format!("/projects/{}", view.settings.slug);
                            let here = environment
                                .get()
                                .map(|name| format!("{base}/{name}"))
                                .unwrap_or_else(|| base.clone());
                            // Secrets and Variables stay in the environment the URL names.
                            view! {
                                <Title text=view.settings.name.clone() />
                                <p class="breadcrumb">
                                    <a href="/projects">"Projects"</a>
                                    " /"
                                </p>
                                <h1>{view.settings.name.clone()}</h1>
                                <nav class="tabs" aria-label="Project">
                                    <A href=here.clone() exact=true>
                                        "Secrets"
                                    </A>
                                    <A href=format!("{here}/variables")>"Variables"</A>
                                    <A href=format!("{base}/compare")>"Compare"</A>
                                    {view
                                        .can_manage
                                        .then(|| {
                                            view! { <A href=format!("{base}/tokens")>"Tokens"</A> }
                                        })}
                                    <A href=format!("{base}/settings")>"Settings"</A>
                                </nav>
                            }
                        })
                })}
            </Suspense>
            <Outlet />
        </section>
    }
}

#[component]
pub fn SecretsTab() -> impl IntoView {
    view! { <SecretsPanel scope=use_slug() environment=use_environment() /> }
}

#[cfg(test)]
mod tests {
    use super::environment_in_path;

    #[test]
    fn the_environment_is_the_third_segment_unless_it_is_a_page() {
        assert_eq!(environment_in_path("/projects/bot/staging"), Some("staging".into()));
        assert_eq!(environment_in_path("/projects/bot/staging/variables"), Some("staging".into()));
        for none in ["/projects/bot", "/projects/bot/", "/projects/bot/variables", "/projects"] {
            assert_eq!(environment_in_path(none), None, "{none}");
        }
        assert_eq!(environment_in_path("/projects/bot/tokens"), None);
    }
}

#[component]
pub fn SettingsTab() -> impl IntoView {
    let slug = use_slug();
    let save = ServerAction::<UpdateProjectSettings>::new();
    let remove = ServerAction::<DeleteProject>::new();
    let changes = RwSignal::new(0_u32);
    count_successes(save.value(), changes);
    let data = Resource::new(move || (slug.get(), changes.get()), |(slug, _)| project(slug));
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <SettingsForms view slug save remove /> }.into_any(),
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

#[component]
fn SettingsForms(
    view: ProjectView,
    slug: Signal<String>,
    save: ServerAction<UpdateProjectSettings>,
    remove: ServerAction<DeleteProject>,
) -> impl IntoView {
    let ProjectView { settings, can_manage } = view;
    let saved = move || save.value().get().and_then(Result::ok);
    let error = move || save.value().get().and_then(Result::err);
    let field = move |name: &'static str, id: &'static str| {
        move || {
            error().and_then(|e| e.field_message(name)).map(|m| {
                view! {
                    <p class="field-error" id=id>
                        {m}
                    </p>
                }
            })
        }
    };
    let dialog = open_dialog();
    let project = ProjectToDelete { name: settings.name.clone(), slug: settings.slug.clone() };
    let deleting = Signal::derive(move || {
        (dialog.get().as_deref() == Some("delete-project")).then(|| project.clone())
    });
    let required_text = settings.required.join("\n");
    let max_age = settings.max_secret_age_days.map(|d| d.to_string()).unwrap_or_default();
    let disabled = !can_manage;
    view! {
        <h2>"Settings"</h2>
        <ActionForm action=save attr:novalidate=true attr:class="stack narrow">
            <ReturnHere />
            <input type="hidden" name="slug" value=settings.slug.clone() />
            <label for="settings-name">"Project name"</label>
            <input
                id="settings-name"
                name="name"
                required
                value=settings.name.clone()
                disabled=disabled
                aria-describedby="settings-name-error"
            />
            {field("name", "settings-name-error")}
            <label for="settings-required">"Required secrets"</label>
            <textarea
                id="settings-required"
                name="required"
                class="mono"
                rows="4"
                disabled=disabled
                aria-describedby="settings-required-help settings-required-error"
            >
                {required_text}
            </textarea>
            <p class="muted" id="settings-required-help">
                "One key per line, e.g. DISCORD_BOT_TOKEN. The Secrets tab warns about each one that is not set."
            </p>
            {field("required", "settings-required-error")}
            <label for="settings-max-age">"Maximum secret age (days)"</label>
            <input
                id="settings-max-age"
                name="max_secret_age_days"
                type="text"
                inputmode="numeric"
                value=max_age
                disabled=disabled
                aria-describedby="settings-max-age-help settings-max-age-error"
            />
            <p class="muted" id="settings-max-age-help">
                "Secrets not changed for longer are marked \"Overdue for rotation\". Empty: no limit."
            </p>
            {field("max_secret_age_days", "settings-max-age-error")}
            {move || {
                error()
                    .and_then(|e| e.form_message())
                    .map(|m| {
                        view! {
                            <p class="form-error" role="alert">
                                {m}
                            </p>
                        }
                    })
            }}
            <p role="status" class="form-ok">
                {move || saved()}
            </p>
            {can_manage
                .then(|| {
                    view! {
                        <button type="submit" class="primary">
                            "Save settings"
                        </button>
                    }
                })}
        </ActionForm>
        <EnvironmentsSection slug can_manage />
        {can_manage
            .then(|| {
                view! {
                    <h2>"Delete project"</h2>
                    <p>
                        "Deleting the project deletes all its environments with their secrets, their history, variables and tokens."
                    </p>
                    <a class="button danger" href=dialog_href(Some("delete-project"))>
                        "Delete project"
                    </a>
                    <ConfirmDialog
                        item=deleting
                        title=|project: &ProjectToDelete| format!("Delete {}?", project.name)
                        id="delete-project"
                        action=remove
                        confirm="Delete project"
                        message=|project: &ProjectToDelete| {
                            view! {
                                "This permanently deletes the project "
                                <strong>{project.name.clone()}</strong>
                                " with all its environments, their secrets and history, variables and tokens. Programs that read them "
                                "will no longer get them. This cannot be undone."
                            }
                        }
                        fields=|project: &ProjectToDelete| {
                            view! { <input type="hidden" name="slug" value=project.slug.clone() /> }
                        }
                        type_to_confirm=|project: &ProjectToDelete| project.name.clone()
                    />
                }
            })}
    }
}
