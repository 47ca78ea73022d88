//! The encrypted secret store through its service API, on both databases.
use app::{
    accounts::domain::Role,
    ids::Version,
    not_found::{Missing, NotFound},
    projects::{ProjectName, ProjectSlug, service::Projects},
    secrets::{
        domain::{Description, SecretType, SecretValue},
        runtime::RunTime,
        service::{Actor, NewSecret, Scope, SecretUpdate, Vault, VaultError},
    },
};
use reqwest::StatusCode;
use sqlx::{Executor, Row};

use crate::{
    helpers::{Backend, TestApp, key, new_secret, spawn_app},
    on_both_backends,
};

on_both_backends!(
    a_created_secret_lists_without_its_value_and_reveals_with_it,
    a_duplicate_key_is_refused_with_the_documented_message,
    updates_make_new_versions_and_refuse_no_changes_and_stale_versions,
    two_concurrent_updates_from_the_same_version_let_exactly_one_win,
    rollback_restores_an_earlier_value_as_a_new_version,
    find_by_value_locates_every_version_holding_a_value,
    a_ciphertext_copied_onto_another_secret_does_not_open,
    a_mutation_whose_audit_insert_fails_changes_nothing,
    an_internal_error_names_the_statement_that_failed,
    the_database_never_holds_the_plaintext,
    no_log_line_ever_holds_a_value,
    a_project_sees_team_secrets_overridden_by_its_own,
    deleting_a_secret_checks_the_version_and_removes_its_history,
    deleting_a_project_removes_its_secrets_and_data_key,
    a_wrong_master_key_is_refused_at_start,
);

fn alice() -> Actor {
    Actor::new("alice@example.com", Some("192.0.2.7".into()))
}

fn value(text: &str) -> SecretValue {
    SecretValue::new(text.to_string()).expect("a valid value")
}

async fn project(vault: &Vault, name: &str) -> Scope {
    let project =
        Projects::new(vault.store().clone(), vault.audit().clone(), vault.keyring().clone())
            .create_project(&alice(), ProjectName::parse(name).expect("name"))
            .await
            .expect("the project is created");
    Scope::development(ProjectSlug::parse(&project.slug).expect("slug"))
}

async fn create(vault: &Vault, scope: &Scope, name: &str, secret: &str) {
    vault
        .create_secret(&alice(), scope, new_secret(name, secret))
        .await
        .expect("the secret is created");
}

async fn reveal(vault: &Vault, scope: &Scope, name: &str) -> String {
    vault.reveal(&alice(), scope, &key(name)).await.expect("revealed").value.expose().to_string()
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let mut sql = app.sql().await;
    sqlx::query("SELECT action FROM audit_events ORDER BY id")
        .fetch_all(&mut sql)
        .await
        .expect("audit rows")
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect()
}

async fn a_created_secret_lists_without_its_value_and_reveals_with_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Discord bot").await;

    app.vault
        .create_secret(
            &alice(),
            &scope,
            NewSecret {
                description: Description::parse(Some("Main database")).expect("description"),
                ..new_secret("DATABASE_URL", "postgres://bot:pw@db/bot")
            },
        )
        .await
        .expect("created");

    let listed = app.vault.list_secrets(&scope).await.expect("listed");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, "DATABASE_URL");
    assert_eq!(listed[0].secret_type, SecretType::ConnectionString, "suggested from the value");
    assert_eq!(listed[0].description.as_deref(), Some("Main database"));
    assert_eq!(
        (listed[0].version, listed[0].created_by.as_str()),
        (Version(1), "alice@example.com")
    );
    let json = serde_json::to_string(&listed).expect("serializes");
    assert!(!json.contains("postgres://bot"), "metadata never carries the value: {json}");
    assert_eq!(reveal(&app.vault, &scope, "DATABASE_URL").await, "postgres://bot:pw@db/bot");
    assert_eq!(
        audit_actions(&app).await,
        ["audit.chain_keyed", "project.created", "secret.created", "secret.read"]
    );
    app.stop().await;
}

async fn a_duplicate_key_is_refused_with_the_documented_message(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Bot").await;
    create(&app.vault, &scope, "TOKEN", "first").await;

    let error = app
        .vault
        .create_secret(&alice(), &scope, new_secret("TOKEN", "second"))
        .await
        .expect_err("a duplicate");

    assert_eq!(error.to_string(), "A secret named TOKEN already exists in development");
    assert_eq!(reveal(&app.vault, &scope, "TOKEN").await, "first", "the first value is kept");
    // The same key in the team scope is a different secret.
    create(&app.vault, &Scope::Team, "TOKEN", "team").await;
    app.stop().await;
}

