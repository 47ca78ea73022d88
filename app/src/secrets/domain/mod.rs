//! Secret keys, values, descriptions and types: each validates on construction, so a value of
//! one of these types is always valid.
use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::validation::{FieldError, has_control};

pub const MAX_KEY_LEN: usize = 128;
pub const MAX_VALUE_BYTES: usize = 65_536;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const RESERVED_PREFIX: &str = "SEALBOX_";

/// Names that change how programs find and load code: a secret or variable with one of these
/// names would let whoever can write it run code in every program `sealbox run` starts. Refused
/// on the server and again by `sealbox run` (also for `--dotenv`).
///
/// No such list is complete: it covers the loaders, shells and runtimes programs are commonly
/// started with.
pub const LOAD_CODE_NAMES: [&str; 25] = [
    "PATH",
    "BASH_ENV",
    "ENV",
    "IFS",
    "SHELLOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "ZDOTDIR",
    "GCONV_PATH",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "PERL5DB",
    "PYTHONWARNINGS",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "_JAVA_OPTIONS",
];
/// Prefixes of the dynamic linkers' variables (`LD_PRELOAD`, `DYLD_INSERT_LIBRARIES`, …).
pub const LOAD_CODE_PREFIXES: [&str; 2] = ["LD_", "DYLD_"];

