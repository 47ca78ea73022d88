//! Builds the application from a checked [`Config`] and runs it until asked to stop.
use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use app::{
    App,
    accounts::{
        service::Accounts,
        session::{COOKIE_NAME, SECURE_COOKIE_NAME, SessionBackend},
    },
    audit::{AuditLog, export::export_csv},
    environments::service::Environments,
    keyring::Keyring,
    projects::{service::Projects, variables::ssr::export_env},
    secrets::{runtime::RunTime, service::Vault},
    shell,
    state::AppState,
    store::Store,
    tokens::service::Tokens,
};
use tower_sessions::{
    Expiry, SessionManagerLayer,
    cookie::{SameSite, time},
};

use axum::{
    Router,
    routing::{get, post},
};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use tokio::net::TcpListener;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::{
    config::{Config, MasterKeySource, StoreConfig},
    health, security,
};

/// Connects to the database, migrates it, checks the master keys against it and opens the audit
/// chain. Flush the vault's audit log before closing the store.
pub async fn open_vault(config: StoreConfig) -> anyhow::Result<(Store, Vault)> {
    announce_master_key(&config.master_key_source);
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    app::audit::chain::chain_unhashed(&store)
        .await
        .context("cannot chain the audit events written before the hash chain existed")?;
    tracing::info!(database = store.backend().name(), "database ready");
    let keyring = Keyring::load(&store, config.master_key, config.older_master_keys).await?;
    tracing::info!(master_key_id = keyring.current_id(), "master key checked");
    let chain_key = keyring.open_chain_key(&store).await.context("cannot open the audit chain")?;
    let audit = AuditLog::keyed(&store, chain_key);
    let vault = Vault::new(store.clone(), audit, Arc::new(keyring));
    // Values sealed before environments existed are bound to their project only: resealed once
    // with their environment (resumable; a no-op when none are left).
    let resealed = vault.rebind_values().await.context("cannot reseal the stored values")?;
    if resealed > 0 {
        tracing::info!(versions = resealed, "values resealed with their environment");
    }
    Ok((store, vault))
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Store,
    vault: Vault,
    local_addr: SocketAddr,
    cleanup: tokio::task::JoinHandle<()>,
    in_flight: InFlight,
    shutdown_deadline: std::time::Duration,
}

/// What the transport layer needs to know: who may speak for clients, and whether people reach
/// Sealbox over https.
#[derive(Clone)]
pub struct Transport {
    pub trusted_proxies: Arc<Vec<crate::proxy::Cidr>>,
    pub https: bool,
    pub in_flight: InFlight,
}

/// The requests being served right now (method and path), so that a stop that runs out of time
/// can say what was still running.
#[derive(Clone, Default)]
pub struct InFlight {
    next: Arc<std::sync::atomic::AtomicU64>,
    requests: Arc<std::sync::Mutex<std::collections::BTreeMap<u64, String>>>,
}

impl InFlight {
    fn enter(&self, what: String) -> InFlightGuard {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut requests) = self.requests.lock() {
            requests.insert(id, what);
        }
        InFlightGuard { id, in_flight: self.clone() }
    }

    fn describe(&self) -> String {
        let requests = self.requests.lock().map(|r| r.values().cloned().collect::<Vec<_>>());
        match requests {
            Ok(requests) if requests.is_empty() => "no request (closing the database)".into(),
            Ok(requests) => format!("{} request(s): {}", requests.len(), requests.join(", ")),
            Err(_) => "requests".into(),
        }
    }
}

struct InFlightGuard {
    id: u64,
    in_flight: InFlight,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Ok(mut requests) = self.in_flight.requests.lock() {
            requests.remove(&self.id);
        }
    }
}

async fn track(
    axum::extract::State(in_flight): axum::extract::State<InFlight>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let _guard = in_flight.enter(format!("{} {}", request.method(), request.uri().path()));
    next.run(request).await
}

impl Application {
    /// Connects to the database, migrates it and binds the listening socket. Any failure is
    /// returned with a message that names what to fix; nothing is served until all succeed.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let (store, vault) = open_vault(config.store).await?;

        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let local_addr = listener.local_addr().context("cannot read the listening address")?;

