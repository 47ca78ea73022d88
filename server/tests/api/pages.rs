use serde_json::Value;

use crate::{
    helpers::{Backend, TestApp, spawn_app},
    on_both_backends,
};

on_both_backends!(
    the_start_page_renders_the_shell_with_navigation_and_server_status,
    an_unknown_path_gets_the_styled_404_page_with_status_404,
    the_status_server_function_answers_over_http,
    pages_carry_a_nonce_content_security_policy_and_the_security_headers,
    other_responses_get_a_strict_policy_and_no_store,
    a_cross_origin_post_to_a_server_function_is_refused,
    a_server_function_called_with_missing_arguments_answers_422,
    pages_are_compressed_for_browsers_that_accept_it_and_nothing_else_is,
    the_theme_form_keeps_the_choice_in_a_cookie_and_returns_only_to_this_site,
    the_sign_in_page_is_plain_html_in_the_chosen_theme,
);

async fn the_theme_form_keeps_the_choice_in_a_cookie_and_returns_only_to_this_site(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let header = |response: &reqwest::Response, name: &str| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    };

    let dark =
        post_theme(&app, "same-origin", &[("theme", "dark"), ("__return", "/projects?q=a")]).await;
    assert_eq!(dark.status(), 303);
    assert_eq!(header(&dark, "location").as_deref(), Some("/projects?q=a"));
    assert_eq!(
        header(&dark, "set-cookie").as_deref(),
        Some("sealbox-theme=dark; Path=/; Max-Age=31536000; SameSite=Lax")
    );
    for elsewhere in ["//evil.example/", "/\\evil.example", "https://evil.example/"] {
        let form = [("theme", "light"), ("__return", elsewhere)];
        let response = post_theme(&app, "same-origin", &form).await;
        assert_eq!(header(&response, "location").as_deref(), Some("/"), "{elsewhere}");
    }
    let odd = post_theme(&app, "same-origin", &[("theme", "purple")]).await;
    assert_eq!(odd.status(), 400);
    assert!(header(&odd, "set-cookie").is_none());
    assert!(odd.text().await.expect("body").contains("\"light\" or \"dark\""));
    let forged = post_theme(&app, "cross-site", &[("theme", "dark")]).await;
    assert_eq!(forged.status(), 403, "another site cannot switch it");
    app.stop().await;
}

async fn post_theme(app: &TestApp, site: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let request = app.client.post(app.url("/theme")).header("sec-fetch-site", site).form(form);
    request.send().await.expect("the post")
}