/// Whether `name` is one of the [`LOAD_CODE_NAMES`] or starts with a [`LOAD_CODE_PREFIXES`].
pub fn loads_code(name: &str) -> bool {
    LOAD_CODE_NAMES.contains(&name) || LOAD_CODE_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The message for a name that [`loads_code`].
pub fn loads_code_message(name: &str) -> String {
    format!("{name} is reserved: it changes how programs load code")
}

/// The name of a secret or variable, e.g. `DISCORD_BOT_TOKEN`. Case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretKey(String);

impl SecretKey {
    /// A key for a new or changed secret or variable: every rule, including the names that
    /// [`loads_code`].
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let key = Self::existing(input)?;
        if loads_code(key.as_str()) {
            return Err(FieldError::new("key", loads_code_message(key.as_str())));
        }
        Ok(key)
    }

    /// A key naming something that may already be stored (to read or delete it): every rule but
    /// the names that [`loads_code`], which a database from before that rule may still hold.
    pub fn existing(input: &str) -> Result<Self, FieldError> {
        let key = input.trim();
        let error = |message: &str| FieldError::new("key", message);
        if key.is_empty() {
            return Err(error("Secret key is required"));
        }
        let well_formed =
            key.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                && !key.as_bytes()[0].is_ascii_digit();
        if !well_formed {
            return Err(error(
                "Keys must use uppercase letters, digits and underscores, and must not start with a digit",
            ));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(error("Keys are limited to 128 characters"));
        }
        if key.starts_with(RESERVED_PREFIX) {
            return Err(error("Keys starting with SEALBOX_ are reserved"));
        }
        Ok(Self(key.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SecretKey {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SecretKey> for String {
    fn from(key: SecretKey) -> Self {
        key.0
    }
}

/// A secret's plaintext.
///
/// # Security
/// Zeroized on drop; not `Clone`, `Serialize` or `Display`; `Debug` prints `SecretValue(***)`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SecretValue(String);

impl SecretValue {
    /// Validates a value typed by a person or sent by a program. The input is zeroized whether or
    /// not it is accepted.
    pub fn new(input: String) -> Result<Self, FieldError> {
        let value = Self(input);
        let error = |message: &str| Err(FieldError::new("value", message));
        if value.0.is_empty() {
            return error("Secret value is required");
        }
        if value.0.contains('\0') {
            return error("Binary values are not supported: encode them as base64 first");
        }
        if value.0.len() > MAX_VALUE_BYTES {
            return error("Secret values are limited to 64 KiB");
        }
        Ok(value)
    }

    /// Like [`SecretValue::new`] for raw bytes, which must be UTF-8 text.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, FieldError> {
        match String::from_utf8(bytes) {
            Ok(text) => Self::new(text),
            Err(error) => {
                error.into_bytes().zeroize();
                Err(FieldError::new(
                    "value",
                    "Binary values are not supported: encode them as base64 first",
                ))
            }
        }
    }

    /// The plaintext, for sealing and for run-time delivery only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

/// An optional note about a secret, at most 500 characters; blank means none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description(Option<String>);

impl Description {
    pub fn parse(input: Option<&str>) -> Result<Self, FieldError> {
        let text = input.map(str::trim).filter(|t| !t.is_empty());
        match text {
            Some(text) if text.chars().count() > MAX_DESCRIPTION_CHARS => {
                Err(FieldError::new("description", "Descriptions are limited to 500 characters"))
            }
            Some(text) if has_control(text) => Err(FieldError::new(
                "description",
                "Descriptions are one line of text without control characters",
            )),
            text => Ok(Self(text.map(str::to_string))),
        }
    }

    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// What kind of credential a secret is; shown in the table and pre-filled from the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretType {
    ApiKey,
    Token,
    Password,
    ConnectionString,
    WebhookUrl,
    Certificate,
    Other,
}

impl SecretType {
    pub const ALL: [Self; 7] = [
        Self::ApiKey,
        Self::Token,
        Self::Password,
        Self::ConnectionString,
        Self::WebhookUrl,
        Self::Certificate,
        Self::Other,
    ];

    /// The stable name stored in the database and used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::Token => "token",
            Self::Password => "password",
            Self::ConnectionString => "connection_string",
            Self::WebhookUrl => "webhook_url",
            Self::Certificate => "certificate",
            Self::Other => "other",
        }
    }

    /// The name people see.
    pub fn label(self) -> &'static str {
        match self {
            Self::ApiKey => "API key",
            Self::Token => "Token",
            Self::Password => "Password",
            Self::ConnectionString => "Connection string",
            Self::WebhookUrl => "Webhook URL",
            Self::Certificate => "Certificate",
            Self::Other => "Other",
        }
    }

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        Self::ALL.into_iter().find(|t| t.as_str() == input).ok_or_else(|| {
            FieldError::new(
                "type",
                "Type must be one of: api_key, token, password, connection_string, webhook_url, \
                 certificate, other",
            )
        })
    }

    /// A guess from the value's shape, offered as the default when a secret is written.
    pub fn suggest(value: &str) -> Self {
        let value = value.trim();
        let lower = value.to_ascii_lowercase();
        const DATABASE_SCHEMES: [&str; 11] = [
            "postgres://",
            "postgresql://",
            "mysql://",
            "mariadb://",
            "mongodb://",
            "mongodb+srv://",
            "redis://",
            "rediss://",
            "amqp://",
            "amqps://",
            "sqlserver://",
        ];
        const TOKEN_PREFIXES: [&str; 8] =
            ["ghp_", "gho_", "ghs_", "github_pat_", "xoxb-", "xoxp-", "glpat-", "eyj"];
        const API_KEY_PREFIXES: [&str; 6] = ["sk_", "sk-", "pk_", "rk_", "akia", "aiza"];
        if value.starts_with("-----BEGIN ") {
            Self::Certificate
        } else if DATABASE_SCHEMES.iter().any(|s| lower.starts_with(s))
            || lower.starts_with("jdbc:")
        {
            Self::ConnectionString
        } else if (lower.starts_with("https://") || lower.starts_with("http://"))
            && lower.contains("hook")
        {
            Self::WebhookUrl
        } else if TOKEN_PREFIXES.iter().any(|p| lower.starts_with(p)) || is_jwt(value) {
            Self::Token
        } else if API_KEY_PREFIXES.iter().any(|p| lower.starts_with(p))
            || (value.len() >= 24 && !value.contains(char::is_whitespace))
        {
            Self::ApiKey
        } else {
            Self::Other
        }
    }
}

fn is_jwt(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests;
