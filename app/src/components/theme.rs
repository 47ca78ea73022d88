use leptos::prelude::*;

const STORAGE_KEY: &str = "sealbox-theme";

/// Switches between the light and dark colour schemes and remembers the choice in this browser.
/// It is plain markup until the page hydrates, so it also shows that hydration happened.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let dark = RwSignal::new(false);

    // Effects run in the browser only, once hydrated: adopt the stored choice.
    Effect::new(move |_| {
        if stored_theme().as_deref() == Some("dark") {
            dark.set(true);
            apply_theme(true);
        }
    });

    view! {
        <button
            type="button"
            class="theme-toggle"
            aria-pressed=move || if dark.get() { "true" } else { "false" }
            on:click=move |_| {
                let now_dark = !dark.get_untracked();
                dark.set(now_dark);
                apply_theme(now_dark);
            }
        >
            "Dark mode"
        </button>
    }
}

#[cfg(feature = "hydrate")]
fn stored_theme() -> Option<String> {
    web_sys::window()?.local_storage().ok()??.get_item(STORAGE_KEY).ok()?
}

#[cfg(not(feature = "hydrate"))]
fn stored_theme() -> Option<String> {
    None
}

#[cfg(feature = "hydrate")]
fn apply_theme(dark: bool) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let theme = if dark { "dark" } else { "light" };
    if let Some(root) = window.document().and_then(|d| d.document_element()) {
        // Best effort: a failure leaves the current colours, which is harmless.
        let _ = root.set_attribute("data-theme", theme);
    }
    if let Ok(Some(storage)) = window.local_storage() {
        let _ = storage.set_item(STORAGE_KEY, theme);
    }
}

#[cfg(not(feature = "hydrate"))]
fn apply_theme(_dark: bool) {
    let _ = STORAGE_KEY;
}
