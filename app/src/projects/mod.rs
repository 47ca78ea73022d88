//! Projects: a name people read and a slug for URLs, their settings and plain variables, and
//! the pages that show them.
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{
    secrets::domain::SecretKey,
    time::Millis,
    validation::{FieldError, has_control},
};

pub mod dotenv;
pub mod list;
pub mod project;
pub mod promote;
#[cfg(feature = "ssr")]
mod promotion;
#[cfg(feature = "ssr")]
pub(crate) mod repo;
#[cfg(feature = "ssr")]
pub mod service;
pub mod variables;

/// A row of the projects list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectListItem {
    pub name: String,
    pub slug: String,
    pub secrets: i64,
    /// How many of its environments lack one of its required secrets (a team secret counts).
    pub environments_missing_required: i64,
    /// The latest change to the project, its secrets or its variables (ms since the epoch).
    pub last_change: Millis,
}

/// What the project's Settings tab edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSettings {
    pub name: String,
    pub slug: String,
    /// Keys the project needs; each one missing is warned about on the Secrets tab.
    pub required: Vec<String>,
    /// Secrets last changed longer ago than this are "Overdue for rotation".
    pub max_secret_age_days: Option<i64>,
}

/// A plain environment variable: not secret, shown and edited as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Variable {
    pub key: String,
    pub value: String,
    pub include_in_export: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A variable's value: any text up to 64 KiB, possibly empty, without NUL bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableValue(String);

impl VariableValue {
    pub fn parse(input: String) -> Result<Self, FieldError> {
        if input.contains('\0') {
            return Err(FieldError::new("value", "Variable values cannot contain NUL bytes"));
        }
        if input.len() > crate::secrets::domain::MAX_VALUE_BYTES {
            return Err(FieldError::new("value", "Variable values are limited to 64 KiB"));
        }
        Ok(Self(input))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A variable's key: the secret key rules, in a variable's words.
pub fn variable_key(input: &str) -> Result<SecretKey, FieldError> {
    SecretKey::parse(input).map_err(|mut error| {
        if input.trim().is_empty() {
            error.message = "Variable key is required".to_string();
        }
        error
    })
}

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_SLUG_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectName(String);

impl ProjectName {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let name = input.trim();
        if name.is_empty() {
            return Err(FieldError::new("name", "Project name is required"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(FieldError::new("name", "Project names are limited to 100 characters"));
        }
        if has_control(name) {
            return Err(FieldError::new("name", "Project names cannot contain control characters"));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The URL form of a project's name: lowercase letters, digits and single hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProjectSlug(String);

impl ProjectSlug {
    /// Parses a slug as it appears in a URL.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let valid = !input.is_empty()
            && input.len() <= MAX_SLUG_LEN
            && input.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !input.starts_with('-')
            && !input.ends_with('-')
            && !input.contains("--");
        if valid {
            Ok(Self(input.to_string()))
        } else {
            Err(FieldError::new(
                "slug",
                "Project URLs use lowercase letters, digits and single hyphens (at most 64)",
            ))
        }
    }

    /// Derives a slug from a project name: "Discord Bot (prod)" → `discord-bot-prod`.
    pub fn from_name(name: &ProjectName) -> Result<Self, FieldError> {
        let mut slug = String::new();
        for c in name.as_str().chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.truncate(MAX_SLUG_LEN);
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            return Err(FieldError::new(
                "name",
                "Project names need at least one letter or digit (A–Z, 0–9) for the URL",
            ));
        }
        Self::parse(slug)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A slug from a URL or a form; a malformed one is simply a project that does not exist.
#[cfg(feature = "ssr")]
pub fn slug_in_url(text: &str) -> Result<ProjectSlug, crate::error::AppError> {
    ProjectSlug::parse(text).map_err(|_| {
        crate::error::AppError::NotFound(format!("There is no project at /projects/{text}"))
    })
}

impl fmt::Display for ProjectSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn slugs_are_derived_from_names() {
        let slug = |name: &str| {
            ProjectSlug::from_name(&ProjectName::parse(name).expect("name")).map(|s| s.0)
        };
        assert_eq!(slug("Discord Bot (prod)").as_deref(), Ok("discord-bot-prod"));
        assert_eq!(slug("  Billing  ").as_deref(), Ok("billing"));
        assert!(slug("🚀🚀").is_err());
    }

    #[test]
    fn variable_keys_follow_the_secret_key_rules() {
        assert_eq!(variable_key(" ").expect_err("empty").message, "Variable key is required");
        assert!(variable_key("lower").is_err());
        assert_eq!(variable_key("LOG_LEVEL").map(|k| k.to_string()).as_deref(), Ok("LOG_LEVEL"));
    }

    #[test]
    fn names_are_required_and_limited() {
        assert_eq!(ProjectName::parse(" ").expect_err("empty").message, "Project name is required");
        assert!(ProjectName::parse(&"n".repeat(101)).is_err());
    }

    proptest! {
        #[test]
        fn every_derived_slug_parses(name in "\\PC{1,100}") {
            if let Ok(name) = ProjectName::parse(&name)
                && let Ok(slug) = ProjectSlug::from_name(&name)
            {
                prop_assert!(ProjectSlug::parse(slug.as_str()).is_ok());
            }
        }
    }
}
