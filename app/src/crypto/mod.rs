//! Envelope encryption with AES-256-GCM: the master key wraps one data key per project, and each
//! data key seals that project's values. No I/O, and nothing from the rest of the crate but the typed ids a value is bound to: every
//! value is sealed and opened through [`DataKey`]'s methods, keys are wrapped through
//! [`MasterKey`]'s.
//!
//! # Security
//! - Every seal uses a fresh random 96-bit nonce. With at most a few million seals per key the
//!   chance of a nonce repeating stays far below 2^-32.
//! - Associated data binds each ciphertext to where it belongs (see [`SecretAddress`] and
//!   [`data_key_aad`]), so a ciphertext copied onto another row, project or version fails to open.
//! - Every failure to open is the one opaque [`CryptoError::Open`]: callers cannot tell a wrong
//!   key from a flipped bit, and neither can an attacker.

mod aead;
mod fingerprint;
mod keys;

pub use aead::Sealed;
pub use fingerprint::{FINGERPRINT_LEN, Fingerprint, FingerprintKey};
pub use keys::{DataKey, MASTER_KEY_LEN, MasterKey, MasterKeyError};

use crate::ids::{EnvironmentId, ProjectId, Version};

/// Length of a data key in bytes (AES-256).
pub const DATA_KEY_LEN: usize = 32;
/// Length of an AES-GCM nonce in bytes.
pub const NONCE_LEN: usize = 12;
/// Length of the AES-GCM authentication tag appended to every ciphertext.
pub const TAG_LEN: usize = 16;

const SECRET_AAD_LABEL_V1: &[u8] = b"sealbox/secret/v1";
const SECRET_AAD_LABEL_V2: &[u8] = b"sealbox/secret/v2";
const DATA_KEY_AAD_LABEL: &[u8] = b"sealbox/data-key/v1";
const KEY_CHECK_LABEL: &[u8] = b"sealbox/key-check/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The ciphertext, nonce, tag, key or associated data is wrong; deliberately not more precise.
    #[error("decryption failed: wrong key or tampered data")]
    Open,
    /// A stored blob has the wrong length to be what it claims.
    #[error("malformed encrypted data")]
    Malformed,
    /// A stored value is still sealed as before environments ([`Binding::Project`]): only the
    /// start-up reseal opens those.
    #[error("a value sealed before environments, which only the start-up reseal opens")]
    OldBinding,
}

/// Which associated data a stored value was sealed with (the `binding` column of a version).
/// Values written before environments existed are bound to their project, key and version
/// ([`Binding::Project`]); start-up reseals them once under [`Binding::Environment`], which adds
/// the environment. Only [`Binding::CURRENT`] seals, and only it opens outside that reseal
/// ([`Binding::readable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binding {
    /// `sealbox/secret/v1`: project, version, key.
    Project = 1,
    /// `sealbox/secret/v2`: project, environment, version, key.
    Environment = 2,
}

impl Binding {
    /// What every new value is sealed with.
    pub const CURRENT: Binding = Binding::Environment;

    /// The number stored in the `binding` column.
    pub fn stored(self) -> i64 {
        self as i64
    }

    /// The binding of a stored version that reads, writes and rotations open: only
    /// [`Binding::CURRENT`]. A [`Binding::Project`] value lacks the environment in its associated
    /// data, so it would open in any environment's row of its project; the start-up reseal
    /// (`secrets::rebind`) is the one place that opens it, once, and never after it finished.
    pub fn readable(stored: i64) -> Result<Binding, CryptoError> {
        match stored {
            stored if stored == Binding::CURRENT.stored() => Ok(Binding::CURRENT),
            stored if stored == Binding::Project.stored() => Err(CryptoError::OldBinding),
            _ => Err(CryptoError::Malformed),
        }
    }
}

/// Where a secret value belongs: its project (scope), environment, key and version. Sealing binds
/// the value to it ([`DataKey::seal_secret`]), so a ciphertext copied to another row, environment
/// or version does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretAddress<'a> {
    pub project_id: ProjectId,
    pub environment_id: EnvironmentId,
    pub key: &'a str,
    pub version: Version,
    pub binding: Binding,
}

impl<'a> SecretAddress<'a> {
    /// The address of a value sealed now ([`Binding::CURRENT`]).
    pub fn new(
        project_id: ProjectId,
        environment_id: EnvironmentId,
        key: &'a str,
        version: Version,
    ) -> Self {
        Self { project_id, environment_id, key, version, binding: Binding::CURRENT }
    }

    /// The same address under the binding a stored version names, for opening it.
    pub fn with_binding(self, binding: Binding) -> Self {
        Self { binding, ..self }
    }

    /// The associated data: label, then project, (environment,) version and key. The stored values
    /// depend on these exact bytes; changing them needs a new [`Binding`] and a reseal of every
    /// value.
    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(SECRET_AAD_LABEL_V2.len() + 25 + self.key.len());
        match self.binding {
            Binding::Project => {
                aad.extend_from_slice(SECRET_AAD_LABEL_V1);
                aad.push(0);
                aad.extend_from_slice(&self.project_id.0.to_be_bytes());
            }
            Binding::Environment => {
                aad.extend_from_slice(SECRET_AAD_LABEL_V2);
                aad.push(0);
                aad.extend_from_slice(&self.project_id.0.to_be_bytes());
                aad.extend_from_slice(&self.environment_id.0.to_be_bytes());
            }
        }
        aad.extend_from_slice(&self.version.0.to_be_bytes());
        aad.extend_from_slice(self.key.as_bytes());
        aad
    }
}

/// Associated data for a wrapped key: what it belongs to (a project id, or a named purpose).
pub fn data_key_aad(owner: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DATA_KEY_AAD_LABEL.len() + 1 + owner.len());
    aad.extend_from_slice(DATA_KEY_AAD_LABEL);
    aad.push(0);
    aad.extend_from_slice(owner.as_bytes());
    aad
}

#[cfg(test)]
mod tests;
