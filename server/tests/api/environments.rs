//! Environments: what a new project gets, per-environment isolation on every API route, the
//! associated data that binds a value to its environment, managing environments (add, rename,
//! reorder, delete after typing the name, never the last) and their audit events.
use app::{
    accounts::domain::Role,
    audit::Actor,
    projects::{ProjectName, ProjectSlug},
    secrets::service::Scope,
    tokens::{TokenName, TokenScope},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    helpers::{Backend, TestApp, environment, in_environment, spawn_app, verify_chain},
    on_both_backends,
    tokens::api,
};

on_both_backends!(
    a_new_project_has_development_staging_and_production,
    a_token_reads_and_writes_its_own_environment_only_on_every_route,
    a_value_copied_to_another_environments_row_does_not_open,
    owners_add_rename_reorder_and_delete_environments_and_each_change_is_audited,
    deleting_an_environment_takes_its_secrets_variables_and_tokens_and_never_the_last,
);

pub(crate) fn actor() -> Actor {
    Actor::new("alice@example.com", None)
}

pub(crate) fn bot() -> ProjectSlug {
    ProjectSlug::parse("bot").expect("slug")
}

/// The project `bot`, with the three environments a new project gets.
pub(crate) async fn project(app: &TestApp) {
    app.projects
        .create_project(&actor(), ProjectName::parse("Bot").expect("name"))
        .await
        .expect("p");
}

/// A read-write token for one environment of `bot`.
async fn token_for(app: &TestApp, environment_name: &str) -> String {
    let name = TokenName::parse(&format!("ci-{environment_name}")).expect("name");
    let (info, token) = app
        .tokens
        .create(
            &actor(),
            &bot(),
            Some(&environment(environment_name)),
            name,
            TokenScope::ReadWrite,
            None,
        )
        .await
        .expect("a token");
    assert_eq!(info.environment, environment_name);
    token.expose().to_string()
}

async fn names(app: &TestApp) -> Vec<String> {
    app.environments.list(&bot()).await.expect("environments").into_iter().map(|e| e.name).collect()
}

async fn a_new_project_has_development_staging_and_production(backend: Backend) {
    let app = spawn_app(backend).await;
    project(&app).await;
    assert_eq!(names(&app).await, ["development", "staging", "production"]);
    // A token made without naming an environment gets the first one.
    let (info, _) = app
        .tokens
        .create(
            &actor(),
            &bot(),
            None,
            TokenName::parse("default").expect("name"),
            TokenScope::Read,
            None,
        )
        .await
        .expect("token");
    assert_eq!(info.environment, "development");
    // The API lists the names to any token of the project.
    let token = token_for(&app, "staging").await;
    let (status, body) =
        api(&app, Method::GET, "/api/v1/projects/bot/environments", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "environments": ["development", "staging", "production"] }));
}

