//! Typed ids and versions: a project's id cannot be passed where a person's is expected, nor a
//! version where an id is. Each is the `i64` the tables store, unchanged on the wire (serde
//! transparent) and in SQL (sqlx transparent, with the server feature).

use std::{fmt, num::ParseIntError, str::FromStr};

use serde::{Deserialize, Serialize};

/// One definition for the newtypes below, which differ only in name and doc: a macro because
/// a derive list and six trait impls cannot be shared by a generic type without losing the
/// distinct names the compiler checks.
macro_rules! typed_i64 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type))]
        #[cfg_attr(feature = "ssr", sqlx(transparent))]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIntError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map(Self)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }
    };
}

typed_i64! {
    /// A project's row id (the team's secrets are a project of kind `team` too).
    ProjectId
}

typed_i64! {
    /// An environment's row id (a project's `development`, `staging`, `production`, …).
    EnvironmentId
}

typed_i64! {
    /// A person's row id.
    UserId
}

typed_i64! {
    /// A service token's row id.
    TokenId
}

typed_i64! {
    /// A secret's version: 1 when created, one more on every change.
    Version
}

impl Version {
    /// A new secret's version.
    pub const FIRST: Version = Version(1);

    /// The version a change of this one writes.
    pub fn next(self) -> Version {
        Version(self.0 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_and_print_as_their_numbers() {
        assert_eq!("42".parse::<ProjectId>(), Ok(ProjectId(42)));
        assert!("4x".parse::<TokenId>().is_err());
        assert_eq!(UserId(7).to_string(), "7");
        assert_eq!(Version::FIRST.next(), Version(2));
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn ids_are_bare_numbers_in_json() {
        assert_eq!(serde_json::to_string(&Version(3)).ok().as_deref(), Some("3"));
        assert_eq!(serde_json::from_str::<ProjectId>("12").ok(), Some(ProjectId(12)));
    }
}
