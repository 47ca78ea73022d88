//! `/projects`: every project with its number of secrets and last change, and "New project".
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::ProjectListItem;
use crate::{
    components::{
        ReturnHere, Timestamp, UrlDialog, dialog_error, dialog_href, open_dialog, page_error, typed,
    },
    error::AppError,
    time::Millis,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectsView {
    pub can_manage: bool,
    pub now: Millis,
    pub projects: Vec<ProjectListItem>,
}

/// The projects list; anyone signed in.
#[server(prefix = "/rpc", endpoint = "list_projects")]
pub async fn list_projects() -> Result<ProjectsView, AppError> {
    crate::error::respond(ssr::list_projects().await)
}

/// Owners and admins: creates a project (and its data key) and opens it.
#[server(prefix = "/rpc", endpoint = "create_project")]
pub async fn create_project(name: String) -> Result<(), AppError> {
    crate::error::respond(ssr::create_project(name).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::ProjectsView;
    use crate::{
        accounts::auth::ssr::{manager, signed_in},
        error::AppError,
        projects::ProjectName,
        time::Millis,
    };

    pub async fn list_projects() -> Result<ProjectsView, AppError> {
        let caller = signed_in().await?;
        let projects = caller.state.projects.list().await?;
        Ok(ProjectsView { can_manage: caller.user.role.can_manage(), now: Millis::now(), projects })
    }

    pub async fn create_project(name: String) -> Result<(), AppError> {
        let input =
            crate::bounds::ProjectInput { slug: "", name: &name, required: "", max_age: "" };
        crate::bounds::gate(&input)?;
        let caller = manager().await?;
        let name = ProjectName::parse(&name)?;
        let project = caller.state.projects.create_project(&caller.actor, name).await?;
        leptos_axum::redirect(&format!("/projects/{}", project.slug));
        Ok(())
    }
}

#[component]
pub fn ProjectsPage() -> impl IntoView {
    let create = ServerAction::<CreateProject>::new();
    let data = Resource::new(|| (), |_| list_projects());
    let dialog = open_dialog();
    let open = Signal::derive(move || dialog.get().as_deref() == Some("new-project"));
    let error = dialog_error(open, create.value());
    view! {
        <Title text="Projects" />
        <Suspense fallback=|| {
            view! { <p class="muted">"Loading projects…"</p> }
        }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        view! {
                            <section class="page">
                                <div class="page-header">
                                    <h1>"Projects"</h1>
                                    {view
                                        .can_manage
                                        .then(|| {
                                            view! {
                                                <a class="button" href=dialog_href(Some("new-project"))>
                                                    "New project"
                                                </a>
                                            }
                                        })}
                                </div>
                                <ProjectsTable view=view.clone() />
                                {view
                                    .can_manage
                                    .then(|| {
                                        view! {
                                            <UrlDialog
                                                open
                                                title="New project".to_string()
                                                id="new-project"
                                            >
                                                <ActionForm
                                                    action=create
                                                    attr:novalidate=true
                                                    attr:class="stack"
                                                >
                                                    <ReturnHere />
                                                    <label for="project-name">"Project name"</label>
                                                    <input
                                                        id="project-name"
                                                        name="name"
                                                        required
                                                        autocomplete="off"
                                                        value=move || typed("name").get()
                                                        aria-describedby="project-name-error"
                                                    />
                                                    {move || {
                                                        error()
                                                            .and_then(|e| e.field_message("name"))
                                                            .map(|m| {
                                                                view! {
                                                                    <p class="field-error" id="project-name-error">
                                                                        {m}
                                                                    </p>
                                                                }
                                                            })
                                                    }}
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
                                                    <div class="dialog-buttons">
                                                        <button type="submit" class="primary">
                                                            "Create project"
                                                        </button>
                                                    </div>
                                                </ActionForm>
                                            </UrlDialog>
                                        }
                                    })}
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

#[component]
fn ProjectsTable(view: ProjectsView) -> impl IntoView {
    if view.projects.is_empty() {
        return view! {
            <div class="empty-state">
                <h2>"No projects yet"</h2>
                <p>
                    "A project holds the secrets and settings of one application or service, such as a "
                    "bot or an API. "
                    {if view.can_manage {
                        "Create one with \"New project\"."
                    } else {
                        "Owners and admins create projects."
                    }}
                </p>
            </div>
        }
        .into_any();
    }
    let now = view.now;
    view! {
        <table class="data-table">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Secrets"</th>
                    <th scope="col">"Last change"</th>
                </tr>
            </thead>
            <tbody>
                {view
                    .projects
                    .into_iter()
                    .map(|project| {
                        view! {
                            <tr>
                                <td>
                                    <a href=format!("/projects/{}", project.slug)>{project.name}</a>
                                </td>
                                <td>
                                    {project.secrets}
                                    {(project.environments_missing_required > 0)
                                        .then(|| {
                                            let count = project.environments_missing_required;
                                            let text = if count == 1 {
                                                "1 environment lacks a required secret".to_string()
                                            } else {
                                                format!("{count} environments lack a required secret")
                                            };
                                            view! { <span class="badge warn">{text}</span> }
                                        })}
                                </td>
                                <td>
                                    <Timestamp at=project.last_change now />
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
