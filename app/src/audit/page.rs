//! Settings → Audit: the newest events first, 50 a page (keyset pagination on (time, id): no
//! OFFSET, so a deep page costs what the first one does), filtered
//! by action, actor, project, key and date range — all in the URL, so a filtered view can be
//! shared — with the result of the last chain verification.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    audit::AuditAction,
    components::{Timestamp, page_error},
    error::AppError,
};

/// Events per page.
pub const PAGE_SIZE: i64 = 50;

/// The filters, as they appear in the URL (empty or missing means "any").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    pub action: String,
    pub actor: String,
    pub project: String,
    pub key: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    pub from: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    pub to: String,
}

/// Where a page starts: just after (older than) the event at `at` with id `id`. Written `AT.ID`
/// in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: i64,
    pub id: i64,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Self> {
        let (at, id) = text.trim().split_once('.')?;
        Some(Self { at: at.parse().ok()?, id: id.parse().ok()? })
    }

    #[cfg(feature = "ssr")]
    fn after(row: &AuditRow) -> Self {
        Self { at: row.at, id: row.id }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.at, self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub project: Option<String>,
    pub key: Option<String>,
    pub version: Option<i64>,
    pub ip: Option<String>,
    pub details: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastVerification {
    pub at: i64,
    pub intact: bool,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub rows: Vec<AuditRow>,
    /// Where the next (older) page starts ([`Cursor`]), if there is one.
    pub next_before: Option<String>,
    pub now: i64,
    pub last_verification: Option<LastVerification>,
}

/// One page of events, newest first, older than `before` (a [`Cursor`]) if given. Owners and
/// admins only.
#[server(prefix = "/rpc", endpoint = "audit_events")]
pub async fn audit_events(
    #[server(default)] filter: AuditFilter,
    before: Option<String>,
) -> Result<AuditView, AppError> {
    crate::error::respond(ssr::audit_events(filter, before).await)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date, if it is one.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) || !(1970..=9999).contains(&year) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::{
        AuditFilter, AuditRow, AuditView, Cursor, LastVerification, PAGE_SIZE, parse_date,
    };
    use crate::{
        accounts::auth::ssr::manager,
        error::AppError,
        store::{Store, now_millis, with_pool},
        validation::FieldError,
    };

    const DAY_MS: i64 = 86_400_000;

    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        at: i64,
        actor: String,
        action: String,
        project_slug: Option<String>,
        secret_key: Option<String>,
        version: Option<i64>,
        ip: Option<String>,
        details: Option<String>,
    }

    /// A bound value of the filter query.
    enum Bind {
        Text(String),
        Number(i64),
    }

    /// The query for a filter and a keyset position, and its values. A filter column is an
    /// equality on the first column of its `(column, at, id)` index, the dates a range on `at`,
    /// and the position a row-value bound on `(at, id)`: one backward range scan of one index.
    fn query(
        filter: &AuditFilter,
        before: Option<Cursor>,
        limit: i64,
    ) -> Result<(String, Vec<Bind>), FieldError> {
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        // Each `?` in a condition takes the next value.
        let mut add = |condition: &str, values: Vec<Bind>| {
            let mut condition = condition.to_string();
            for value in values {
                binds.push(value);
                condition = condition.replacen('?', &format!("${}", binds.len()), 1);
            }
            conditions.push(condition);
        };
        for (column, value) in [
            ("action", &filter.action),
            ("actor", &filter.actor),
            ("project_slug", &filter.project),
            ("secret_key", &filter.key),
        ] {
            let value = value.trim();
            if !value.is_empty() {
                add(&format!("{column} = ?"), vec![Bind::Text(value.to_string())]);
            }
        }
        let date = |text: &str, field: &str| -> Result<Option<i64>, FieldError> {
            if text.trim().is_empty() {
                return Ok(None);
            }
            parse_date(text).map(|days| Some(days * DAY_MS)).ok_or_else(|| {
                FieldError::new(field, "Dates look like 2026-11-23 (year-month-day, UTC)")
            })
        };
        if let Some(from) = date(&filter.from, "from")? {
            add("at >= ?", vec![Bind::Number(from)]);
        }
        if let Some(to) = date(&filter.to, "to")? {
            add("at < ?", vec![Bind::Number(to + DAY_MS)]);
        }
        if let Some(Cursor { at, id }) = before {
            add("(at, id) < (?, ?)", vec![Bind::Number(at), Bind::Number(id)]);
        }
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT id, at, actor, action, project_slug, secret_key, version, ip, details \
             FROM audit_events {clause} ORDER BY at DESC, id DESC LIMIT {limit}"
        );
        Ok((sql, binds))
    }

    /// Up to `limit` events matching `filter`, newest first, older than `before`.
    pub async fn page(
        store: &Store,
        filter: &AuditFilter,
        before: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, AppError> {
        let (sql, binds) = query(filter, before, limit)?;
        let rows: Result<Vec<Row>, sqlx::Error> = async {
            Ok(with_pool!(store, |pool| {
                let mut query = sqlx::query_as(&sql);
                for bind in &binds {
                    query = match bind {
                        Bind::Text(text) => query.bind(text.as_str()),
                        Bind::Number(number) => query.bind(*number),
                    };
                }
                query.fetch_all(pool).await?
            }))
        }
        .await;
        Ok(rows
            .map_err(AppError::internal)?
            .into_iter()
            .map(|row| AuditRow {
                id: row.id,
                at: row.at,
                actor: row.actor,
                action: row.action,
                project: row.project_slug,
                key: row.secret_key,
                version: row.version,
                ip: row.ip,
                details: row.details,
            })
            .collect())
    }

    /// A `before` parameter that is present but is not a [`Cursor`].
    pub fn parse_cursor(text: Option<&str>) -> Result<Option<Cursor>, FieldError> {
        match text.map(str::trim).filter(|text| !text.is_empty()) {
            None => Ok(None),
            Some(text) => Cursor::parse(text).map(Some).ok_or_else(|| {
                FieldError::new(
                    "before",
                    "This page link is not valid; start again from the newest events",
                )
            }),
        }
    }

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
        let last: Result<Option<(i64, bool, String)>, sqlx::Error> = async {
            Ok(with_pool!(store, |pool| {
                sqlx::query_as(
                    "SELECT at, intact, message FROM audit_verifications ORDER BY id DESC LIMIT 1",
                )
                .fetch_optional(pool)
                .await?
            }))
        }
        .await;
        let last_verification = last
            .map_err(AppError::internal)?
            .map(|(at, intact, message)| LastVerification { at, intact, message });
        Ok(AuditView { rows, next_before, now: now_millis(), last_verification })
    }
}

