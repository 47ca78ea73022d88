//! The error every domain type returns when input breaks one of its rules.
use serde::{Deserialize, Serialize};

/// A rule broken by one field, with the message shown beside that field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_string(), message: message.into() }
    }
}

impl From<FieldError> for crate::error::AppError {
    fn from(error: FieldError) -> Self {
        Self::Invalid { field: error.field, message: error.message }
    }
}

/// Whether `text` holds a control character (NUL, escape, line breaks, …). Names, emails,
/// descriptions and keys are single lines of printable text: PostgreSQL refuses NUL outright, and
/// the others would garble the audit log and every page that shows them.
pub fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}
