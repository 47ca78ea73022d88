//! Database-backed sessions for both backends, and the one guard every server function, page and
//! API route uses to find out who is calling.
//!
//! # Security
//! A session row is found by the SHA-256 of the cookie's id, never by the id itself: a copy of
//! the database (or of its WAL, or a backup) holds no session that a cookie can use. Each row
//! names its user, so a role change or a deactivation ends all of that person's sessions at once
//! (`Accounts::change_role` and `set_active` delete their rows), on every server sharing the database.
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use tower_sessions::{
    ExpiredDeletion, Session, SessionStore,
    session::{Id, Record},
    session_store,
};

use super::{
    domain::Role,
    repo::{SessionRow, UserRows},
    service::{Accounts, User},
};
use crate::{
    crypto::{DataKey, Sealed},
    error::AppError,
    ids::UserId,
    store::{Store, with_pool},
    time::Millis,
};

/// The session key holding the signed-in user's id. Nothing else about the user is kept in the
/// session: role and active flag are read from the database on every request, so a change takes
/// effect on the user's next request.
pub const USER_ID: &str = "user_id";
pub const COOKIE_NAME: &str = "sealbox_session";
/// The cookie's name when Sealbox is reached over https: the `__Host-` prefix makes browsers
/// refuse it unless it is `Secure`, has no `Domain` and has `Path=/`, so no other host (a
/// sibling subdomain) can plant or overwrite it.
pub const SECURE_COOKIE_NAME: &str = "__Host-sealbox_session";

const ID_HASH_LABEL: &[u8] = b"sealbox/session-id/v1";

/// What the database stores for a session id.
fn id_hash(id: &Id) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(ID_HASH_LABEL);
    hasher.update(id.0.to_le_bytes());
    hasher.finalize().into()
}

/// The session store over Sealbox's own `sessions` table, on whichever database it runs on.
#[derive(Clone)]
pub struct SessionBackend {
    store: Store,
}

impl std::fmt::Debug for SessionBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionBackend").field("backend", &self.store.backend()).finish()
    }
}

fn backend_error(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

/// What a row stores of a record: its data and expiry, never its id (the cookie's value).
type Stored = (
    std::collections::HashMap<String, serde_json::Value>,
    tower_sessions::cookie::time::OffsetDateTime,
);

/// The row's columns for `record`: its data, its expiry in milliseconds and its user.
fn columns(record: &Record) -> session_store::Result<(Vec<u8>, Millis, Option<UserId>)> {
    let stored = (&record.data, record.expiry_date);
    let data = serde_json::to_vec(&stored)
        .map_err(|error| session_store::Error::Encode(error.to_string()))?;
    let expires_at = Millis(record.expiry_date.unix_timestamp().saturating_mul(1000));
    let user_id = record.data.get(USER_ID).and_then(serde_json::Value::as_i64).map(UserId);
    Ok((data, expires_at, user_id))
}

impl SessionBackend {
    pub fn for_store(store: &Store) -> Self {
        Self { store: store.clone() }
    }
}

#[async_trait::async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let (data, expires_at, user_id) = columns(record)?;
            let hash = id_hash(&record.id);
            let row = SessionRow { id_hash: &hash, user_id, data: &data, expires_at };
            let inserted: session_store::Result<bool> = with_pool!(self.store, |pool| {
                async {
                    let mut connection = pool.acquire().await.map_err(backend_error)?;
                    connection.insert_session(&row).await.map_err(backend_error)
                }
                .await
            });
            if inserted? {
                return Ok(());
            }
            // A 128-bit collision: practically never, but never two browsers in one session.
            record.id = Id::default();
        }
    }

    /// Updates the row only: a session ended meanwhile (signed out elsewhere, its person
    /// deactivated) stays ended even if a request that loaded it before still saves it.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (data, expires_at, user_id) = columns(record)?;
        let hash = id_hash(&record.id);
        let row = SessionRow { id_hash: &hash, user_id, data: &data, expires_at };
        let saved: session_store::Result<()> = with_pool!(self.store, |pool| {
            async {
                let mut connection = pool.acquire().await.map_err(backend_error)?;
                connection.update_session(&row).await.map_err(backend_error)
            }
            .await
        });
        saved
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let hash = id_hash(id);
        let data: session_store::Result<Option<Vec<u8>>> = with_pool!(self.store, |pool| {
            async {
                let mut connection = pool.acquire().await.map_err(backend_error)?;
                connection.session_data(&hash, Millis::now()).await.map_err(backend_error)
            }
            .await
        });
        let Some(data) = data? else { return Ok(None) };
        let (data, expiry_date): Stored = serde_json::from_slice(&data)
            .map_err(|error| session_store::Error::Decode(error.to_string()))?;
        // The row is found by the hash; the record answers to the id the cookie carries.
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let hash = id_hash(id);
        let deleted: session_store::Result<()> = with_pool!(self.store, |pool| {
            async {
                let mut connection = pool.acquire().await.map_err(backend_error)?;
                connection.delete_session(&hash).await.map_err(backend_error)
            }
            .await
        });
        deleted
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for SessionBackend {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let deleted: session_store::Result<()> = with_pool!(self.store, |pool| {
            async {
                let mut connection = pool.acquire().await.map_err(backend_error)?;
                connection.delete_sessions_expired_by(Millis::now()).await.map_err(backend_error)
            }
            .await
        });
        deleted
    }
}

