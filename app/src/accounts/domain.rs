//! People who sign in: their email, name, password and role, each validated on construction.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{
    ids::UserId,
    time::Millis,
    validation::{FieldError, has_control},
};

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;
pub const MAX_EMAIL_LEN: usize = 254;
pub const MAX_NAME_CHARS: usize = 100;

/// An email address, compared case-insensitively (stored lowercased).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return Err(FieldError::new("email", "Email is required"));
        }
        let valid = email.len() <= MAX_EMAIL_LEN
            && !email.contains(char::is_whitespace)
            && !has_control(&email)
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            });
        if !valid {
            return Err(FieldError::new("email", "Enter an email address like name@example.com"));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name shown for a person; blank falls back to the email's local part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: Option<&str>, email: &Email) -> Result<Self, FieldError> {
        match input.map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) if name.chars().count() > MAX_NAME_CHARS => {
                Err(FieldError::new("name", "Names are limited to 100 characters"))
            }
            Some(name) if has_control(name) => {
                Err(FieldError::new("name", "Names cannot contain control characters"))
            }
            Some(name) => Ok(Self(name.to_string())),
            None => Ok(Self(email.as_str().split('@').next().unwrap_or_default().to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed.
///
/// # Security
/// Zeroized on drop; not `Clone`, `Serialize` or `Display`; `Debug` prints `Password(***)`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Password(String);

impl Password {
    /// A new password (set-up, add member): 12 to 256 characters.
    pub fn new(input: String) -> Result<Self, FieldError> {
        let password = Self(input);
        let chars = password.0.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(FieldError::new("password", "Passwords must be at least 12 characters"));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(FieldError::new("password", "Passwords are limited to 256 characters"));
        }
        Ok(password)
    }

    /// A password typed at sign-in: not checked against the rules, so that the answer to a wrong
    /// one is always the same "Invalid email or password".
    pub fn attempt(input: String) -> Self {
        Self(input)
    }

    /// A strong random password (20 characters from an unambiguous alphabet, ~114 bits).
    pub fn generate() -> Self {
        const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - 256 % ALPHABET.len();
        let mut password = String::with_capacity(20);
        let mut bytes = [0u8; 32];
        while password.len() < 20 {
            rand_fill(&mut bytes);
            for b in bytes.iter().map(|b| usize::from(*b)).filter(|b| *b < limit) {
                if password.len() < 20 {
                    password.push(char::from(ALPHABET[b % ALPHABET.len()]));
                }
            }
        }
        bytes.zeroize();
        Self(password)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(feature = "ssr")]
fn rand_fill(bytes: &mut [u8]) {
    rand::fill(bytes);
}

#[cfg(not(feature = "ssr"))]
fn rand_fill(_bytes: &mut [u8]) {
    unreachable!("passwords are generated on the server only")
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// What a person may do. Owners and admins change secrets and manage members; members see names
/// and metadata only. Only owners create or change owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::Owner, Self::Admin, Self::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Owner => "Owner",
            Self::Admin => "Admin",
            Self::Member => "Member",
        }
    }

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == input.trim().to_lowercase())
            .ok_or_else(|| FieldError::new("role", "Role must be owner, admin or member"))
    }

    /// Add, edit and delete secrets, variables and tokens; read the audit log; manage members.
    pub fn can_manage(self) -> bool {
        self >= Self::Admin
    }
}

/// What the members page and the session know about a person; never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: Millis,
    pub last_sign_in_at: Option<Millis>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").map(|e| e.0).as_deref(),
            Ok("alice@example.com")
        );
        for bad in ["alice", "alice@", "@example.com", "a b@example.com", "a@example", "a@.com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Email::parse("").expect_err("empty").message, "Email is required");
    }

    #[test]
    fn passwords_are_12_to_256_characters() {
        let message = |p: &str| Password::new(p.to_string()).err().map(|e| e.message);
        assert_eq!(message("short").as_deref(), Some("Passwords must be at least 12 characters"));
        assert_eq!(message(&"p".repeat(12)), None);
        assert_eq!(message(&"é".repeat(256)), None);
        assert_eq!(
            message(&"p".repeat(257)).as_deref(),
            Some("Passwords are limited to 256 characters")
        );
        assert_eq!(format!("{:?}", Password::attempt("hunter2".into())), "Password(***)");
    }

    // Passwords are generated on the server only (`cargo test -p app` builds without it).
    #[cfg(feature = "ssr")]
    #[test]
    fn generated_passwords_follow_the_rules_and_differ() {
        let a = Password::generate();
        let b = Password::generate();
        assert!(Password::new(a.expose().to_string()).is_ok());
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn only_owners_and_admins_manage() {
        assert!(Role::Owner.can_manage() && Role::Admin.can_manage());
        assert!(!Role::Member.can_manage());
        assert_eq!(Role::parse("Admin"), Ok(Role::Admin));
        assert!(Role::parse("root").is_err());
    }
}
