//! The offboarding exposure report: the current versions a person typed, the current versions a
//! token they created read (team secrets included), a line gone once the secret is rotated,
//! Revoke all, the CSV, and the audit event.
use app::{
    accounts::domain::Role,
    secrets::{
        domain::{Description, SecretValue},
        service::{Actor, Scope, SecretUpdate},
    },
    tokens::{TokenName, TokenScope},
};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::{
    environments::{bot, project},
    helpers::{Backend, TestApp, environment, in_environment, key, new_secret, spawn_app},
    on_both_backends,
    tokens::api,
};

on_both_backends!(
    the_report_lists_what_they_typed_and_what_their_tokens_read_until_it_is_rotated,
    revoke_all_revokes_their_live_tokens_and_the_csv_has_every_line,
);

const LEAVER: &str = "leaver@example.com";

fn leaver() -> Actor {
    Actor::new(LEAVER, None)
}

fn other() -> Actor {
    Actor::new("stays@example.com", None)
}

async fn update(
    app: &TestApp,
    actor: &Actor,
    scope: &Scope,
    name: &str,
    value: Option<&str>,
    description: &str,
) {
    let current = app.vault.list_secrets(scope).await.expect("list");
    let version =
        current.iter().find(|meta| meta.key == name).map(|meta| meta.version).expect("there");
    let update = SecretUpdate {
        expected_version: version,
        value: value.map(|v| SecretValue::new(v.into()).expect("v")),
        description: Description::parse(Some(description)).expect("d"),
    };
    app.vault.update_secret(actor, scope, &key(name), update).await.expect("update");
}

