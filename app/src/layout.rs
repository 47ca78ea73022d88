//! The frame around every page. It sits above the feature modules (it shows the account menu
//! and the status line), so that `components` depends on none of them.
use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    accounts::auth::AccountMenu,
    components::{ErrorTemplate, ThemeToggle},
    system::ServerStatusLine,
};

/// The frame around every page: top navigation, the page itself, and the footer.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <header class="topbar">
            <nav class="topnav" aria-label="Main">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true">
                        "◆"
                    </span>
                    "Sealbox"
                </A>
                <ul class="topnav-links">
                    <li>
                        <A href="/projects">"Projects"</A>
                    </li>
                    <li>
                        <A href="/settings">"Settings"</A>
                    </li>
                </ul>
                <ThemeToggle />
                <AccountMenu />
            </nav>
        </header>
        <main id="main" class="content">
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorTemplate errors /> }
            }>{children()}</ErrorBoundary>
        </main>
        <footer class="footer">
            <ServerStatusLine />
        </footer>
    }
}
