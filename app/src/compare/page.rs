//! `/projects/{slug}/compare`: the Compare tab. Every form is a plain POST to a server function,
//! so copying from a cell works without JavaScript.
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{Cell, ComparedKey, Comparison};
use crate::{
    components::{
        ReturnHere, Timestamp, announce_successes, count_successes, field_error, form_error,
        page_error,
    },
    environments::TEAM_ENVIRONMENT,
    error::AppError,
    secrets::rpc::CopySecret,
    time::Millis,
};

/// The grid of a project's secrets across its environments; anyone signed in (which
/// environments share a value: owners and admins only).
#[server(prefix = "/rpc", endpoint = "compare_environments")]
pub async fn compare_environments(slug: String) -> Result<Comparison, AppError> {
    crate::error::respond(ssr::compare(slug).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::Comparison;
    use crate::{
        accounts::auth::ssr::signed_in, bounds::EnvironmentInput, error::AppError,
        projects::slug_in_url,
    };

    pub async fn compare(slug_text: String) -> Result<Comparison, AppError> {
        let input = EnvironmentInput { slug: &slug_text, name: "", new_name: "", confirm: "" };
        crate::bounds::gate(&input)?;
        let caller = signed_in().await?;
        let slug = slug_in_url(&slug_text)?;
        let managers = caller.user.role.can_manage();
        Ok(super::super::service::compare(&caller.state.store, &slug, managers).await?)
    }
}

#[component]
pub fn CompareTab() -> impl IntoView {
    let params = use_params_map();
    let slug = Signal::derive(move || params.read().get("slug").unwrap_or_default());
    let copy = ServerAction::<CopySecret>::new();
    let changes = RwSignal::new(0_u32);
    count_successes(copy.value(), changes);
    let data =
        Resource::new(move || (slug.get(), changes.get()), |(slug, _)| compare_environments(slug));
    let status = announce_successes([copy.value()]);
    let error = move || copy.value().get().and_then(Result::err);
    // `?from=ENV&copy=KEY`: a secret's Copy button asks where to.
    let query = use_query_map();
    let asked = move || {
        let query = query.read();
        query
            .get("copy")
            .zip(query.get("from"))
            .filter(|(key, from)| !key.is_empty() && !from.is_empty())
    };
    view! {
        <h2>"Compare environments"</h2>
        <p class="muted">
            "Each key across the project's environments: whether it is set there and when it last changed. Values are never shown."
        </p>
        {status}
        {form_error(error)}
        {field_error(error, "to", "copy-to-error")}
        {field_error(error, "replace", "copy-replace-error")}
        <Transition fallback=|| {
            view! { <p class="muted">"Loading…"</p> }
        }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(comparison) => {
                        let form = asked()
                            .filter(|_| comparison.can_manage)
                            .map(|(key, from)| {
                                let targets: Vec<String> = comparison
                                    .environments
                                    .iter()
                                    .filter(|name| **name != from)
                                    .cloned()
                                    .collect();
                                let slug = comparison.slug.clone();
                                view! { <CopyForm slug key from targets copy /> }
                            });
                        view! {
                            {form}
                            <CompareGrid comparison copy />
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
fn CompareGrid(comparison: Comparison, copy: ServerAction<CopySecret>) -> impl IntoView {
    let Comparison { slug, can_manage, now, environments, rows } = comparison;
    if rows.is_empty() {
        return view! {
            <div class="empty-state">
                <h2>"Nothing to compare yet"</h2>
                <p>
                    "Add a secret to one of the environments and it appears here, with where it is missing."
                </p>
            </div>
        }
            .into_any();
    }
    let headers = environments
        .iter()
        .map(|name| {
            view! {
                <th scope="col">
                    <a href=format!("/projects/{slug}/{name}")>{name.clone()}</a>
                </th>
            }
        })
        .collect_view();
    let body = rows
        .into_iter()
        .map(|row| {
            let ComparedKey { key, required, cells } = row;
            let cells = cells
                .into_iter()
                .zip(environments.iter())
                .map(|(cell, environment)| {
                    let place = CellPlace {
                        slug: slug.clone(),
                        key: key.clone(),
                        environment: environment.clone(),
                    };
                    view! {
                        <td>
                            <CompareCell cell place now can_manage copy />
                        </td>
                    }
                })
                .collect_view();
            view! {
                <tr>
                    <th scope="row">
                        <code class="secret-key">{key.clone()}</code>
                        {required.then(|| view! { <span class="badge subtle">"Required"</span> })}
                    </th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="data-table compare-table">
                <thead>
                    <tr>
                        <th scope="col">"Key"</th>
                        {headers}
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Copy one secret to an environment chosen here (a secret's Copy button on the Secrets tab).
#[component]
fn CopyForm(
    slug: String,
    key: String,
    from: String,
    targets: Vec<String>,
    copy: ServerAction<CopySecret>,
) -> impl IntoView {
    let options = targets
        .into_iter()
        .map(|name| view! { <option value=name.clone()>{name.clone()}</option> })
        .collect_view();
    view! {
        <section class="copy-form" aria-labelledby="copy-heading">
            <h3 id="copy-heading">{format!("Copy {key} from {from}")}</h3>
            <p class="muted">
                "The value is copied on the server: nobody sees it, and the other environment gets it as a new version."
            </p>
            <ActionForm action=copy attr:novalidate=true attr:class="toolbar">
                <ReturnHere />
                <input type="hidden" name="scope" value=slug />
                <input type="hidden" name="environment" value=from />
                <input type="hidden" name="key" value=key />
                <label for="copy-to">"Copy to"</label>
                <select id="copy-to" name="to" aria-describedby="copy-to-error">
                    {options}
                </select>
                <label class="checkbox">
                    <input
                        type="checkbox"
                        name="replace"
                        value="yes"
                        aria-describedby="copy-replace-error"
                    />
                    " Replace the value there if the key is already set"
                </label>
                <button type="submit" class="primary" disabled=move || copy.pending().get()>
                    "Copy"
                </button>
            </ActionForm>
        </section>
    }
}

/// Which cell: the project, the key and the environment of its column.
struct CellPlace {
    slug: String,
    key: String,
    environment: String,
}

#[component]
fn CompareCell(
    cell: Cell,
    place: CellPlace,
    now: Millis,
    can_manage: bool,
    copy: ServerAction<CopySecret>,
) -> impl IntoView {
    match cell {
        Cell::Set { version, updated_at, same_as } => view! {
            <span class="cell-state set">"Set"</span>
            <span class="muted">
                " · v" {version.to_string()} " · updated " <Timestamp at=updated_at now />
            </span>
            {same_as
                .map(|other| {
                    view! {
                        <span
                            class="badge warn"
                            title=format!("{} holds the same value here and in {other}", place.key)
                        >
                            {format!("Same value as {other}")}
                        </span>
                    }
                })}
        }
        .into_any(),
        Cell::Team { from } => {
            let label = match from.as_str() {
                TEAM_ENVIRONMENT => "From team secret".to_string(),
                name => format!("From team · {name}"),
            };
            view! { <span class="badge info">{label}</span> }.into_any()
        }
        Cell::Missing { required, copy_from } => {
            let state = if required {
                view! { <span class="badge warn">"Missing — required"</span> }.into_any()
            } else {
                view! { <span class="cell-state missing">"Missing"</span> }.into_any()
            };
            let form = copy_from.filter(|_| can_manage).map(|from| {
                let CellPlace { slug, key, environment } = place;
                let label = format!("Copy {key} from {from} to {environment}");
                view! {
                    <ActionForm action=copy attr:class="inline">
                        <ReturnHere />
                        <input type="hidden" name="scope" value=slug />
                        <input type="hidden" name="environment" value=from.clone() />
                        <input type="hidden" name="key" value=key />
                        <input type="hidden" name="to" value=environment />
                        <button type="submit" class="small secondary" aria-label=label>
                            {format!("Copy from {from}")}
                        </button>
                    </ActionForm>
                }
            });
            view! {
                {state}
                {form}
            }
            .into_any()
        }
    }
}
