//! What an attacker or a fault can do: bounded bodies, throttling that holds under concurrency,
//! no usable credential at rest, sessions that end, forwarded addresses only from trusted
//! proxies, reserved names, control characters, https headers, a deleted project's tokens, and a
//! stop that cannot hang.
use app::{
    accounts::{domain::Role, service::THROTTLE_WINDOW_MS},
    projects::{ProjectName, ProjectSlug},
    secrets::service::Actor,
    tokens::TokenScope,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    helpers::{Backend, PASSWORD, TestApp, holds, raw_database, spawn_app, spawn_app_with},
    members::plain_form_post,
    on_both_backends,
    tokens::{api, project_with_secrets, token},
};

on_both_backends!(
    a_body_over_the_limit_gets_413_with_a_message_without_being_read_whole,
    fifty_parallel_wrong_passwords_get_at_most_five_guesses,
    throttled_attempts_make_one_audit_event_per_window_with_a_count,
    forwarded_addresses_count_only_from_trusted_proxies,
    a_copy_of_the_database_holds_no_usable_session_token_or_password,
    a_role_change_or_deactivation_ends_sessions_on_every_server,
    a_set_up_link_expires_after_an_hour,
    the_audit_table_cannot_be_truncated,
    names_that_load_code_are_reserved_for_secrets_and_variables,
    control_characters_get_the_fields_message,
    https_brings_strict_transport_security_and_a_host_only_cookie,
    a_deleted_projects_token_gets_401_on_every_route_and_server,
    a_stop_that_runs_out_of_time_names_what_was_still_running,
);

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    let mut sql = app.sql().await;
    sqlx::query_scalar(&format!("SELECT count(*) FROM audit_events WHERE action = '{action}'"))
        .fetch_one(&mut sql)
        .await
        .expect("count")
}

