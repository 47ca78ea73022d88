//! Password hashing with argon2id at (at least) OWASP's recommended cost, off the async threads.
//!
//! # Security
//! Unknown emails are verified against a dummy hash with the same parameters, so a sign-in costs
//! the same time whether or not the account exists.
use std::sync::LazyLock;

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

use super::domain::Password;

/// Memory cost in KiB (19 MiB), iterations and parallelism: OWASP's argon2id minimum.
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .unwrap_or_else(|_| unreachable!("constant argon2 parameters are valid"));
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_blocking(&Password::generate())
        .unwrap_or_else(|_| unreachable!("hashing with valid parameters succeeds"))
});

fn hash_blocking(password: &Password) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    argon2().hash_password(password.expose().as_bytes(), &salt).map(|hash| hash.to_string())
}

/// The PHC string of a new password's hash.
pub async fn hash(password: Password) -> anyhow::Result<String> {
    let hashed = tokio::task::spawn_blocking(move || hash_blocking(&password)).await?;
    hashed.map_err(|error| anyhow::anyhow!("argon2: {error}"))
}

/// Whether `password` matches `stored`; with no stored hash (unknown account) the dummy hash is
/// checked instead and the answer is always `false`.
pub async fn verify(password: Password, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let Ok(parsed) = PasswordHash::new(&stored) else { return false };
        let matches = argon2().verify_password(password.expose().as_bytes(), &parsed).is_ok();
        known && matches
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash(Password::attempt("correct horse battery".into())).await.expect("hash");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(
            verify(Password::attempt("correct horse battery".into()), Some(stored.clone())).await
        );
        assert!(!verify(Password::attempt("wrong horse battery".into()), Some(stored)).await);
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        assert!(!verify(Password::attempt("anything at all".into()), None).await);
    }
}
