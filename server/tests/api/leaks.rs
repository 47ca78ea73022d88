//! The leak check: which versions hold a value, across projects, environments and the team's
//! secrets, current and older, with who read them since; nothing for a near miss; 30 checks an
//! hour per person; the probe never stored, logged or echoed; the CLI's exit codes.
use std::process::Stdio;

use app::{
    accounts::domain::Role,
    ids::Version,
    secrets::{
        domain::{Description, SecretValue},
        service::{Scope, SecretUpdate},
    },
};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::{
    environments::{actor, project},
    helpers::{
        Backend, TestApp, captured_logs, environment, holds, in_environment, key, raw_database,
        read_token, spawn_app,
    },
    on_both_backends,
    tokens::api,
};

on_both_backends!(
    a_check_finds_current_and_older_versions_everywhere_with_their_readers,
    a_near_miss_finds_nothing_and_the_probe_is_never_stored_or_logged,
    thirty_checks_an_hour_per_person_and_the_answer_of_a_plain_post_is_shown_once,
    the_admin_command_reads_the_value_from_stdin_and_exits_by_the_answer,
);

const LEAKED: &str = "leaked-value-7f3a90c1";

async fn check(app: &TestApp, client: &reqwest::Client, value: &str) -> (StatusCode, Value) {
    let response = app.post_rpc(client, "check_leak", &[("value", value)]).await;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// `(where, key, version, current, reads, readers)` of each match.
fn summary(report: &Value) -> Vec<(String, String, i64, bool, i64, Vec<String>)> {
    report["matches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|found| {
            let place = format!(
                "{}/{}",
                found["project"].as_str().unwrap_or("team"),
                found["environment"].as_str().unwrap_or_default()
            );
            let readers = found["readers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect();
            (
                place,
                found["key"].as_str().unwrap_or_default().to_string(),
                found["version"].as_i64().unwrap_or_default(),
                found["current"] == true,
                found["reads"].as_i64().unwrap_or_default(),
                readers,
            )
        })
        .collect()
}

async fn a_check_finds_current_and_older_versions_everywhere_with_their_readers(backend: Backend) {
    let app = spawn_app(backend).await;
    project(&app).await;
    let production = in_environment("bot", "production");
    // production's DB_URL held the value in version 1 and moved on; staging's holds it now; the
    // team holds it for every environment and for production; another value elsewhere.
    app.create_secret(&production, "DB_URL", LEAKED).await;
    let update = SecretUpdate {
        expected_version: Version(1),
        value: Some(SecretValue::new("rotated".into()).expect("v")),
        description: Description::parse(None).expect("d"),
    };
    app.vault.update_secret(&actor(), &production, &key("DB_URL"), update).await.expect("v2");
    app.create_secret(&in_environment("bot", "staging"), "API_KEY", LEAKED).await;
    app.create_secret(&Scope::Team, "SHARED", LEAKED).await;
    app.create_secret(&Scope::TeamEnvironment(environment("production")), "SHARED", LEAKED).await;
    app.create_secret(&in_environment("bot", "development"), "OTHER", "not leaked").await;
    // Reads: staging's token reads API_KEY twice (once alone, once in /env); production's reads
    // /env (the team's production SHARED, and DB_URL v2 — not the leaked version).
    let staging = read_token(&app, "bot", "staging").await;
    let (status, _) =
        api(&app, Method::GET, "/api/v1/projects/bot/secrets/API_KEY", Some(&staging), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        api(&app, Method::GET, "/api/v1/projects/bot/env", Some(&staging), None).await;
    assert_eq!(status, StatusCode::OK);
    let prod = read_token(&app, "bot", "production").await;
    let (status, _) = api(&app, Method::GET, "/api/v1/projects/bot/env", Some(&prod), None).await;
    assert_eq!(status, StatusCode::OK);
    app.vault.audit().flush().await;

    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    let (status, report) = check(&app, &admin, LEAKED).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let staging_reader = reader_of(&app, "staging").await;
    let production_reader = reader_of(&app, "production").await;
    assert_eq!(
        summary(&report),
        [
            ("bot/staging".into(), "API_KEY".into(), 1, true, 2, vec![staging_reader.clone()]),
            ("bot/production".into(), "DB_URL".into(), 1, false, 0, vec![]),
            ("team/*".into(), "SHARED".into(), 1, true, 1, vec![staging_reader]),
            ("team/production".into(), "SHARED".into(), 1, true, 1, vec![production_reader]),
        ]
    );
    let found = &report["matches"][0];
    assert_eq!(found["set_by"], "test");
    assert!(found["set_at"].as_i64().is_some_and(|at| at > 0));
    assert!(!report.to_string().contains(LEAKED), "the answer never holds the value");

    // A member may not ask; the check is audited without the value.
    let member = app.sign_in_as("member@example.com", Role::Member).await;
    assert_eq!(check(&app, &member, LEAKED).await.0, StatusCode::FORBIDDEN);
    let mut sql = app.sql().await;
    let events: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT actor, details FROM audit_events WHERE action = 'secret.searched_by_value'",
    )
    .fetch_all(&mut sql)
    .await
    .expect("events");
    assert_eq!(events, [("admin@example.com".to_string(), None)]);
}

/// The actor name of the read token made for `environment_name` (the newest one).
async fn reader_of(app: &TestApp, environment_name: &str) -> String {
    let mut sql = app.sql().await;
    let name: String = sqlx::query_scalar(
        "SELECT t.name FROM service_tokens t JOIN environments e ON e.id = t.environment_id \
         WHERE e.name = $1 ORDER BY t.id DESC LIMIT 1",
    )
    .bind(environment_name)
    .fetch_one(&mut sql)
    .await
    .expect("token name");
    format!("token:{name}")
}

async fn a_near_miss_finds_nothing_and_the_probe_is_never_stored_or_logged(backend: Backend) {
    let app = spawn_app(backend).await;
    project(&app).await;
    app.create_secret(&in_environment("bot", "development"), "API_KEY", "the-real-value").await;
    let probe = format!("{LEAKED}-probe-canary");
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    for near in [probe.as_str(), "the-real-value ", "the-real-valu", "THE-REAL-VALUE"] {
        let (status, report) = check(&app, &admin, near).await;
        assert_eq!(
            (status, report["matches"].clone()),
            (StatusCode::OK, Value::Array(vec![])),
            "{near}"
        );
    }
    let (_, found) = check(&app, &admin, "the-real-value").await;
    assert_eq!(found["matches"].as_array().map(Vec::len), Some(1));
    // A secret deleted and made again does not inherit the reads of the one before.
    let development = in_environment("bot", "development");
    let reader = read_token(&app, "bot", "development").await;
    let path = "/api/v1/projects/bot/secrets/API_KEY";
    assert_eq!(api(&app, Method::GET, path, Some(&reader), None).await.0, StatusCode::OK);
    let (_, read) = check(&app, &admin, "the-real-value").await;
    assert_eq!(read["matches"][0]["reads"], 1);
    app.vault.delete_secret(&actor(), &development, &key("API_KEY"), None).await.expect("gone");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.create_secret(&development, "API_KEY", "the-real-value").await;
    let (_, again) = check(&app, &admin, "the-real-value").await;
    assert_eq!(again["matches"][0]["reads"], 0, "{again}");
    // Empty and too large are refused with a message; nothing is searched.
    let (status, empty) = check(&app, &admin, "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{empty}");
    assert!(empty.to_string().contains("Paste the value to check"), "{empty}");
    let (status, _) = check(&app, &admin, &"x".repeat(70 * 1024)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    app.vault.audit().flush().await;
    let stored = raw_database(&app, backend).await;
    assert!(!holds(&stored, probe.as_bytes()), "the probe is not in the database (or its WAL)");
    assert!(!captured_logs().contains(&probe), "the probe is in no log line");
}

async fn thirty_checks_an_hour_per_person_and_the_answer_of_a_plain_post_is_shown_once(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    project(&app).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    for attempt in 1..=30 {
        assert_eq!(check(&app, &admin, "probe").await.0, StatusCode::OK, "check {attempt}");
    }
    let (status, refused) = check(&app, &admin, "probe").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{refused}");
    assert!(refused.to_string().contains("At most 30 leak checks an hour"), "{refused}");
    let owner = app.sign_in_as("owner@example.com", Role::Owner).await;
    assert_eq!(check(&app, &owner, "probe").await.0, StatusCode::OK, "another person may");
    let mut sql = app.sql().await;
    let counted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'secret.searched_by_value'",
    )
    .fetch_one(&mut sql)
    .await
    .expect("count");
    assert_eq!(counted, 31, "a refused check is not counted as a check");
    let refusals: Vec<String> =
        sqlx::query_scalar("SELECT actor FROM audit_events WHERE action = 'secret.search_refused'")
            .fetch_all(&mut sql)
            .await
            .expect("refusals");
    assert_eq!(refusals, ["admin@example.com"], "but it is recorded");

    // A plain form post (no JavaScript) comes back to the page, which shows the answer once.
    app.create_secret(&in_environment("bot", "production"), "PLAIN", "plain-leak").await;
    let posted = owner
        .post(app.url("/rpc/check_leak"))
        .header("accept", "text/html")
        .form(&[("value", "plain-leak"), ("__return", "/settings/leak-check")])
        .send()
        .await
        .expect("post");
    assert!(posted.status().is_redirection(), "{}", posted.status());
    let location = posted.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(!location.contains("plain-leak"), "the value is not in the URL: {location}");
    let page = owner.get(app.url("/settings/leak-check")).send().await.expect("page");
    let page = page.text().await.expect("html");
    assert!(page.contains("PLAIN") && page.contains("bot · production"), "{page}");
    assert!(!page.contains("plain-leak"), "the value is not in the page");
    let again = owner.get(app.url("/settings/leak-check")).send().await.expect("page");
    assert!(!again.text().await.expect("html").contains("bot · production"), "shown once");
}

async fn the_admin_command_reads_the_value_from_stdin_and_exits_by_the_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    project(&app).await;
    app.create_secret(&in_environment("bot", "staging"), "API_KEY", LEAKED).await;
    let run = |input: String| {
        let url = app.database.url.clone();
        let master_key = app.master_key.clone();
        async move {
            let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealbox"))
                .args(["admin", "leak-check"])
                .env_clear()
                .env("DATABASE_URL", url)
                .env("SEALBOX_MASTER_KEY", master_key)
                .env("SEALBOX_LOG", "warn")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("sealbox starts");
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(input.as_bytes()).await.expect("stdin");
            }
            child.wait_with_output().await.expect("sealbox ends")
        }
    };
    let found = run(format!("{LEAKED}\n")).await;
    let stdout = String::from_utf8_lossy(&found.stdout);
    assert_eq!(found.status.code(), Some(0), "{}", String::from_utf8_lossy(&found.stderr));
    assert_eq!(stdout, "bot/staging  API_KEY v1 (current)  set just now by test  not read since\n");
    let missing = run("not-held\n".to_string()).await;
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&missing.stdout), "No secret holds this value.\n");
    let unreachable = {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealbox"))
            .args(["admin", "leak-check"])
            .env_clear()
            .env("DATABASE_URL", "postgres://127.0.0.1:1/nothing-listens-here")
            .env("SEALBOX_MASTER_KEY", &app.master_key)
            .env("SEALBOX_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sealbox starts");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(b"anything\n").await.expect("stdin");
        }
        child.wait_with_output().await.expect("sealbox ends")
    };
    assert_eq!(unreachable.status.code(), Some(2), "a check that cannot run is not 'not found'");
    let empty = run(String::new()).await;
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("standard input"));
    for output in [&found, &missing] {
        assert!(!String::from_utf8_lossy(&output.stderr).contains(LEAKED));
    }
}
