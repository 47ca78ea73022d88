//! Upgrading a database made by the release before environments (the fixtures in
//! `tests/fixtures`, made by `make_pre_environments.sh` with commit 311261e): what a project held
//! becomes its `production` environment, its tokens keep working there, every value is resealed
//! under the associated data with the environment (resumably), and the audit chain still verifies.
use std::sync::Arc;

use app::{
    audit::{Actor, AuditLog},
    crypto::MasterKey,
    keyring::Keyring,
    secrets::service::{Scope, Vault},
    store::Store,
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;

use crate::{
    helpers::{
        Backend, TestDatabase, environment, in_environment, key, read_token, spawn_on, verify_chain,
    },
    on_both_backends,
    tokens::api,
};

on_both_backends!(
    a_database_from_before_environments_upgrades_into_production,
    an_interrupted_reseal_resumes_at_the_next_start,
    a_value_sealed_before_environments_never_opens_after_the_reseal,
);

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("the fixture")
}

/// A test database holding the fixture of `backend`, not yet migrated past it; and the fixture's
/// master key and token.
async fn pre_environments_database(backend: Backend) -> (Arc<TestDatabase>, String, String) {
    let database = TestDatabase::create(backend).await;
    let tag = match backend {
        Backend::Sqlite => {
            let file = database.url.trim_start_matches("sqlite://");
            std::fs::copy(format!("{FIXTURES}/pre_environments.sqlite"), file)
                .expect("copy the SQLite fixture");
            "sqlite"
        }
        Backend::Postgres => {
            let mut connection =
                sqlx::PgConnection::connect(&database.url).await.expect("the test database");
            sqlx::raw_sql(&fixture("pre_environments.sql"))
                .execute(&mut connection)
                .await
                .expect("restore the PostgreSQL fixture");
            "postgres"
        }
    };
    let master_key = fixture("pre_environments.key").trim().to_string();
    let token = fixture(&format!("pre_environments.{tag}.token")).trim().to_string();
    (Arc::new(database), master_key, token)
}

async fn count(sql: &mut sqlx::AnyConnection, query: &str) -> i64 {
    sqlx::query_scalar(query).fetch_one(sql).await.expect(query)
}

async fn a_database_from_before_environments_upgrades_into_production(backend: Backend) {
    // Arrange and act: a server of this release starts on the old database.
    let (database, master_key, token) = pre_environments_database(backend).await;
    let app = spawn_on(database, master_key).await;

    // Each project has one environment, production, holding what it held; the team has `*`.
    let mut sql = app.sql().await;
    let environments: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.slug, e.name FROM environments e JOIN projects p ON p.id = e.project_id \
         ORDER BY p.slug",
    )
    .fetch_all(&mut sql)
    .await
    .expect("environments");
    let wanted: Vec<(String, String)> =
        [("_team", "*"), ("billing", "production"), ("discord-bot", "production")]
            .iter()
            .map(|(slug, name)| (slug.to_string(), name.to_string()))
            .collect();
    assert_eq!(environments, wanted);

    // Every version was resealed with its environment, none left behind.
    assert_eq!(count(&mut sql, "SELECT count(*) FROM secret_versions").await, 5);
    assert_eq!(count(&mut sql, "SELECT count(*) FROM secret_versions WHERE binding = 2").await, 5);
    assert_eq!(app.vault.rebind_values().await.expect("a second pass"), 0, "once only");

    // The old token is bound to production and reads what it read before, on both routes.
    for path in [
        "/api/v1/projects/discord-bot/env",
        "/api/v1/projects/discord-bot/environments/production/env",
    ] {
        let (status, body) = api(&app, Method::GET, path, Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(
            body,
            json!({
                "DISCORD_BOT_TOKEN": "fixture-bot-token-v2",
                "WEBHOOK_URL": "https://discord.com/api/webhooks/1/fixture",
                "SENTRY_DSN": "https://fixture@sentry.example/1",
                "LOG_LEVEL": "debug",
                "PORT": "8080",
            })
        );
    }
    let (status, body) = api(
        &app,
        Method::GET,
        "/api/v1/projects/discord-bot/environments/staging/env",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("wrong_environment"))
    );

    // An old version, resealed too, still rolls back; writes and the history work as before.
    let production = in_environment("discord-bot", "production");
    let actor = Actor::new("owner@example.test", None);
    let meta = app
        .vault
        .rollback(
            &actor,
            &production,
            &key("DISCORD_BOT_TOKEN"),
            app::ids::Version(1),
            app::ids::Version(2),
        )
        .await
        .expect("roll back to version 1");
    assert_eq!(meta.version, app::ids::Version(3));
    let (_, body) = api(
        &app,
        Method::GET,
        "/api/v1/projects/discord-bot/secrets/DISCORD_BOT_TOKEN",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(body["value"], "fixture-bot-token-v1");
    let team = app.vault.list_secrets(&Scope::Team).await.expect("team secrets");
    assert_eq!(team.len(), 1);

    // The chain: the old events verify as they were linked, the new ones with their environment.
    assert_eq!(verify_chain(&app).await.broken, None);
    let named: i64 = count(
        &mut sql,
        "SELECT count(*) FROM audit_events WHERE environment = 'production' \
         AND action IN ('environment.read', 'secret.read', 'secret.rolled_back')",
    )
    .await;
    assert!(named >= 4, "{named}");
}