async fn a_token_reads_and_writes_its_own_environment_only_on_every_route(backend: Backend) {
    // Arrange: the same key in development and production, with different values.
    let app = spawn_app(backend).await;
    project(&app).await;
    app.create_secret(&in_environment("bot", "development"), "API_KEY", "dev-value").await;
    app.create_secret(&in_environment("bot", "production"), "API_KEY", "prod-value").await;
    app.create_secret(&Scope::Team, "TEAM_KEY", "for every environment").await;
    let development = token_for(&app, "development").await;
    let production = token_for(&app, "production").await;

    // Each token reads its own environment's value, on the short and the named routes.
    for (token, name, value) in
        [(&development, "development", "dev-value"), (&production, "production", "prod-value")]
    {
        for path in [
            "/api/v1/projects/bot".to_string(),
            format!("/api/v1/projects/bot/environments/{name}"),
        ] {
            let (status, body) =
                api(&app, Method::GET, &format!("{path}/secrets/API_KEY"), Some(token), None).await;
            assert_eq!((status, body["value"].as_str()), (StatusCode::OK, Some(value)), "{path}");
            let (status, body) =
                api(&app, Method::GET, &format!("{path}/env"), Some(token), None).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body["API_KEY"], value);
            assert_eq!(body["TEAM_KEY"], "for every environment", "team secrets apply everywhere");
            let response = app
                .client
                .get(app.url(&format!("{path}/secrets")))
                .bearer_auth(token)
                .send()
                .await
                .expect("list");
            assert_eq!(
                response.headers().get("sealbox-environment").and_then(|v| v.to_str().ok()),
                Some(name)
            );
        }
    }

    // Another environment than the token's: 403 wrong_environment on every route and method,
    // and nothing changes.
    let other = "/api/v1/projects/bot/environments/production";
    let attempts: [(Method, String, Option<Value>); 5] = [
        (Method::GET, format!("{other}/secrets"), None),
        (Method::GET, format!("{other}/secrets/API_KEY"), None),
        (Method::GET, format!("{other}/env"), None),
        (Method::PUT, format!("{other}/secrets/API_KEY"), Some(json!({ "value": "overwritten" }))),
        (Method::DELETE, format!("{other}/secrets/API_KEY"), None),
    ];
    for (method, path, body) in attempts {
        let (status, answer) = api(&app, method.clone(), &path, Some(&development), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_eq!(answer["error"], "wrong_environment");
        assert!(!answer.to_string().contains("prod-value"));
    }
    let (_, still) =
        api(&app, Method::GET, "/api/v1/projects/bot/secrets/API_KEY", Some(&production), None)
            .await;
    assert_eq!(still["value"], "prod-value");
    let (status, answer) = api(
        &app,
        Method::GET,
        "/api/v1/projects/bot/environments/qa/env",
        Some(&development),
        None,
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("wrong_environment"))
    );

    // A write through the development token lands in development only.
    let (status, _) = api(
        &app,
        Method::PUT,
        "/api/v1/projects/bot/environments/development/secrets/NEW_KEY",
        Some(&development),
        Some(json!({ "value": "only in development" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let in_production =
        app.vault.list_secrets(&in_environment("bot", "production")).await.expect("list");
    assert!(in_production.iter().all(|meta| meta.key != "NEW_KEY"));
    let in_staging = app.vault.list_secrets(&in_environment("bot", "staging")).await.expect("list");
    assert!(in_staging.is_empty());

    // Every event of the token's reads and writes names its environment.
    let mut sql = app.sql().await;
    let unnamed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE actor LIKE 'token:%' AND environment IS NULL",
    )
    .fetch_one(&mut sql)
    .await
    .expect("count");
    let named: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE actor = 'token:ci-development' \
         AND environment = 'development'",
    )
    .fetch_one(&mut sql)
    .await
    .expect("count");
    assert!(named >= 5, "{named}");
    // environment.listed is about the project, not one environment.
    let listed_only: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE actor LIKE 'token:%' AND environment IS NULL \
         AND action <> 'environment.listed'",
    )
    .fetch_one(&mut sql)
    .await
    .expect("count");
    assert_eq!(listed_only, 0, "{unnamed} events without an environment");
    assert_eq!(verify_chain(&app).await.broken, None);
}

async fn a_value_copied_to_another_environments_row_does_not_open(backend: Backend) {
    // Same project (so the same data key), same key, same version: only the environment differs.
    let app = spawn_app(backend).await;
    project(&app).await;
    app.create_secret(&in_environment("bot", "development"), "API_KEY", "dev-value").await;
    app.create_secret(&in_environment("bot", "production"), "API_KEY", "prod-value").await;
    let development = token_for(&app, "development").await;
    let mut sql = app.sql().await;
    let copied = sqlx::query(
        "UPDATE secret_versions SET sealed_value = (SELECT v.sealed_value FROM secret_versions v \
         JOIN secrets s ON s.id = v.secret_id JOIN environments e ON e.id = s.environment_id \
         WHERE e.name = 'production' AND s.key = 'API_KEY') \
         WHERE secret_id = (SELECT s.id FROM secrets s JOIN environments e ON e.id = s.environment_id \
         WHERE e.name = 'development' AND s.key = 'API_KEY')",
    )
    .execute(&mut sql)
    .await
    .expect("copy the ciphertext");
    assert_eq!(copied.rows_affected(), 1);
    let (status, body) =
        api(&app, Method::GET, "/api/v1/projects/bot/secrets/API_KEY", Some(&development), None)
            .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(!body.to_string().contains("prod-value"), "the production value never comes out");
}

