//! `GET /settings/members/{id}/exposure.csv`: the exposure report as CSV (audited like the
//! page). Owners and admins only.
use axum::{
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use tower_sessions::Session;

use super::{Exposure, ExposureReport, service};
use crate::{
    accounts::session,
    audit::{Actor, export::csv_field},
    error::AppError,
    ids::UserId,
    state::AppState,
    time::iso,
};

pub async fn export_csv(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let built = async {
        let manager =
            session::require_manager(session::session_user(&session, &state.accounts).await?)?;
        let user_id = id
            .parse::<i64>()
            .map(UserId)
            .map_err(|_| AppError::NotFound(format!("There is no person with the id {id}")))?;
        let person = super::page::ssr::person(&state, user_id).await?;
        let actor = Actor::new(manager.email, None);
        service::report(&state.store, state.vault.audit(), &actor, &person).await
    }
    .await;
    let report = match built {
        Ok(report) => report,
        Err(error) => {
            let status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, error.to_string()).into_response();
        }
    };
    let mut response = csv(&report).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"sealbox-exposure.csv\""),
    );
    response
}

/// One line per secret, then one per token.
fn csv(report: &ExposureReport) -> String {
    let mut out = String::from("kind,project,environment,name,version_or_scope,how,at,status\r\n");
    let mut line = |fields: [String; 8]| {
        let joined: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
        out.push_str(&joined.join(","));
        out.push_str("\r\n");
    };
    for secret in &report.secrets {
        line([
            if secret.project.is_some() { "secret" } else { "team secret" }.to_string(),
            secret.project.clone().unwrap_or_default(),
            secret.environment.clone(),
            secret.key.clone(),
            secret.version.to_string(),
            match secret.exposure {
                Exposure::Typed => "set its value".to_string(),
                Exposure::ReadByToken => format!("read by token {}", secret.tokens.join(" ")),
            },
            iso(secret.set_at),
            "current".to_string(),
        ]);
    }
    for token in &report.tokens {
        line([
            "token".to_string(),
            token.project.clone(),
            token.environment.clone(),
            token.name.clone(),
            token.scope.clone(),
            "created it".to_string(),
            iso(token.created_at),
            if token.revoked { "revoked" } else { "live" }.to_string(),
        ]);
    }
    out
}
