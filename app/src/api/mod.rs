//! The JSON API for programs, under `/api/v1`, authenticated by a project service token
//! (`Authorization: Bearer sbx_…`). This is the only way a plaintext value leaves Sealbox: every
//! value read and every write is audited with the token's name as the actor, in the same
//! transaction, and fails when its event cannot be written.
//!
//! Errors are `{"error": "<stable code>", "message": "<for people>"}`; validation messages are
//! the ones the pages show.
mod error;

use std::net::SocketAddr;

use axum::{
    Json, Router,
    extract::{ConnectInfo, DefaultBodyLimit, Path, State, rejection::JsonRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    audit::{AuditAction, Event},
    environments::EnvironmentName,
    ids::Version,
    projects::ProjectSlug,
    secrets::{
        SecretMeta,
        domain::{Description, SecretKey, SecretType, SecretValue},
        runtime::Target,
        service::{NewSecret, Scope, SecretUpdate, VaultError},
    },
    state::AppState,
    time,
    tokens::{TokenScope, service::TokenHolder},
};

pub use error::{ApiCode, ApiError};

/// How many times a run-time read is restarted when what it read changed before its audit event
/// committed (see [`crate::store::snapshot`]).
const STALE_RETRIES: usize = 3;

/// The response header that names the environment a project route acted on.
pub const ENVIRONMENT_HEADER: &str = "sealbox-environment";

/// Request bodies larger than this are refused with 413 (a value is at most 64 KiB).
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// Every route and its methods, as the OpenAPI document must describe them.
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/api/v1/openapi.json", &["get"]),
    ("/api/v1/projects/{slug}/secrets", &["get"]),
    ("/api/v1/projects/{slug}/secrets/{key}", &["get", "put", "delete"]),
    ("/api/v1/projects/{slug}/secrets/{key}/versions", &["get"]),
    ("/api/v1/projects/{slug}/secrets/{key}/rollback", &["post"]),
    ("/api/v1/projects/{slug}/env", &["get"]),
    ("/api/v1/projects/{slug}/environments", &["get"]),
    ("/api/v1/projects/{slug}/environments/{environment}/secrets", &["get"]),
    ("/api/v1/projects/{slug}/environments/{environment}/secrets/{key}", &["get", "put", "delete"]),
    ("/api/v1/projects/{slug}/environments/{environment}/secrets/{key}/versions", &["get"]),
    ("/api/v1/projects/{slug}/environments/{environment}/secrets/{key}/rollback", &["post"]),
    ("/api/v1/projects/{slug}/environments/{environment}/env", &["get"]),
];

