//! The master key: it wraps every project's data key and never touches the database.
use std::fmt;

use base64::{Engine, engine::general_purpose::STANDARD};
use zeroize::Zeroizing;

/// Length of the master key in bytes (AES-256).
pub const MASTER_KEY_LEN: usize = 32;

/// A 256-bit master key, zeroized when dropped.
///
/// # Security
/// Deliberately not `Clone`, `Serialize` or `Display`; `Debug` prints `MasterKey(***)`.
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

    pub fn expose(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_round_trips_through_base64() {
        let key = MasterKey::generate();
        let parsed = MasterKey::from_base64(&format!("{}\n", key.to_base64().as_str()))
            .expect("a generated key parses");
        assert_eq!(parsed.expose(), key.expose());
    }

    #[test]
    fn keys_of_the_wrong_length_are_refused() {
        let short = STANDARD.encode([7u8; 16]);
        assert_eq!(MasterKey::from_base64(&short).err(), Some(MasterKeyError::WrongLength(16)));
    }

    #[test]
    fn text_that_is_not_base64_is_refused() {
        assert_eq!(
            MasterKey::from_base64("not base64 at all!").err(),
            Some(MasterKeyError::NotBase64)
        );
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        assert_eq!(format!("{:?}", MasterKey::generate()), "MasterKey(***)");
    }
}
