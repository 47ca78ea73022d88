//! Sealbox's pages, components and server functions, shared by the server (`ssr`) and the
//! browser (`hydrate`). Each feature folder keeps its DTOs, server functions and components
//! together; anything that must never reach the browser lives behind `feature = "ssr"`.
#![forbid(unsafe_code)]
// The secrets table's view type is deep: computing its layout in the release build needs more
// than the default 128 levels of queries.
#![recursion_limit = "256"]

pub mod accounts;
pub mod audit;
pub mod compare;
pub mod components;
pub mod environments;
pub mod error;
pub mod exposure;
pub mod ids;
pub mod layout;
pub mod leaks;
pub mod projects;
pub mod secrets;
pub mod settings;
pub mod system;
pub mod time;
pub mod tokens;
pub mod validation;

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod bounds;

#[cfg(feature = "ssr")]
pub mod crypto;
#[cfg(feature = "ssr")]
pub mod keyring;
#[cfg(feature = "ssr")]
pub mod not_found;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    Lazy, LazyRoute, SsrMode,
    components::{ParentRoute, Route, Router, Routes},
    lazy_route, path,
};

use crate::{
    accounts::{auth::LoginPage, members::MembersPage, setup::SetupPage},
    audit::page::AuditPage,
    compare::page::CompareTab,
    components::NotFound,
    exposure::page::ExposurePage,
    layout::Layout,
    leaks::page::LeakCheckPage,
    projects::{
        list::ProjectsPage,
        project::{ProjectLayout, SecretsTab, SettingsTab},
        promote::PromoteTab,
        variables::VariablesTab,
    },
    secrets::history::{SecretHistoryTab, TeamSecretHistoryPage},
    settings::{SettingsPage, TeamSecretsPage},
    tokens::page::TokensTab,
};

/// Pages for people who are not signed in. They are plain HTML without the bundle (no script is
/// loaded; Leptos's inline resource data stays, unread): their forms
/// post to the server, and a first visit downloads a few kilobytes instead of the framework.
/// Reached by a link from a hydrated page, they still render in the browser (their chunks exist).
pub const PLAIN_PAGES: &[&str] = &["/login", "/setup"];

/// The HTML document the server renders around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let theme = components::Theme::rendered().map(components::Theme::as_str);
    #[cfg(feature = "ssr")]
    let plain = use_context::<http::request::Parts>()
        .is_some_and(|parts| PLAIN_PAGES.contains(&parts.uri.path()));
    #[cfg(not(feature = "ssr"))]
    let plain = false;
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta
                    name="description"
                    content="Sealbox: your team's self-hosted secrets manager for API keys, tokens and connection strings."
                />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <HashedStylesheet options=options.clone() id="leptos" />
                <AutoReload options=options.clone() />
                {(!plain).then(|| view! { <DeferredHydration options /> })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Loads the bundle once the page has loaded and painted, when the browser is idle: nothing is
/// fetched before then (no preload hints), so the bundle never delays the first paint, and the
/// page works without JavaScript until the wasm takes over. A page that paints no frame (a
/// background tab) starts 250 ms after its load all the same.
#[component]
fn DeferredHydration(options: LeptosOptions) -> impl IntoView {
    // Leptos's own component gives the lazy routes the split build's manifest; its markup, which
    // preloads the bundle from the head, is not used.
    let _manifest = HydrationScripts(
        HydrationScriptsProps::builder().options(options.clone()).defer(true).build(),
    );
    let (js, wasm) = bundle_names(&options);
    let loader = format!(
        "((js, wasm) => {{\
           const hydrate = () => import(js).then((bundle) =>\
             bundle.default({{ module_or_path: wasm }}).then(() => bundle.hydrate()));\
           const whenIdle = () => 'requestIdleCallback' in window\
             ? requestIdleCallback(hydrate, {{ timeout: 2000 }}) : setTimeout(hydrate, 1);\
           let started = false;\
           const start = () => {{ if (!started) {{ started = true; whenIdle(); }} }};\
           const afterPaint = () => {{\
             requestAnimationFrame(() => setTimeout(start, 0));\
             setTimeout(start, 250);\
           }};\
           if (document.readyState === 'complete') afterPaint();\
           else addEventListener('load', afterPaint, {{ once: true }});\
         }})({js:?}, {wasm:?});"
    );
    view! {
        <script type="module" nonce=use_nonce()>
            {loader}
        </script>
    }
}

/// `/pkg/<name>.js` and `.wasm` of the bundle: with their content hashes from the build's
/// `hash.txt` when it made one (read once), else the names cargo-leptos gives them.
fn bundle_names(options: &LeptosOptions) -> (String, String) {
    let pkg = format!("/{}/{}", options.site_pkg_dir, options.output_name);
    if !options.hash_files {
        let suffix = if option_env!("LEPTOS_OUTPUT_NAME").is_none() { "_bg" } else { "" };
        return (format!("{pkg}.js"), format!("{pkg}{suffix}.wasm"));
    }
    static HASHES: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (js, wasm) = HASHES.get_or_init(|| {
        let text = std::fs::read_to_string(options.hash_file.as_ref()).unwrap_or_default();
        let hash = |kind: &str| {
            text.lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.trim() == kind)
                .map(|(_, hash)| format!(".{}", hash.trim()))
                .unwrap_or_default()
        };
        (hash("js"), hash("wasm"))
    });
    (format!("{pkg}{js}.js"), format!("{pkg}{wasm}.wasm"))
}

