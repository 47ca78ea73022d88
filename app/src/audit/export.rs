//! `GET /settings/audit.csv?action=…`: the filtered events as CSV, newest first, streamed a page
//! at a time (never built in memory). Owners and admins only.
use axum::{
    body::{Body, Bytes},
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use tower_sessions::Session;

use super::{
    query::page,
    view::{AuditFilter, AuditRow, Cursor},
};
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
        Bytes::from_static(b"time,actor,action,project,environment,key,version,ip,details\r\n");
    let store = state.store.clone();
    let rows = futures_util::stream::unfold(Some(None), move |position: Option<Option<Cursor>>| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            let before = position?;
            match page(&store, &filter, before, CHUNK).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let next = (rows.len() as i64 == CHUNK).then(|| rows.last().map(Cursor::after));
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
        row.environment.clone().unwrap_or_default(),
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