/// `GET /settings/audit.csv?action=…`: the filtered events as CSV, newest first, streamed a page
/// at a time (never built in memory). Owners and admins only.
#[cfg(feature = "ssr")]
pub mod export {
    use axum::{
        body::{Body, Bytes},
        extract::{Query, State},
        http::{HeaderValue, StatusCode, header},
        response::{IntoResponse, Response},
    };
    use tower_sessions::Session;

    use super::{AuditFilter, AuditRow, Cursor, ssr::page};
    use crate::{accounts::session, error::AppError, state::AppState};

    const CHUNK: i64 = 1_000;

    pub async fn export_csv(
        State(state): State<AppState>,
        session: Session,
        Query(filter): Query<AuditFilter>,
    ) -> Response {
        let allowed = async {
            session::require_manager(session::session_user(&session, &state.accounts).await?)?;
            // Reject a malformed filter before the first byte is sent.
            page(&state.store, &filter, None, 1).await?;
            Ok::<_, AppError>(())
        }
        .await;
        if let Err(error) = allowed {
            let status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, error.to_string()).into_response();
        }
        let header_line =
            Bytes::from_static(b"time,actor,action,project,key,version,ip,details\r\n");
        let store = state.store.clone();
        let rows =
            futures_util::stream::unfold(Some(None), move |position: Option<Option<Cursor>>| {
                let store = store.clone();
                let filter = filter.clone();
                async move {
                    let before = position?;
                    match page(&store, &filter, before, CHUNK).await {
                        Ok(rows) if rows.is_empty() => None,
                        Ok(rows) => {
                            let next = (rows.len() as i64 == CHUNK)
                                .then(|| rows.last().map(Cursor::after));
                            let chunk: String = rows.iter().map(csv_line).collect();
                            Some((Ok(Bytes::from(chunk)), next))
                        }
                        Err(error) => Some((Err(std::io::Error::other(error.to_string())), None)),
                    }
                }
            });
        let body = futures_util::StreamExt::chain(
            futures_util::stream::once(async move { Ok::<_, std::io::Error>(header_line) }),
            rows,
        );
        let mut response = Body::from_stream(body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"sealbox-audit.csv\""),
        );
        response
    }

    fn csv_line(row: &AuditRow) -> String {
        let fields = [
            crate::time::iso(row.at),
            row.actor.clone(),
            row.action.clone(),
            row.project.clone().unwrap_or_default(),
            row.key.clone().unwrap_or_default(),
            row.version.map(|v| v.to_string()).unwrap_or_default(),
            row.ip.clone().unwrap_or_default(),
            row.details.clone().unwrap_or_default(),
        ];
        let mut line = fields.iter().map(|field| csv_field(field)).collect::<Vec<_>>().join(",");
        line.push_str("\r\n");
        line
    }

    /// RFC 4180 quoting, and a leading `'` on anything a spreadsheet would run as a formula.
    pub fn csv_field(field: &str) -> String {
        let field = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{field}")
        } else {
            field.to_string()
        };
        if field.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", field.replace('"', "\"\""))
        } else {
            field
        }
    }

    #[cfg(test)]
    mod tests {
        use super::csv_field;

        #[test]
        fn csv_fields_are_quoted_and_formulas_defused() {
            assert_eq!(csv_field("plain"), "plain");
            assert_eq!(csv_field("a,b"), "\"a,b\"");
            assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
            assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        }
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
        <Title text="Audit"/>
        <Transition fallback=|| view! { <p class="muted">"Loading the audit log…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <AuditTable view filter=position.get_untracked().0/> }.into_any(),
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
            <p class="breadcrumb"><a href="/settings">"Settings"</a>" / Audit"</p>
            <div class="page-header">
                <h1>"Audit"</h1>
                <a class="button secondary" href=export download="">"Export CSV"</a>
            </div>
            {match last_verification {
                Some(last) => view! {
                    <p class=if last.intact { "notice ok" } else { "notice warn" } role="status">
                        {last.message}" — checked "<Timestamp at=last.at now/>
                    </p>
                }.into_any(),
                None => view! {
                    <p class="muted">"The chain has not been verified yet: run "<code>"sealbox audit verify"</code>"."</p>
                }.into_any(),
            }}
            <form method="get" action="/settings/audit" class="audit-filters" role="search">
                <label>"Action"<input name="action" value=filter.action.clone() list="audit-actions" placeholder=AuditAction::SecretUpdated.as_str()/></label>
                <datalist id="audit-actions">
                    {AuditAction::ALL.iter().map(|action| view! { <option value=action.as_str()></option> }).collect_view()}
                </datalist>
                <label>"Actor"<input name="actor" value=filter.actor.clone() placeholder="alice@example.com"/></label>
                <label>"Project"<input name="project" value=filter.project.clone() placeholder="discord-bot"/></label>
                <label>"Key"<input name="key" value=filter.key.clone() class="mono" placeholder="API_KEY"/></label>
                <label>"From"<input name="from" type="date" value=filter.from.clone()/></label>
                <label>"To"<input name="to" type="date" value=filter.to.clone()/></label>
                <button type="submit" class="primary">"Filter"</button>
                <a href="/settings/audit">"Clear"</a>
            </form>
            <p class="empty-state" hidden=!empty>"No events match."</p>
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
                    {rows.into_iter().map(|row| {
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
                                <td><Timestamp at=row.at now/></td>
                                <td>{row.actor}</td>
                                <td><code>{row.action}</code></td>
                                <td>{row.project.filter(|p| p != "_team").unwrap_or_default()}</td>
                                <td><code>{row.key.unwrap_or_default()}</code></td>
                                <td>{details}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            {next.map(|href| view! { <a class="button secondary" href=href>"Older events"</a> })}
        </section>
    }
}

/// The filter's non-empty fields as `name=value` URL parameters.
fn url_query(filter: &AuditFilter) -> Vec<String> {
    [
        ("action", &filter.action),
        ("actor", &filter.actor),
        ("project", &filter.project),
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

#[cfg(test)]
mod tests {
    use super::parse_date;

    #[test]
    fn dates_are_days_since_the_epoch() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-11-23"), Some(20_780));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        for bad in ["2025-02-29", "2026-13-01", "yesterday", "2026-11", ""] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
