//! A secret's history and rollback: the versions through the API, the server functions, the
//! page and the CLI (never a value), a rollback that writes a new version with the old value and
//! description (read back through the API), the conflict on a stale page, and what each role may
//! do.
use app::{
    accounts::domain::Role,
    ids::Version,
    secrets::{
        domain::{Description, SecretValue},
        service::{SecretUpdate, VaultError},
    },
    tokens::{TokenName, TokenScope},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    environments::{actor, bot, project},
    helpers::{Backend, TestApp, environment, in_environment, key, read_token, spawn_app},
    on_both_backends,
    tokens::api,
};

/// The API's `/api/v1/projects{path}` with `token`.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    api(app, method, &format!("/api/v1/projects{path}"), Some(token), body).await
}

on_both_backends!(
    a_rollback_writes_a_new_version_with_the_old_value_and_description,
    the_history_never_shows_a_value_and_a_stale_rollback_is_a_conflict,
    members_read_the_history_and_only_managers_roll_back,
    the_cli_prints_the_history_and_rolls_back,
    versions_from_before_histories_are_described_by_their_fingerprints,
);

const CANARY: &str = "history-canary-5c2e91";

/// A read-write token for the development environment of `bot`.
async fn write_token(app: &TestApp) -> String {
    let (_, token) = app
        .tokens
        .create(
            &actor(),
            &bot(),
            Some(&environment("development")),
            TokenName::parse("ci").expect("name"),
            TokenScope::ReadWrite,
            None,
        )
        .await
        .expect("token");
    token.expose().to_string()
}

/// `bot`'s development `API_KEY` at version 3: v1 `CANARY-one` "first", v2 `CANARY-two`
/// "first", v3 `CANARY-two` "second".
async fn three_versions(app: &TestApp) {
    project(app).await;
    let scope = in_environment("bot", "development");
    let new = app::secrets::service::NewSecret {
        key: key("API_KEY"),
        value: SecretValue::new(format!("{CANARY}-one")).expect("v"),
        description: Description::parse(Some("first")).expect("d"),
        secret_type: None,
    };
    app.vault.create_secret(&actor(), &scope, new).await.expect("v1");
    for (version, value, description) in
        [(1, Some(format!("{CANARY}-two")), "first"), (2, None, "second")]
    {
        let update = SecretUpdate {
            expected_version: Version(version),
            value: value.map(|v| SecretValue::new(v).expect("v")),
            description: Description::parse(Some(description)).expect("d"),
        };
        app.vault.update_secret(&actor(), &scope, &key("API_KEY"), update).await.expect("update");
    }
}