async fn updates_make_new_versions_and_refuse_no_changes_and_stale_versions(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Bot").await;
    create(&app.vault, &scope, "TOKEN", "v1").await;
    let update = |version: i64, new: Option<&str>, description: Option<&str>| SecretUpdate {
        expected_version: Version(version),
        value: new.map(value),
        description: Description::parse(description).expect("description"),
    };

    let meta =
        app.vault.update_secret(&alice(), &scope, &key("TOKEN"), update(1, Some("v2"), None)).await;
    assert_eq!(meta.expect("updated").version, Version(2));
    assert_eq!(reveal(&app.vault, &scope, "TOKEN").await, "v2");

    // Blank value keeps the old one; only the description changes.
    let meta = app
        .vault
        .update_secret(&alice(), &scope, &key("TOKEN"), update(2, None, Some("Bot token")))
        .await
        .expect("description updated");
    assert_eq!((meta.version, meta.description.as_deref()), (Version(3), Some("Bot token")));
    assert_eq!(reveal(&app.vault, &scope, "TOKEN").await, "v2");

    let same = app
        .vault
        .update_secret(&alice(), &scope, &key("TOKEN"), update(3, Some("v2"), Some("Bot token")))
        .await
        .expect_err("nothing changed");
    assert_eq!(same.to_string(), "No changes to save");

    let stale = app
        .vault
        .update_secret(&alice(), &scope, &key("TOKEN"), update(1, Some("v9"), None))
        .await
        .expect_err("stale");
    assert_eq!(stale.to_string(), "This secret was changed by someone else; reload and try again");
    assert_eq!(reveal(&app.vault, &scope, "TOKEN").await, "v2", "a failed update changes nothing");
    app.stop().await;
}

async fn two_concurrent_updates_from_the_same_version_let_exactly_one_win(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Bot").await;
    create(&app.vault, &scope, "TOKEN", "v1").await;

    let attempt = |new: &'static str| {
        let vault = app.vault.clone();
        let scope = scope.clone();
        tokio::spawn(async move {
            vault
                .update_secret(
                    &alice(),
                    &scope,
                    &key("TOKEN"),
                    SecretUpdate {
                        expected_version: Version(1),
                        value: Some(value(new)),
                        description: Description::default(),
                    },
                )
                .await
        })
    };
    let (a, b) = tokio::join!(attempt("from-a"), attempt("from-b"));
    let results = [a.expect("task a"), b.expect("task b")];

    let wins = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results.iter().filter(|r| matches!(r, Err(VaultError::Conflict))).count();
    assert_eq!((wins, conflicts), (1, 1), "{results:?}");
    let current = reveal(&app.vault, &scope, "TOKEN").await;
    let winner = if results[0].is_ok() { "from-a" } else { "from-b" };
    assert_eq!(current, winner);
    app.stop().await;
}

async fn rollback_restores_an_earlier_value_as_a_new_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Bot").await;
    create(&app.vault, &scope, "TOKEN", "original").await;
    app.vault
        .update_secret(
            &alice(),
            &scope,
            &key("TOKEN"),
            SecretUpdate {
                expected_version: Version(1),
                value: Some(value("leaked-replacement")),
                description: Description::default(),
            },
        )
        .await
        .expect("updated");

    let meta = app
        .vault
        .rollback(&alice(), &scope, &key("TOKEN"), Version(1), Version(2))
        .await
        .expect("rolled back");

    assert_eq!(meta.version, Version(3));
    assert_eq!(reveal(&app.vault, &scope, "TOKEN").await, "original");
    let missing = app.vault.rollback(&alice(), &scope, &key("TOKEN"), Version(9), Version(3)).await;
    assert!(
        matches!(missing, Err(VaultError::NotFound(NotFound { what: Missing::Version, .. }))),
        "{missing:?}"
    );
    app.stop().await;
}

async fn find_by_value_locates_every_version_holding_a_value(backend: Backend) {
    let app = spawn_app(backend).await;
    let bot = project(&app.vault, "Bot").await;
    let web = project(&app.vault, "Web").await;
    create(&app.vault, &bot, "TOKEN", "leaked-value").await;
    create(&app.vault, &web, "OLD_TOKEN", "leaked-value").await;
    create(&app.vault, &Scope::Team, "SHARED", "leaked-value").await;
    create(&app.vault, &web, "OTHER", "something else").await;

    let found = app.vault.find_by_value(&alice(), &value("leaked-value")).await.expect("search");

    let mut places: Vec<(Option<String>, String)> =
        found.into_iter().map(|m| (m.project_slug, m.key)).collect();
    places.sort();
    assert_eq!(
        places,
        [
            (None, "SHARED".to_string()),
            (Some("bot".to_string()), "TOKEN".to_string()),
            (Some("web".to_string()), "OLD_TOKEN".to_string()),
        ]
    );
    app.stop().await;
}