/// How long something shown once may wait in the session for its page.
const SHOWN_ONCE_MS: i64 = 5 * 60 * 1000;

/// Puts `value` (a new token, a generated password) in the session for the next page load to
/// show once, after a plain form post redirected there.
///
/// # Security
/// The session row holds it only sealed, under a key derived from the master key, with its name
/// bound as associated data, for at most five minutes; [`take_shown_once`] removes it.
pub async fn put_shown_once<T: Serialize>(
    session: &Session,
    key: &DataKey,
    name: &'static str,
    value: &T,
) -> Result<(), AppError> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(value).map_err(AppError::internal)?);
    let expires_at = Millis::now() + SHOWN_ONCE_MS;
    let sealed = key.seal(&plain, &shown_once_aad(name, expires_at));
    let stored = (expires_at, base64_encode(&sealed.to_bytes()));
    session.insert(name, stored).await.map_err(AppError::internal)
}

/// Takes what [`put_shown_once`] left under `name`, if it is still there and in time.
pub async fn take_shown_once<T: DeserializeOwned>(
    session: &Session,
    key: &DataKey,
    name: &'static str,
) -> Result<Option<T>, AppError> {
    let stored: Option<(Millis, String)> =
        session.remove(name).await.map_err(AppError::internal)?;
    let Some((expires_at, text)) = stored else { return Ok(None) };
    if expires_at <= Millis::now() {
        return Ok(None);
    }
    let opened = base64_decode(&text)
        .and_then(|bytes| Sealed::from_bytes(&bytes).ok())
        .and_then(|sealed| key.open(&sealed, &shown_once_aad(name, expires_at)).ok());
    // Sealed under another master key (rotated meanwhile) or altered: nothing to show.
    let Some(plain) = opened else { return Ok(None) };
    serde_json::from_slice(&plain).map(Some).map_err(AppError::internal)
}

fn shown_once_aad(name: &str, expires_at: Millis) -> Vec<u8> {
    let mut aad = b"sealbox/shown-once/".to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&expires_at.0.to_be_bytes());
    aad
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::{Engine, engine::general_purpose::STANDARD};
    STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    STANDARD.decode(text).ok()
}

/// When the session last counted as active (milliseconds since the epoch).
const TOUCHED_AT: &str = "touched_at";
/// Activity is written back at most this often: the session store only saves (and pushes the
/// idle expiry out) when the session changes, and a write on every request would double the
/// database work of every page. The idle expiry is therefore exact to within these 5 minutes.
const TOUCH_EVERY_MS: i64 = 5 * 60 * 1000;

/// The signed-in, active user of this session, if any. Counts as activity for the idle expiry.
pub async fn session_user(
    session: &Session,
    accounts: &Accounts,
) -> Result<Option<User>, AppError> {
    let id: Option<UserId> = session.get(USER_ID).await.map_err(AppError::internal)?;
    let Some(id) = id else { return Ok(None) };
    let user = accounts.find_active(id).await.map_err(AppError::from)?;
    if user.is_none() {
        // Deactivated or deleted since sign-in: end the session.
        session.flush().await.map_err(AppError::internal)?;
        return Ok(None);
    }
    let now = Millis::now();
    let touched: Option<Millis> = session.get(TOUCHED_AT).await.map_err(AppError::internal)?;
    if touched.is_none_or(|touched| now - touched >= TOUCH_EVERY_MS) {
        session.insert(TOUCHED_AT, now).await.map_err(AppError::internal)?;
    }
    Ok(user)
}

/// The guard: the calling user, or 401 when nobody is signed in.
pub fn require_user(user: Option<User>) -> Result<User, AppError> {
    user.ok_or(AppError::Unauthorized)
}

/// The guard for changes: owners and admins only, 403 for members.
pub fn require_manager(user: Option<User>) -> Result<User, AppError> {
    let user = require_user(user)?;
    if user.role >= Role::Admin {
        Ok(user)
    } else {
        Err(AppError::Forbidden("Only owners and admins can do this.".into()))
    }
}
