//! Envelope encryption with AES-256-GCM: the master key wraps one data key per project, and each
//! data key seals that project's values. Pure functions, no I/O.
//!
//! # Security
//! - Every seal uses a fresh random 96-bit nonce. With at most a few million seals per key the
//!   chance of a nonce repeating stays far below 2^-32.
//! - Associated data binds each ciphertext to where it belongs (see [`secret_aad`] and
//!   [`data_key_aad`]), so a ciphertext copied onto another row, project or version fails to open.
//! - Every failure to open is the one opaque [`CryptoError::Open`]: callers cannot tell a wrong
//!   key from a flipped bit, and neither can an attacker.
mod aead;
mod fingerprint;

pub use aead::{Sealed, open, seal};
pub use fingerprint::{FINGERPRINT_LEN, Fingerprint, FingerprintKey};

use zeroize::Zeroizing;

use crate::keyring::MasterKey;

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

/// A 256-bit key that seals the values of one project; zeroized when dropped.
pub struct DataKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl DataKey {
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        rand::fill(&mut key[..]);
        Self(key)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        if bytes.len() != DATA_KEY_LEN {
            return Err(CryptoError::Malformed);
        }
        key.copy_from_slice(bytes);
        Ok(Self(key))
    }

    pub fn expose(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(***)")
    }
}

/// Associated data for a secret value: its project (scope), key and version.
pub fn secret_aad(project_id: i64, key: &str, version: i64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(SECRET_AAD_LABEL.len() + 17 + key.len());
    aad.extend_from_slice(SECRET_AAD_LABEL);
    aad.push(0);
    aad.extend_from_slice(&project_id.to_be_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad.extend_from_slice(key.as_bytes());
    aad
}

/// Associated data for a wrapped key: what it belongs to (a project id, or a named purpose).
pub fn data_key_aad(owner: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DATA_KEY_AAD_LABEL.len() + 1 + owner.len());
    aad.extend_from_slice(DATA_KEY_AAD_LABEL);
    aad.push(0);
    aad.extend_from_slice(owner.as_bytes());
    aad
}

/// Wraps `key` under the master key: `nonce ‖ ciphertext ‖ tag`.
pub fn wrap_key(master: &MasterKey, key: &DataKey, aad: &[u8]) -> Vec<u8> {
    seal(master.expose(), key.expose(), aad).to_bytes()
}

/// Unwraps a key made by [`wrap_key`] with the same master key and associated data.
pub fn unwrap_key(master: &MasterKey, wrapped: &[u8], aad: &[u8]) -> Result<DataKey, CryptoError> {
    let sealed = Sealed::from_bytes(wrapped)?;
    let plain = open(master.expose(), &sealed, aad)?;
    DataKey::from_bytes(&plain)
}

/// A key of its own for one purpose, derived from `root` with HKDF-SHA256 and the purpose's
/// `label`: keys derived for different labels are unrelated, and none reveals `root`.
pub fn derive_key(root: &[u8; 32], label: &[u8]) -> DataKey {
    let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
    hkdf::Hkdf::<sha2::Sha256>::new(None, root)
        .expand(label, &mut key[..])
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 output length"));
    DataKey(key)
}

/// A value stored in the database that only the right master key opens: lets start-up tell a
/// wrong master key from a right one before touching any data.
pub fn key_check(master: &MasterKey) -> Vec<u8> {
    seal(master.expose(), KEY_CHECK_LABEL, KEY_CHECK_LABEL).to_bytes()
}

/// Whether `check` (made by [`key_check`]) was made with this master key.
pub fn verify_key_check(master: &MasterKey, check: &[u8]) -> bool {
    Sealed::from_bytes(check)
        .and_then(|sealed| open(master.expose(), &sealed, KEY_CHECK_LABEL))
        .is_ok_and(|plain| plain.as_slice() == KEY_CHECK_LABEL)
}

#[cfg(test)]
mod tests;
