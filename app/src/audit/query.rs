//! The Audit page's SQL: one page of events for a filter and a keyset position (one backward
//! range scan of one index), and the last chain verification.
use super::view::{AuditFilter, AuditRow, Cursor, LastVerification, parse_date};
use crate::{
    error::AppError,
    ids::Version,
    store::{Store, with_pool},
    time::{DAY_MS, Millis},
    validation::FieldError,
};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: Millis,
    actor: String,
    action: String,
    project_slug: Option<String>,
    environment: Option<String>,
    secret_key: Option<String>,
    version: Option<Version>,
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
        ("environment", &filter.environment),
        ("secret_key", &filter.key),
    ] {
        let value = value.trim();
        if !value.is_empty() {
            add(&format!("{column} = ?"), vec![Bind::Text(value.to_string())]);
        }
    }
    let date = |text: &str, field: &str| -> Result<Option<Millis>, FieldError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        parse_date(text).map(|days| Some(Millis(days * DAY_MS))).ok_or_else(|| {
            FieldError::new(field, "Dates look like 2026-11-23 (year-month-day, UTC)")
        })
    };
    if let Some(from) = date(&filter.from, "from")? {
        add("at >= ?", vec![Bind::Number(from.0)]);
    }
    if let Some(to) = date(&filter.to, "to")? {
        add("at < ?", vec![Bind::Number((to + DAY_MS).0)]);
    }
    if let Some(Cursor { at, id }) = before {
        add("(at, id) < (?, ?)", vec![Bind::Number(at.0), Bind::Number(id)]);
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT id, at, actor, action, project_slug, environment, secret_key, version, ip, \
         details \
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
            environment: row.environment,
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

/// The result of the last `sealbox audit verify --record`, if there was one.
pub async fn last_verification(store: &Store) -> Result<Option<LastVerification>, AppError> {
    let last: Result<Option<(Millis, bool, String)>, sqlx::Error> = async {
        Ok(with_pool!(store, |pool| {
            sqlx::query_as(
                "SELECT at, intact, message FROM audit_verifications ORDER BY id DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await?
        }))
    }
    .await;
    Ok(last.map_err(AppError::internal)?.map(|(at, intact, message)| LastVerification {
        at,
        intact,
        message,
    }))
}
