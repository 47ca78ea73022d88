//! AES-256-GCM seal and open on raw key bytes; only [`super::keys`] calls these, with a typed
//! key.
use aes_gcm::{
    Aes256Gcm, Key, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use zeroize::Zeroizing;

use super::{CryptoError, NONCE_LEN, TAG_LEN};

/// A nonce and the ciphertext with its tag appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub nonce: [u8; NONCE_LEN],
    pub ciphertext: Vec<u8>,
}

impl Sealed {
    /// `nonce ‖ ciphertext ‖ tag`, for storing in one column.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(NONCE_LEN + self.ciphertext.len());
        bytes.extend_from_slice(&self.nonce);
        bytes.extend_from_slice(&self.ciphertext);
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Self { nonce, ciphertext: ciphertext.to_vec() })
    }
}

/// Encrypts `plaintext` under `key` with a fresh random nonce, authenticating `aad` with it.
pub(super) fn seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Sealed {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce);
    // Encryption with a valid key and a 96-bit nonce fails only for inputs over 64 GiB, which the
    // value limits rule out; treat it as the invariant it is.
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad })
        .unwrap_or_else(|_| unreachable!("AES-GCM encryption of a bounded input cannot fail"));
    Sealed { nonce, ciphertext }
}

/// Decrypts and authenticates; any mismatch of key, nonce, ciphertext, tag or `aad` is
/// [`CryptoError::Open`]. The plaintext is zeroized when dropped.
pub(super) fn open(
    key: &[u8; 32],
    sealed: &Sealed,
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    cipher
        .decrypt(Nonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Open)
}