async fn a_rollback_writes_a_new_version_with_the_old_value_and_description(backend: Backend) {
    let app = spawn_app(backend).await;
    three_versions(&app).await;
    let token = write_token(&app).await;

    let (status, rolled) = call(
        &app,
        Method::POST,
        "/bot/secrets/API_KEY/rollback",
        &token,
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rolled}");
    assert_eq!(
        (rolled["version"].clone(), rolled["description"].clone()),
        (json!(4), json!("first"))
    );
    let (_, read) = call(&app, Method::GET, "/bot/secrets/API_KEY", &token, None).await;
    assert_eq!(
        (read["value"].clone(), read["version"].clone()),
        (json!(format!("{CANARY}-one")), json!(4))
    );

    let (status, history) =
        call(&app, Method::GET, "/bot/secrets/API_KEY/versions", &token, None).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["current_version"], 4);
    let versions = history["versions"].as_array().expect("versions");
    let described: Vec<(i64, &str, Value, bool)> = versions
        .iter()
        .map(|v| {
            let version = v["version"].as_i64().unwrap_or_default();
            let change = v["change"].as_str().unwrap_or_default();
            (version, change, v["restored_from"].clone(), v["current"] == true)
        })
        .collect();
    assert_eq!(
        described,
        [
            (4, "rolled_back", json!(1), true),
            (3, "description", Value::Null, false),
            (2, "value", Value::Null, false),
            (1, "created", Value::Null, false),
        ]
    );
    assert!(versions.iter().all(|v| v["created_by"] != Value::Null));
    assert_eq!(versions[0]["created_by"], "token:ci");

    // Back to version 3's value and description: a fifth version, the history never rewritten.
    let (status, again) = call(
        &app,
        Method::POST,
        "/bot/secrets/API_KEY/rollback",
        &token,
        Some(json!({"version": 3})),
    )
    .await;
    assert_eq!((status, again["version"].clone()), (StatusCode::OK, json!(5)), "{again}");
    let (_, read) = call(&app, Method::GET, "/bot/secrets/API_KEY", &token, None).await;
    assert_eq!(read["value"], json!(format!("{CANARY}-two")));
    let (_, listed) = call(&app, Method::GET, "/bot/secrets", &token, None).await;
    assert_eq!(listed[0]["description"], "second");

    // Audited with both versions; a rollback to what is current, to a version that does not
    // exist, and a body without a version change nothing.
    let mut sql = app.sql().await;
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'secret.rolled_back' ORDER BY id",
    )
    .fetch_all(&mut sql)
    .await
    .expect("events");
    assert_eq!(details, ["from version 3 to version 1", "from version 4 to version 3"]);
    let refused = [
        (json!({"version": 5}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (json!({"version": 3}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (json!({"version": 9}), StatusCode::NOT_FOUND, "version_not_found"),
        (json!({"version": 0}), StatusCode::BAD_REQUEST, "invalid_body"),
        (json!({"to": 1}), StatusCode::BAD_REQUEST, "invalid_body"),
    ];
    for (body, expected, code) in refused {
        let (status, answer) =
            call(&app, Method::POST, "/bot/secrets/API_KEY/rollback", &token, Some(body.clone()))
                .await;
        assert_eq!((status, answer["error"].as_str()), (expected, Some(code)), "{body}: {answer}");
    }
    let (status, missing) =
        call(&app, Method::POST, "/bot/secrets/NOPE/rollback", &token, Some(json!({"version": 1})))
            .await;
    assert_eq!(
        (status, missing["error"].clone()),
        (StatusCode::NOT_FOUND, json!("secret_not_found"))
    );
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM secret_versions")
        .fetch_one(&mut sql)
        .await
        .expect("count");
    assert_eq!(versions, 5, "nothing written by a refusal");

    // A read token may list versions but not roll back; another environment's token neither.
    let reader = read_token(&app, "bot", "development").await;
    let (status, _) = call(&app, Method::GET, "/bot/secrets/API_KEY/versions", &reader, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = call(
        &app,
        Method::POST,
        "/bot/secrets/API_KEY/rollback",
        &reader,
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(
        (status, answer["error"].clone()),
        (StatusCode::FORBIDDEN, json!("insufficient_scope"))
    );
    let production = read_token(&app, "bot", "production").await;
    let path = "/bot/environments/development/secrets/API_KEY/versions";
    let (status, answer) = call(&app, Method::GET, path, &production, None).await;
    assert_eq!(
        (status, answer["error"].clone()),
        (StatusCode::FORBIDDEN, json!("wrong_environment"))
    );
    let (status, answer) =
        call(&app, Method::GET, "/bot/secrets/API_KEY/versions", &production, None).await;
    assert_eq!(
        (status, answer["error"].clone()),
        (StatusCode::NOT_FOUND, json!("secret_not_found"))
    );
    let listed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'secret.versions_listed' \
         AND secret_key = 'API_KEY' AND environment = 'development'",
    )
    .fetch_one(&mut sql)
    .await
    .expect("count");
    assert_eq!(listed, 2, "each listing is audited");
}

async fn the_history_never_shows_a_value_and_a_stale_rollback_is_a_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    three_versions(&app).await;
    let token = write_token(&app).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    let form = [("scope", "bot"), ("environment", "development"), ("key", "API_KEY")];

    let history = app.post_rpc(&admin, "secret_versions", &form).await;
    assert_eq!(history.status(), StatusCode::OK);
    let history = history.text().await.expect("body");
    let (_, versions) =
        call(&app, Method::GET, "/bot/secrets/API_KEY/versions", &token, None).await;
    let page = admin
        .get(app.url("/projects/bot/development/history/API_KEY"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    for body in [&history, &versions.to_string(), &page] {
        assert!(!body.contains(CANARY), "no value in {body}");
    }
    for shown in ["v3", "v2", "v1", "description", "value", "created", "Current", "Roll back"] {
        assert!(page.contains(shown), "the page shows {shown}");
    }

    // The page was loaded at version 3; someone writes version 4; the page's rollback is stale.
    let scope = in_environment("bot", "development");
    let update = SecretUpdate {
        expected_version: Version(3),
        value: Some(SecretValue::new(format!("{CANARY}-three")).expect("v")),
        description: Description::parse(Some("second")).expect("d"),
    };
    app.vault.update_secret(&actor(), &scope, &key("API_KEY"), update).await.expect("v4");
    let stale = [
        ("scope", "bot"),
        ("environment", "development"),
        ("key", "API_KEY"),
        ("version", "3"),
        ("to", "1"),
    ];
    let response = app.post_rpc(&admin, "rollback_secret", &stale).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let message = response.text().await.expect("body");
    assert!(message.contains("changed by someone else"), "{message}");
    let direct =
        app.vault.rollback(&actor(), &scope, &key("API_KEY"), Version(1), Version(3)).await;
    assert!(matches!(direct, Err(VaultError::Conflict)), "{direct:?}");

    let current = [
        ("scope", "bot"),
        ("environment", "development"),
        ("key", "API_KEY"),
        ("version", "4"),
        ("to", "1"),
    ];
    let response = app.post_rpc(&admin, "rollback_secret", &current).await;
    assert_eq!(response.status(), StatusCode::OK);
    let message = response.text().await.expect("body");
    assert!(message.contains("API_KEY rolled back to version 1 (now version 5)"), "{message}");
    assert!(!message.contains(CANARY));
    let (_, read) = call(&app, Method::GET, "/bot/secrets/API_KEY", &token, None).await;
    assert_eq!(read["value"], json!(format!("{CANARY}-one")));
}

async fn members_read_the_history_and_only_managers_roll_back(backend: Backend) {
    let app = spawn_app(backend).await;
    three_versions(&app).await;
    let member = app.sign_in_as("member@example.com", Role::Member).await;
    let page = member
        .get(app.url("/projects/bot/development/history/API_KEY"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("html");
    assert!(page.contains("v3") && page.contains("alice@example.com"), "{page}");
    assert!(!page.contains("Roll back"), "a member has no rollback");
    let secrets = member.get(app.url("/projects/bot/development")).send().await.expect("page");
    let secrets = secrets.text().await.expect("html");
    assert!(secrets.contains("/projects/bot/development/history/API_KEY"), "the row links to it");

    let form = [
        ("scope", "bot"),
        ("environment", "development"),
        ("key", "API_KEY"),
        ("version", "3"),
        ("to", "1"),
    ];
    let response = app.post_rpc(&member, "rollback_secret", &form).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let history: Value =
        app.post_rpc(&member, "secret_versions", &form[..3]).await.json().await.expect("json");
    assert_eq!(history["history"]["current"], 3, "nothing rolled back: {history}");
    assert_eq!(history["can_manage"], false);

    // Without JavaScript: the Roll back link opens the confirmation, which names key and version.
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    let dialog = admin
        .get(app.url("/projects/bot/development/history/API_KEY?dialog=rollback:1"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(dialog.contains("Roll back to version 1?"), "{dialog}");
    assert!(dialog.contains("current again as version 4"), "{dialog}");
    assert!(dialog.contains(r#"name="to" value="1""#), "{dialog}");
}

async fn the_cli_prints_the_history_and_rolls_back(backend: Backend) {
    let app = spawn_app(backend).await;
    three_versions(&app).await;
    let token = write_token(&app).await;
    let env = [
        ("SEALBOX_URL", app.address.as_str()),
        ("SEALBOX_TOKEN", token.as_str()),
        ("SEALBOX_PROJECT", "bot"),
        ("SEALBOX_ENVIRONMENT", "development"),
    ];
    let history = crate::cli::sealbox(&["secrets", "history", "API_KEY"], &env, "").await;
    assert_eq!(history.code, Some(0), "{}", history.stderr);
    assert_eq!(
        history.stdout,
        "v3  set just now by alice@example.com  description  (current)\n\
         v2  set just now by alice@example.com  value\n\
         v1  set just now by alice@example.com  created\n"
    );
    let rollback =
        crate::cli::sealbox(&["secrets", "rollback", "API_KEY", "--to", "1"], &env, "").await;
    assert_eq!(
        (rollback.code, rollback.stdout.as_str()),
        (Some(0), "✔ Secret rolled back: API_KEY (v1 → v4)\n"),
        "{}",
        rollback.stderr
    );
    let history = crate::cli::sealbox(&["secrets", "history", "API_KEY"], &env, "").await;
    assert!(
        history.stdout.starts_with("v4  set just now by token:ci  rolled back to v1  (current)\n"),
        "{}",
        history.stdout
    );
    for output in [&history.stdout, &history.stderr, &rollback.stdout, &rollback.stderr] {
        assert!(!output.contains(CANARY));
    }
    let refused =
        crate::cli::sealbox(&["secrets", "rollback", "API_KEY", "--to", "0"], &env, "").await;
    assert_eq!(refused.code, Some(2), "clap refuses a version below 1: {}", refused.stderr);
    let missing =
        crate::cli::sealbox(&["secrets", "rollback", "API_KEY", "--to", "9"], &env, "").await;
    assert_eq!(missing.code, Some(1));
    assert!(missing.stderr.contains("API_KEY has no version 9"), "{}", missing.stderr);
}

async fn versions_from_before_histories_are_described_by_their_fingerprints(backend: Backend) {
    let app = spawn_app(backend).await;
    three_versions(&app).await;
    // As a database from before histories holds them: no change, no description.
    let mut sql = app.sql().await;
    sqlx::query("UPDATE secret_versions SET change = NULL, description = NULL")
        .execute(&mut sql)
        .await
        .expect("legacy rows");
    let scope = in_environment("bot", "development");
    let history = app.vault.history(&scope, &key("API_KEY")).await.expect("history");
    let changes: Vec<&str> = history.versions.iter().map(|v| v.change.as_str()).collect();
    assert_eq!(changes, ["description", "value", "created"]);
    // A rollback to such a version keeps the current description (its own is not known).
    let meta = app
        .vault
        .rollback(&actor(), &scope, &key("API_KEY"), Version(1), Version(3))
        .await
        .expect("r");
    assert_eq!((meta.version, meta.description.as_deref()), (Version(4), Some("second")));
}
