//! Password hashing with argon2id at (at least) OWASP's recommended cost, off the async threads.
//!
//! # Security
//! Unknown emails are verified against a dummy hash with the same parameters, so a sign-in costs
//! the same time whether or not the account exists.
use std::{
    sync::{Arc, LazyLock},
    time::Duration,
};

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

use tokio::sync::Semaphore;

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

/// How long a hash waits for a free core before it is refused as [`HashError::Busy`].
const WAIT: Duration = Duration::from_secs(2);

/// At most one argon2 computation per core at once: each takes 19 MiB and a core for tens of
/// milliseconds, so a burst of sign-ins would otherwise take memory and time without bound.
static CORES: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(cores())));

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads that hash: one per core, for the life of the process. On the blocking pool every
/// hash could run on another thread, and each thread's allocator arena keeps the 19 MiB it freed
/// (measured: 278 MB after 500 concurrent sign-ins); on these few threads the memory argon2
/// frees is reused by the next hash.
static HASHERS: LazyLock<Option<std::sync::mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (sender, receiver) = std::sync::mpsc::channel::<Job>();
    let receiver = Arc::new(std::sync::Mutex::new(receiver));
    let mut started = false;
    for n in 0..cores() {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new().name(format!("argon2-{n}")).spawn(move || {
            loop {
                let job = match receiver.lock() {
                    Ok(receiver) => receiver.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            }
        });
        started |= spawned.is_ok();
    }
    started.then_some(sender)
});

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every core has been hashing for longer than [`WAIT`].
    #[error("Sign-in is busy; try again in a moment")]
    Busy,
    #[error("argon2: {0}")]
    Failed(String),
}

/// Runs `work` on a hashing thread once `cores` has a permit for it, waiting at most `wait`.
/// The permit goes with the work, so a request that gives up (its client went away) does not
/// free a core that is still hashing.
async fn bounded<T: Send + 'static>(
    cores: &Arc<Semaphore>,
    wait: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HashError> {
    let permit = match tokio::time::timeout(wait, cores.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        _ => return Err(HashError::Busy),
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _permit = permit;
        let _ = reply.send(work());
    });
    HASHERS
        .as_ref()
        .ok_or_else(|| HashError::Failed("no hashing thread could be started".into()))?
        .send(job)
        .map_err(|_| HashError::Failed("the hashing threads have stopped".into()))?;
    answer.await.map_err(|_| HashError::Failed("the hash did not finish".into()))
}

/// The PHC string of a new password's hash.
pub async fn hash(password: Password) -> Result<String, HashError> {
    bounded(&CORES, WAIT, move || hash_blocking(&password))
        .await?
        .map_err(|error| HashError::Failed(error.to_string()))
}

/// Whether `password` matches `stored`; with no stored hash (unknown account) the dummy hash is
/// checked instead and the answer is always `false`.
pub async fn verify(password: Password, stored: Option<String>) -> Result<bool, HashError> {
    bounded(&CORES, WAIT, move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let Ok(parsed) = PasswordHash::new(&stored) else { return false };
        let matches = argon2().verify_password(password.expose().as_bytes(), &parsed).is_ok();
        known && matches
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash(Password::attempt("correct horse battery".into())).await.expect("hash");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        let right = verify(Password::attempt("correct horse battery".into()), Some(stored.clone()));
        assert!(right.await.expect("verified"));
        let wrong = verify(Password::attempt("wrong horse battery".into()), Some(stored));
        assert!(!wrong.await.expect("verified"));
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        assert!(
            !verify(Password::attempt("anything at all".into()), None).await.expect("verified")
        );
    }

    #[tokio::test]
    async fn hashing_waits_for_a_free_core_then_is_refused_as_busy() {
        let cores = Arc::new(Semaphore::new(1));
        let taken = cores.acquire().await.expect("a permit");
        let started = std::time::Instant::now();
        let refused = bounded(&cores, Duration::from_millis(100), || 1).await;
        assert!(matches!(refused, Err(HashError::Busy)), "{refused:?}");
        assert!(started.elapsed() >= Duration::from_millis(100), "it waited first");
        drop(taken);
        assert_eq!(bounded(&cores, Duration::from_millis(100), || 1).await.ok(), Some(1));
    }

    #[tokio::test]
    async fn a_request_that_gives_up_keeps_its_core_until_the_hash_is_done() {
        let cores = Arc::new(Semaphore::new(1));
        let (started, running) = std::sync::mpsc::channel::<()>();
        let (finish, release) = std::sync::mpsc::channel::<()>();
        let shared = cores.clone();
        let abandoned = tokio::spawn(async move {
            bounded(&shared, Duration::from_millis(100), move || {
                let _ = started.send(());
                let _ = release.recv();
            })
            .await
        });
        tokio::task::spawn_blocking(move || running.recv()).await.expect("joined").expect("ran");
        abandoned.abort();
        let refused = bounded(&cores, Duration::from_millis(100), || 1).await;
        assert!(matches!(refused, Err(HashError::Busy)), "the core is still taken");
        let _ = finish.send(());
        assert_eq!(bounded(&cores, Duration::from_secs(5), || 1).await.ok(), Some(1));
    }
}
