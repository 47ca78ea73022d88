//! `POST /theme`: the header's "Dark mode" switch on a page without JavaScript (see
//! `app::components::ThemeToggle`, which switches in place once hydrated): keeps the choice in
//! its cookie and sends the browser back to the page it came from.
use app::components::{RETURN_FIELD, Theme, theme_cookie};
use axum::{
    Form,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::security::is_local_path;

pub async fn set(Form(fields): Form<Vec<(String, String)>>) -> Response {
    let field = |name: &str| {
        fields.iter().find(|(field, _)| field == name).map(|(_, value)| value.as_str())
    };
    let Some(theme) = field("theme").and_then(Theme::parse) else {
        return (StatusCode::BAD_REQUEST, "Choose the theme \"light\" or \"dark\".")
            .into_response();
    };
    let back = field(RETURN_FIELD)
        .filter(|path| is_local_path(path))
        .and_then(|path| HeaderValue::from_str(path).ok())
        .unwrap_or(HeaderValue::from_static("/"));
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, back);
    if let Ok(cookie) = HeaderValue::from_str(&theme_cookie(theme)) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}
