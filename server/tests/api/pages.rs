use serde_json::Value;

use crate::{
    helpers::{Backend, spawn_app},
    on_both_backends,
};

on_both_backends!(
    the_start_page_renders_the_shell_with_navigation_and_server_status,
    an_unknown_path_gets_the_styled_404_page_with_status_404,
    the_status_server_function_answers_over_http,
);

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
