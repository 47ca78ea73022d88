//! Headers and checks applied to every response and request.
//!
//! Over ~450 lines only with its unit tests (the code is under 400): each layer here is one
//! middleware function with its helpers, and they share the header constants and the policy.
use app::components::{DIALOG_PARAM, KEPT_FIELDS, RETURN_FIELD, TYPED_PREFIX};
use axum::{
    body::Body,
    extract::Request,
    http::{
        HeaderMap, HeaderName, HeaderValue, Method, StatusCode,
        header::{
            ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, LOCATION, ORIGIN,
            REFERER, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, VARY, X_CONTENT_TYPE_OPTIONS,
        },
    },
    middleware::Next,
    response::{IntoResponse, Response},
};

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// For responses that are not pages (JSON, server functions, files): allow nothing.
const STRICT_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The nonce of one page: made here for each request that may render one, handed to Leptos for
/// the page's scripts ([`provide_page_nonce`]) and named in the page's policy.
#[derive(Clone)]
pub struct PageNonce(String);

impl PageNonce {
    fn generate() -> Self {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let mut bytes = [0_u8; 16];
        rand::fill(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Pages may run only their own scripts: those carrying this nonce, and the wasm module
    /// they load.
    fn policy(&self) -> String {
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
            self.0
        )
    }
}

/// Gives the page being rendered the request's [`PageNonce`], so that its scripts carry the
/// nonce the response's policy names. Leptos's additional context for every rendered page.
pub fn provide_page_nonce() {
    use leptos::prelude::{provide_context, use_context};
    if let Some(parts) = use_context::<http::request::Parts>()
        && let Some(nonce) = parts.extensions.get::<PageNonce>()
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0.as_str()));
    }
}

/// Sets the security headers. An HTML page gets the policy naming its request's [`PageNonce`]
/// (set here rather than while rendering, where a header can come too late for the response);
/// everything else gets [`STRICT_CSP`]. Only the compiled assets may be cached. Over https (the
/// public URL is https, or a trusted proxy says the client used https) browsers are also told to
/// use nothing else (`Strict-Transport-Security`).
pub async fn headers(
    axum::extract::State(policy): axum::extract::State<HeaderPolicy>,
    mut request: Request,
    next: Next,
) -> Response {
    let https = policy.https
        || request.extensions().get::<crate::proxy::Client>().is_some_and(|client| client.https);
    let path = request.uri().path();
    let cacheable = path.starts_with("/pkg/") || path == "/favicon.svg";
    let hashed = path.strip_prefix("/pkg/").is_some_and(|name| policy.immutable.contains(name));
    let nonce = (!cacheable && !path.starts_with("/api/")).then(PageNonce::generate);
    if let Some(nonce) = &nonce {
        request.extensions_mut().insert(nonce.clone());
    }
    let mut response = next.run(request).await;
    let status = response.status();
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    let is_page = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let policy = match nonce.filter(|_| is_page) {
        Some(nonce) => {
            HeaderValue::from_str(&nonce.policy()).unwrap_or(HeaderValue::from_static(STRICT_CSP))
        }
        None => HeaderValue::from_static(STRICT_CSP),
    };
    headers.insert(CONTENT_SECURITY_POLICY, policy);
    // Only a file that was found: a missing one (a 404 page, perhaps naming who is signed in)
    // is never kept.
    let found = (status.is_success() || status == StatusCode::NOT_MODIFIED) && !is_page;
    let cache = match (cacheable && found, hashed) {
        // The name changes with the content: keep it for a year, never ask again.
        (true, true) => "public, max-age=31536000, immutable",
        (true, false) => "no-cache",
        (false, _) => "no-store",
    };
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if cacheable && found {
        // Served precompressed (Brotli, gzip) by what the browser accepts.
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    if https {
        // Two years: browsers then never try plain http for this host again.
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000"));
    }
    response
}

/// What [`headers`] needs to know: whether the public URL is https, and which compiled assets
/// may be kept for a year.
#[derive(Clone, Default)]
pub struct HeaderPolicy {
    pub https: bool,
    pub immutable: std::sync::Arc<std::collections::HashSet<String>>,
}

/// The files in `pkg_dir` whose name carries the hash of what they hold now. cargo-leptos names
/// each file by the MD5 of its content, but with `--split` it then writes the split loader's
/// hashed name into files it has already named (the main JS and wasm): their content changes
/// under the same name, so they are asked for again (`no-cache`), not kept for a year.
pub fn immutable_assets(pkg_dir: &std::path::Path) -> std::collections::HashSet<String> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use md5::{Digest, Md5};
    let Ok(entries) = std::fs::read_dir(pkg_dir) else {
        return Default::default();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let hash = content_hash(&name)?;
            let content = std::fs::read(entry.path()).ok()?;
            (URL_SAFE_NO_PAD.encode(Md5::digest(&content)) == hash).then_some(name)
        })
        .collect()
}

