//! Sessions over HTTP: sign-in through the server function, cookies, sign-out, deactivation.
use app::accounts::domain::Role;
use serde_json::Value;
use sqlx::Executor;

use crate::{
    helpers::{Backend, PASSWORD, TestApp, spawn_app},
    on_both_backends,
};

on_both_backends!(
    signing_in_sets_a_private_cookie_and_a_new_session_id_each_time,
    a_wrong_password_gets_the_one_message_and_no_session,
    signing_out_deletes_the_session_on_the_server,
    a_deactivated_user_is_signed_out_on_the_next_request,
    an_idle_session_expires_and_activity_extends_it,
    expired_sessions_are_deleted_from_the_database_periodically,
);

/// Posts the sign-in form the way the browser's server-function call does; returns the session
/// cookie (`name=value`) it set, if any.
async fn sign_in(
    app: &TestApp,
    email: &str,
    password: &str,
) -> (reqwest::StatusCode, Option<String>, String) {
    let response = app
        .client
        .post(app.url("/rpc/sign_in"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .expect("sign-in request");
    let status = response.status();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sealbox_session="))
        .map(str::to_string);
    (status, cookie, response.text().await.unwrap_or_default())
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_string()
}

/// Asks `current_user` with exactly this cookie (or none).
async fn who(app: &TestApp, cookie: Option<&str>) -> Value {
    let client = reqwest::Client::new();
    let mut request = client.post(app.url("/rpc/current_user")).form(&[("", "")]);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.expect("current_user");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

async fn signing_in_sets_a_private_cookie_and_a_new_session_id_each_time(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("admin@example.com", Role::Admin).await;

    let (status, first, _) = sign_in(&app, "Admin@Example.com", PASSWORD).await;
    let (_, second, _) = sign_in(&app, "admin@example.com", PASSWORD).await;

    assert!(status.is_redirection() || status.is_success(), "{status}");
    let first = first.expect("a session cookie");
    let attributes = first.to_ascii_lowercase();
    assert!(attributes.contains("max-age=43200"), "12 hours of idle time: {first}");
    assert!(attributes.contains("httponly") && attributes.contains("samesite=lax"), "{first}");
    assert!(!attributes.contains("secure"), "plain http here: no Secure flag");
    let second = second.expect("a new cookie at the second sign-in");
    assert_ne!(pair(&first), pair(&second), "the session id changes at sign-in");
    assert_eq!(who(&app, Some(&pair(&second))).await["email"], "admin@example.com");
    assert_eq!(who(&app, Some(&pair(&first))).await, Value::Null, "the old id is dead");
    assert_eq!(who(&app, None).await, Value::Null);
    app.stop().await;
}

async fn a_wrong_password_gets_the_one_message_and_no_session(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("admin@example.com", Role::Admin).await;

    let (status, cookie, body) = sign_in(&app, "admin@example.com", "wrong password!").await;

    assert_eq!(status, 422);
    assert!(body.contains("Invalid email or password"), "{body}");
    assert!(cookie.is_none(), "no session for a failed sign-in");
    app.stop().await;
}

async fn signing_out_deletes_the_session_on_the_server(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("admin@example.com", Role::Admin).await;
    let (_, cookie, _) = sign_in(&app, "admin@example.com", PASSWORD).await;
    let cookie = pair(&cookie.expect("cookie"));

    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(app.url("/rpc/sign_out"))
        .header("cookie", &cookie)
        .form(&[("", "")])
        .send()
        .await
        .expect("sign out");

    assert!(response.status().is_redirection() || response.status().is_success());
    assert_eq!(who(&app, Some(&cookie)).await, Value::Null, "a replayed cookie is dead");
    app.stop().await;
}

async fn a_deactivated_user_is_signed_out_on_the_next_request(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("admin@example.com", Role::Admin).await;
    let (_, cookie, _) = sign_in(&app, "admin@example.com", PASSWORD).await;
    let cookie = pair(&cookie.expect("cookie"));
    assert_eq!(who(&app, Some(&cookie)).await["role"], "admin");

    let mut sql = app.sql().await;
    sql.execute("UPDATE users SET active = FALSE").await.expect("deactivate");

    assert_eq!(who(&app, Some(&cookie)).await, Value::Null);
    app.stop().await;
}

mod first_run {
    use super::*;

    on_both_backends!(the_first_owner_is_created_with_the_setup_token_and_the_page_then_disappears);

    async fn create_owner(app: &TestApp, token: &str, email: &str) -> reqwest::Response {
        app.client
            .post(app.url("/rpc/create_first_owner"))
            .form(&[("token", token), ("email", email), ("name", "Olive"), ("password", PASSWORD)])
            .send()
            .await
            .expect("request")
    }

    async fn the_first_owner_is_created_with_the_setup_token_and_the_page_then_disappears(
        backend: Backend,
    ) {
        let app = spawn_app(backend).await;
        let token = app.accounts.issue_setup_token().await.expect("issue").expect("no users yet");
        let page = app.get("/setup").await;
        assert_eq!(page.status(), 200);
        assert!(page.text().await.expect("HTML").contains("Set up Sealbox"));

        let forged = create_owner(&app, "not-the-token", "mallory@example.com").await;
        assert_eq!(forged.status(), 422);
        assert!(forged.text().await.expect("body").contains("This set-up link is not valid"));

        let created = create_owner(&app, &token, "olive@example.com").await;
        assert!(created.status().is_success() || created.status().is_redirection());
        let signed_in: Value = app
            .post_rpc(&app.client, "current_user", &[("", "")])
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            (signed_in["email"].as_str(), signed_in["role"].as_str()),
            (Some("olive@example.com"), Some("owner"))
        );

        assert_eq!(app.get("/setup").await.status(), 404, "the page disappears");
        let again = create_owner(&app, &token, "second@example.com").await;
        assert_eq!(again.status(), 422, "the token is used up");
        assert_eq!(app.accounts.count_users().await.expect("count"), 1);
        assert!(app.accounts.issue_setup_token().await.expect("issue").is_none());
        app.stop().await;
    }
}

/// Runs SQL on the sessions table; `{now}` stands for the current time in milliseconds.
async fn sessions_sql(app: &TestApp, statement: &str) {
    let mut sql = app.sql().await;
    let statement = statement.replace("{now}", &app::time::Millis::now().0.to_string());
    sql.execute(statement.as_str()).await.expect("the sessions table");
}

async fn session_rows(app: &TestApp) -> i64 {
    let mut sql = app.sql().await;
    sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(&mut sql).await.expect("count")
}

async fn current_email(client: &reqwest::Client, app: &TestApp) -> Value {
    let response = client.post(app.url("/rpc/current_user")).send().await.expect("current_user");
    let user: Value = response.json().await.expect("JSON");
    user["email"].clone()
}

async fn an_idle_session_expires_and_activity_extends_it(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    // Pretend the session was last used almost 12 hours ago.
    sessions_sql(&app, "UPDATE sessions SET expires_at = {now} + 60000").await;

    // Act: a request within the idle time counts as activity…
    assert_eq!(current_email(&admin, &app).await, "admin@example.com");
    // …and pushes the expiry out to the full idle time again.
    let mut sql = app.sql().await;
    let eleven_hours = app::time::Millis::now().0 + 11 * 3_600_000;
    let extended: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM sessions WHERE expires_at > {eleven_hours}"
    ))
    .fetch_one(&mut sql)
    .await
    .expect("expiry");
    assert_eq!(extended, 1, "activity extends the session");

    // Then 12 idle hours pass.
    sessions_sql(&app, "UPDATE sessions SET expires_at = {now} - 1000").await;

    // Assert: the session is gone; pages send the browser to sign in.
    assert_eq!(current_email(&admin, &app).await, Value::Null);
    let page = admin
        .get(app.url("/settings/members"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 302);
}

async fn expired_sessions_are_deleted_from_the_database_periodically(backend: Backend) {
    let app = spawn_app(backend).await;
    let _admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    let _other = app.signed_in("admin@example.com").await;
    assert_eq!(session_rows(&app).await, 2);

    sessions_sql(
        &app,
        "UPDATE sessions SET expires_at = {now} - 1000 \
         WHERE id_hash = (SELECT id_hash FROM sessions ORDER BY id_hash LIMIT 1)",
    )
    .await;

    // The test server cleans up every 200 ms; allow it a generous while.
    let mut rows = 2;
    for _ in 0..100 {
        rows = session_rows(&app).await;
        if rows == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rows, 1, "the expired session is deleted and the live one kept");
}
