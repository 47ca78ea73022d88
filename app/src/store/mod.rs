//! One store over two databases: SQLite, the embedded default, and PostgreSQL for production and
//! scale-out. The backend is chosen by the `DATABASE_URL` scheme; SQL is shared where the dialects
//! agree and branches only where they do not.
use std::{str::FromStr, time::Duration};

use sqlx::{
    ConnectOptions, PgPool, SqlitePool,
    migrate::{MigrateError, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

pub mod snapshot;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// How long a connection waits for a locked SQLite database, and for a free pool connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL's scheme.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(StoreError::UnsupportedScheme(scheme.to_string())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DATABASE_URL must start with sqlite:// or postgres:// (its scheme is \"{0}\")")]
    UnsupportedScheme(String),
    #[error("DATABASE_URL is not a valid {backend} URL: {source}")]
    InvalidUrl { backend: &'static str, source: sqlx::Error },
    #[error("cannot create the directory {path} for the SQLite database: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("cannot connect to the {backend} database at {target}: {source}")]
    Connect { backend: &'static str, target: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] MigrateError),
}

/// A connection pool to either backend. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Db,
}

#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same block against whichever pool the store holds. The block is compiled once per
/// backend, so portable SQL (with `$1` placeholders, which both accept) is written once.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store.db() {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Implements a repository trait for `SqliteConnection` and `PgConnection` with the same method
/// bodies (portable SQL), so that a service calls it on its transaction inside [`with_pool!`]
/// (`tx.claim(…)`). A macro because the two connection types share no trait that one generic
/// function could bound the encoding of every value it binds by.
///
/// Each method is written as `async fn name(…) -> sqlx::Result<T>`; what is implemented returns
/// a [`RepoResult<T>`] whose error names the statement (`SecretRows::claim`), so that a log line
/// of a failure says which step failed, not only what the database said.
macro_rules! for_both_backends {
    (impl $trait:ident {
        $(
            async fn $name:ident(&mut $self:ident $(, $arg:ident: $ty:ty)* $(,)?) -> sqlx::Result<$ret:ty>
            $body:block
        )*
    }) => {
        $crate::store::for_both_backends!(@one $trait, sqlx::SqliteConnection, $(
            ($name, $self, ($($arg: $ty),*), $ret, $body)
        )*);
        $crate::store::for_both_backends!(@one $trait, sqlx::PgConnection, $(
            ($name, $self, ($($arg: $ty),*), $ret, $body)
        )*);
    };
    (@one $trait:ident, $connection:ty, $(($name:ident, $self:ident, ($($arg:ident: $ty:ty),*), $ret:ty, $body:block))*) => {
        impl $trait for $connection {
            $(
                async fn $name(&mut $self $(, $arg: $ty)*) -> $crate::store::RepoResult<$ret> {
                    let done: sqlx::Result<$ret> = async { $body }.await;
                    done.map_err(|cause| $crate::store::RepoError {
                        step: concat!(stringify!($trait), "::", stringify!($name)),
                        cause,
                    })
                }
            )*
        }
    };
}
pub(crate) use for_both_backends;

/// A repository statement that failed: which one (`SecretRows::claim`) and the database's error.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {cause}")]
pub struct RepoError {
    pub step: &'static str,
    pub cause: sqlx::Error,
}

impl RepoError {
    /// Whether a unique index refused the row (a name or key that is taken).
    pub fn is_unique_violation(&self) -> bool {
        self.cause.as_database_error().is_some_and(|db| db.is_unique_violation())
    }
}

/// What a repository method returns.
pub type RepoResult<T> = Result<T, RepoError>;

/// Opening a transaction that writes. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes fails at once with
/// `SQLITE_BUSY`, whatever the busy timeout, when another connection committed in between; an
/// immediate one waits for the lock instead. PostgreSQL's `BEGIN` needs no such care.
pub(crate) trait WritePool {
    type Database: sqlx::Database;

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>> + Send;
}

impl WritePool for SqlitePool {
    type Database = sqlx::Sqlite;

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send
    {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl WritePool for PgPool {
    type Database = sqlx::Postgres;

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send
    {
        self.begin()
    }
}

impl Store {
    /// Connects to the database named by `url` and checks that it answers. Credentials in the URL
    /// never appear in errors.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let db = match Backend::from_url(url)? {
            Backend::Sqlite => Db::Sqlite(connect_sqlite(url).await?),
            Backend::Postgres => Db::Postgres(connect_postgres(url).await?),
        };
        Ok(Self { db })
    }

    /// The `run_time_generation` counter now (see [`snapshot`]).
    pub async fn run_time_generation(&self) -> Result<i64, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM run_time_generation WHERE id = 1")
                .fetch_one(pool)
                .await
        })
    }

    /// Brings the schema up to date. Each migration runs in its own transaction, so a failure
    /// leaves the database at the last good version.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.db {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Answers whether the database can run a query right now.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match &self.db {
            Db::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            Db::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        }
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Waits for checked-out connections to return, then closes the pool. Flush the
    /// audit log first (`AuditLog::flush`), so that the events handed to it are committed.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlitePool, StoreError> {
    let backend = Backend::Sqlite.name();
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|source| StoreError::InvalidUrl { backend, source })?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit is on disk (WAL synced) before it is acknowledged, so an acknowledged
        // write, and the audit event of a delivered value, survives a power loss as well as a
        // crash. Group commit keeps the cost to one sync per batch.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // What is deleted (a secret's sealed versions, a retired data key, a session) is
        // overwritten with zeros in the file rather than left in free pages.
        .pragma("secure_delete", "on")
        .busy_timeout(BUSY_TIMEOUT)
        .disable_statement_logging();
    let file = options.get_filename().to_path_buf();
    if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)
            .map_err(|source| StoreError::CreateDir { path: dir.display().to_string(), source })?;
    }
    SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Connect {
            backend,
            target: file.display().to_string(),
            source,
        })
}