/// The content hash in an asset's name as cargo-leptos writes it: `name.<22 base64url>.ext`, or
/// `name.<hash>_bg.wasm` for the WebAssembly.
fn content_hash(name: &str) -> Option<&str> {
    let mut parts = name.rsplit('.');
    let (extension, hash) = (parts.next()?, parts.next()?);
    let hash = if extension == "wasm" { hash.strip_suffix("_bg").unwrap_or(hash) } else { hash };
    (parts.next().is_some()
        && hash.len() == 22
        && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(hash)
}

/// Refuses state-changing requests to server functions that a browser sent from another
/// origin (besides the SameSite cookie).
///
/// Browsers say where a request comes from in `Sec-Fetch-Site`; where they do not (older
/// browsers, plain-HTTP hosts other than localhost), `Origin` or `Referer` is compared with
/// `Host`. Pages use `Referrer-Policy: no-referrer`, so a plain form post carries `Origin: null`
/// and no `Referer`: such a request is judged by `Sec-Fetch-Site` alone. Requests with none of
/// these headers come from programs, not from a page on another site, and are let through.
pub async fn same_origin(request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // Everything but the JSON API (tokens, not cookies): server functions and `POST /theme`.
    if !safe && !request.uri().path().starts_with("/api/") && !from_this_origin(request.headers()) {
        tracing::warn!(path = request.uri().path(), "refused a cross-origin request");
        return (StatusCode::FORBIDDEN, "Cross-origin requests are refused.").into_response();
    }
    next.run(request).await
}

fn from_this_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(site) = text(SEC_FETCH_SITE) {
        // "none": typed into the address bar or opened from a bookmark.
        return matches!(site, "same-origin" | "none");
    }
    let source = text(ORIGIN).filter(|origin| *origin != "null").or_else(|| text(REFERER));
    match source {
        Some(source) => authority(source).is_some() && authority(source) == text(HOST),
        None => true,
    }
}

/// Makes server functions work from plain HTML forms (no JavaScript).
///
/// After a form post, Leptos sends the browser back to the `Referer`, with the error encoded
/// in the query when the call failed, for the page to show. Pages send no `Referer`, so every
/// form names its page in a hidden [`RETURN_FIELD`]; this turns that field into the `Referer`
/// Leptos expects. Only same-site paths are accepted, so the field cannot redirect elsewhere.
pub async fn form_return(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let is_form_post = request.method() == Method::POST
        && request.uri().path().starts_with("/rpc/")
        && !headers.contains_key(REFERER)
        && headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
        && headers
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
    if !is_form_post {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response();
    };
    let return_to = url::form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == RETURN_FIELD)
        .map(|(_, path)| path.into_owned())
        .filter(|path| is_local_path(path));
    let typed: Vec<(String, String)> = url::form_urlencoded::parse(&bytes)
        .filter(|(name, value)| KEPT_FIELDS.contains(&name.as_ref()) && !value.is_empty())
        .map(|(name, value)| (format!("{TYPED_PREFIX}{name}"), kept(&value)))
        .collect();
    let host = parts.headers.get(HOST).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let (Some(path), Some(host)) = (return_to, host)
        && let Ok(referer) = HeaderValue::from_str(&format!("http://{host}{path}"))
    {
        parts.headers.insert(REFERER, referer);
    }
    let mut response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    if let Some(location) = response.headers().get(LOCATION).and_then(|v| v.to_str().ok())
        && let Some(local) = local_location(location, &typed)
        && let Ok(local) = HeaderValue::from_str(&local)
    {
        response.headers_mut().insert(LOCATION, local);
    }
    response
}

/// The most of one typed field carried back into the URL: every kept field's own limit is far
/// below it, and the redirect stays a reasonable size whatever was posted.
const MAX_KEPT_CHARS: usize = 600;

/// What is carried back of a typed field: at most [`MAX_KEPT_CHARS`] characters.
fn kept(value: &str) -> String {
    value.chars().take(MAX_KEPT_CHARS).collect()
}

