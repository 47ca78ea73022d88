//! Database-backed sessions for both backends, and the one guard every server function, page and
//! API route uses to find out who is calling.
use tower_sessions::{
    ExpiredDeletion, Session, SessionStore,
    session::{Id, Record},
    session_store,
};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::{
    domain::Role,
    service::{Accounts, User},
};
use crate::{
    error::AppError,
    store::{Store, now_millis},
};

/// The session key holding the signed-in user's id. Nothing else about the user is kept in the
/// session: role and active flag are read from the database on every request, so a change takes
/// effect on the user's next request.
pub const USER_ID: &str = "user_id";
pub const COOKIE_NAME: &str = "sealbox_session";

/// The session store of whichever database Sealbox runs on.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl SessionBackend {
    /// The store for `store`'s database, with its table created if missing.
    pub async fn for_store(store: &Store) -> sqlx::Result<Self> {
        let backend = match store.db() {
            crate::store::Db::Sqlite(pool) => Self::Sqlite(SqliteStore::new(pool.clone())),
            crate::store::Db::Postgres(pool) => Self::Postgres(PostgresStore::new(pool.clone())),
        };
        match &backend {
            Self::Sqlite(sessions) => sessions.migrate().await?,
            Self::Postgres(sessions) => sessions.migrate().await?,
        }
        Ok(backend)
    }
}

#[async_trait::async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.create(record).await,
            Self::Postgres(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.save(record).await,
            Self::Postgres(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Sqlite(store) => store.load(id).await,
            Self::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.delete(id).await,
            Self::Postgres(store) => store.delete(id).await,
        }
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for SessionBackend {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.delete_expired().await,
            Self::Postgres(store) => store.delete_expired().await,
        }
    }
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
    let id: Option<i64> = session.get(USER_ID).await.map_err(AppError::internal)?;
    let Some(id) = id else { return Ok(None) };
    let user = accounts.find_active(id).await.map_err(AppError::from)?;
    if user.is_none() {
        // Deactivated or deleted since sign-in: end the session.
        session.flush().await.map_err(AppError::internal)?;
        return Ok(None);
    }
    let now = now_millis();
    let touched: Option<i64> = session.get(TOUCHED_AT).await.map_err(AppError::internal)?;
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
