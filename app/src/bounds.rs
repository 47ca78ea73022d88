//! The first, cheap gate on what server functions and the JSON API receive: structural length
//! caps checked with `validator` before any work (a database query, argon2, an audit event), so
//! that nothing unbounded reaches them. The domain types (`SecretKey::parse`, `Email::parse`, …)
//! stay the source of the rules and their messages; these caps are never stricter than they
//! are, only earlier. Each input is a borrowed view of a call's arguments.
use validator::{Validate, ValidationErrors};

use crate::{
    accounts::domain::{MAX_EMAIL_LEN, MAX_NAME_CHARS, MAX_PASSWORD_CHARS},
    environments::domain::MAX_ENVIRONMENT_LEN,
    error::AppError,
    projects::{MAX_NAME_CHARS as MAX_PROJECT_NAME_CHARS, MAX_SLUG_LEN},
    secrets::domain::{MAX_DESCRIPTION_CHARS, MAX_KEY_LEN, MAX_VALUE_BYTES},
    tokens::MAX_TOKEN_NAME_CHARS,
    validation::FieldError,
};

// The domain's limits, in the type `validator` compares with.
const CAP_EMAIL_LEN: u64 = MAX_EMAIL_LEN as u64;
const CAP_NAME_CHARS: u64 = MAX_NAME_CHARS as u64;
const CAP_PASSWORD_CHARS: u64 = MAX_PASSWORD_CHARS as u64;
const CAP_PROJECT_NAME_CHARS: u64 = MAX_PROJECT_NAME_CHARS as u64;
const CAP_SLUG_LEN: u64 = MAX_SLUG_LEN as u64;
const CAP_DESCRIPTION_CHARS: u64 = MAX_DESCRIPTION_CHARS as u64;
const CAP_KEY_LEN: u64 = MAX_KEY_LEN as u64;
const CAP_VALUE_BYTES: u64 = MAX_VALUE_BYTES as u64;
const CAP_TOKEN_NAME_CHARS: u64 = MAX_TOKEN_NAME_CHARS as u64;
const CAP_ENVIRONMENT_LEN: u64 = MAX_ENVIRONMENT_LEN as u64;

/// Short choice fields (a role, a scope, a type, a number of days).
const MAX_CHOICE_CHARS: u64 = 32;
/// A set-up token is 64 hex digits.
const MAX_SETUP_TOKEN_CHARS: u64 = 128;
/// The required keys of a project: a few hundred keys at most.
const MAX_REQUIRED_CHARS: u64 = 16 * 1024;

/// Checks `input` against its caps: the first broken one becomes the field's error.
pub fn gate(input: &impl Validate) -> Result<(), AppError> {
    check(input).map_err(AppError::from)
}

/// [`gate`] for callers with errors of their own (the JSON API).
pub fn check(input: &impl Validate) -> Result<(), FieldError> {
    input.validate().map_err(first_error)
}

fn first_error(errors: ValidationErrors) -> FieldError {
    let (field, message) = errors
        .field_errors()
        .into_iter()
        .min_by_key(|(field, _)| field.to_string())
        .and_then(|(field, errors)| {
            let message = errors.first()?.message.as_ref()?.to_string();
            Some((field.to_string(), message))
        })
        .unwrap_or_else(|| ("request".to_string(), "The request is too large".to_string()));
    FieldError { field, message }
}

#[derive(Validate)]
pub struct SignIn<'a> {
    #[validate(length(max = CAP_EMAIL_LEN, message = "Enter an email address like name@example.com"))]
    pub email: &'a str,
    #[validate(length(max = CAP_PASSWORD_CHARS, message = "Passwords are at most 256 characters"))]
    pub password: &'a str,
}

#[derive(Validate)]
pub struct NewPerson<'a> {
    #[validate(length(max = MAX_SETUP_TOKEN_CHARS, message = "This set-up link is not valid"))]
    pub token: &'a str,
    #[validate(length(max = CAP_EMAIL_LEN, message = "Enter an email address like name@example.com"))]
    pub email: &'a str,
    #[validate(length(max = CAP_NAME_CHARS, message = "Names are limited to 100 characters"))]
    pub name: &'a str,
    #[validate(length(max = MAX_CHOICE_CHARS, message = "Choose one of the offered options"))]
    pub role: &'a str,
    #[validate(length(max = CAP_PASSWORD_CHARS, message = "Passwords are at most 256 characters"))]
    pub password: &'a str,
}

#[derive(Validate)]
pub struct EnvironmentInput<'a> {
    #[validate(length(max = CAP_SLUG_LEN, message = "Project URLs use lowercase letters, digits and single hyphens (at most 64)"))]
    pub slug: &'a str,
    #[validate(length(max = CAP_ENVIRONMENT_LEN, message = "Environment names are limited to 32 characters"))]
    pub name: &'a str,
    #[validate(length(max = CAP_ENVIRONMENT_LEN, message = "Environment names are limited to 32 characters"))]
    pub new_name: &'a str,
    #[validate(length(max = CAP_ENVIRONMENT_LEN, message = "Type the environment's name to confirm"))]
    pub confirm: &'a str,
}