async fn an_interrupted_reseal_resumes_at_the_next_start(backend: Backend) {
    // Arrange: migrate, and reseal only two versions, as a start that was stopped would.
    let (database, master_key, token) = pre_environments_database(backend).await;
    let store = Store::connect(&database.url).await.expect("the store");
    store.migrate().await.expect("the migrations");
    let master = MasterKey::from_base64(&master_key).expect("the fixture's key");
    let keyring = Keyring::load(&store, master, Vec::new()).await.expect("the keyring");
    let chain_key = keyring.open_chain_key(&store).await.expect("the chain key");
    let vault = Vault::new(store.clone(), AuditLog::keyed(&store, chain_key), Arc::new(keyring));
    assert_eq!(vault.rebind_batch(2).await.expect("one batch"), 2);
    store.close().await;

    // Act: a server starts on it and finishes the reseal.
    let app = spawn_on(database, master_key).await;
    let mut sql = app.sql().await;
    assert_eq!(count(&mut sql, "SELECT count(*) FROM secret_versions WHERE binding = 1").await, 0);
    let (status, body) =
        api(&app, Method::GET, "/api/v1/projects/discord-bot/env", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["DISCORD_BOT_TOKEN"], "fixture-bot-token-v2");
    assert_eq!(body["SENTRY_DSN"], "https://fixture@sentry.example/1");
}

async fn a_value_sealed_before_environments_never_opens_after_the_reseal(backend: Backend) {
    // Arrange: production's version 1 of DISCORD_BOT_TOKEN as the old release sealed it (bound to
    // project, key and version only), as a backup taken before the upgrade would hold it.
    let (database, master_key, _) = pre_environments_database(backend).await;
    let store = Store::connect(&database.url).await.expect("the store");
    store.migrate().await.expect("the migrations");
    let old: Vec<u8> = {
        sqlx::any::install_default_drivers();
        let mut sql = sqlx::AnyConnection::connect(&database.url).await.expect("a connection");
        sqlx::query_scalar(
            "SELECT v.sealed_value FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
             WHERE s.key = 'DISCORD_BOT_TOKEN' AND v.version = 1 AND v.binding = 1",
        )
        .fetch_one(&mut sql)
        .await
        .expect("the old ciphertext")
    };
    store.close().await;
    let app = spawn_on(database.clone(), master_key.clone()).await;
    let actor = Actor::new("owner@example.test", None);
    let slug = app::projects::ProjectSlug::parse("discord-bot").expect("slug");
    app.environments.create(&actor, &slug, &environment("staging")).await.expect("staging");
    app.create_secret(&in_environment("discord-bot", "staging"), "DISCORD_BOT_TOKEN", "staging")
        .await;
    let staging = read_token(&app, "discord-bot", "staging").await;

    // Act: the old ciphertext is put into staging's row of the same key and version, marked as
    // sealed the old way — the one row its associated data (no environment) would open in.
    let mut sql = app.sql().await;
    let planted = sqlx::query(
        "UPDATE secret_versions SET sealed_value = $1, binding = 1 WHERE version = 1 AND \
         secret_id = (SELECT s.id FROM secrets s JOIN environments e ON e.id = s.environment_id \
         WHERE e.name = 'staging' AND s.key = 'DISCORD_BOT_TOKEN')",
    )
    .bind(&old)
    .execute(&mut sql)
    .await
    .expect("plant the old ciphertext");
    assert_eq!(planted.rows_affected(), 1);

    // Assert: no read opens it, on either route, and a restart does not reseal it into staging.
    for (status, body) in staging_reads(&app, &staging).await {
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert!(!body.to_string().contains("fixture-bot-token"), "{body}");
    }
    drop(sql);
    app.stop().await;
    let app = spawn_on(database, master_key).await;
    let mut sql = app.sql().await;
    assert_eq!(app.vault.rebind_batch(10).await.expect("a batch"), 0, "a batch after the finish");
    assert_eq!(count(&mut sql, "SELECT count(*) FROM secret_versions WHERE binding = 1").await, 1);
    for (status, body) in staging_reads(&app, &staging).await {
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert!(!body.to_string().contains("fixture-bot-token"), "{body}");
    }
}

/// What a staging token gets for DISCORD_BOT_TOKEN on the key's route and the environment's.
async fn staging_reads(
    app: &crate::helpers::TestApp,
    token: &str,
) -> Vec<(StatusCode, serde_json::Value)> {
    let mut answers = Vec::new();
    for path in [
        "/api/v1/projects/discord-bot/secrets/DISCORD_BOT_TOKEN",
        "/api/v1/projects/discord-bot/env",
    ] {
        answers.push(api(app, Method::GET, path, Some(token), None).await);
    }
    answers
}
