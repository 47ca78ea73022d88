//! The one error type that crosses from server to browser. Every variant carries a message written
//! for people; internal causes stay in the server log, referenced by an id.
use std::fmt;

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    /// The input is invalid; the message says how to fix it.
    Validation(String),
    /// One field of a form is invalid: the message is shown beside that field.
    Invalid { field: String, message: String },
    /// No signed-in user, or the credentials are not valid.
    Unauthorized,
    /// Signed in, but not allowed to do this.
    Forbidden(String),
    /// The thing asked for does not exist (or is not visible to the caller).
    NotFound(String),
    /// The request conflicts with the current state, e.g. a stale version.
    Conflict(String),
    /// Too many attempts; the message says when to try again.
    TooManyRequests(String),
    /// The server is too busy right now; the message says to try again shortly.
    Unavailable(String),
    /// The request is larger than the route accepts; the message says how large it may be.
    TooLarge(String),
    /// Something failed on the server. The string is a reference to the log line with the cause.
    Internal(String),
    /// The browser could not talk to the server, or could not understand its answer.
    Transport(String),
}

impl AppError {
    /// The HTTP status this error is sent with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Validation(_) | Self::Invalid { .. } => 422,
            Self::Unauthorized => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::TooManyRequests(_) => 429,
            Self::Unavailable(_) => 503,
            Self::TooLarge(_) => 413,
            Self::Internal(_) => 500,
            Self::Transport(_) => 502,
        }
    }

    /// A short heading for an error page.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Validation(_) | Self::Invalid { .. } => "That did not work",
            Self::Unauthorized => "Please sign in",
            Self::Forbidden(_) => "Not allowed",
            Self::NotFound(_) => "Page not found",
            Self::Conflict(_) => "Changed elsewhere",
            Self::TooManyRequests(_) => "Too many attempts",
            Self::Unavailable(_) => "Busy",
            Self::TooLarge(_) => "Too large",
            Self::Internal(_) => "Something went wrong",
            Self::Transport(_) => "Cannot reach Sealbox",
        }
    }

    /// The message for the form field `name`, when this error is about that field.
    pub fn field_message(&self, name: &str) -> Option<String> {
        match self {
            Self::Invalid { field, message } if field == name => Some(message.clone()),
            _ => None,
        }
    }

    /// The message for the form as a whole: every error that belongs to no one field.
    pub fn form_message(&self) -> Option<String> {
        match self {
            Self::Invalid { .. } => None,
            other => Some(other.to_string()),
        }
    }

    /// Logs `cause` with its whole chain and returns an opaque error that names the log line.
    #[cfg(feature = "ssr")]
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let cause = cause.into();
        let reference = format!("{:08x}", rand::random::<u32>());
        tracing::error!(reference = %reference, error = format!("{cause:#}"), "internal error");
        Self::Internal(reference)
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Validation(message)
            | Self::Invalid { message, .. }
            | Self::Forbidden(message)
            | Self::NotFound(message)
            | Self::Conflict(message)
            | Self::TooManyRequests(message)
            | Self::Unavailable(message)
            | Self::TooLarge(message) => f.write_str(message),
            Self::Unauthorized => f.write_str("Please sign in to continue."),
            Self::Internal(reference) => write!(
                f,
                "Something went wrong on the server. Try again; if it keeps happening, \
                 give your administrator this reference: {reference}."
            ),
            Self::Transport(_) => {
                f.write_str("Sealbox could not be reached. Check your connection and try again.")
            }
        }
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Bad arguments are the caller's mistake, not ours.
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                let error = Self::Validation(format!("The request was malformed: {message}"));
                // Raised before the function runs, so `respond` never sees it: without this the
                // caller would get a 500 for its own mistake.
                #[cfg(feature = "ssr")]
                set_status(&error);
                error
            }
            ServerFnErrorErr::Request(message)
            | ServerFnErrorErr::Deserialization(message)
            | ServerFnErrorErr::Response(message) => Self::Transport(message),
            other => {
                #[cfg(feature = "ssr")]
                {
                    Self::internal(anyhow::anyhow!(other))
                }
                #[cfg(not(feature = "ssr"))]
                {
                    Self::Transport(other.to_string())
                }
            }
        }
    }
}

/// Sets the HTTP status of the current server-function response from the error it returns, so
/// that API clients and tests see 401, 403, 422… instead of a blanket 500. A plain form post
/// keeps the redirect back to its page, which shows the error.
#[cfg(feature = "ssr")]
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result {
        set_status(error);
    }
    result
}

#[cfg(feature = "ssr")]
fn set_status(error: &AppError) {
    if !is_form_post()
        && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
}

/// Whether this request is a plain HTML form post (no JavaScript): its outcome is shown after a
/// redirect back to the page, not returned to a script.
#[cfg(feature = "ssr")]
pub fn is_form_post() -> bool {
    leptos::prelude::use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_reveal_their_cause() {
        let error = AppError::Internal("abc123".into());
        let shown = error.to_string();
        assert!(shown.contains("abc123"));
        assert_eq!(error.status(), 500);
    }

    #[test]
    fn malformed_arguments_are_a_validation_error() {
        let error = AppError::from_server_fn_error(ServerFnErrorErr::Args("bad".into()));
        assert_eq!(error.status(), 422);
    }
}