async fn the_sign_in_page_is_plain_html_in_the_chosen_theme(backend: Backend) {
    let app = spawn_app(backend).await;

    for path in ["/login", "/setup"] {
        let html = page_with_cookie(&app, path, "sealbox-theme=dark").await;
        assert!(html.contains(r#"<html lang="en" data-theme="dark""#), "{path}: {html}");
        // Only Leptos's few inline lines of resource data, which nothing reads.
        assert!(!html.contains("<script src") && !html.contains(".js"), "{path} loads no script");
        assert!(!html.contains(".wasm") && !html.contains("modulepreload"), "{path}: no wasm");
    }
    let start = page_with_cookie(&app, "/", "sealbox-theme=nonsense").await;
    assert!(start.contains(r#"<html lang="en">"#), "no choice, no attribute: {start}");
    assert!(start.contains(".wasm"), "other pages hydrate: {start}");
    app.stop().await;
}

async fn page_with_cookie(app: &TestApp, path: &str, cookie: &str) -> String {
    let response = app.client.get(app.url(path)).header("cookie", cookie).send().await;
    response.expect("the page").text().await.expect("its html")
}

async fn pages_are_compressed_for_browsers_that_accept_it_and_nothing_else_is(backend: Backend) {
    let app = spawn_app(backend).await;
    let fetch = |method: reqwest::Method, path: &'static str, accept: &'static str| {
        app.client.request(method, app.url(path)).header("accept-encoding", accept).send()
    };
    let encoding = |response: &reqwest::Response| {
        response.headers().get("content-encoding").and_then(|v| v.to_str().ok()).map(str::to_string)
    };

    for (accept, expected) in [("br", Some("br")), ("gzip", Some("gzip")), ("identity", None)] {
        let page = fetch(reqwest::Method::GET, "/login", accept).await.expect("the page");
        assert_eq!(page.status(), 200);
        assert_eq!(encoding(&page).as_deref(), expected, "/login with {accept}");
    }
    let plain = fetch(reqwest::Method::GET, "/login", "identity").await.expect("page");
    let plain = plain.bytes().await.expect("body").len();
    let squeezed = fetch(reqwest::Method::GET, "/login", "br").await.expect("page");
    let squeezed = squeezed.bytes().await.expect("body").len();
    assert!(squeezed * 2 < plain, "Brotli: {squeezed} of {plain} bytes");
    // Server functions and the API carry values and echo what was sent: never compressed.
    let rpc = fetch(reqwest::Method::POST, "/rpc/check_server", "br, gzip").await.expect("rpc");
    assert_eq!(rpc.status(), 200);
    assert_eq!(encoding(&rpc), None);
    let api = fetch(reqwest::Method::GET, "/api/v1/openapi.json", "br, gzip").await.expect("api");
    assert_eq!(api.status(), 200);
    assert_eq!(encoding(&api), None);
    app.stop().await;
}

async fn a_server_function_called_with_missing_arguments_answers_422(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.post_rpc(&app.client, "create_secret", &[("scope", "bot")]).await;

    assert_eq!(response.status(), 422);
    let body = response.text().await.expect("body");
    assert!(body.contains("The request was malformed"), "{body}");
}

async fn pages_carry_a_nonce_content_security_policy_and_the_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.get("/").await;

    let header = |name: &str| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    };
    let csp = header("content-security-policy");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("cache-control"), "no-store");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy")
        .to_string();
    let html = response.text().await.expect("HTML");
    let scripts = html.matches("<script").count();
    let with_nonce = html.matches(&format!("nonce=\"{nonce}\"")).count();
    assert!(scripts > 0 && with_nonce >= scripts, "{scripts} scripts, {with_nonce} with the nonce");

    // Under load too: every page, the 404 page included, names in its policy the nonce its own
    // scripts carry (a page whose policy is missing or names another nonce never hydrates).
    let mut pages = tokio::task::JoinSet::new();
    for n in 0..120 {
        let path = ["/", "/login", "/no-such-page"][n % 3];
        let request = app.client.get(app.url(path)).header("accept", "text/html");
        pages.spawn(async move {
            let response = request.send().await.expect("a page");
            let csp =
                response.headers()["content-security-policy"].to_str().expect("ASCII").to_string();
            let html = response.text().await.expect("HTML");
            (path, csp, html)
        });
    }
    for (path, csp, html) in pages.join_all().await {
        let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next());
        let Some(nonce) = nonce else { panic!("{path}: no page policy: {csp}") };
        let scripts = html.matches("<script").count();
        let with_nonce = html.matches(&format!("nonce=\"{nonce}\"")).count();
        assert!(scripts > 0 && with_nonce >= scripts, "{path}: {scripts} scripts, {with_nonce} ok");
    }
    app.stop().await;
}

async fn other_responses_get_a_strict_policy_and_no_store(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.get("/healthz").await;

    let csp = response.headers().get("content-security-policy").expect("a policy");
    assert_eq!(csp, "default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
    assert_eq!(response.headers().get("cache-control").expect("cache-control"), "no-store");
    app.stop().await;
}

async fn a_cross_origin_post_to_a_server_function_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let post = |origin: String| {
        app.client
            .post(app.url("/rpc/check_server"))
            .header("origin", origin)
            .form(&[("", "")])
            .send()
    };

    let foreign = post("https://evil.example".into()).await.expect("request");
    let same = post(app.address.clone()).await.expect("request");

    assert_eq!(foreign.status(), 403);
    assert_eq!(same.status(), 200);
    app.stop().await;
}

async fn the_start_page_renders_the_shell_with_navigation_and_server_status(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.get("/").await;

    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("HTML");
    assert!(html.contains(r#"href="/pkg/sealbox.css""#), "stylesheet linked: {html}");
    assert!(html.contains(r#"href="/projects""#) && html.contains(">Projects<"), "{html}");
    assert!(html.contains(r#"href="/settings""#) && html.contains(">Settings<"), "{html}");
    // The footer's status comes from a server function resolved during server rendering.
    assert!(html.contains(concat!("Sealbox ", env!("CARGO_PKG_VERSION"))), "{html}");
    // In place inside the footer, not streamed after the document for a script to move: the page
    // must read the same without JavaScript.
    let footer_end = html.find("</footer>").expect("a footer");
    assert!(html.find("Database ready").is_some_and(|at| at < footer_end), "{html}");
    // The hydration script is included.
    assert!(html.contains("/pkg/sealbox.js"), "{html}");
    app.stop().await;
}

async fn an_unknown_path_gets_the_styled_404_page_with_status_404(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.get("/no/such/page").await;

    assert_eq!(response.status(), 404);
    let html = response.text().await.expect("HTML");
    assert!(html.contains("Page not found"), "{html}");
    assert!(html.contains("error-page"), "{html}");
    assert!(html.contains(r#"href="/pkg/sealbox.css""#), "{html}");
    app.stop().await;
}

async fn the_status_server_function_answers_over_http(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app
        .client
        .post(app.url("/rpc/check_server"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .expect("the request reaches the server");

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["database_ready"], true);
    app.stop().await;
}
