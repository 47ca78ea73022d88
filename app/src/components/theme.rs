//! The light and dark colour schemes. The choice is kept in a cookie, so the server renders
//! every page in it: no light flash before the bundle runs, and the same scheme on the pages that
//! have no bundle (sign-in, set-up). The toggle is a form that asks the server to switch
//! (`POST /theme`, which works without JavaScript); once the page is hydrated it switches in place.
use leptos::prelude::*;

use super::ReturnHere;

/// The cookie that holds the choice: `dark` or `light`. Not a secret, and written by the page's
/// own script too, so not `HttpOnly`.
pub const THEME_COOKIE: &str = "sealbox-theme";
/// Where the toggle's form posts.
pub const THEME_PATH: &str = "/theme";
/// A year, in seconds: how long the choice is kept.
pub const THEME_MAX_AGE: u32 = 365 * 24 * 60 * 60;
/// Where an earlier release kept the choice (this browser's local storage); read once and moved.
#[cfg(feature = "hydrate")]
const OLD_STORAGE_KEY: &str = "sealbox-theme";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Dark => "dark",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "light" => Some(Self::Light),
            "dark" => Some(Self::Dark),
            _ => None,
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Light => Self::Dark,
            Self::Dark => Self::Light,
        }
    }

    /// The scheme the page was rendered in: on the server from the request's cookie, in the
    /// browser from `<html data-theme>`, which the server set from the same cookie (so both agree
    /// while hydrating). `None` when no choice was made (the light scheme).
    pub fn rendered() -> Option<Self> {
        #[cfg(feature = "ssr")]
        {
            use_context::<http::request::Parts>().and_then(|parts| from_cookies(&parts.headers))
        }
        #[cfg(not(feature = "ssr"))]
        {
            document()
                .document_element()
                .and_then(|root| root.get_attribute("data-theme"))
                .and_then(|text| Self::parse(&text))
        }
    }
}

/// The choice named by a request's `Cookie` headers, if any.
#[cfg(feature = "ssr")]
pub fn from_cookies(headers: &http::HeaderMap) -> Option<Theme> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == THEME_COOKIE)
        .and_then(|(_, value)| Theme::parse(value))
}

/// The `Set-Cookie` value that keeps `theme`.
pub fn theme_cookie(theme: Theme) -> String {
    format!("{THEME_COOKIE}={}; Path=/; Max-Age={THEME_MAX_AGE}; SameSite=Lax", theme.as_str())
}

/// The "Dark mode" switch in the header.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = RwSignal::new(Theme::rendered().unwrap_or(Theme::Light));

    // Once hydrated: a choice an earlier release kept in local storage moves to the cookie.
    Effect::new(move |_| {
        if Theme::rendered().is_none()
            && let Some(old) = take_old_choice()
        {
            theme.set(old);
            apply(old);
        }
    });

    view! {
        <form
            method="post"
            action=THEME_PATH
            class="theme-form"
            on:submit=move |event| {
                event.prevent_default();
                let next = theme.get_untracked().other();
                theme.set(next);
                apply(next);
            }
        >
            <ReturnHere />
            <input type="hidden" name="theme" value=move || theme.get().other().as_str() />
            <button
                type="submit"
                class="theme-toggle"
                aria-pressed=move || if theme.get() == Theme::Dark { "true" } else { "false" }
            >
                "Dark mode"
            </button>
        </form>
    }
}

/// Shows `theme` now and keeps it in the cookie, as `POST /theme` would.
#[cfg(feature = "hydrate")]
fn apply(theme: Theme) {
    use wasm_bindgen::JsCast;
    let document = document();
    if let Some(root) = document.document_element() {
        // Best effort: a failure leaves the current colours, which is harmless.
        let _ = root.set_attribute("data-theme", theme.as_str());
    }
    if let Ok(html) = document.dyn_into::<web_sys::HtmlDocument>() {
        let _ = html.set_cookie(&theme_cookie(theme));
    }
}

#[cfg(not(feature = "hydrate"))]
fn apply(_theme: Theme) {}

#[cfg(feature = "hydrate")]
fn take_old_choice() -> Option<Theme> {
    let storage = web_sys::window()?.local_storage().ok()??;
    let old = storage.get_item(OLD_STORAGE_KEY).ok()??;
    let _ = storage.remove_item(OLD_STORAGE_KEY);
    Theme::parse(&old)
}

#[cfg(not(feature = "hydrate"))]
fn take_old_choice() -> Option<Theme> {
    None
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn the_choice_is_read_from_any_cookie_header_and_anything_else_is_no_choice() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(from_cookies(&headers), None);
        headers.append(http::header::COOKIE, "id=abc; sealbox-theme=dark".parse().expect("ok"));
        assert_eq!(from_cookies(&headers), Some(Theme::Dark));
        let mut odd = http::HeaderMap::new();
        odd.append(http::header::COOKIE, "sealbox-theme=purple".parse().expect("ok"));
        assert_eq!(from_cookies(&odd), None);
        assert_eq!(
            theme_cookie(Theme::Light),
            "sealbox-theme=light; Path=/; Max-Age=31536000; SameSite=Lax"
        );
    }
}
