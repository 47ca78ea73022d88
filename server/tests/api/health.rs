use serde_json::Value;

use crate::{
    helpers::{Backend, spawn_app},
    on_both_backends,
};

on_both_backends!(healthz_answers_ok, readyz_answers_ok_when_the_database_answers);

async fn healthz_answers_ok(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;

    // Act
    let response = app.get("/healthz").await;

    // Assert
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    app.stop().await;
}

async fn readyz_answers_ok_when_the_database_answers(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.get("/readyz").await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body, serde_json::json!({ "status": "ok", "database": "ok" }));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_when_postgresql_goes_away() {
    use sqlx::{Connection, Executor, PgConnection};

    // Arrange: a running server whose database is then dropped under it.
    let app = spawn_app(Backend::Postgres).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    let name = app.database.url.rsplit('/').next().expect("a database name").to_string();
    let mut admin = PgConnection::connect(&crate::helpers::postgres_admin_url())
        .await
        .expect("PostgreSQL is reachable");
    admin
        .execute(format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#).as_str())
        .await
        .expect("drop the database");

    // Act
    let response = app.get("/readyz").await;

    // Assert: not ready, and the liveness probe still says the process is up.
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["database"], "unreachable");
    assert_eq!(app.get("/healthz").await.status(), 200);
}