/// `bot` with: production API_KEY typed by the leaver; staging DB_URL typed by them and rotated
/// since; development NOTE typed by someone else and only described by them; the team's SHARED
/// typed by them; production OTHER typed by someone else, read by the leaver's token. The
/// leaver's id and token.
async fn scene(app: &TestApp) -> (i64, String) {
    project(app).await;
    let person = app.add_user(LEAVER, Role::Admin).await;
    let production = in_environment("bot", "production");
    let staging = in_environment("bot", "staging");
    let development = in_environment("bot", "development");
    app.vault
        .create_secret(&leaver(), &production, new_secret("API_KEY", "typed"))
        .await
        .expect("s");
    app.vault.create_secret(&leaver(), &staging, new_secret("DB_URL", "typed")).await.expect("s");
    update(app, &other(), &staging, "DB_URL", Some("rotated"), "").await;
    app.vault
        .create_secret(&other(), &development, new_secret("NOTE", "not theirs"))
        .await
        .expect("s");
    update(app, &leaver(), &development, "NOTE", None, "described by the leaver").await;
    app.vault
        .create_secret(&leaver(), &Scope::Team, new_secret("SHARED", "team"))
        .await
        .expect("s");
    app.vault.create_secret(&other(), &production, new_secret("OTHER", "read")).await.expect("s");
    let (_, token) = app
        .tokens
        .create(
            &leaver(),
            &bot(),
            Some(&environment("production")),
            TokenName::parse("leaver-ci").expect("name"),
            TokenScope::Read,
            None,
        )
        .await
        .expect("token");
    let token = token.expose().to_string();
    let (status, _) = api(app, Method::GET, "/api/v1/projects/bot/env", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    (person.id.0, token)
}

async fn report(app: &TestApp, client: &reqwest::Client, id: i64) -> Value {
    let response = app.post_rpc(client, "person_exposure", &[("user_id", id.to_string())]).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("JSON")
}

/// `(exposure, where, key, version, tokens)` per line.
fn lines(report: &Value) -> Vec<(String, String, String, i64, Vec<String>)> {
    report["secrets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|line| {
            let place = format!(
                "{}/{}",
                line["project"].as_str().unwrap_or("team"),
                line["environment"].as_str().unwrap_or_default()
            );
            let tokens = line["tokens"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect();
            (
                line["exposure"].as_str().unwrap_or_default().to_string(),
                place,
                line["key"].as_str().unwrap_or_default().to_string(),
                line["version"].as_i64().unwrap_or_default(),
                tokens,
            )
        })
        .collect()
}

async fn the_report_lists_what_they_typed_and_what_their_tokens_read_until_it_is_rotated(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (id, _) = scene(&app).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;

    let seen = report(&app, &admin, id).await;
    let token = || vec!["bot/leaver-ci".to_string()];
    assert_eq!(
        lines(&seen),
        [
            ("Typed".into(), "bot/production".into(), "API_KEY".into(), 1, vec![]),
            ("Typed".into(), "team/*".into(), "SHARED".into(), 1, vec![]),
            ("ReadByToken".into(), "bot/production".into(), "OTHER".into(), 1, token()),
        ]
    );
    assert_eq!(seen["tokens"][0]["name"], "leaver-ci");
    assert_eq!(seen["tokens"][0]["revoked"], false);
    assert_eq!(seen["email"], LEAVER);

    // Rotating OTHER and API_KEY takes their lines away; a member may not look.
    let production = in_environment("bot", "production");
    update(&app, &other(), &production, "OTHER", Some("rotated"), "").await;
    update(&app, &other(), &production, "API_KEY", Some("rotated"), "").await;
    // A new description is no rotation: SHARED stays, at its new version.
    update(&app, &other(), &Scope::Team, "SHARED", None, "described by someone else").await;
    let after = report(&app, &admin, id).await;
    assert_eq!(lines(&after), [("Typed".into(), "team/*".into(), "SHARED".into(), 2, vec![])]);
    // Rolling API_KEY back to the value they typed brings it back.
    app.vault
        .rollback(
            &other(),
            &production,
            &key("API_KEY"),
            app::ids::Version(1),
            app::ids::Version(2),
        )
        .await
        .expect("rollback");
    let back = report(&app, &admin, id).await;
    let first = ("Typed".into(), "bot/production".into(), "API_KEY".into(), 3, vec![]);
    assert_eq!(lines(&back)[0], first);
    let member = app.sign_in_as("member@example.com", Role::Member).await;
    let refused = app.post_rpc(&member, "person_exposure", &[("user_id", id.to_string())]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let missing = app.post_rpc(&admin, "person_exposure", &[("user_id", "999999")]).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // The page, reached from the person's row, shows the same; each view is audited.
    let members = admin.get(app.url("/settings/members")).send().await.expect("page");
    let members = members.text().await.expect("html");
    assert!(members.contains(&format!("/settings/members/{id}/exposure")), "the row links to it");
    let page =
        admin.get(app.url(&format!("/settings/members/{id}/exposure"))).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("html");
    assert!(page.contains("What leaver@example.com could know"), "{page}");
    assert!(page.contains("SHARED") && page.contains("/settings/team-secrets?dialog=edit:SHARED"));
    let mut sql = app.sql().await;
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'user.exposure_reported' ORDER BY id",
    )
    .fetch_all(&mut sql)
    .await
    .expect("events");
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(
        events[0],
        "leaver@example.com: 2 secrets they typed, 1 more read by their tokens, 1 tokens"
    );
}

async fn revoke_all_revokes_their_live_tokens_and_the_csv_has_every_line(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, token) = scene(&app).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;

    let csv = admin
        .get(app.url(&format!("/settings/members/{id}/exposure.csv")))
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/csv"));
    let csv = csv.text().await.expect("text");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "kind,project,environment,name,version_or_scope,how,at,status");
    assert!(rows[1].starts_with("secret,bot,production,API_KEY,1,set its value,"), "{csv}");
    assert!(rows[2].starts_with("team secret,,*,SHARED,1,set its value,"), "{csv}");
    assert!(rows[3].starts_with("secret,bot,production,OTHER,1,read by token bot/leaver-ci,"));
    assert!(rows[4].starts_with("token,bot,production,leaver-ci,read,created it,"), "{csv}");
    assert!(rows[4].ends_with(",live"));
    assert!(!csv.contains("typed") && !csv.contains("not theirs"), "never a value");

    let revoked =
        app.post_rpc(&admin, "revoke_person_tokens", &[("user_id", id.to_string())]).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let message = revoked.text().await.expect("text");
    assert!(message.contains("Revoked 1 token created by leaver@example.com"), "{message}");
    let (status, _) = api(&app, Method::GET, "/api/v1/projects/bot/env", Some(&token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the token no longer works");
    let again = app.post_rpc(&admin, "revoke_person_tokens", &[("user_id", id.to_string())]).await;
    assert!(again.text().await.expect("text").contains("has no live tokens"));
    let seen = report(&app, &admin, id).await;
    assert_eq!(seen["tokens"][0]["revoked"], true);
    let member = app.sign_in_as("member@example.com", Role::Member).await;
    let refused = member
        .get(app.url(&format!("/settings/members/{id}/exposure.csv")))
        .send()
        .await
        .expect("csv");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // Deactivating them (a plain form post, as without JavaScript) goes on to their report.
    let deactivated = admin
        .post(app.url("/rpc/set_member_active"))
        .header("accept", "text/html")
        .form(&[
            ("user_id", id.to_string()),
            ("active", "false".to_string()),
            ("__return", "/settings/members".to_string()),
        ])
        .send()
        .await
        .expect("deactivate");
    assert!(deactivated.status().is_redirection(), "{}", deactivated.status());
    let location = deactivated.headers().get("location").and_then(|v| v.to_str().ok());
    assert_eq!(location, Some(format!("/settings/members/{id}/exposure").as_str()));
}
