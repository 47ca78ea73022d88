//! The test harness every integration test uses: [`spawn_app`] starts the real server on port 0
//! with a fresh database of the chosen backend, and [`on_both_backends!`] runs a test on both.
use std::{net::SocketAddr, path::PathBuf};

use app::{
    accounts::{
        domain::{DisplayName, Email, Password, Role, User},
        service::Accounts,
    },
    audit::Actor,
    crypto::MasterKey,
    environments::{EnvironmentName, service::Environments},
    projects::{ProjectSlug, service::Projects},
    secrets::{
        domain::{Description, SecretKey, SecretValue},
        service::{NewSecret, Scope, SecretMeta},
    },
    store::Store,
    tokens::service::Tokens,
};
use sealbox::{
    config::{Config, MasterKeySource, StoreConfig},
    startup::Application,
};
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::oneshot;

/// The password of every user the tests create.
pub const PASSWORD: &str = "correct horse battery staple";

/// Where the tests create their PostgreSQL databases. PostgreSQL being unreachable fails the
/// run: the suite never silently skips a backend.
pub fn postgres_admin_url() -> String {
    std::env::var("SEALBOX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Defines each listed `async fn name(backend: Backend)` as two tests, `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::helpers::within_time_limit(
                        super::$test($crate::helpers::Backend::Sqlite),
                    )
                    .await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::helpers::within_time_limit(
                        super::$test($crate::helpers::Backend::Postgres),
                    )
                    .await;
                }
            )+
        }
    };
}

/// Fails a test that hangs instead of letting it block the whole run.
pub async fn within_time_limit(test: impl std::future::Future<Output = ()>) {
    const LIMIT: std::time::Duration = std::time::Duration::from_secs(120);
    if tokio::time::timeout(LIMIT, test).await.is_err() {
        panic!("the test did not finish within {LIMIT:?}");
    }
}

