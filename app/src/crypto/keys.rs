//! The two kinds of AES-256 key: the master key, which only wraps other keys, and a data key,
//! which seals values. Neither is `Clone`, `Serialize` or `Display`; `Debug` prints `***`, and
//! both are zeroized when dropped.
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{
    CryptoError, DATA_KEY_LEN, KEY_CHECK_LABEL, SecretAddress,
    aead::{self, Sealed},
};

/// Length of the master key in bytes (AES-256).
pub const MASTER_KEY_LEN: usize = 32;

const KEY_ID_LABEL: &[u8] = b"sealbox/master-key-id/v1";

/// A 256-bit master key: it wraps data keys and never touches the database.
pub struct MasterKey(Zeroizing<[u8; MASTER_KEY_LEN]>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MasterKeyError {
    #[error("it is not valid base64 (expected 32 random bytes encoded as base64)")]
    NotBase64,
    #[error("it decodes to {0} bytes; a master key is exactly 32 bytes encoded as base64")]
    WrongLength(usize),
}

impl MasterKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        rand::fill(&mut key[..]);
        Self(key)
    }

    /// Parses the base64 text of a key; surrounding whitespace (a trailing newline) is ignored.
    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        let decoded =
            Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| MasterKeyError::NotBase64)?);
        let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        if decoded.len() != MASTER_KEY_LEN {
            return Err(MasterKeyError::WrongLength(decoded.len()));
        }
        key.copy_from_slice(&decoded);
        Ok(Self(key))
    }

    /// The key as base64 text, for writing a key file.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(&self.0[..]))
    }

    /// A public name for this key (16 hex digits), derived from it one-way: safe to store and
    /// to log, and the same on every server that holds the key.
    pub fn id(&self) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0[..])
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(KEY_ID_LABEL);
        mac.finalize().into_bytes()[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Wraps `key` under this master key: `nonce ‖ ciphertext ‖ tag`. `aad` names what the key
    /// belongs to ([`super::data_key_aad`]).
    pub fn wrap_key(&self, key: &DataKey, aad: &[u8]) -> Vec<u8> {
        aead::seal(&self.0, &key.0[..], aad).to_bytes()
    }

    /// Unwraps a key made by [`Self::wrap_key`] with the same associated data.
    pub fn unwrap_key(&self, wrapped: &[u8], aad: &[u8]) -> Result<DataKey, CryptoError> {
        let sealed = Sealed::from_bytes(wrapped)?;
        let plain = aead::open(&self.0, &sealed, aad)?;
        DataKey::from_bytes(&plain)
    }

    /// A value stored in the database that only this master key opens: lets start-up tell a
    /// wrong master key from a right one before touching any data.
    pub fn key_check(&self) -> Vec<u8> {
        aead::seal(&self.0, KEY_CHECK_LABEL, KEY_CHECK_LABEL).to_bytes()
    }

    /// Whether `check` (made by [`Self::key_check`]) was made with this master key.
    pub fn made_key_check(&self, check: &[u8]) -> bool {
        Sealed::from_bytes(check)
            .and_then(|sealed| aead::open(&self.0, &sealed, KEY_CHECK_LABEL))
            .is_ok_and(|plain| plain.as_slice() == KEY_CHECK_LABEL)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// A 256-bit key that seals the values of one project (or one purpose, see [`Self::derive`]).
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

    /// Seals a secret's value for `at`: the one place where a secret value is encrypted.
    pub fn seal_secret(&self, at: &SecretAddress<'_>, value: &[u8]) -> Sealed {
        self.seal(value, &at.aad())
    }

    /// Opens a value sealed by [`Self::seal_secret`] for the same address; a value copied to
    /// another project, key or version does not open ([`CryptoError::Open`]).
    pub fn open_secret(
        &self,
        at: &SecretAddress<'_>,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.open(sealed, &at.aad())
    }

    /// Seals `plaintext` with a fresh random nonce, authenticating `aad` with it. Secret values
    /// go through [`Self::seal_secret`]; this is for other data with associated data of its own.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Sealed {
        aead::seal(&self.0, plaintext, aad)
    }

    /// Opens what [`Self::seal`] sealed with the same associated data.
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        aead::open(&self.0, sealed, aad)
    }

    /// A key of its own for one purpose, derived with HKDF-SHA256 and the purpose's `label`:
    /// keys derived for different labels are unrelated, and none reveals this one.
    pub fn derive(&self, label: &[u8]) -> DataKey {
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        hkdf::Hkdf::<Sha256>::new(None, &self.0[..])
            .expand(label, &mut key[..])
            .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 output length"));
        DataKey(key)
    }

    /// The raw key, for keying an HMAC (fingerprints, the audit chain). Never for sealing:
    /// that goes through the methods above.
    pub fn expose(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(***)")
    }
}
