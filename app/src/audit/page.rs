//! Settings → Audit: the newest events first, 50 a page (keyset pagination on (time, id): no
//! OFFSET, so a deep page costs what the first one does), filtered
//! by action, actor, project, environment, key and date range — all in the URL, so a filtered view can be
//! shared — with the result of the last chain verification.
use super::view::{AuditFilter, AuditView};
use crate::{
    audit::AuditAction,
    components::{Timestamp, page_error},
    error::AppError,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// One page of events, newest first, older than `before` (a [`Cursor`]) if given. Owners and
/// admins only.
#[server(prefix = "/rpc", endpoint = "audit_events")]
pub async fn audit_events(
    #[server(default)] filter: AuditFilter,
    before: Option<String>,
) -> Result<AuditView, AppError> {
    crate::error::respond(ssr::audit_events(filter, before).await)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::{
        accounts::auth::ssr::manager,
        audit::{
            query::{last_verification, page, parse_cursor},
            view::{AuditFilter, AuditView, Cursor, PAGE_SIZE},
        },
        error::AppError,
        time::Millis,
    };

    pub async fn audit_events(
        filter: AuditFilter,
        before: Option<String>,
    ) -> Result<AuditView, AppError> {
        let caller = manager().await?;
        let store = &caller.state.store;
        let before = parse_cursor(before.as_deref())?;
        let mut rows = page(store, &filter, before, PAGE_SIZE + 1).await?;
        let next_before = if rows.len() as i64 > PAGE_SIZE {
            rows.truncate(PAGE_SIZE as usize);
            rows.last().map(|row| Cursor::after(row).to_string())
        } else {
            None
        };
        let last_verification = last_verification(store).await?;
        Ok(AuditView { rows, next_before, now: Millis::now(), last_verification })
    }
}

fn filter_from_query() -> Memo<(AuditFilter, Option<String>)> {
    let query = use_query_map();
    Memo::new(move |_| {
        let query = query.read();
        let text = |name: &str| query.get(name).unwrap_or_default();
        let filter = AuditFilter {
            action: text("action"),
            actor: text("actor"),
            project: text("project"),
            environment: text("environment"),
            key: text("key"),
            from: text("from"),
            to: text("to"),
        };
        (filter, query.get("before"))
    })
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let position = filter_from_query();
    let data =
        Resource::new(move || position.get(), |(filter, before)| audit_events(filter, before));
    view! {
        <Title text="Audit" />
        <Transition fallback=|| {
            view! { <p class="muted">"Loading the audit log…"</p> }
        }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        view! { <AuditTable view filter=position.get_untracked().0 /> }.into_any()
                    }
                    Err(error) => page_error(error),
                }
            })}
        </Transition>
    }
}

#[component]
fn AuditTable(view: AuditView, filter: AuditFilter) -> impl IntoView {
    let AuditView { rows, next_before, now, last_verification } = view;
    let export = format!("/settings/audit.csv?{}", url_query(&filter).join("&"));
    let next = next_before.map(|before| {
        let mut query = url_query(&filter);
        query.push(format!("before={before}"));
        format!("/settings/audit?{}", query.join("&"))
    });
    let empty = rows.is_empty();
    view! {
        <section class="page">
            <p class="breadcrumb">
                <a href="/settings">"Settings"</a>
                " / Audit"
            </p>
            <div class="page-header">
                <h1>"Audit"</h1>
                <a class="button secondary" href=export download="">
                    "Export CSV"
                </a>
            </div>
            {match last_verification {
                Some(last) => {
                    view! {
                        <p
                            class=if last.intact { "notice ok" } else { "notice warn" }
                            role="status"
                        >
                            {last.message}
                            " — checked "
                            <Timestamp at=last.at now />
                        </p>
                    }
                        .into_any()
                }
                None => {
                    view! {
                        <p class="muted">
                            "The chain has not been verified yet: run "
                            <code>"sealbox audit verify"</code>"."
                        </p>
                    }
                        .into_any()
                }
            }}
            <form method="get" action="/settings/audit" class="audit-filters" role="search">
                <label>
                    "Action"
                    <input
                        name="action"
                        value=filter.action.clone()
                        list="audit-actions"
                        placeholder=AuditAction::SecretUpdated.as_str()
                    />
                </label>
                <datalist id="audit-actions">
                    {AuditAction::ALL
                        .iter()
                        .map(|action| view! { <option value=action.as_str()></option> })
                        .collect_view()}
                </datalist>
                <label>
                    "Actor"
                    <input
                        name="actor"
                        value=filter.actor.clone()
                        placeholder="alice@example.com"
                    />
                </label>
                <label>
                    "Project"
                    <input name="project" value=filter.project.clone() placeholder="discord-bot" />
                </label>
                <label>
                    "Environment"
                    <input
                        name="environment"
                        value=filter.environment.clone()
                        placeholder="production"
                    />
                </label>
                <label>
                    "Key"
                    <input name="key" value=filter.key.clone() class="mono" placeholder="API_KEY" />
                </label>
                <label>"From"<input name="from" type="date" value=filter.from.clone() /></label>
                <label>"To"<input name="to" type="date" value=filter.to.clone() /></label>
                <button type="submit" class="primary">
                    "Filter"
                </button>
                <a href="/settings/audit">"Clear"</a>
            </form>
            <p class="empty-state" hidden=!empty>
                "No events match."
            </p>
            <table class="data-table" hidden=empty>
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Project"</th>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Details"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            let details = [
                                row.ip.map(|ip| format!("IP {ip}")),
                                row.version.map(|v| format!("version {v}")),
                                row.details,
                            ]
                                .into_iter()
                                .flatten()
                                .collect::<Vec<_>>()
                                .join(" · ");
                            view! {
                                <tr>
                                    <td>
                                        <Timestamp at=row.at now />
                                    </td>
                                    <td>{row.actor}</td>
                                    <td>
                                        <code>{row.action}</code>
                                    </td>
                                    <td>
                                        {row.project.filter(|p| p != "_team").unwrap_or_default()}
                                        {row
                                            .environment
                                            .filter(|e| e != crate::environments::TEAM_ENVIRONMENT)
                                            .map(|environment| {
                                                view! {
                                                    " "
                                                    <span class="muted">{environment}</span>
                                                }
                                            })}
                                    </td>
                                    <td>
                                        <code>{row.key.unwrap_or_default()}</code>
                                    </td>
                                    <td>{details}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            {next
                .map(|href| {
                    view! {
                        <a class="button secondary" href=href>
                            "Older events"
                        </a>
                    }
                })}
        </section>
    }
}

/// The filter's non-empty fields as `name=value` URL parameters.
fn url_query(filter: &AuditFilter) -> Vec<String> {
    [
        ("action", &filter.action),
        ("actor", &filter.actor),
        ("project", &filter.project),
        ("environment", &filter.environment),
        ("key", &filter.key),
        ("from", &filter.from),
        ("to", &filter.to),
    ]
    .iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(name, value)| format!("{name}={}", encode(value)))
    .collect()
}

fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~@".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