/// Where to send the browser after a plain form post: the page as a path, not the made-up
/// absolute URL (behind a TLS proxy its scheme would be wrong); after a success, without the
/// `dialog` parameter, so the dialog that held the form is closed; after a failure, with what was
/// typed into the [`KEPT_FIELDS`] (`typed`), so the form shows it again. What an earlier failure
/// kept is dropped either way.
fn local_location(location: &str, typed: &[(String, String)]) -> Option<String> {
    let url = url::Url::parse(location).ok()?;
    let failed = url.query_pairs().any(|(name, _)| name == "__err");
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| failed || name != DIALOG_PARAM)
        .filter(|(name, _)| !name.starts_with(TYPED_PREFIX))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    if failed {
        pairs.extend(typed.iter().cloned());
    }
    let mut local = url.path().to_string();
    if !pairs.is_empty() {
        local.push('?');
        local.push_str(
            &url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish(),
        );
    }
    Some(local)
}

/// The most a server function call or form post may send: a secret value is at most 64 KiB,
/// which percent-encoding can triple, and the other fields are small.
pub const MAX_RPC_BYTES: usize = 512 * 1024;
/// Pages, downloads and probes take no body; this leaves room for clients that send one anyway.
pub const MAX_PAGE_BYTES: usize = 16 * 1024;
const MAX_FORM_BYTES: usize = MAX_RPC_BYTES;

/// Refuses a request body larger than its route takes ([`MAX_RPC_BYTES`] for server functions,
/// [`MAX_PAGE_BYTES`] for everything else but the JSON API, which has its own limit and error
/// shape) with 413 and a message for people, reading at most that much of it: memory does not
/// grow with what is sent. A script gets the error as the server function's JSON error, so its
/// form shows it; a plain form post goes back to its page with the error, as any failure does.
pub async fn bounded_body(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/") {
        return next.run(request).await;
    }
    let limit = if path.starts_with("/rpc/") { MAX_RPC_BYTES } else { MAX_PAGE_BYTES };
    let (parts, body) = request.into_parts();
    match read_at_most(body, limit).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err((prefix, rest)) => {
            if let Some(rest) = rest {
                drain(rest).await;
            }
            too_large(&parts, &prefix, limit)
        }
    }
}

/// The whole body if it is at most `limit` bytes; else what was read of it (at most `limit`)
/// and, unless it failed, the body with the rest.
async fn read_at_most(
    mut body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, (Vec<u8>, Option<Body>)> {
    use http_body_util::BodyExt;
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return Err((read, None)) };
        let Ok(data) = frame.into_data() else { continue };
        if read.len() + data.len() > limit {
            read.extend_from_slice(&data[..limit - read.len()]);
            return Err((read, Some(body)));
        }
        read.extend_from_slice(&data);
    }
    Ok(read.into())
}