#[component]
pub fn App() -> AnyView {
    provide_meta_context();

    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "Sealbox".to_string() } else { format!("{page} · Sealbox") }
        } />
        <Router>
            <Layout>
                // Every route renders completely before the response starts: pages read and work
                // without JavaScript (out-of-order streaming needs a script to place its chunks),
                // and a status set from loaded data (404, 403) reaches the response.
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/login") view={Lazy::<Login>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/setup") view={Lazy::<Setup>::new()} ssr=SsrMode::Async />
                    <Route
                        path=path!("/settings")
                        view={Lazy::<Settings>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/settings/members")
                        view={Lazy::<Members>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/settings/members/:id/exposure")
                        view={Lazy::<Exposure>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/settings/team-secrets")
                        view={Lazy::<TeamSecrets>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/settings/team-secrets/:env")
                        view={Lazy::<TeamSecrets>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/settings/team-secrets/history/:key")
                        view={Lazy::<TeamHistory>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/settings/team-secrets/:env/history/:key")
                        view={Lazy::<TeamHistory>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/settings/leak-check")
                        view={Lazy::<LeakCheck>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/settings/audit")
                        view={Lazy::<Audit>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/projects")
                        view={Lazy::<Projects>::new()}
                        ssr=SsrMode::Async
                    />
                    <ParentRoute
                        path=path!("/projects/:slug")
                        view={Lazy::<Project>::new()}
                        ssr=SsrMode::Async
                    >
                        // The project's own pages first: an environment cannot take their
                        // names (environments::domain::RESERVED_NAMES).
                        <Route path=path!("") view={Lazy::<Secrets>::new()} />
                        <Route path=path!("variables") view={Lazy::<Variables>::new()} />
                        <Route path=path!("tokens") view={Lazy::<Tokens>::new()} />
                        <Route path=path!("settings") view={Lazy::<ProjectSettings>::new()} />
                        <Route path=path!("compare") view={Lazy::<Compare>::new()} />
                        <Route path=path!("promote") view={Lazy::<Promote>::new()} />
                        <Route path=path!(":env") view={Lazy::<Secrets>::new()} />
                        <Route path=path!(":env/variables") view={Lazy::<Variables>::new()} />
                        <Route path=path!(":env/history/:key") view={Lazy::<History>::new()} />
                    </ParentRoute>
                </Routes>
            </Layout>
        </Router>
    }
    // Erased: asynchronous hydration holds the whole view's type in a future, which would be
    // deeper than the compiler's query limit.
    .into_any()
}

/// Each page but the home page is a lazy route: `cargo leptos build --split` puts its code in a
/// chunk of its own, so a browser downloads the framework and the pages it opens, not every page
/// (`frontend` hydrates asynchronously, fetching the current page's chunk first).
/// A macro because `#[lazy_route]` names each chunk after its type: one type per page.
macro_rules! lazy_pages {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    )*};
}

lazy_pages! {
    Login => LoginPage,
    Setup => SetupPage,
    Settings => SettingsPage,
    Members => MembersPage,
    TeamSecrets => TeamSecretsPage,
    Audit => AuditPage,
    Projects => ProjectsPage,
    Project => ProjectLayout,
    Secrets => SecretsTab,
    Variables => VariablesTab,
    Tokens => TokensTab,
    ProjectSettings => SettingsTab,
    Compare => CompareTab,
    Promote => PromoteTab,
    History => SecretHistoryTab,
    TeamHistory => TeamSecretHistoryPage,
    LeakCheck => LeakCheckPage,
    Exposure => ExposurePage,
}

#[component]
fn HomePage() -> impl IntoView {
    view! {
        <Title text="" />
        <section class="page">
            <h1>"Sealbox"</h1>
            <p class="lead">
                "Keep your team's API keys, bot tokens, webhook URLs and connection strings in "
                "one place, encrypted, instead of in code."
            </p>
        </section>
    }
}