async fn connect_postgres(url: &str) -> Result<PgPool, StoreError> {
    let backend = Backend::Postgres.name();
    let options = PgConnectOptions::from_str(url)
        .map_err(|source| StoreError::InvalidUrl { backend, source })?
        .disable_statement_logging();
    let target = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    );
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Connect { backend, target, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_is_chosen_by_the_url_scheme() {
        assert_eq!(Backend::from_url("sqlite://data/x.db").ok(), Some(Backend::Sqlite));
        assert_eq!(Backend::from_url("postgres://h/db").ok(), Some(Backend::Postgres));
        assert_eq!(Backend::from_url("postgresql://h/db").ok(), Some(Backend::Postgres));
    }

    #[tokio::test]
    async fn sqlite_connections_use_wal_full_sync_secure_delete_foreign_keys_and_a_busy_timeout() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("nested/dir/sealbox.db").display());

        let store = Store::connect(&url).await.expect("the database is created with its directory");

        let Db::Sqlite(pool) = &store.db else { panic!("a SQLite store") };
        let journal: String =
            sqlx::query_scalar("PRAGMA journal_mode").fetch_one(pool).await.expect("pragma");
        let foreign_keys: i64 =
            sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(pool).await.expect("pragma");
        let busy_timeout: i64 =
            sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(pool).await.expect("pragma");
        let synchronous: i64 =
            sqlx::query_scalar("PRAGMA synchronous").fetch_one(pool).await.expect("pragma");
        assert_eq!(synchronous, 2, "FULL");
        let secure_delete: i64 =
            sqlx::query_scalar("PRAGMA secure_delete").fetch_one(pool).await.expect("pragma");
        assert_eq!(secure_delete, 1);
        assert_eq!(journal, "wal");
        assert_eq!(foreign_keys, 1);
        assert_eq!(busy_timeout, 5000);
        store.close().await;
    }

    #[test]
    fn other_schemes_are_refused_with_the_scheme_named() {
        let error = Backend::from_url("mysql://h/db").expect_err("mysql is not supported");
        assert!(error.to_string().contains("\"mysql\""), "{error}");
    }
}
