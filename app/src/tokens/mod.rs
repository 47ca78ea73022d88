//! Project service tokens: how a program proves it may read (and, with `read-write`, change) one
//! project's secrets at run time. A token is shown once when it is made and stored only as a
//! hash; the Tokens tab lists, creates and revokes them.
use serde::{Deserialize, Serialize};

use crate::{ids::TokenId, time::Millis, validation::FieldError};

pub mod page;
#[cfg(feature = "ssr")]
pub(crate) mod repo;
#[cfg(feature = "ssr")]
pub mod service;

/// Every token starts with this, so a leaked one is recognisable (and greppable) as Sealbox's.
pub const TOKEN_PREFIX: &str = "sbx_";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenScope {
    /// Read metadata, values and the environment.
    Read,
    /// Also create, update and delete secrets.
    ReadWrite,
}

impl TokenScope {
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        match text.trim() {
            "read" => Ok(Self::Read),
            "read-write" => Ok(Self::ReadWrite),
            _ => Err(FieldError::new("scope", "Choose read or read-write")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::ReadWrite => "read-write",
        }
    }
}

/// A token's name: what the audit log calls the program that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

/// The longest token name, in characters.
pub const MAX_TOKEN_NAME_CHARS: usize = 64;

impl TokenName {
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let name = text.trim();
        if name.is_empty() {
            return Err(FieldError::new("name", "Give the token a name, such as deploy-bot"));
        }
        if name.chars().count() > MAX_TOKEN_NAME_CHARS {
            return Err(FieldError::new("name", "Token names are limited to 64 characters"));
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_. ".contains(c)) {
            return Err(FieldError::new(
                "name",
                "Token names use letters, digits, spaces, '-', '_' and '.'",
            ));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The longest expiry people can choose, in days.
pub const MAX_EXPIRY_DAYS: i64 = 3650;

/// "Expires in N days" from a form: empty means never.
pub fn parse_expiry_days(text: &str) -> Result<Option<i64>, FieldError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<i64>() {
        Ok(days) if (1..=MAX_EXPIRY_DAYS).contains(&days) => Ok(Some(days)),
        _ => Err(FieldError::new(
            "expires_in_days",
            "Expiry is a whole number of days from 1 to 3650, or empty for never",
        )),
    }
}

/// A token as the Tokens tab lists it: never the token, never its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: TokenId,
    pub name: String,
    pub scope: TokenScope,
    /// The environment it reads and writes.
    pub environment: String,
    pub created_at: Millis,
    pub created_by: String,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_scopes_and_expiries_are_checked() {
        assert_eq!(TokenName::parse("  deploy-bot ").map(|n| n.0), Ok("deploy-bot".into()));
        for bad in ["", "   ", "a/b", &"x".repeat(65)] {
            assert!(TokenName::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(TokenScope::parse("read-write"), Ok(TokenScope::ReadWrite));
        assert!(TokenScope::parse("admin").is_err());
        assert_eq!(parse_expiry_days(""), Ok(None));
        assert_eq!(parse_expiry_days("30"), Ok(Some(30)));
        for bad in ["0", "-1", "3651", "soon"] {
            assert!(parse_expiry_days(bad).is_err(), "{bad}");
        }
    }
}
