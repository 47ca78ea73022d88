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

use crate::ids::{ProjectId, Version};

/// Length of a data key in bytes (AES-256).
pub const DATA_KEY_LEN: usize = 32;
/// Length of an AES-GCM nonce in bytes.
pub const NONCE_LEN: usize = 12;
/// Length of the AES-GCM authentication tag appended to every ciphertext.
pub const TAG_LEN: usize = 16;

const SECRET_AAD_LABEL: &[u8] = b"sealbox/secret/v1";
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
}

/// Where a secret value belongs: its project (scope), key and version. Sealing binds the value
/// to it ([`DataKey::seal_secret`]), so a ciphertext copied to another row does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretAddress<'a> {
    pub project_id: ProjectId,
    pub key: &'a str,
    pub version: Version,
}

impl<'a> SecretAddress<'a> {
    pub fn new(project_id: ProjectId, key: &'a str, version: Version) -> Self {
        Self { project_id, key, version }
    }

    /// The associated data: label, project, version and key. The stored values depend on these
    /// exact bytes; changing them needs a migration that reseals every value.
    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(SECRET_AAD_LABEL.len() + 17 + self.key.len());
        aad.extend_from_slice(SECRET_AAD_LABEL);
        aad.push(0);
        aad.extend_from_slice(&self.project_id.0.to_be_bytes());
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