async fn owners_add_rename_reorder_and_delete_environments_and_each_change_is_audited(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    project(&app).await;
    let owner = app.sign_in_as("owner@example.com", Role::Owner).await;
    let member = app.sign_in_as("member@example.com", Role::Member).await;
    let call =
        |client: &reqwest::Client, name: &'static str, form: Vec<(&'static str, &'static str)>| {
            let (app, client) = (&app, client.clone());
            async move {
                let response = app.post_rpc(&client, name, &form).await;
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
        };

    // Members may look, not change.
    let (status, body) = call(&member, "list_environments", vec![("slug", "bot")]).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) =
        call(&member, "create_environment", vec![("slug", "bot"), ("name", "qa")]).await;
    assert_eq!(status, 403);

    // Bad names get the domain's words, and nothing is added.
    for (name, message) in [
        (
            "QA",
            "Environment names use lowercase letters, digits and single hyphens, like staging-eu",
        ),
        ("", "Environment name is required"),
        ("tokens", "tokens is a word the project's pages use; choose another name"),
        ("staging", "This project already has an environment named staging"),
    ] {
        let (status, body) =
            call(&owner, "create_environment", vec![("slug", "bot"), ("name", name)]).await;
        assert_eq!(status, 422, "{name}: {body}");
        assert!(body.contains(message), "{name}: {body}");
    }
    assert_eq!(names(&app).await, ["development", "staging", "production"]);

    // Add, rename, reorder.
    let (status, body) =
        call(&owner, "create_environment", vec![("slug", "bot"), ("name", "qa")]).await;
    assert_eq!(status, 200, "{body}");
    app.create_secret(&in_environment("bot", "staging"), "KEPT", "moves with its environment")
        .await;
    let (status, body) = call(
        &owner,
        "rename_environment",
        vec![("slug", "bot"), ("name", "staging"), ("new_name", "stage")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let kept = app.vault.list_secrets(&in_environment("bot", "stage")).await.expect("renamed");
    assert_eq!(kept.len(), 1, "the secrets stay with the renamed environment");
    let (status, _) = call(
        &owner,
        "rename_environment",
        vec![("slug", "bot"), ("name", "stage"), ("new_name", "qa")],
    )
    .await;
    assert_eq!(status, 422, "a taken name");
    let (status, body) = call(
        &owner,
        "move_environment",
        vec![("slug", "bot"), ("name", "production"), ("direction", "earlier")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&app).await, ["development", "production", "stage", "qa"]);
    let (status, _) = call(
        &owner,
        "move_environment",
        vec![("slug", "bot"), ("name", "development"), ("direction", "earlier")],
    )
    .await;
    assert_eq!(status, 422, "the first cannot move earlier");
    let (status, _) = call(
        &owner,
        "move_environment",
        vec![("slug", "bot"), ("name", "nowhere"), ("direction", "later")],
    )
    .await;
    assert_eq!(status, 404);

    // Each change is one event naming its environment.
    let mut sql = app.sql().await;
    let events: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT action, environment, details FROM audit_events \
         WHERE action IN ('environment.created', 'environment.renamed', 'environment.reordered') \
         ORDER BY id",
    )
    .fetch_all(&mut sql)
    .await
    .expect("events");
    let wanted: Vec<(String, Option<String>, Option<String>)> = vec![
        ("environment.created".into(), Some("qa".into()), None),
        ("environment.renamed".into(), Some("stage".into()), Some("staging → stage".into())),
        (
            "environment.reordered".into(),
            Some("production".into()),
            Some("development, production, stage, qa".into()),
        ),
    ];
    assert_eq!(events, wanted);
    assert_eq!(verify_chain(&app).await.broken, None);
}

async fn deleting_an_environment_takes_its_secrets_variables_and_tokens_and_never_the_last(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    project(&app).await;
    let owner = app.sign_in_as("owner@example.com", Role::Owner).await;
    app.create_secret(&in_environment("bot", "staging"), "DOOMED", "goes with staging").await;
    app.create_secret(&in_environment("bot", "production"), "DOOMED", "stays").await;
    let staging = token_for(&app, "staging").await;
    let delete = |name: &'static str, confirm: &'static str| {
        let (app, owner) = (&app, owner.clone());
        async move {
            let form = [("slug", "bot"), ("name", name), ("confirm", confirm)];
            let response = app.post_rpc(&owner, "delete_environment", &form).await;
            (response.status().as_u16(), response.text().await.unwrap_or_default())
        }
    };

    // The name must be typed.
    let (status, body) = delete("staging", "stagin").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Type staging to confirm"), "{body}");
    assert_eq!(names(&app).await.len(), 3);

    let (status, body) = delete("staging", "staging").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&app).await, ["development", "production"]);
    let (status, body) =
        api(&app, Method::GET, "/api/v1/projects/bot/env", Some(&staging), None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("token_invalid")));
    let mut sql = app.sql().await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM secrets WHERE key = 'DOOMED'")
        .fetch_one(&mut sql)
        .await
        .expect("count");
    assert_eq!(left, 1, "production's secret stays");
    let missing =
        app.vault.list_secrets(&in_environment("bot", "staging")).await.expect_err("gone");
    assert_eq!(missing.to_string(), "The project bot has no environment named staging");

    // Never the last one.
    assert_eq!(delete("development", "development").await.0, 200);
    let (status, body) = delete("production", "production").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("A project keeps at least one environment"), "{body}");
    assert_eq!(names(&app).await, ["production"]);
    let deleted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'environment.deleted'",
    )
    .fetch_one(&mut sql)
    .await
    .expect("count");
    assert_eq!(deleted, 2);
}
