//! Builds the application from a checked [`Config`] and runs it until asked to stop.
use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use app::{
    App,
    accounts::{
        service::Accounts,
        session::{COOKIE_NAME, SessionBackend},
    },
    audit::page::export::export_csv,
    keyring::Keyring,
    projects::{service::Projects, variables::ssr::export_env},
    secrets::service::Vault,
    shell,
    state::AppState,
    store::Store,
    tokens::service::Tokens,
};
use tower_sessions::{
    Expiry, SessionManagerLayer,
    cookie::{SameSite, time},
};

use axum::{Router, routing::get};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use tokio::net::TcpListener;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::{
    config::{Config, MasterKeySource, StoreConfig},
    health, security,
};

/// Connects to the database, migrates it and checks the master keys against it.
pub async fn open_vault(config: StoreConfig) -> anyhow::Result<(Store, Vault)> {
    announce_master_key(&config.master_key_source);
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    tracing::info!(database = store.backend().name(), "database ready");
    let keyring = Keyring::load(&store, config.master_key, config.older_master_keys).await?;
    tracing::info!(master_key_id = keyring.current_id(), "master key checked");
    Ok((store.clone(), Vault::new(store, Arc::new(keyring))))
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Store,
    vault: Vault,
    local_addr: SocketAddr,
    cleanup: tokio::task::JoinHandle<()>,
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

        let leptos_options = LeptosOptions::builder()
            .output_name("sealbox")
            .site_root(config.site_root.display().to_string())
            .site_pkg_dir("pkg")
            .site_addr(local_addr)
            .build();
        let sessions =
            SessionBackend::for_store(&store).await.context("cannot create the sessions table")?;
        let cleanup = spawn_session_cleanup(sessions.clone(), config.session_cleanup_every);
        let secure = config.public_url.as_ref().is_some_and(|url| url.scheme() == "https");
        let sessions = SessionManagerLayer::new(sessions)
            .with_name(COOKIE_NAME)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(secure)
            .with_expiry(Expiry::OnInactivity(time::Duration::hours(i64::from(
                config.session_idle_hours,
            ))));
        let accounts = Accounts::new(store.clone());
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
            vault: vault.clone(),
            accounts,
            projects: Projects::new(store.clone()),
            tokens: Tokens::new(store.clone()),
        };
        Ok(Self { listener, router: router(state, sessions), store, vault, local_addr, cleanup })
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

    /// Serves until `shutdown` resolves, lets requests in flight finish, then closes the pool.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service).with_graceful_shutdown(shutdown).await;
        self.cleanup.abort();
        served?;
        self.store.close().await;
        Ok(())
    }
}

/// All routes: probes, pages, server functions, and static files with the 404 page as fallback,
/// with sessions; and the JSON API, which authenticates by bearer token and has no sessions.
pub fn router(state: AppState, sessions: SessionManagerLayer<SessionBackend>) -> Router {
    // Generated once per process: while a route list is generated, Leptos suppresses resource
    // loading process-wide, and a page rendered at that moment by another server in the same
    // process (the tests run many) hangs forever (leptos-rs/leptos#4773).
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| generate_route_list(App)).clone();
    let options = state.leptos_options.clone();
    let pages = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/projects/{slug}/variables.env", get(export_env))
        .route("/settings/audit.csv", get(export_csv))
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
        .with_state(state.clone());
    Router::new()
        .nest("/api/v1", app::api::router().with_state(state))
        .merge(pages)
        .layer(axum::middleware::from_fn(security::headers))
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

/// Deletes expired sessions every `every`, for as long as the server runs. Several servers on
/// one database may all do it: the deletion is idempotent.
fn spawn_session_cleanup(
    sessions: SessionBackend,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    use tower_sessions::ExpiredDeletion;
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match sessions.delete_expired().await {
                Ok(()) => tracing::debug!("expired sessions deleted"),
                Err(error) => tracing::warn!(error = %error, "could not delete expired sessions"),
            }
        }
    })
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
