//! Headers and checks applied to every response and request.
use axum::{
    extract::Request,
    http::{
        HeaderValue, Method, StatusCode,
        header::{
            CACHE_CONTROL, CONTENT_SECURITY_POLICY, HOST, ORIGIN, REFERER, REFERRER_POLICY,
            X_CONTENT_TYPE_OPTIONS,
        },
    },
    middleware::Next,
    response::{IntoResponse, Response},
};

/// For responses that are not pages (JSON, server functions, files): allow nothing.
const STRICT_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Sets the security headers. Pages carry their own nonce-based policy (set while rendering);
/// everything else gets [`STRICT_CSP`]. Only the compiled assets may be cached.
pub async fn headers(request: Request, next: Next) -> Response {
    let cacheable =
        request.uri().path().starts_with("/pkg/") || request.uri().path() == "/favicon.svg";
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.entry(CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(STRICT_CSP));
    if !cacheable {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Refuses state-changing requests to server functions that a browser sent from another
/// origin (besides the SameSite cookie). Requests without Origin or Referer come from programs,
/// not from a page on another site, and are let through.
pub async fn same_origin(request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && request.uri().path().starts_with("/rpc/") {
        let host = request.headers().get(HOST).and_then(|h| h.to_str().ok());
        let source = request
            .headers()
            .get(ORIGIN)
            .or_else(|| request.headers().get(REFERER))
            .and_then(|v| v.to_str().ok());
        if let Some(source) = source
            && authority(source) != host
        {
            tracing::warn!(source, "refused a cross-origin request");
            return (StatusCode::FORBIDDEN, "Cross-origin requests are refused.").into_response();
        }
    }
    next.run(request).await
}

/// `host[:port]` of an origin or URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::authority;

    #[test]
    fn the_authority_of_origins_and_urls() {
        assert_eq!(authority("http://127.0.0.1:3000"), Some("127.0.0.1:3000"));
        assert_eq!(authority("https://example.com/login?x=1"), Some("example.com"));
        assert_eq!(authority("null"), None);
    }
}