/// A database that exists for one test and is removed when dropped.
pub struct TestDatabase {
    pub url: String,
    postgres_name: Option<String>,
    _dir: tempfile::TempDir,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}", dir.path().join("sealbox.db").display()),
                postgres_name: None,
                _dir: dir,
            },
            Backend::Postgres => {
                let name = format!("sealbox_test_{}", uuid::Uuid::new_v4().simple());
                let admin_url = postgres_admin_url();
                let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at {admin_url} ({e}). The tests need it: \
                         start it with `pg_ctlcluster --skip-systemctl-redirect \
                         $(ls /etc/postgresql) main start` or set SEALBOX_TEST_POSTGRES_URL."
                    )
                });
                admin
                    .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
                    .await
                    .expect("create the test database");
                let url = match admin_url.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => panic!("SEALBOX_TEST_POSTGRES_URL must name a database"),
                };
                Self { url, postgres_name: Some(name), _dir: dir }
            }
        }
    }

    /// A directory that lives as long as the database, for files a test needs.
    pub fn dir(&self) -> PathBuf {
        self._dir.path().to_path_buf()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot block on async work: use a thread
        // with a runtime of its own.
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&postgres_admin_url()).await?;
                admin
                    .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
                    .await?;
                Ok::<_, anyhow::Error>(())
            })
        });
        if let Ok(Err(error)) = dropper.join() {
            eprintln!("warning: could not drop a test database: {error:#}");
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub vault: app::secrets::service::Vault,
    pub accounts: Accounts,
    pub projects: Projects,
    pub tokens: Tokens,
    pub environments: Environments,
    pub store: Store,
    pub client: reqwest::Client,
    /// Shared with [`TestApp::peer`]s; removed when the last one is dropped.
    pub database: std::sync::Arc<TestDatabase>,
    /// The master key, base64, for peers and commands.
    pub master_key: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Everything the servers in this test process log, at the most verbose level of Sealbox's own
/// crates and sqlx, so that tests can assert what never appears in a log line.
pub fn captured_logs() -> String {
    let buffer = LOGS.get_or_init(install_log_capture);
    let bytes = buffer.lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
    std::sync::OnceLock::new();

#[derive(Clone)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(bytes)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn install_log_capture() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = Capture(buffer.clone());
    let _ = tracing_subscriber::fmt()
        .with_env_filter("sealbox=trace,app=trace,sqlx=trace,tower_http=trace,info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init();
    buffer
}

/// Walks the audit chain of `store` (a server's, which holds the chain key).
/// An environment a test names.
pub fn environment(name: &str) -> EnvironmentName {
    EnvironmentName::parse(name).expect("a valid environment name")
}

/// A new project's first environment, `development`.
pub fn dev() -> EnvironmentName {
    environment("development")
}

/// The environment `environment` of the project `slug`.
pub fn in_environment(slug: &str, environment_name: &str) -> Scope {
    Scope::Project(ProjectSlug::parse(slug).expect("a valid slug"), environment(environment_name))
}

/// A secret key a test names (a typo in a test is a panic).
pub fn key(text: &str) -> SecretKey {
    SecretKey::parse(text).expect("a valid key")
}

/// A new secret with this key and value, no description and the type its value suggests.
pub fn new_secret(key_text: &str, value: impl Into<String>) -> NewSecret {
    NewSecret {
        key: key(key_text),
        value: SecretValue::new(value.into()).expect("a valid value"),
        description: Description::default(),
        secret_type: None,
    }
}

pub async fn verify_chain(app: &TestApp) -> app::audit::chain::Verification {
    let key = app.vault.audit().chain_key().expect("the server installed the chain key");
    app::audit::chain::verify(&app.store, key, None).await.expect("the chain can be walked")
}

/// Starts the real server on 127.0.0.1:0 with a fresh database and a random master key.
pub async fn spawn_app(backend: Backend) -> TestApp {
    let database = std::sync::Arc::new(TestDatabase::create(backend).await);
    let master_key = MasterKey::generate().to_base64().to_string();
    spawn_on(database, master_key).await
}

/// Starts a server, with a random master key, on a database that already exists.
pub async fn spawn_on_database(database: std::sync::Arc<TestDatabase>) -> TestApp {
    spawn_on(database, MasterKey::generate().to_base64().to_string()).await
}

/// As [`spawn_app`], with the configuration changed by `configure` first.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApp {
    let database = std::sync::Arc::new(TestDatabase::create(backend).await);
    let master_key = MasterKey::generate().to_base64().to_string();
    spawn_configured(database, master_key, configure).await
}

/// Starts a server on `database` with the master key `master_key` (base64).
pub async fn spawn_on(database: std::sync::Arc<TestDatabase>, master_key: String) -> TestApp {
    spawn_configured(database, master_key, |_| ()).await
}

async fn spawn_configured(
    database: std::sync::Arc<TestDatabase>,
    master_key: String,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    LOGS.get_or_init(install_log_capture);
    let mut config =
        test_config(&database, MasterKey::from_base64(&master_key).expect("the test master key"));
    configure(&mut config);
    let app = Application::build(config).await.expect("the application starts");
    let address = format!("http://{}", app.local_addr());
    let vault = app.vault();
    let audit = vault.audit().clone();
    let accounts = Accounts::new(app.store(), audit.clone());
    let projects = Projects::new(app.store(), audit.clone(), vault.keyring().clone());
    let tokens = Tokens::new(app.store(), audit.clone());
    let environments = Environments::new(app.store(), audit);
    let store = app.store();
    let (shutdown, stop) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stop.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("an HTTP client");
    TestApp {
        address,
        vault,
        accounts,
        projects,
        tokens,
        environments,
        store,
        client,
        database,
        master_key,
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

impl TestApp {
    /// Another server on the same database and master key, as a second process behind a load
    /// balancer would be.
    pub async fn peer(&self) -> TestApp {
        spawn_on(self.database.clone(), self.master_key.clone()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("the request reaches the server")
    }

    /// Runs SQL on the test database behind the server's back (to tamper with it, or read it raw).
    pub async fn sql(&self) -> sqlx::AnyConnection {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.database.url)
            .await
            .expect("connect to the test database")
    }

    /// Creates a user directly through the service, with [`PASSWORD`].
    pub async fn add_user(&self, email: &str, role: Role) -> User {
        let email = Email::parse(email).expect("a valid email");
        let name = DisplayName::parse(None, &email).expect("a valid name");
        self.accounts
            .create_user(
                &Actor::new("test", None),
                email,
                name,
                role,
                Password::new(PASSWORD.into()).expect("a valid password"),
            )
            .await
            .expect("the user is created")
    }

    /// A new person with `role`, signed in on a client of their own (see [`TestApp::signed_in`]).
    pub async fn sign_in_as(&self, email: &str, role: Role) -> reqwest::Client {
        self.add_user(email, role).await;
        self.signed_in(email).await
    }

    /// Calls the server function `/rpc/{name}` with `client`, as a hydrated page does: a form.
    pub async fn post_rpc(
        &self,
        client: &reqwest::Client,
        name: &str,
        form: &(impl serde::Serialize + ?Sized),
    ) -> reqwest::Response {
        client
            .post(self.url(&format!("/rpc/{name}")))
            .form(form)
            .send()
            .await
            .expect("the server function answers")
    }

    /// Creates the secret `key` = `value` in `scope` through the vault, as a test actor.
    pub async fn create_secret(&self, scope: &Scope, key: &str, value: &str) -> SecretMeta {
        self.vault
            .create_secret(&Actor::new("test", None), scope, new_secret(key, value))
            .await
            .expect("the secret is created")
    }

    /// A client of its own (its own cookie jar) signed in as `email` through the sign-in
    /// server function, as a browser would be.
    pub async fn signed_in(&self, email: &str) -> reqwest::Client {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("an HTTP client");
        let response = client
            .post(self.url("/rpc/sign_in"))
            .form(&[("email", email), ("password", PASSWORD)])
            .send()
            .await
            .expect("the sign-in request");
        assert_eq!(response.status(), 200, "{email} signs in");
        client
    }

    /// Stops the server gracefully and waits for it, so that the database is released.
    pub async fn stop(self) {
        self.try_stop().await.expect("the server stops cleanly");
    }

    /// Stops the server gracefully and returns how the stop went.
    pub async fn try_stop(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.server.take() {
            Some(server) => server.await.expect("the server task ends"),
            None => Ok(()),
        }
    }
}

/// Every byte the database holds: the SQLite file and its WAL, or every row of PostgreSQL's
/// tables as text (bytea columns also as UTF-8).
pub async fn raw_database(app: &TestApp, backend: Backend) -> Vec<u8> {
    match backend {
        Backend::Sqlite => {
            let file = app.database.url.trim_start_matches("sqlite://").to_string();
            let mut bytes = std::fs::read(&file).expect("the database file");
            if let Ok(wal) = std::fs::read(format!("{file}-wal")) {
                bytes.extend(wal);
            }
            bytes
        }
        Backend::Postgres => {
            let mut sql = app.sql().await;
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = 'public'",
            )
            .fetch_all(&mut sql)
            .await
            .expect("tables");
            let mut dump = Vec::new();
            for table in tables {
                let rows = sqlx::query(&format!("SELECT CAST(t AS TEXT) FROM {table} t"))
                    .fetch_all(&mut sql)
                    .await
                    .expect("dump");
                for row in rows {
                    dump.extend(sqlx::Row::get::<String, _>(&row, 0).into_bytes());
                }
            }
            let sessions = sqlx::query("SELECT convert_from(data, 'UTF8') FROM sessions")
                .fetch_all(&mut sql)
                .await
                .expect("sessions");
            for row in sessions {
                dump.extend(sqlx::Row::get::<String, _>(&row, 0).into_bytes());
            }
            dump
        }
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// The configuration of a server on `database` with `master_key`, as the tests start them.
pub fn test_config(database: &TestDatabase, master_key: MasterKey) -> Config {
    Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        store: StoreConfig {
            database_url: database.url.clone(),
            master_key,
            older_master_keys: Vec::new(),
            master_key_source: MasterKeySource::Environment,
        },
        public_url: None,
        session_idle_hours: 12,
        session_cleanup_every: std::time::Duration::from_millis(200),
        site_root: database.dir().join("site"),
        trusted_proxies: Vec::new(),
        shutdown_deadline: std::time::Duration::from_secs(30),
    }
}

/// A read token of a new name for the environment `environment_name` of the project `slug`.
pub async fn read_token(app: &TestApp, slug: &str, environment_name: &str) -> String {
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = app::tokens::TokenName::parse(&format!("read-{environment_name}-{made}"))
        .expect("a token name");
    let slug = app::projects::ProjectSlug::parse(slug).expect("a slug");
    let (_, token) = app
        .tokens
        .create(
            &Actor::new("test", None),
            &slug,
            Some(&environment(environment_name)),
            name,
            app::tokens::TokenScope::Read,
            None,
        )
        .await
        .expect("a token");
    token.expose().to_string()
}