async fn a_ciphertext_copied_onto_another_secret_does_not_open(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Bot").await;
    create(&app.vault, &scope, "A_KEY", "value-a").await;
    create(&app.vault, &scope, "B_KEY", "value-b").await;

    let mut sql = app.sql().await;
    sql.execute(
        "UPDATE secret_versions SET sealed_value = \
         (SELECT v.sealed_value FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
          WHERE s.key = 'A_KEY') \
         WHERE secret_id = (SELECT id FROM secrets WHERE key = 'B_KEY')",
    )
    .await
    .expect("tamper");

    let error = app.vault.reveal(&alice(), &Scope::clone(&scope), &key("B_KEY")).await;
    assert!(matches!(error, Err(VaultError::Crypto(_))), "must fail, never give value-a");
    assert_eq!(reveal(&app.vault, &scope, "A_KEY").await, "value-a");
    app.stop().await;
}

async fn a_mutation_whose_audit_insert_fails_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Bot").await;
    create(&app.vault, &scope, "TOKEN", "v1").await;
    let mut sql = app.sql().await;
    let refuse_audit: &[&str] = match backend {
        Backend::Sqlite => &["CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events \
                              BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'audit unavailable'; END $$",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events \
             FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ],
    };
    for statement in refuse_audit {
        sql.execute(*statement).await.expect("install the trigger");
    }

    let update = app
        .vault
        .update_secret(
            &alice(),
            &scope,
            &key("TOKEN"),
            SecretUpdate {
                expected_version: Version(1),
                value: Some(value("v2")),
                description: Description::default(),
            },
        )
        .await;
    let create_new = app.vault.create_secret(&alice(), &scope, new_secret("NEW", "x")).await;
    let delete = app.vault.delete_secret(&alice(), &scope, &key("TOKEN"), None).await;
    let read = app.vault.reveal(&alice(), &scope, &key("TOKEN")).await;

    assert!(update.is_err() && create_new.is_err() && delete.is_err() && read.is_err());
    // Each failure names the statement that failed, not only what the database said.
    for error in [update.err(), create_new.err(), delete.err()] {
        let message = error.map(|error| error.to_string()).unwrap_or_default();
        assert!(message.starts_with("AuditRows::append_event: "), "{message}");
        assert!(message.contains("audit unavailable"), "{message}");
    }
    let listed = app.vault.list_secrets(&scope).await.expect("list");
    assert_eq!(
        listed.iter().map(|m| (m.key.as_str(), m.version)).collect::<Vec<_>>(),
        [("TOKEN", Version(1))]
    );
    app.stop().await;
}

/// The log line of an internal error (the page only shows a reference) says which statement
/// failed: the repository's trait and method.
async fn an_internal_error_names_the_statement_that_failed(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Bot").await;
    create(&app.vault, &scope, "TOKEN", "v1").await;
    let client = app.sign_in_as("owner@example.com", Role::Owner).await;
    let mut sql = app.sql().await;
    sql.execute("ALTER TABLE secrets RENAME COLUMN description TO note")
        .await
        .expect("break the secrets' metadata query");

    let error = app.vault.list_secrets(&scope).await.expect_err("the column is gone");
    assert!(error.to_string().starts_with("SecretRows::metas: "), "{error}");
    let response = app.post_rpc(&client, "list_secrets", &[("scope", "bot")]).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.text().await.expect("body");
    assert!(!body.contains("SecretRows"), "the page names no internals: {body}");
    // The line of this request (the log is shared by the tests of the process): by its reference.
    let answer: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    let reference = answer["Internal"].as_str().expect("an internal error's reference");
    let logs = crate::helpers::captured_logs();
    let line = logs.lines().find(|line| line.contains(&format!("reference={reference}")));
    assert!(line.is_some_and(|line| line.contains("SecretRows::metas: ")), "{line:?}");
    app.stop().await;
}

