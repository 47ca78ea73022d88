//! An environment's name: the slug rules of project URLs (lowercase letters, digits and single
//! hyphens), at most 32 characters, and none of the words the project's own pages use in their
//! URLs (`/projects/{slug}/{environment}` sits beside `/projects/{slug}/tokens`).
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validation::FieldError;

pub const MAX_ENVIRONMENT_LEN: usize = 32;

/// Words a project's pages use after `/projects/{slug}/`: an environment cannot be named so.
pub const RESERVED_NAMES: [&str; 7] =
    ["variables", "tokens", "settings", "compare", "promote", "environments", "new"];

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EnvironmentName(String);

impl EnvironmentName {
    /// Parses a name typed in a form: surrounding spaces are ignored, and the message says what
    /// is wrong.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let name = input.trim();
        let error = |message: &str| Err(FieldError::new("name", message));
        if name.is_empty() {
            return error("Environment name is required");
        }
        if name.len() > MAX_ENVIRONMENT_LEN {
            return error("Environment names are limited to 32 characters");
        }
        let slug_like =
            name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !name.starts_with('-')
                && !name.ends_with('-')
                && !name.contains("--");
        if !slug_like {
            return error(
                "Environment names use lowercase letters, digits and single hyphens, like staging-eu",
            );
        }
        if RESERVED_NAMES.contains(&name) {
            return Err(FieldError::new(
                "name",
                format!("{name} is a word the project's pages use; choose another name"),
            ));
        }
        Ok(Self(name.to_string()))
    }

    /// A name as it appears in a URL or a stored row: the same rules, with the field `environment`.
    pub fn from_url(input: &str) -> Result<Self, FieldError> {
        Self::parse(input).map_err(|mut error| {
            error.field = "environment".into();
            error
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvironmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn names_follow_the_slug_rules() {
        for good in ["development", "staging-eu", "qa2", "p"] {
            assert_eq!(EnvironmentName::parse(good).map(|n| n.0).as_deref(), Ok(good));
        }
        assert_eq!(EnvironmentName::parse("  staging ").map(|n| n.0).as_deref(), Ok("staging"));
        for bad in ["", " ", "Staging", "stag ing", "-dev", "dev-", "a--b", "prod_1", "*"] {
            assert!(EnvironmentName::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            EnvironmentName::parse("").expect_err("empty").message,
            "Environment name is required"
        );
    }

    #[test]
    fn names_are_at_most_32_characters_and_not_a_page_word() {
        assert!(EnvironmentName::parse(&"a".repeat(32)).is_ok());
        assert!(EnvironmentName::parse(&"a".repeat(33)).is_err());
        let reserved = EnvironmentName::parse("tokens").expect_err("reserved");
        assert_eq!(
            reserved.message,
            "tokens is a word the project's pages use; choose another name"
        );
    }

    #[test]
    fn a_name_from_a_url_names_the_environment_field() {
        assert_eq!(EnvironmentName::from_url("BAD").expect_err("bad").field, "environment");
    }

    proptest! {
        #[test]
        fn every_accepted_name_is_url_safe(name in "\\PC{0,40}") {
            if let Ok(parsed) = EnvironmentName::parse(&name) {
                prop_assert!(parsed.as_str().len() <= MAX_ENVIRONMENT_LEN);
                prop_assert!(parsed.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
            }
        }
    }
}
