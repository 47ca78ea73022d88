//! Keyed fingerprints of values (HMAC-SHA256), to find which secrets hold a given value without
//! decrypting them.
//!
//! # Security
//! Without the key a fingerprint reveals nothing that allows guessing values offline; the key is
//! random, stored only wrapped by the master key, and survives master-key rotation unchanged so
//! that stored fingerprints stay comparable.
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{CryptoError, DATA_KEY_LEN, DataKey};

pub const FINGERPRINT_LEN: usize = 32;

const FINGERPRINT_LABEL: &[u8] = b"sealbox/fingerprint/v1\0";

pub struct FingerprintKey(Zeroizing<[u8; DATA_KEY_LEN]>);

/// An HMAC-SHA256 of a value. Never shown, never logged (its `Debug` is redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; FINGERPRINT_LEN]);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprint(***)")
    }
}

impl FingerprintKey {
    pub fn from_data_key(key: &DataKey) -> Self {
        Self(Zeroizing::new(*key.expose()))
    }

    pub fn fingerprint(&self, value: &[u8]) -> Fingerprint {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0[..])
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(FINGERPRINT_LABEL);
        mac.update(value);
        Fingerprint(mac.finalize().into_bytes().into())
    }
}

impl Fingerprint {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        bytes.try_into().map(Self).map_err(|_| CryptoError::Malformed)
    }
}
