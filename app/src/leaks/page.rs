//! `/settings/leak-check`: paste a value, learn which secrets hold it. A plain form post works
//! without JavaScript: its answer (never the value) waits in the session to be shown once.
use leptos::prelude::*;
use leptos_meta::Title;

use super::{LeakMatch, LeakReport};
use crate::{
    components::{ReturnHere, Timestamp, field_error, form_error, page_error},
    environments::TEAM_ENVIRONMENT,
    error::AppError,
    secrets::{page::history_href, rpc::TEAM},
};

/// Owners and admins: which secrets hold (or held) exactly `value`, by keyed fingerprint.
/// Audited without the value; at most [`super::CHECKS_PER_HOUR`] an hour per person.
#[server(prefix = "/rpc", endpoint = "check_leak")]
pub async fn check_leak(value: String) -> Result<LeakReport, AppError> {
    crate::error::respond(ssr::check_leak(value).await)
}

/// Owners and admins: the answer of a check made by a plain form post, once; `None` otherwise.
#[server(prefix = "/rpc", endpoint = "leak_check_result")]
pub async fn leak_check_result() -> Result<Option<LeakReport>, AppError> {
    crate::error::respond(ssr::leak_check_result().await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::LeakReport;
    use crate::{
        accounts::{
            auth::ssr::manager,
            session::{put_shown_once, take_shown_once},
        },
        error::{AppError, is_form_post},
        secrets::domain::SecretValue,
        validation::FieldError,
    };

    /// Where a plain form post's answer waits to be shown once.
    const LEAK_REPORT: &str = "leak_report";

    pub async fn check_leak(value: String) -> Result<LeakReport, AppError> {
        crate::bounds::gate(&crate::bounds::LeakProbe { value: &value })?;
        let caller = manager().await?;
        if value.is_empty() {
            return Err(FieldError::new("value", "Paste the value to check").into());
        }
        let value = SecretValue::new(value)?;
        let report =
            crate::leaks::service::check(&caller.state.vault, &caller.actor, &value).await?;
        if is_form_post() {
            let key = caller.state.vault.keyring().shown_once_key();
            put_shown_once(&caller.session, key, LEAK_REPORT, &report).await?;
        }
        Ok(report)
    }

    pub async fn leak_check_result() -> Result<Option<LeakReport>, AppError> {
        let caller = manager().await?;
        let key = caller.state.vault.keyring().shown_once_key();
        take_shown_once(&caller.session, key, LEAK_REPORT).await
    }
}

#[component]
pub fn LeakCheckPage() -> impl IntoView {
    let check = ServerAction::<CheckLeak>::new();
    let flashed = Resource::new(|| (), |_| leak_check_result());
    let error = move || check.value().get().and_then(Result::err);
    view! {
        <Title text="Leak check" />
        <section class="page">
            <p class="breadcrumb">
                <a href="/settings">"Settings"</a>
                " /"
            </p>
            <h1>"Leak check"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match flashed.await {
                        Ok(flash) => {
                            let report = move || {
                                check.value().get().and_then(Result::ok).or_else(|| flash.clone())
                            };
                            view! {
                                <p class="muted">
                                    "Found a value somewhere it should not be — in a log, a chat, a public repository? Paste it here to learn which secrets hold it, now or in an earlier version, in every project, environment and the team secrets, and which tokens read it since. The value is compared by its keyed fingerprint: nothing is decrypted, and the value is not stored, logged or shown again. At most 30 checks an hour."
                                </p>
                                <ActionForm
                                    action=check
                                    attr:novalidate=true
                                    attr:class="stack narrow"
                                >
                                    <ReturnHere />
                                    <label for="leak-value">"Value to check"</label>
                                    <input
                                        id="leak-value"
                                        name="value"
                                        type="password"
                                        autocomplete="off"
                                        spellcheck="false"
                                        required
                                        aria-describedby="leak-value-error"
                                    />
                                    {field_error(error, "value", "leak-value-error")}
                                    {form_error(error)}
                                    <div class="dialog-buttons">
                                        <button
                                            type="submit"
                                            class="primary"
                                            disabled=move || check.pending().get()
                                        >
                                            "Check"
                                        </button>
                                    </div>
                                </ActionForm>
                                {move || report().map(|report| view! { <LeakResult report /> })}
                            }
                                .into_any()
                        }
                        Err(error) => page_error(error),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn LeakResult(report: LeakReport) -> impl IntoView {
    let LeakReport { checked_at, matches } = report;
    if matches.is_empty() {
        return view! {
            <p class="notice" role="status">
                "No secret holds this value."
            </p>
        }
        .into_any();
    }
    let count = matches.len();
    let rows =
        matches.into_iter().map(|found| view! { <LeakRow found now=checked_at /> }).collect_view();
    view! {
        <p class="notice warn" role="status">
            {match count {
                1 => "1 secret version holds this value. Rotate it where it is current.".to_string(),
                n => format!("{n} secret versions hold this value. Rotate it where it is current."),
            }}
        </p>
        <div class="table-scroll">
            <table class="data-table leak-table">
                <thead>
                    <tr>
                        <th scope="col">"Where"</th>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Version"</th>
                        <th scope="col">"Set"</th>
                        <th scope="col">"Read since"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn LeakRow(found: LeakMatch, now: crate::time::Millis) -> impl IntoView {
    let LeakMatch { project, environment, key, version, current, set_at, set_by, reads, readers } =
        found;
    let place = match (&project, environment.as_str()) {
        (Some(slug), name) => format!("{slug} · {name}"),
        (None, TEAM_ENVIRONMENT) => "Team secrets · all environments".to_string(),
        (None, name) => format!("Team secrets · {name}"),
    };
    let history = history_href(project.as_deref().unwrap_or(TEAM), &environment, &key);
    let read = match (reads, readers.is_empty()) {
        (0, _) => "Not read since".to_string(),
        (1, false) => format!("1 time, by {}", readers.join(", ")),
        (n, _) => format!("{n} times, by {}", readers.join(", ")),
    };
    view! {
        <tr>
            <td>{place}</td>
            <td>
                <a href=history>
                    <code class="secret-key">{key}</code>
                </a>
            </td>
            <td>
                {format!("v{version}")}
                {if current {
                    view! { <span class="badge warn">"Current"</span> }.into_any()
                } else {
                    view! { <span class="badge subtle">"Earlier version"</span> }.into_any()
                }}
            </td>
            <td>
                <Timestamp at=set_at now />
                {format!(" by {set_by}")}
            </td>
            <td>{read}</td>
        </tr>
    }
}