/// Reads and drops what is left of a refused body (at most [`DRAIN_BYTES`], for at most
/// [`DRAIN_TIME`]), so that a client still sending hears the 413 instead of a reset connection;
/// past either bound the connection is closed on it. Memory stays flat: nothing is kept.
async fn drain(mut body: Body) {
    use http_body_util::BodyExt;
    let discard = async {
        let mut drained = 0_usize;
        while drained < DRAIN_BYTES
            && let Some(Ok(frame)) = body.frame().await
        {
            drained += frame.data_ref().map_or(0, |data| data.len());
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
}

const DRAIN_BYTES: usize = 64 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

fn too_large(parts: &http::request::Parts, prefix: &[u8], limit: usize) -> Response {
    use leptos::server_fn::error::{FromServerFnError, ServerFnUrlError};
    let path = parts.uri.path();
    let error = app::error::AppError::TooLarge(format!(
        "This is too large to send: at most {} KiB (a secret value is at most 64 KiB).",
        limit / 1024
    ));
    tracing::warn!(path, limit, "refused a request body over the limit");
    if !path.starts_with("/rpc/") {
        return (StatusCode::PAYLOAD_TOO_LARGE, error.to_string()).into_response();
    }
    let accepts_html = parts
        .headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    // A plain form names its page first (`ReturnHere`), so it is in what was read.
    let return_to = accepts_html
        .then(|| url::form_urlencoded::parse(prefix).find(|(name, _)| name == RETURN_FIELD))
        .flatten()
        .map(|(_, path)| path.into_owned())
        .filter(|path| is_local_path(path));
    if let Some(page) = return_to
        && let Ok(url) =
            ServerFnUrlError::new(path, error.clone()).to_url(&format!("http://x{page}"))
        && let Some(local) = local_location(url.as_str(), &[])
        && let Ok(location) = HeaderValue::from_str(&local)
    {
        return (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response();
    }
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        error.ser(),
    )
        .into_response()
}

/// A path on this site: `/…` but not `//host` or `/\host`, which browsers treat as other sites.
pub(crate) fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(char::is_control)
}

/// `host[:port]` of an origin or URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::{authority, content_hash, immutable_assets, is_local_path, local_location};

    #[test]
    fn only_assets_named_by_their_content_hash_are_kept_for_a_year() {
        assert_eq!(
            content_hash("sealbox.AbCdEfGhIjKlMnOpQrStUv.wasm"),
            Some("AbCdEfGhIjKlMnOpQrStUv")
        );
        assert!(content_hash("sealbox.a-c_EfGhIjKlMnOpQrStUv.css").is_some());
        assert!(content_hash("sealbox.AbCdEfGhIjKlMnOpQrStUv_bg.wasm").is_some());
        for plain in [
            "sealbox.wasm",
            "sealbox.css",
            "AbCdEfGhIjKlMnOpQrStUv.wasm",
            "sealbox.AbCdEfGhIjKlMnOpQrSt.js",
            "sealbox.AbCdEfGhIjKlMnOpQrS!uv.js",
        ] {
            assert!(content_hash(plain).is_none(), "{plain}");
        }
        // A name is trusted only while the file still holds what it was named after.
        let dir = tempfile::tempdir().expect("a directory");
        // MD5("sealbox") in base64url: DCNMe2rYeQ6W8QVZV-tAiQ.
        std::fs::write(dir.path().join("app.DCNMe2rYeQ6W8QVZV-tAiQ.js"), "sealbox").expect("file");
        std::fs::write(dir.path().join("main.DCNMe2rYeQ6W8QVZV-tAiQ.js"), "rewritten")
            .expect("file");
        std::fs::write(dir.path().join("plain.js"), "sealbox").expect("file");
        let immutable = immutable_assets(dir.path());
        assert_eq!(immutable.into_iter().collect::<Vec<_>>(), ["app.DCNMe2rYeQ6W8QVZV-tAiQ.js"]);
    }

    #[test]
    fn after_a_form_post_the_browser_returns_to_a_local_path() {
        let back = |l: &str| local_location(l, &[]);
        assert_eq!(back("http://h:1/projects/bot?dialog=add").as_deref(), Some("/projects/bot"));
        assert_eq!(
            back("http://h:1/projects/bot?q=a&dialog=add").as_deref(),
            Some("/projects/bot?q=a")
        );
        assert_eq!(
            back("http://h:1/p?dialog=add&__path=%2Frpc%2Fx&__err=e").as_deref(),
            Some("/p?dialog=add&__path=%2Frpc%2Fx&__err=e")
        );
        assert_eq!(back("/login").as_deref(), None);
    }

    #[test]
    fn a_failed_post_brings_back_what_was_typed_and_only_then() {
        let typed = [("typed.key".to_string(), "BAD KEY".to_string())];
        let back = |l: &str| local_location(l, &typed);
        assert_eq!(
            back("http://h:1/p?dialog=add&typed.key=OLD&__err=e").as_deref(),
            Some("/p?dialog=add&__err=e&typed.key=BAD+KEY"),
            "the earlier attempt's text is replaced"
        );
        assert_eq!(back("http://h:1/p?dialog=add&typed.key=OLD").as_deref(), Some("/p"));
    }

    #[test]
    fn what_is_carried_back_is_bounded() {
        assert_eq!(super::kept("short"), "short");
        assert_eq!(super::kept(&"é".repeat(5_000)).chars().count(), super::MAX_KEPT_CHARS);
    }

    #[test]
    fn forms_return_only_to_paths_on_this_site() {
        assert!(is_local_path("/settings/members"));
        assert!(is_local_path("/login?next=%2F"));
        for other in ["//evil.example", "/\\evil.example", "https://evil.example/", "", "/a\nb"] {
            assert!(!is_local_path(other), "{other}");
        }
    }

    #[test]
    fn the_authority_of_origins_and_urls() {
        assert_eq!(authority("http://127.0.0.1:3000"), Some("127.0.0.1:3000"));
        assert_eq!(authority("https://example.com/login?x=1"), Some("example.com"));
        assert_eq!(authority("null"), None);
    }
}