/// The OpenAPI 3 description of this API, served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The API's routes, to be nested under `/api/v1`. Every route of a project acts on the token's
/// environment; under `/environments/{environment}/` it names that environment, and another
/// environment than the token's is refused (`403 wrong_environment`).
pub fn router() -> Router<AppState> {
    let project = Router::new()
        .route("/secrets", get(list_secrets))
        .route("/secrets/{key}", get(read_secret).put(write_secret).delete(delete_secret))
        .route("/secrets/{key}/versions", get(list_versions))
        .route("/secrets/{key}/rollback", post(rollback_secret))
        .route("/env", get(environment));
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/projects/{slug}/environments", get(list_environments))
        .nest("/projects/{slug}/environments/{environment}", project.clone())
        .nest("/projects/{slug}", project)
        .fallback(|| async { ApiError::new(ApiCode::NotFound, "No such API route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ApiCode::MethodNotAllowed, "This route does not take that method")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The caller of one request: a valid token for the project in the URL, with enough scope.
struct Caller {
    holder: TokenHolder,
    actor: crate::audit::Actor,
    scope: Scope,
}

/// What a project route's URL names: the project and, under `/environments/{environment}/`,
/// the environment. Extracted from the path by name, so one handler serves both forms.
#[derive(Deserialize)]
struct ProjectPath {
    slug: String,
    environment: Option<String>,
}

/// A project route's path with a secret's key.
#[derive(Deserialize)]
struct SecretPath {
    slug: String,
    environment: Option<String>,
    key: String,
}

impl SecretPath {
    fn project(&self) -> ProjectPath {
        ProjectPath { slug: self.slug.clone(), environment: self.environment.clone() }
    }
}

/// The caller, its token checked against the database.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    address: SocketAddr,
    path: &ProjectPath,
    needs: TokenScope,
) -> Result<Caller, ApiError> {
    let holder = state.tokens.authenticate(bearer(headers)).await?;
    admit(holder, address, path, needs)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
}

/// A valid token's holder, if it may do what the request needs in the project (and
/// environment) in the URL.
fn admit(
    holder: TokenHolder,
    address: SocketAddr,
    path: &ProjectPath,
    needs: TokenScope,
) -> Result<Caller, ApiError> {
    let slug = path.slug.as_str();
    if holder.project_slug != slug {
        return Err(ApiError::new(
            ApiCode::WrongProject,
            format!("This token belongs to the project {}", holder.project_slug),
        ));
    }
    if let Some(environment) = path.environment.as_deref()
        && environment != holder.environment
    {
        return Err(ApiError::new(
            ApiCode::WrongEnvironment,
            format!(
                "This token belongs to the environment {} of {slug}; create a token for {} on \
                 the project's Tokens tab",
                holder.environment,
                EnvironmentName::from_url(environment)
                    .map_or_else(|_| "that environment".to_string(), |name| name.to_string()),
            ),
        ));
    }
    if needs == TokenScope::ReadWrite && holder.scope != TokenScope::ReadWrite {
        return Err(ApiError::new(
            ApiCode::InsufficientScope,
            "This token may only read; create a read-write token to change secrets",
        ));
    }
    let slug = ProjectSlug::parse(slug)
        .map_err(|_| ApiError::new(ApiCode::ProjectNotFound, "No such project"))?;
    let environment = EnvironmentName::from_url(&holder.environment)?;
    let actor = holder.actor(Some(address.ip().to_string()));
    Ok(Caller { holder, actor, scope: Scope::Project(slug, environment) })
}

/// A key to write: every rule.
fn secret_key(text: &str) -> Result<SecretKey, ApiError> {
    Ok(SecretKey::parse(text)?)
}

/// A key to read or delete, which a database from before a rule may still hold.
fn existing_key(text: &str) -> Result<SecretKey, ApiError> {
    Ok(SecretKey::existing(text)?)
}

/// A secret's metadata as the API sends it: never a value.
#[derive(Debug, Serialize, Deserialize)]
pub struct SecretInfo {
    pub key: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub secret_type: String,
    pub version: Version,
    pub created_at: String,
    pub updated_at: String,
}

impl From<SecretMeta> for SecretInfo {
    fn from(meta: SecretMeta) -> Self {
        Self {
            key: meta.key,
            description: meta.description,
            secret_type: meta.secret_type.as_str().to_string(),
            version: meta.version,
            created_at: time::iso(meta.created_at),
            updated_at: time::iso(meta.updated_at),
        }
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn list_secrets(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(path): Path<ProjectPath>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers, address, &path, TokenScope::Read).await?;
    let secrets = state.vault.list_secrets(&caller.scope).await?;
    let event = Event {
        actor: &caller.actor,
        action: AuditAction::SecretListed,
        project_id: Some(caller.holder.project_id),
        project_slug: Some(&caller.holder.project_slug),
        environment: Some(&caller.holder.environment),
        secret_key: None,
        version: None,
        details: None,
    };
    state.audit.record_alone(event).await.map_err(ApiError::internal)?;
    let body = Json(secrets.into_iter().map(SecretInfo::from).collect::<Vec<_>>());
    Ok(with_environment(&caller.holder, body))
}

/// `response` with the [`ENVIRONMENT_HEADER`] naming the token's environment.
fn with_environment(holder: &TokenHolder, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    if let Ok(value) = header::HeaderValue::from_str(&holder.environment) {
        response.headers_mut().insert(ENVIRONMENT_HEADER, value);
    }
    response
}

async fn read_secret(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(path): Path<SecretPath>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers, address, &path.project(), TokenScope::Read).await?;
    let key = existing_key(&path.key)?;
    let revealed = state.vault.reveal(&caller.actor, &caller.scope, &key).await?;
    let body = json!({
        "key": key.as_str(),
        "value": revealed.value.expose(),
        "version": revealed.version,
        "updated_at": time::iso(revealed.updated_at),
    });
    Ok(Json(body).into_response())
}

/// `["development", …]`: the project's environments in their order; any token of the project.
async fn list_environments(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let path = ProjectPath { slug, environment: None };
    let caller = caller(&state, &headers, address, &path, TokenScope::Read).await?;
    let slug = ProjectSlug::parse(&path.slug)?;
    let environments = state.environments.list(&slug).await?;
    let names: Vec<String> = environments.into_iter().map(|e| e.name).collect();
    let event = Event::about_project(
        &caller.actor,
        AuditAction::EnvironmentsListed,
        caller.holder.project_id,
        &caller.holder.project_slug,
    );
    state.audit.record_alone(event).await.map_err(ApiError::internal)?;
    Ok(Json(json!({ "environments": names })).into_response())
}

/// `{"KEY": "value"}`: the environment's variables, then the team secrets, then the
/// environment's own secrets, each overriding the one before for the same key.
async fn environment(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(path): Path<ProjectPath>,
) -> Result<Response, ApiError> {
    let bearer = bearer(&headers);
    // The token and the stored environment may come from memory; the audit event then commits
    // only if nothing changed since they were read, and otherwise the read starts again from the
    // database. After `STALE_RETRIES` such restarts (changes arriving faster than reads), the
    // read checks the token in the database and appends its event unconditionally.
    let mut restarts = 0;
    let environment = loop {
        let (holder, generation) = state.tokens.authenticate_at(bearer, restarts > 0).await?;
        let caller = admit(holder, address, &path, TokenScope::Read)?;
        let generation = (restarts < STALE_RETRIES).then_some(generation);
        let holder = &caller.holder;
        let target = Target {
            project_id: holder.project_id,
            slug: &holder.project_slug,
            environment_id: holder.environment_id,
            environment: &holder.environment,
        };
        let read = state.run_time.run_time_environment(&caller.actor, target, generation).await;
        match read {
            Err(VaultError::Stale(current)) => {
                state.tokens.saw_generation(current);
                restarts += 1;
            }
            other => break other?,
        }
    };
    let environment: serde_json::Map<String, serde_json::Value> = environment
        .iter()
        .map(|(key, value)| (key.clone(), serde_json::Value::String(value.to_string())))
        .collect();
    Ok(Json(environment).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteBody {
    value: String,
    description: Option<String>,
    #[serde(rename = "type")]
    secret_type: Option<String>,
}

/// Creates (201) or updates (200) a secret. An update keeps the description unless one is given;
/// the type is chosen when a secret is created.
async fn write_secret(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(path): Path<SecretPath>,
    body: Result<Json<WriteBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers, address, &path.project(), TokenScope::ReadWrite).await?;
    let key = secret_key(&path.key)?;
    let slug = &path.slug;
    let Json(body) = body.map_err(body_error)?;
    crate::bounds::check(&crate::bounds::SecretInput {
        value: &body.value,
        description: body.description.as_deref().unwrap_or_default(),
        secret_type: body.secret_type.as_deref().unwrap_or_default(),
        ..crate::bounds::SecretInput::named(slug, key.as_str())
    })?;
    let value = SecretValue::new(body.value)?;
    let secret_type = body.secret_type.as_deref().map(SecretType::parse).transpose()?;
    let current = state
        .vault
        .list_secrets(&caller.scope)
        .await?
        .into_iter()
        .find(|meta| meta.key == key.as_str());
    let (status, meta) = match current {
        None => {
            let description = Description::parse(body.description.as_deref())?;
            let new = NewSecret { key, value, description, secret_type };
            (
                StatusCode::CREATED,
                state.vault.create_secret(&caller.actor, &caller.scope, new).await?,
            )
        }
        Some(current) => {
            // A well-formed type that differs from the stored one conflicts with the secret as
            // it is: 409, not 422 (the request itself is valid).
            if secret_type.is_some_and(|t| t != current.secret_type) {
                return Err(ApiError::new(
                    ApiCode::TypeConflict,
                    "A secret's type is set when it is created; delete and create it to change it",
                ));
            }
            let description =
                Description::parse(body.description.as_deref().or(current.description.as_deref()))?;
            let update =
                SecretUpdate { expected_version: current.version, value: Some(value), description };
            match state.vault.update_secret(&caller.actor, &caller.scope, &key, update).await {
                Ok(meta) => (StatusCode::OK, meta),
                // PUT is idempotent: the same value and description again is a success that
                // makes no new version.
                Err(VaultError::NoChanges) => (StatusCode::OK, current),
                Err(error) => return Err(error.into()),
            }
        }
    };
    Ok((status, Json(SecretInfo::from(meta))).into_response())
}

async fn delete_secret(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(path): Path<SecretPath>,
) -> Result<StatusCode, ApiError> {
    let caller = caller(&state, &headers, address, &path.project(), TokenScope::ReadWrite).await?;
    let key = existing_key(&path.key)?;
    state.vault.delete_secret(&caller.actor, &caller.scope, &key, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One version of a secret as the API lists it: never a value.
#[derive(Debug, Serialize, Deserialize)]
pub struct VersionEntry {
    pub version: Version,
    pub created_at: String,
    /// A person's email, or `token:NAME`.
    pub created_by: String,
    /// `created`, `value`, `description`, `value+description`, `rolled_back` or `copied`.
    pub change: String,
    /// A rollback's: the version whose value and description it restored.
    pub restored_from: Option<Version>,
    pub current: bool,
}

/// `{"key": …, "current_version": N, "versions": [...]}`: a secret's versions, the newest first;
/// metadata only. Audited (`secret.versions_listed`).
async fn list_versions(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(path): Path<SecretPath>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers, address, &path.project(), TokenScope::Read).await?;
    let key = existing_key(&path.key)?;
    let history = state.vault.history(&caller.scope, &key).await?;
    let event = Event {
        actor: &caller.actor,
        action: AuditAction::SecretVersionsListed,
        project_id: Some(caller.holder.project_id),
        project_slug: Some(&caller.holder.project_slug),
        environment: Some(&caller.holder.environment),
        secret_key: Some(key.as_str()),
        version: Some(history.current),
        details: None,
    };
    state.audit.record_alone(event).await.map_err(ApiError::internal)?;
    let versions: Vec<VersionEntry> = history
        .versions
        .into_iter()
        .map(|info| VersionEntry {
            version: info.version,
            created_at: time::iso(info.at),
            created_by: info.by,
            change: info.change.as_str().to_string(),
            restored_from: info.restored_from,
            current: info.version == history.current,
        })
        .collect();
    let body = json!({
        "key": history.key,
        "current_version": history.current,
        "versions": versions,
    });
    Ok(with_environment(&caller.holder, Json(body)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    /// The version whose value and description become current again.
    version: i64,
}

/// Makes an earlier version's value and description current again as a new version: `200` with
/// the secret's metadata (its new version).
async fn rollback_secret(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(path): Path<SecretPath>,
    body: Result<Json<RollbackBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers, address, &path.project(), TokenScope::ReadWrite).await?;
    let key = existing_key(&path.key)?;
    let Json(body) = body.map_err(|rejection| match body_error(rejection) {
        error if error.code() == ApiCode::InvalidBody => ApiError::new(
            ApiCode::InvalidBody,
            "The body must be a JSON object: {\"version\": N}, N the version to roll back to",
        ),
        error => error,
    })?;
    if body.version < 1 {
        return Err(ApiError::new(ApiCode::InvalidBody, "The version is a whole number from 1"));
    }
    let current = state.vault.current(&caller.scope, &key).await?;
    let meta = state
        .vault
        .rollback(&caller.actor, &caller.scope, &key, Version(body.version), current.version)
        .await?;
    Ok(with_environment(&caller.holder, Json(SecretInfo::from(meta))))
}

/// A body that is too large, not JSON, or not the expected shape. The parser's own message is
/// not repeated: it can quote the body, and the body holds a value.
fn body_error(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ApiCode::BodyTooLarge, "The request body is larger than 128 KiB")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            ApiCode::UnsupportedMediaType,
            "Send the body as JSON with 'Content-Type: application/json'",
        ),
        _ => ApiError::new(
            ApiCode::InvalidBody,
            "The body must be a JSON object: {\"value\": \"…\", \"description\": \"…\", \"type\": \"…\"} \
             (description and type optional)",
        ),
    }
}