async fn a_body_over_the_limit_gets_413_with_a_message_without_being_read_whole(backend: Backend) {
    let app = spawn_app(backend).await;
    // 20 MiB streamed (no Content-Length), as an attacker's client would.
    let stream = |chunks: usize| {
        let chunk = bytes::Bytes::from(vec![b'a'; 1024 * 1024]);
        reqwest::Body::wrap_stream(futures_util::stream::iter(
            (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
        ))
    };
    for path in ["/rpc/check_server", "/rpc/sign_in"] {
        let response = app
            .client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(stream(20))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let error: Value = response.json().await.expect("the server function's JSON error");
        let message = error["TooLarge"].as_str().unwrap_or_default();
        assert!(message.contains("at most 512 KiB"), "{path}: {error}");
    }
    // A form without JavaScript goes back to its page, which shows the error.
    let mut form = "__return=%2Flogin&email=a%40example.com&password=".to_string();
    form.push_str(&"x".repeat(600 * 1024));
    let response = app
        .client
        .post(app.url("/rpc/sign_in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .header("sec-fetch-site", "same-origin")
        .body(form)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().expect("ASCII").to_string();
    assert!(location.starts_with("/login?") && location.contains("__err="), "{location}");
    let page = app.get(&location).await.text().await.expect("HTML");
    assert!(page.contains("This is too large to send"), "the login page shows the error");
    // Pages take no body to speak of.
    let response = app
        .client
        .get(app.url("/login"))
        .body(vec![b'a'; 64 * 1024])
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

async fn fifty_parallel_wrong_passwords_get_at_most_five_guesses(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("target@example.com", Role::Admin).await;
    let mut attempts = tokio::task::JoinSet::new();
    for n in 0..50 {
        let client = app.client.clone();
        let url = app.url("/rpc/sign_in");
        attempts.spawn(async move {
            let password = format!("wrong password number {n}");
            let form = [("email", "target@example.com"), ("password", password.as_str())];
            client.post(url).form(&form).send().await.expect("answered").status()
        });
    }
    let statuses = attempts.join_all().await;
    let refused = statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(refused <= 5, "at most five passwords were verified: {statuses:?}");
    assert_eq!(refused + throttled, 50, "the rest were throttled: {statuses:?}");
    assert_eq!(audit_count(&app, "user.sign_in_failed").await, refused as i64);
    // Even the right password waits for the window now.
    let right = [("email", "target@example.com"), ("password", PASSWORD)];
    let response = app.post_rpc(&app.client, "sign_in", &right).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

async fn throttled_attempts_make_one_audit_event_per_window_with_a_count(backend: Backend) {
    let app = spawn_app(backend).await;
    let wrong = [("email", "nobody@example.com"), ("password", "not the password")];
    for _ in 0..12 {
        app.post_rpc(&app.client, "sign_in", &wrong).await;
    }
    assert_eq!(audit_count(&app, "user.sign_in_failed").await, 5);
    assert_eq!(audit_count(&app, "user.sign_in_throttled").await, 0, "not one per request");

    // The window ends (the periodic clean-up runs this with the clock).
    let later = app::time::Millis::now() + THROTTLE_WINDOW_MS + 1;
    assert_eq!(app.accounts.close_throttle_windows(later).await.expect("closed"), 1);
    assert_eq!(app.accounts.close_throttle_windows(later).await.expect("closed"), 0);
    let mut sql = app.sql().await;
    let (actor, details): (String, String) = sqlx::query_as(
        "SELECT actor, details FROM audit_events WHERE action = 'user.sign_in_throttled'",
    )
    .fetch_one(&mut sql)
    .await
    .expect("the one event");
    assert_eq!(actor, "nobody@example.com");
    assert!(details.starts_with("7 sign-in attempt(s) refused"), "{details}");
    // The clean-up forgets failures from before the window.
    app.accounts.clean_up(later).await.expect("clean-up");
    let failures: i64 = sqlx::query_scalar("SELECT count(*) FROM sign_in_failures")
        .fetch_one(&mut sql)
        .await
        .expect("count");
    assert_eq!(failures, 0);
    let verification = crate::helpers::verify_chain(&app).await;
    assert!(verification.broken.is_none(), "{}", verification.message());
    app.stop().await;
}

async fn forwarded_addresses_count_only_from_trusted_proxies(backend: Backend) {
    let direct = spawn_app(backend).await;
    let proxied = spawn_app_with(backend, |config| {
        config.trusted_proxies = sealbox::proxy::parse_list("127.0.0.1").expect("ranges");
    })
    .await;
    for app in [&direct, &proxied] {
        let wrong = [("email", "a@example.com"), ("password", "not the password")];
        app.client
            .post(app.url("/rpc/sign_in"))
            .header("x-forwarded-for", "6.6.6.6, 198.51.100.7")
            .form(&wrong)
            .send()
            .await
            .expect("answered");
    }
    let ip = |app: &TestApp| {
        let app = app.database.url.clone();
        async move {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut sql = sqlx::AnyConnection::connect(&app).await.expect("connect");
            let ip: Option<String> = sqlx::query_scalar(
                "SELECT ip FROM audit_events WHERE action = 'user.sign_in_failed'",
            )
            .fetch_one(&mut sql)
            .await
            .expect("the event");
            ip
        }
    };
    assert_eq!(ip(&direct).await.as_deref(), Some("127.0.0.1"), "the header is ignored");
    assert_eq!(ip(&proxied).await.as_deref(), Some("198.51.100.7"), "right-most untrusted hop");
    // Throttling counts the client, not the proxy: another client is not held back.
    for _ in 0..5 {
        let wrong = [("email", "b@example.com"), ("password", "not the password")];
        proxied
            .client
            .post(proxied.url("/rpc/sign_in"))
            .header("x-forwarded-for", "198.51.100.8")
            .form(&wrong)
            .send()
            .await
            .expect("answered");
    }
    let other = [("email", "c@example.com"), ("password", "not the password")];
    let response = proxied
        .client
        .post(proxied.url("/rpc/sign_in"))
        .header("x-forwarded-for", "198.51.100.9")
        .form(&other)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "not throttled");
    direct.stop().await;
    proxied.stop().await;
}

/// The text between the first `start` and the `end` after it.
fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let rest = text.split_once(start)?.1;
    Some(rest.split_once(end)?.0.to_string())
}

async fn a_copy_of_the_database_holds_no_usable_session_token_or_password(backend: Backend) {
    let app = spawn_app(backend).await;
    app.projects
        .create_project(&Actor::new("test", None), ProjectName::parse("Bot").expect("name"))
        .await
        .expect("project");
    app.add_user("admin@example.com", Role::Admin).await;
    let sign_in = [("email", "admin@example.com"), ("password", PASSWORD)];
    let admin = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client");
    let response = app.post_rpc(&admin, "sign_in", &sign_in).await;
    let cookie = response
        .cookies()
        .find(|cookie| cookie.name() == "sealbox_session")
        .map(|cookie| cookie.value().to_string())
        .expect("a session cookie");

    // A token and a generated password made without JavaScript wait in the session for their page.
    let token = plain_form_post(
        &admin,
        &app,
        "/rpc/create_token",
        &[("__return", "/projects/bot/tokens"), ("slug", "bot"), ("name", "ci"), ("scope", "read")],
    )
    .await;
    assert_eq!(token.status(), 302);
    let member = plain_form_post(
        &admin,
        &app,
        "/rpc/add_member",
        &[
            ("__return", "/settings/members"),
            ("email", "new@example.com"),
            ("name", ""),
            ("role", "member"),
            ("password", ""),
        ],
    )
    .await;
    assert_eq!(member.status(), 302);
    let stored = raw_database(&app, backend).await;

    // Displayed once, each is there for its page.
    let page = admin.get(app.url("/projects/bot/tokens")).send().await.expect("page");
    let page = page.text().await.expect("HTML");
    let token = between(&page, "class=\"new-token\">", "</code>")
        .unwrap_or_else(|| panic!("the token, once: {}", &page[page.len().saturating_sub(3000)..]));
    let page = admin.get(app.url("/settings/members")).send().await.expect("page");
    let page = page.text().await.expect("HTML");
    let password =
        between(&page, "class=\"generated-password\">", "</code>").expect("the password, once");
    use base64::Engine;
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&cookie).expect("an id");
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let number = i128::from_le_bytes(id[..].try_into().expect("16 bytes")).to_string();
    for (what, needle) in [
        ("the cookie", cookie.as_bytes()),
        ("the session id", &id[..]),
        ("the session id in hex", hex.as_bytes()),
        ("the session id as a number", number.as_bytes()),
        ("the token", token.as_bytes()),
        ("the generated password", password.as_bytes()),
    ] {
        assert!(needle.len() >= 16, "{what} was found: {needle:?}");
        assert!(!holds(&stored, needle), "the database holds {what}");
    }
    app.stop().await;
}

async fn current_email(client: &reqwest::Client, app: &TestApp) -> Value {
    let response = client.post(app.url("/rpc/current_user")).send().await.expect("current_user");
    response.json::<Value>().await.expect("JSON")["email"].clone()
}

async fn a_role_change_or_deactivation_ends_sessions_on_every_server(backend: Backend) {
    let app = spawn_app(backend).await;
    let peer = app.peer().await;
    let owner = app.add_user("owner@example.com", Role::Owner).await;
    let admin = app.add_user("admin@example.com", Role::Admin).await;
    let member = app.add_user("member@example.com", Role::Member).await;
    let on_peer = peer.signed_in("admin@example.com").await;
    let member_on_peer = peer.signed_in("member@example.com").await;
    let member_here = app.signed_in("member@example.com").await;
    assert_eq!(current_email(&on_peer, &peer).await, "admin@example.com");
    let actor = Actor::new("owner@example.com", None);

    // Same role again: nothing changes, nobody is signed out.
    app.accounts.change_role(&owner, &actor, admin.id, Role::Admin).await.expect("same role");
    assert_eq!(current_email(&on_peer, &peer).await, "admin@example.com");
    app.accounts.change_role(&owner, &actor, admin.id, Role::Member).await.expect("demoted");
    assert_eq!(current_email(&on_peer, &peer).await, Value::Null, "signed out on the peer");

    app.accounts.set_active(&owner, &actor, member.id, false).await.expect("deactivated");
    assert_eq!(current_email(&member_on_peer, &peer).await, Value::Null);
    assert_eq!(current_email(&member_here, &app).await, Value::Null);
    let mut sql = app.sql().await;
    let left: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM sessions WHERE user_id IN ({}, {})",
        admin.id, member.id
    ))
    .fetch_one(&mut sql)
    .await
    .expect("count");
    assert_eq!(left, 0, "their sessions are gone from the database");
    peer.stop().await;
    app.stop().await;
}