        let hash_file = hashed_assets(&config.site_root);
        let leptos_options = LeptosOptions::builder()
            .output_name("sealbox")
            .site_root(config.site_root.display().to_string())
            .site_pkg_dir("pkg")
            .site_addr(local_addr)
            .hash_files(hash_file.is_some())
            .hash_file(
                hash_file.map_or_else(|| "hash.txt".into(), |f| f.display().to_string().into()),
            )
            .build();
        let sessions = SessionBackend::for_store(&store);
        let audit = vault.audit().clone();
        let accounts = Accounts::new(store.clone(), audit.clone());
        let cleanup = spawn_cleanup(
            sessions.clone(),
            accounts.clone(),
            vault.clone(),
            config.session_cleanup_every,
        );
        let secure = config.public_url.as_ref().is_some_and(|url| url.scheme() == "https");
        let sessions = SessionManagerLayer::new(sessions)
            .with_name(if secure { SECURE_COOKIE_NAME } else { COOKIE_NAME })
            .with_path("/")
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(secure)
            .with_expiry(Expiry::OnInactivity(time::Duration::hours(i64::from(
                config.session_idle_hours,
            ))));
        if let Some(token) = accounts.issue_setup_token().await.context("cannot open the set-up")? {
            let base = config.public_url.as_ref().map_or_else(
                || format!("http://{local_addr}"),
                |url| url.as_str().trim_end_matches('/').to_string(),
            );
            tracing::warn!("No users yet: create the first owner at {base}/setup?token={token}");
        }
        let state = AppState {
            leptos_options,
            store: store.clone(),
            audit: audit.clone(),
            vault: vault.clone(),
            run_time: RunTime::new(vault.clone()),
            accounts,
            projects: Projects::new(store.clone(), audit.clone(), vault.keyring().clone()),
            tokens: Tokens::new(store.clone(), audit.clone()),
            environments: Environments::new(store.clone(), audit),
        };
        let in_flight = InFlight::default();
        let transport = Transport {
            trusted_proxies: Arc::new(config.trusted_proxies),
            https: secure,
            in_flight: in_flight.clone(),
        };
        Ok(Self {
            listener,
            router: router(state, sessions, transport),
            store,
            vault,
            local_addr,
            cleanup,
            in_flight,
            shutdown_deadline: config.shutdown_deadline,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The database this server uses (tests drive the services directly).
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// The secrets service this server uses (tests drive it directly).
    pub fn vault(&self) -> Vault {
        self.vault.clone()
    }

    /// Serves until `shutdown` resolves, lets requests in flight finish, then closes the pool
    /// (committing the audit events handed over). If that takes longer than the shutdown
    /// deadline, gives up with an error naming what was still running.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            shutdown.await;
            let _ = stopping.send(());
        };
        let Self { listener, router, store, vault, cleanup, in_flight, shutdown_deadline, .. } =
            self;
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let serve = async move {
            let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
            cleanup.abort();
            served.context("the server failed")?;
            vault.audit().flush().await;
            store.close().await;
            Ok::<_, anyhow::Error>(())
        };
        let deadline = shutdown_deadline;
        let out_of_time = async move {
            match stopped.await {
                Ok(()) => tokio::time::sleep(deadline).await,
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            served = serve => served,
            () = out_of_time => Err(anyhow::anyhow!(
                "the shutdown deadline ({} s, SEALBOX_SHUTDOWN_SECONDS) passed with {} still \
                 running; exiting without waiting for it",
                deadline.as_secs_f64(),
                in_flight.describe()
            )),
        }
    }
}

/// All routes: probes, pages, server functions, and static files with the 404 page as fallback,
/// with sessions; and the JSON API, which authenticates by bearer token and has no sessions.
pub fn router(
    state: AppState,
    sessions: SessionManagerLayer<SessionBackend>,
    transport: Transport,
) -> Router {
    // Generated once per process: while a route list is generated, Leptos suppresses resource
    // loading process-wide, and a page rendered at that moment by another server in the same
    // process (the tests run many) hangs forever (leptos-rs/leptos#4773).
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| generate_route_list(App)).clone();
    let options = state.leptos_options.clone();
    let immutable = security::immutable_assets(
        &std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref()),
    );
    let pages = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/projects/{slug}/variables.env", get(export_env))
        .route("/projects/{slug}/{environment}/variables.env", get(export_env))
        .route("/settings/audit.csv", get(export_csv))
        .route("/settings/members/{id}/exposure.csv", get(app::exposure::export::export_csv))
        .route(app::components::THEME_PATH, post(crate::theme::set))
        .leptos_routes_with_context(&state, routes, security::provide_page_nonce, move || {
            shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            security::provide_page_nonce,
            shell,
        ))
        .layer(axum::middleware::from_fn(security::form_return))
        .layer(axum::middleware::from_fn(security::same_origin))
        .layer(sessions)
        .layer(axum::middleware::from_fn(security::bounded_body))
        .layer(compress_pages())
        .with_state(state.clone());
    Router::new()
        .nest("/api/v1", app::api::router().with_state(state))
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(
            security::HeaderPolicy { https: transport.https, immutable: Arc::new(immutable) },
            security::headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            transport.trusted_proxies,
            crate::proxy::resolve,
        ))
        .layer(axum::middleware::from_fn_with_state(transport.in_flight, track))
        .layer(
            TraceLayer::new_for_http()
                // The path only: query strings can carry one-time tokens.
                .make_span_with(|request: &http::Request<_>| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path()
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
}

/// Every `every`, for as long as the server runs: deletes expired sessions, closes sign-in
/// throttling windows (with their audit event) and forgets old failures and set-up links.
/// Several servers on one database may all do it: each step is idempotent or claims its rows.
///
/// Also logs the audit chain's head (event count and last link) at start and every hour, for
/// `sealbox audit verify --expect` to check later that no event was removed from its end.
fn spawn_cleanup(
    sessions: SessionBackend,
    accounts: Accounts,
    vault: Vault,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    let store = vault.store().clone();
    use tower_sessions::ExpiredDeletion;
    const HEAD_EVERY: std::time::Duration = std::time::Duration::from_secs(60 * 60);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut head_logged: Option<tokio::time::Instant> = None;
        loop {
            ticker.tick().await;
            if head_logged.is_none_or(|at| at.elapsed() >= HEAD_EVERY) {
                head_logged = Some(tokio::time::Instant::now());
                match app::audit::chain::head(&store).await {
                    Ok(Some(head)) => tracing::info!(head = %head, "audit chain head"),
                    Ok(None) => {}
                    Err(error) => tracing::warn!(error = %error, "could not read the audit head"),
                }
            }
            match sessions.delete_expired().await {
                Ok(()) => tracing::debug!("expired sessions deleted"),
                Err(error) => tracing::warn!(error = %error, "could not delete expired sessions"),
            }
            if let Err(error) = accounts.clean_up(app::time::Millis::now()).await {
                tracing::warn!(error = %error, "could not clean up sign-in records");
            }
            match vault.forget_retired_keys().await {
                Ok(0) => {}
                Ok(forgotten) => tracing::info!(forgotten, "forgot data keys a rotation retired"),
                Err(error) => {
                    tracing::warn!(error = %error, "could not check for retired data keys")
                }
            }
        }
    })
}