/// A copy or a promotion from one environment of a project to another (`key`: what is copied;
/// empty for a promotion).
#[derive(Validate)]
pub struct BetweenEnvironments<'a> {
    #[validate(length(max = CAP_SLUG_LEN, message = "Project URLs use lowercase letters, digits and single hyphens (at most 64)"))]
    pub slug: &'a str,
    #[validate(length(max = CAP_ENVIRONMENT_LEN, message = "Environment names are limited to 32 characters"))]
    pub from: &'a str,
    #[validate(length(max = CAP_ENVIRONMENT_LEN, message = "Environment names are limited to 32 characters"))]
    pub to: &'a str,
    #[validate(length(max = CAP_KEY_LEN, message = "Keys are limited to 128 characters"))]
    pub key: &'a str,
    #[validate(length(max = MAX_CHOICE_CHARS, message = "Choose one of the offered options"))]
    pub choice: &'a str,
    /// A promotion's digest of the difference shown (64 hex digits).
    #[validate(length(max = 64, message = "Reload the page: this form is not one Sealbox made"))]
    pub seen: &'a str,
}

#[derive(Validate)]
pub struct ProjectInput<'a> {
    #[validate(length(max = CAP_SLUG_LEN, message = "Project URLs use lowercase letters, digits and single hyphens (at most 64)"))]
    pub slug: &'a str,
    #[validate(length(max = CAP_PROJECT_NAME_CHARS, message = "Project names are limited to 100 characters"))]
    pub name: &'a str,
    #[validate(length(max = MAX_REQUIRED_CHARS, message = "List fewer required keys"))]
    pub required: &'a str,
    #[validate(length(max = MAX_CHOICE_CHARS, message = "Choose one of the offered options"))]
    pub max_age: &'a str,
}

/// A secret or variable being written. `value` is capped in characters here (four bytes each
/// at most); the exact 64 KiB in bytes is the domain's rule.
#[derive(Validate)]
pub struct SecretInput<'a> {
    /// A project's slug, or the team scope's name.
    #[validate(length(max = CAP_SLUG_LEN, message = "Project URLs use lowercase letters, digits and single hyphens (at most 64)"))]
    pub scope: &'a str,
    /// The environment's name (empty: the project's first).
    #[validate(length(max = CAP_ENVIRONMENT_LEN, message = "Environment names are limited to 32 characters"))]
    pub environment: &'a str,
    #[validate(length(max = CAP_KEY_LEN, message = "Keys are limited to 128 characters"))]
    pub key: &'a str,
    #[validate(length(max = CAP_VALUE_BYTES, message = "Secret values are limited to 64 KiB"))]
    pub value: &'a str,
    #[validate(length(max = CAP_DESCRIPTION_CHARS, message = "Descriptions are limited to 500 characters"))]
    pub description: &'a str,
    #[validate(length(max = MAX_CHOICE_CHARS, message = "Choose one of the offered options"))]
    pub secret_type: &'a str,
}

/// A value pasted into the leak check.
#[derive(Validate)]
pub struct LeakProbe<'a> {
    #[validate(length(max = CAP_VALUE_BYTES, message = "Secret values are limited to 64 KiB"))]
    pub value: &'a str,
}

#[derive(Validate)]
pub struct TokenInput<'a> {
    #[validate(length(max = CAP_SLUG_LEN, message = "Project URLs use lowercase letters, digits and single hyphens (at most 64)"))]
    pub slug: &'a str,
    #[validate(length(max = CAP_ENVIRONMENT_LEN, message = "Environment names are limited to 32 characters"))]
    pub environment: &'a str,
    #[validate(length(max = CAP_TOKEN_NAME_CHARS, message = "Token names are limited to 64 characters"))]
    pub name: &'a str,
    #[validate(length(max = MAX_CHOICE_CHARS, message = "Choose one of the offered options"))]
    pub scope: &'a str,
    #[validate(length(max = MAX_CHOICE_CHARS, message = "Choose one of the offered options"))]
    pub expires_in_days: &'a str,
}

impl<'a> SecretInput<'a> {
    /// A secret or variable named by its scope and key, with nothing else to check.
    pub fn named(scope: &'a str, key: &'a str) -> Self {
        Self { scope, environment: "", key, value: "", description: "", secret_type: "" }
    }

    /// The same input, in the environment `environment`.
    pub fn in_environment(self, environment: &'a str) -> Self {
        Self { environment, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cap_names_its_field_with_the_domains_message() {
        let long = "k".repeat(MAX_KEY_LEN + 1);
        let error = gate(&SecretInput::named("bot", &long)).expect_err("too long");
        assert_eq!(
            error.field_message("key").as_deref(),
            Some("Keys are limited to 128 characters")
        );
        let email = "e".repeat(MAX_EMAIL_LEN + 1);
        let error = gate(&SignIn { email: &email, password: "x" }).expect_err("too long");
        assert_eq!(
            error.field_message("email").as_deref(),
            Some("Enter an email address like name@example.com")
        );
        assert!(gate(&SignIn { email: "a@example.com", password: "x" }).is_ok());
    }

    #[test]
    fn the_caps_are_never_stricter_than_the_domain() {
        let key = "K".repeat(MAX_KEY_LEN);
        assert!(crate::secrets::domain::SecretKey::parse(&key).is_ok());
        let value = "v".repeat(MAX_VALUE_BYTES);
        let input = SecretInput { value: &value, ..SecretInput::named("bot", &key) };
        assert!(gate(&input).is_ok());
        assert!(crate::secrets::domain::SecretValue::new(value.clone()).is_ok());
    }
}