async fn the_database_never_holds_the_plaintext(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Bot").await;
    let canary = format!("canary-{}", uuid::Uuid::new_v4());
    create(&app.vault, &scope, "CANARY", &canary).await;
    create(&app.vault, &Scope::Team, "TEAM_CANARY", &canary).await;
    let _ = reveal(&app.vault, &scope, "CANARY").await;

    let stored = crate::helpers::raw_database(&app, backend).await;

    assert!(!stored.is_empty());
    assert!(
        !crate::helpers::holds(&stored, canary.as_bytes()),
        "the plaintext is stored somewhere"
    );
    app.stop().await;
}

async fn no_log_line_ever_holds_a_value(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Bot").await;
    let canary = format!("log-canary-{}", uuid::Uuid::new_v4());

    // Every path a value takes: create, update, read, search, rollback, and refused input.
    create(&app.vault, &scope, "CANARY", &canary).await;
    let update = SecretUpdate {
        expected_version: Version(1),
        value: Some(value(&format!("{canary}-2"))),
        description: Description::default(),
    };
    app.vault.update_secret(&alice(), &scope, &key("CANARY"), update).await.expect("updated");
    let _ = reveal(&app.vault, &scope, "CANARY").await;
    let _ = app.vault.find_by_value(&alice(), &value(&canary)).await.expect("searched");
    app.vault
        .rollback(&alice(), &scope, &key("CANARY"), Version(1), Version(2))
        .await
        .expect("rolled back");
    let too_long = SecretValue::new(format!("{canary}{}", "x".repeat(70_000)));
    assert!(too_long.is_err());
    let stale = SecretUpdate {
        expected_version: Version(1),
        value: Some(value(&format!("{canary}-3"))),
        description: Description::default(),
    };
    assert!(app.vault.update_secret(&alice(), &scope, &key("CANARY"), stale).await.is_err());
    // Requests are logged too.
    let _ = app.get(&format!("/?q={canary}")).await;

    let logs = crate::helpers::captured_logs();
    assert!(logs.contains("secret") || logs.contains("request"), "logs are captured at all");
    assert!(!logs.contains(&canary), "a value reached the log");
    app.stop().await;
}

async fn a_project_sees_team_secrets_overridden_by_its_own(backend: Backend) {
    let app = spawn_app(backend).await;
    let bot = project(&app.vault, "Bot").await;
    let web = project(&app.vault, "Web").await;
    create(&app.vault, &Scope::Team, "SENTRY_DSN", "team-dsn").await;
    create(&app.vault, &Scope::Team, "LOG_LEVEL_TOKEN", "team-token").await;
    create(&app.vault, &bot, "LOG_LEVEL_TOKEN", "bot-token").await;
    create(&app.vault, &web, "WEB_ONLY", "web").await;
    let environment = RunTime::new(app.vault.clone())
        .reveal_environment(&alice(), &bot)
        .await
        .expect("environment");

    let plain: Vec<(&str, &str)> =
        environment.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(plain, [("LOG_LEVEL_TOKEN", "bot-token"), ("SENTRY_DSN", "team-dsn")]);
    let mut sql = app.sql().await;
    let delivery: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT action, project_slug, details FROM audit_events \
         WHERE action IN ('environment.read', 'secret.read')",
    )
    .fetch_all(&mut sql)
    .await
    .expect("the reads");
    let details = "LOG_LEVEL_TOKEN v1, SENTRY_DSN v1 (team)";
    assert_eq!(
        delivery,
        [("environment.read".into(), Some("bot".into()), Some(details.into()))],
        "one event names every delivered key and version"
    );
    app.stop().await;
}

async fn deleting_a_secret_checks_the_version_and_removes_its_history(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Bot").await;
    create(&app.vault, &scope, "TOKEN", "v1").await;
    create(&app.vault, &scope, "OTHER", "keep").await;

    let stale = app.vault.delete_secret(&alice(), &scope, &key("TOKEN"), Some(Version(7))).await;
    assert!(matches!(stale, Err(VaultError::Conflict)), "{stale:?}");
    app.vault
        .delete_secret(&alice(), &scope, &key("TOKEN"), Some(Version(1)))
        .await
        .expect("deleted");
    let again = app.vault.delete_secret(&alice(), &scope, &key("TOKEN"), None).await;
    assert_eq!(again.expect_err("gone").to_string(), "There is no secret named TOKEN");
    app.vault.delete_secret(&alice(), &scope, &key("OTHER"), None).await.expect("deleted");

    let mut sql = app.sql().await;
    let versions: i64 = sqlx::query("SELECT count(*) FROM secret_versions")
        .fetch_one(&mut sql)
        .await
        .expect("count")
        .get(0);
    assert_eq!(versions, 0, "the history goes with the secret");
    let deletions = audit_actions(&app).await.iter().filter(|a| *a == "secret.deleted").count();
    assert_eq!(deletions, 2);
    app.stop().await;
}

