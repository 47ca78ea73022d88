//! The JSON API's errors: `{"error": "<code>", "message": "<for people>"}`. Every code is an
//! [`ApiCode`] (listed in the OpenAPI document), with its HTTP status; every service error is
//! mapped here and nowhere else.
use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    not_found::{Missing, NotFound},
    projects::service::ProjectError,
    secrets::service::VaultError,
    tokens::service::{AuthenticationError, TokenRejection},
    validation::FieldError,
};

/// Defines [`ApiCode`] with its wire name and status from one table (a macro because it
/// generates the enum, its list and both lookups together).
macro_rules! api_codes {
    ($($variant:ident => $name:literal, $status:ident;)*) => {
        /// A stable error code for programs. The name never changes once released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ApiCode {
            $($variant,)*
        }

        impl ApiCode {
            pub const ALL: &'static [ApiCode] = &[$(Self::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            pub const fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

api_codes! {
    InvalidBody => "invalid_body", BAD_REQUEST;
    TokenMissing => "token_missing", UNAUTHORIZED;
    TokenInvalid => "token_invalid", UNAUTHORIZED;
    TokenExpired => "token_expired", UNAUTHORIZED;
    TokenRevoked => "token_revoked", UNAUTHORIZED;
    WrongProject => "wrong_project", FORBIDDEN;
    WrongEnvironment => "wrong_environment", FORBIDDEN;
    InsufficientScope => "insufficient_scope", FORBIDDEN;
    NotFound => "not_found", NOT_FOUND;
    ProjectNotFound => "project_not_found", NOT_FOUND;
    EnvironmentNotFound => "environment_not_found", NOT_FOUND;
    SecretNotFound => "secret_not_found", NOT_FOUND;
    VersionNotFound => "version_not_found", NOT_FOUND;
    MethodNotAllowed => "method_not_allowed", METHOD_NOT_ALLOWED;
    Conflict => "conflict", CONFLICT;
    TypeConflict => "type_conflict", CONFLICT;
    BodyTooLarge => "body_too_large", PAYLOAD_TOO_LARGE;
    UnsupportedMediaType => "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE;
    InvalidKey => "invalid_key", UNPROCESSABLE_ENTITY;
    InvalidValue => "invalid_value", UNPROCESSABLE_ENTITY;
    InvalidDescription => "invalid_description", UNPROCESSABLE_ENTITY;
    InvalidType => "invalid_type", UNPROCESSABLE_ENTITY;
    InvalidRequest => "invalid_request", UNPROCESSABLE_ENTITY;
    NoChanges => "no_changes", UNPROCESSABLE_ENTITY;
    Internal => "internal", INTERNAL_SERVER_ERROR;
}

/// An API failure: a code (which gives the status) and a message for people.
#[derive(Debug)]
pub struct ApiError {
    code: ApiCode,
    message: String,
}

impl ApiError {
    pub fn new(code: ApiCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn code(&self) -> ApiCode {
        self.code
    }

    /// A failure of the server: logged with a reference, which the message names.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let crate::error::AppError::Internal(reference) = crate::error::AppError::internal(cause)
        else {
            return Self::new(ApiCode::Internal, "Something failed");
        };
        Self::new(
            ApiCode::Internal,
            format!("Something failed on the server (reference {reference})"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let mut response =
            (status, Json(json!({ "error": self.code.as_str(), "message": self.message })))
                .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<FieldError> for ApiError {
    fn from(field: FieldError) -> Self {
        let code = match field.field.as_str() {
            "key" => ApiCode::InvalidKey,
            "value" => ApiCode::InvalidValue,
            "description" => ApiCode::InvalidDescription,
            "type" => ApiCode::InvalidType,
            _ => ApiCode::InvalidRequest,
        };
        Self::new(code, field.message)
    }
}

impl From<NotFound> for ApiError {
    fn from(missing: NotFound) -> Self {
        let code = match missing.what {
            Missing::Project => ApiCode::ProjectNotFound,
            Missing::Environment => ApiCode::EnvironmentNotFound,
            Missing::Secret => ApiCode::SecretNotFound,
            Missing::Version => ApiCode::VersionNotFound,
            Missing::Variable | Missing::Token => ApiCode::NotFound,
            Missing::TeamScope => return Self::internal(missing),
        };
        Self::new(code, missing.message)
    }
}

impl From<VaultError> for ApiError {
    fn from(error: VaultError) -> Self {
        match error {
            VaultError::Invalid(field) => field.into(),
            VaultError::NotFound(missing) => missing.into(),
            VaultError::Conflict => Self::new(ApiCode::Conflict, VaultError::Conflict.to_string()),
            VaultError::NoChanges => Self::new(ApiCode::NoChanges, "No changes to save"),
            other => Self::internal(other),
        }
    }
}

impl From<ProjectError> for ApiError {
    fn from(error: ProjectError) -> Self {
        match error {
            ProjectError::Invalid(field) => field.into(),
            ProjectError::NotFound(missing) => missing.into(),
            ProjectError::NoChanges => Self::new(ApiCode::NoChanges, "No changes to save"),
            ProjectError::Database(error) => Self::internal(error),
            ProjectError::Repo(error) => Self::internal(error),
            ProjectError::Conflict(message) => Self::new(ApiCode::Conflict, message),
        }
    }
}

impl From<AuthenticationError> for ApiError {
    fn from(error: AuthenticationError) -> Self {
        match error {
            AuthenticationError::Rejected(rejection) => Self::new(
                match rejection {
                    TokenRejection::Missing => ApiCode::TokenMissing,
                    TokenRejection::Invalid => ApiCode::TokenInvalid,
                    TokenRejection::Expired => ApiCode::TokenExpired,
                    TokenRejection::Revoked => ApiCode::TokenRevoked,
                },
                rejection.to_string(),
            ),
            AuthenticationError::Database(error) => Self::internal(error),
            AuthenticationError::Repo(error) => Self::internal(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ApiCode;

    #[test]
    fn every_code_is_documented_in_the_openapi_document() {
        for code in ApiCode::ALL {
            let quoted = format!("\"{}\"", code.as_str());
            assert!(
                super::super::OPENAPI.contains(&quoted),
                "{quoted} is missing from openapi.json"
            );
        }
    }
}