async fn a_set_up_link_expires_after_an_hour(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.accounts.issue_setup_token().await.expect("issued").expect("no users yet");
    let mut sql = app.sql().await;
    let hour_ago = app::time::Millis::now().0 - 60 * 60 * 1000 - 1;
    sqlx::query(&format!("UPDATE setup_tokens SET created_at = {hour_ago}"))
        .execute(&mut sql)
        .await
        .expect("age the link");
    let form = [
        ("token", token.as_str()),
        ("email", "owner@example.com"),
        ("name", ""),
        ("password", PASSWORD),
    ];
    let response = app.post_rpc(&app.client, "create_first_owner", &form).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.text().await.expect("body");
    assert!(body.contains("has expired (a link lasts one hour)"), "{body}");
    assert_eq!(app.accounts.count_users().await.expect("count"), 0);
    // The clean-up removes it; a fresh link works.
    app.accounts.clean_up(app::time::Millis::now()).await.expect("clean-up");
    let fresh = app.accounts.issue_setup_token().await.expect("issued").expect("no users yet");
    let form = [
        ("token", fresh.as_str()),
        ("email", "owner@example.com"),
        ("name", ""),
        ("password", PASSWORD),
    ];
    let response = app.post_rpc(&app.client, "create_first_owner", &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    app.stop().await;
}

async fn the_audit_table_cannot_be_truncated(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("admin@example.com", Role::Admin).await;
    let before = audit_count(&app, "user.created").await;
    let mut sql = app.sql().await;
    let statement = match backend {
        Backend::Postgres => "TRUNCATE audit_events",
        // SQLite has no TRUNCATE; its truncation is an unqualified DELETE.
        Backend::Sqlite => "DELETE FROM audit_events",
    };
    let error = sqlx::query(statement).execute(&mut sql).await.expect_err("refused");
    assert!(error.to_string().contains("audit events are append-only"), "{error}");
    assert_eq!(audit_count(&app, "user.created").await, before);
    app.stop().await;
}

async fn names_that_load_code_are_reserved_for_secrets_and_variables(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let writer = token(&app, "bot", "writer", TokenScope::ReadWrite).await;
    for name in ["LD_PRELOAD", "DYLD_INSERT_LIBRARIES", "NODE_OPTIONS", "PATH", "BASH_ENV"] {
        let path = format!("/api/v1/projects/bot/secrets/{name}");
        let (status, body) =
            api(&app, Method::PUT, &path, Some(&writer), Some(json!({ "value": "x" }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let expected = format!("{name} is reserved: it changes how programs load code");
        assert_eq!(body["message"], expected.as_str(), "{name}");
    }
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    let response = admin
        .post(app.url("/rpc/create_variable"))
        .form(&[("slug", "bot"), ("key", "PYTHONPATH"), ("value", "/tmp")])
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.expect("body").contains("PYTHONPATH is reserved"));
    // A name stored before the rule can still be deleted.
    let mut sql = app.sql().await;
    sqlx::query(
        "INSERT INTO variables (project_id, environment_id, key, value, include_in_export, \
         created_at, created_by, updated_at, updated_by) \
         SELECT p.id, e.id, 'LD_LIBRARY_PATH', '/tmp', TRUE, 0, 'old', 0, 'old' FROM projects p \
         JOIN environments e ON e.project_id = p.id WHERE p.slug = 'bot' AND e.name = 'development'",
    )
    .execute(&mut sql)
    .await
    .expect("an old variable");
    let response = admin
        .post(app.url("/rpc/delete_variable"))
        .form(&[("slug", "bot"), ("key", "LD_LIBRARY_PATH")])
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap_or_default());
    app.stop().await;
}

async fn control_characters_get_the_fields_message(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let writer = token(&app, "bot", "writer", TokenScope::ReadWrite).await;
    let body = json!({ "value": "v", "description": "line\u{0}break" });
    let path = "/api/v1/projects/bot/secrets/NEW_KEY";
    let (status, error) = api(&app, Method::PUT, path, Some(&writer), Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["message"], "Descriptions are one line of text without control characters");
    let (status, _) = api(&app, Method::GET, path, Some(&writer), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was written");

    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    type Call<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let calls: [Call; 4] = [
        (
            "/rpc/add_member",
            vec![
                ("email", "a\u{0}@example.com"),
                ("name", ""),
                ("role", "member"),
                ("password", ""),
            ],
            "Enter an email address like name@example.com",
        ),
        (
            "/rpc/add_member",
            vec![
                ("email", "b@example.com"),
                ("name", "Bo\u{1b}[31m"),
                ("role", "member"),
                ("password", ""),
            ],
            "Names cannot contain control characters",
        ),
        (
            "/rpc/create_project",
            vec![("name", "Evil\u{0}")],
            "Project names cannot contain control characters",
        ),
        (
            "/rpc/sign_in",
            vec![("email", "x\u{0}@example.com"), ("password", "whatever it is")],
            "Enter an email address like name@example.com",
        ),
    ];
    for (path, form, message) in calls {
        let response = admin.post(app.url(path)).form(&form).send().await.expect("answered");
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let text = response.text().await.expect("body");
        assert!(text.contains(message), "{path}: {text}");
    }
    app.stop().await;
}

async fn https_brings_strict_transport_security_and_a_host_only_cookie(backend: Backend) {
    let plain = spawn_app(backend).await;
    let response = plain.get("/login").await;
    assert!(response.headers().get("strict-transport-security").is_none());
    let behind_proxy = spawn_app_with(backend, |config| {
        config.trusted_proxies = sealbox::proxy::parse_list("127.0.0.0/8").expect("ranges");
    })
    .await;
    let response = behind_proxy
        .client
        .get(behind_proxy.url("/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("page");
    assert_eq!(response.headers()["strict-transport-security"], "max-age=63072000");

    let https = spawn_app_with(backend, |config| {
        config.public_url = Some(url::Url::parse("https://secrets.example.com").expect("URL"));
    })
    .await;
    https.add_user("admin@example.com", Role::Admin).await;
    let response = https
        .client
        .post(https.url("/rpc/sign_in"))
        .form(&[("email", "admin@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .expect("signed in");
    assert_eq!(response.headers()["strict-transport-security"], "max-age=63072000");
    let cookie = response.headers()["set-cookie"].to_str().expect("ASCII").to_string();
    assert!(cookie.starts_with("__Host-sealbox_session="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    plain.stop().await;
    behind_proxy.stop().await;
    https.stop().await;
}

async fn a_deleted_projects_token_gets_401_on_every_route_and_server(backend: Backend) {
    let app = spawn_app(backend).await;
    let peer = app.peer().await;
    project_with_secrets(&app).await;
    let reader = token(&app, "bot", "reader", TokenScope::ReadWrite).await;
    let routes = [
        (Method::GET, "/api/v1/projects/bot/env"),
        (Method::GET, "/api/v1/projects/bot/secrets"),
        (Method::GET, "/api/v1/projects/bot/secrets/API_KEY"),
        (Method::DELETE, "/api/v1/projects/bot/secrets/API_KEY"),
    ];
    // Both servers remember the token and the environment.
    for server in [&app, &peer] {
        let (status, _) = api(server, Method::GET, routes[0].1, Some(&reader), None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let actor = Actor::new("admin@example.com", None);
    let slug = ProjectSlug::parse("bot").expect("slug");
    app.projects.delete_project(&actor, &slug).await.expect("deleted");
    for server in [&app, &peer] {
        for (method, path) in &routes {
            for _ in 0..2 {
                let (status, body) = api(server, method.clone(), path, Some(&reader), None).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
                assert_eq!(body["error"], "token_invalid", "{method} {path}");
            }
        }
        let (status, _) = api(
            server,
            Method::PUT,
            "/api/v1/projects/bot/secrets/X",
            Some(&reader),
            Some(json!({"value": "v"})),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    peer.stop().await;
    app.stop().await;
}

async fn a_stop_that_runs_out_of_time_names_what_was_still_running(backend: Backend) {
    let app = spawn_app_with(backend, |config| {
        config.shutdown_deadline = std::time::Duration::from_millis(500);
    })
    .await;
    project_with_secrets(&app).await;
    let writer = token(&app, "bot", "writer", TokenScope::ReadWrite).await;
    // Hold the database's write lock (SQLite) or the audit chain's lock (PostgreSQL) from
    // outside, so that a write waits.
    let mut holder = app.sql().await;
    let lock = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "SELECT pg_advisory_lock(7301190815)",
    };
    sqlx::query(lock).execute(&mut holder).await.expect("the lock");
    let write = tokio::spawn({
        let client = app.client.clone();
        let url = app.url("/api/v1/projects/bot/secrets/STUCK");
        async move { client.put(url).bearer_auth(writer).json(&json!({"value": "v"})).send().await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let error = app.try_stop().await.expect_err("the stop runs out of time");
    let message = format!("{error:#}");
    assert!(message.contains("shutdown deadline"), "{message}");
    assert!(message.contains("PUT /api/v1/projects/bot/secrets/STUCK"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "it did not wait it out");
    drop(holder);
    write.abort();
}