/// Brotli or gzip, by what the browser accepts, for HTML pages only. A page holds a secret only
/// when it shows a new token or generated password, and that is shown once (taken from the
/// session as it is rendered), so no one can measure its compressed size across requests;
/// server-function answers and the API, which carry values and echo input, stay uncompressed.
/// The compiled assets are precompressed at build time.
fn compress_pages()
-> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    let html =
        |_: http::StatusCode, _: http::Version, headers: &http::HeaderMap, _: &http::Extensions| {
            headers
                .get(http::header::CONTENT_TYPE)
                .is_some_and(|value| value.as_bytes().starts_with(b"text/html"))
        };
    tower_http::compression::CompressionLayer::new().br(true).gzip(true).compress_when(html)
}

/// The list of hashed asset names (`hash.txt`) that a build with `LEPTOS_HASH_FILES=true` writes
/// next to the binary (where cargo-leptos puts it, and where it is looked for first), or copied
/// into the site root. Without one (`cargo leptos watch`, the tests) the assets have plain names.
fn hashed_assets(site_root: &std::path::Path) -> Option<std::path::PathBuf> {
    let beside_binary =
        std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt")));
    std::iter::once(beside_binary)
        .chain(std::iter::once(Some(site_root.join("hash.txt"))))
        .flatten()
        .find(|path| path.is_file())
        .and_then(|path| std::path::absolute(path).ok())
}

fn announce_master_key(source: &MasterKeySource) {
    match source {
        MasterKeySource::Environment => tracing::info!("master key loaded from SEALBOX_MASTER_KEY"),
        MasterKeySource::File(path) => {
            tracing::info!(path = %path.display(), "master key loaded from file")
        }
        MasterKeySource::DevelopmentFile { path, created } => tracing::warn!(
            path = %path.display(),
            created,
            "DEVELOPMENT MASTER KEY IN USE. This key file is for development only: anyone who \
             can read it can decrypt every secret. In production set SEALBOX_MASTER_KEY or \
             SEALBOX_MASTER_KEY_FILE to a key kept away from the database and its backups."
        ),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled, so a signal that arrives during start-up is not lost (and
/// does not kill the process with the default action).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let (mut interrupt, mut terminate) = signals;
            let interrupted = async {
                match interrupt.as_mut() {
                    Some(signal) => drop(signal.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            let terminated = async {
                match terminate.as_mut() {
                    Some(signal) => drop(signal.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = interrupted => {}
                () = terminated => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