async fn deleting_a_project_removes_its_secrets_and_data_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Bot").await;
    create(&app.vault, &scope, "TOKEN", "v1").await;
    let Scope::Project(slug, _) = &scope else { unreachable!() };

    app.projects.delete_project(&alice(), slug).await.expect("deleted");

    let mut sql = app.sql().await;
    for table in ["secrets", "secret_versions", "project_keys"] {
        let count: i64 = sqlx::query(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut sql)
            .await
            .expect("count")
            .get(0);
        assert_eq!(count, 0, "{table} is empty");
    }
    assert!(matches!(
        app.vault.list_secrets(&scope).await,
        Err(VaultError::NotFound(NotFound { what: Missing::Project, .. }))
    ));
    assert_eq!(audit_actions(&app).await.last().map(String::as_str), Some("project.deleted"));
    app.stop().await;
}

async fn a_wrong_master_key_is_refused_at_start(backend: Backend) {
    let app = spawn_app(backend).await;
    let scope = project(&app.vault, "Bot").await;
    create(&app.vault, &scope, "TOKEN", "v1").await;

    let other = crate::helpers::test_config(&app.database, app::crypto::MasterKey::generate());
    let error = sealbox::startup::Application::build(other).await.err().expect("refused");

    assert!(
        format!("{error:#}").contains("the master key does not match this database"),
        "{error:#}"
    );
    app.stop().await;
}

mod rotation {
    use std::process::Stdio;

    use app::{crypto::MasterKey, secrets::service::Vault};
    use sealbox::config::{MasterKeySource, StoreConfig};

    use super::*;
    use crate::helpers::TestDatabase;

    on_both_backends!(rotating_the_master_key_keeps_every_secret_readable_and_retires_the_old_key);

    async fn vault_with(url: &str, current: &str, older: &[&str]) -> anyhow::Result<Vault> {
        let parse = |text: &str| MasterKey::from_base64(text).expect("a test key");
        let config = StoreConfig {
            database_url: url.to_string(),
            master_key: parse(current),
            older_master_keys: older.iter().map(|k| parse(k)).collect(),
            master_key_source: MasterKeySource::Environment,
        };
        sealbox::startup::open_vault(config).await.map(|(_, vault)| vault)
    }

    async fn rotating_the_master_key_keeps_every_secret_readable_and_retires_the_old_key(
        backend: Backend,
    ) {
        // Arrange: data written under key A, and a server still running with key A.
        let database = TestDatabase::create(backend).await;
        let old_key = MasterKey::generate().to_base64().to_string();
        let new_key = MasterKey::generate().to_base64().to_string();
        let running = vault_with(&database.url, &old_key, &[]).await.expect("starts with A");
        let bot = project(&running, "Bot").await;
        create(&running, &bot, "TOKEN", "bot-token").await;
        create(&running, &Scope::Team, "SHARED", "team-value").await;

        // Act: the admin command, with B as the current key and A as the older one.
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealbox"))
            .args(["admin", "rotate-master-key"])
            .env_clear()
            .env("DATABASE_URL", &database.url)
            .env("SEALBOX_MASTER_KEY", &new_key)
            .env("SEALBOX_OLD_MASTER_KEYS", &old_key)
            .env("SEALBOX_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .await
            .expect("sealbox runs");

        // Assert
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{output:?}");
        // Two projects' data keys and the fingerprint, shown-once and audit chain keys.
        assert!(stdout.contains("✔ Re-wrapped 5 keys with master key"), "{stdout}");
        // The server that was running keeps serving (its unwrapped keys are unchanged).
        assert_eq!(reveal(&running, &bot, "TOKEN").await, "bot-token");
        // A server with only the new key reads everything.
        let fresh = vault_with(&database.url, &new_key, &[]).await.expect("starts with B alone");
        assert_eq!(reveal(&fresh, &bot, "TOKEN").await, "bot-token");
        assert_eq!(reveal(&fresh, &Scope::Team, "SHARED").await, "team-value");
        let found = fresh.find_by_value(&alice(), &value("bot-token")).await.expect("search");
        assert_eq!(found.len(), 1, "fingerprints survive the rotation");
        // The old key is retired: a server configured with it alone is refused.
        let refused = vault_with(&database.url, &old_key, &[]).await.err().expect("refused");
        assert!(format!("{refused:#}").contains("does not match this database"), "{refused:#}");
    }
}
