//! The projects, secrets and variables server functions over HTTP, as the pages use them.
use app::{
    accounts::domain::Role,
    projects::ProjectSlug,
    secrets::{
        domain::SecretKey,
        service::{Actor, Scope},
    },
};
use serde_json::Value;

use crate::{
    helpers::{Backend, TestApp, spawn_app},
    on_both_backends,
};

on_both_backends!(
    an_admin_creates_a_project_and_it_is_listed_with_its_secret_count,
    secret_form_errors_name_their_field_with_the_stores_messages,
    an_empty_new_value_keeps_the_old_one_and_nothing_changed_says_so,
    a_stale_edit_or_delete_gets_the_conflict_message_and_changes_nothing,
    the_table_marks_team_secrets_overrides_missing_required_and_overdue_ones,
    deleting_a_project_needs_its_name_typed_exactly,
    variables_export_only_those_marked_and_never_secrets,
    no_page_or_server_function_ever_returns_a_saved_value,
);

async fn call(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let response = client.post(app.url(path)).form(form).send().await.expect("the call");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

async fn admin(app: &TestApp) -> reqwest::Client {
    app.add_user("admin@example.com", Role::Admin).await;
    app.signed_in("admin@example.com").await
}

async fn new_project(client: &reqwest::Client, app: &TestApp, name: &str) {
    let (status, body) = call(client, app, "/rpc/create_project", &[("name", name)]).await;
    assert_eq!(status, 200, "{body}");
}

async fn add_secret(client: &reqwest::Client, app: &TestApp, scope: &str, key: &str, value: &str) {
    let form = [
        ("scope", scope),
        ("key", key),
        ("value", value),
        ("description", ""),
        ("secret_type", ""),
    ];
    let (status, body) = call(client, app, "/rpc/create_secret", &form).await;
    assert_eq!(status, 200, "{body}");
}

async fn table(client: &reqwest::Client, app: &TestApp, scope: &str) -> Value {
    let (status, body) = call(client, app, "/rpc/list_secrets", &[("scope", scope)]).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn row<'a>(table: &'a Value, key: &str) -> &'a Value {
    table["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["meta"]["key"] == key))
        .unwrap_or_else(|| panic!("{key} is in the table: {table}"))
}

async fn an_admin_creates_a_project_and_it_is_listed_with_its_secret_count(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin(&app).await;

    new_project(&admin, &app, "Discord Bot").await;
    add_secret(&admin, &app, "discord-bot", "DISCORD_BOT_TOKEN", "token-value-1").await;

    let (status, list) = call(&admin, &app, "/rpc/list_projects", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(list["projects"][0]["name"], "Discord Bot");
    assert_eq!(list["projects"][0]["slug"], "discord-bot");
    assert_eq!(list["projects"][0]["secrets"], 1);
    let (status, body) =
        call(&admin, &app, "/rpc/create_project", &[("name", "discord bot")]).await;
    assert_eq!(status, 422);
    assert_eq!(body["Invalid"]["field"], "name", "{body}");
}

async fn secret_form_errors_name_their_field_with_the_stores_messages(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin(&app).await;
    new_project(&admin, &app, "Bot").await;

    for (key, value, field, message) in [
        ("", "v", "key", "Secret key is required"),
        ("API_KEY", "", "value", "Secret value is required"),
        (
            "lower",
            "v",
            "key",
            "Keys must use uppercase letters, digits and underscores, and must not start with a digit",
        ),
        ("SEALBOX_X", "v", "key", "Keys starting with SEALBOX_ are reserved"),
    ] {
        let form = [
            ("scope", "bot"),
            ("key", key),
            ("value", value),
            ("description", ""),
            ("secret_type", ""),
        ];
        let (status, body) = call(&admin, &app, "/rpc/create_secret", &form).await;
        assert_eq!(status, 422, "{key}");
        assert_eq!(body["Invalid"]["field"], field, "{body}");
        assert_eq!(body["Invalid"]["message"], message, "{body}");
    }
    add_secret(&admin, &app, "bot", "API_KEY", "value-one").await;
    let form = [
        ("scope", "bot"),
        ("key", "API_KEY"),
        ("value", "x"),
        ("description", ""),
        ("secret_type", ""),
    ];
    let (status, body) = call(&admin, &app, "/rpc/create_secret", &form).await;
    assert_eq!(status, 422);
    assert_eq!(body["Invalid"]["message"], "A secret named API_KEY already exists in development");
    assert_eq!(table(&admin, &app, "bot").await["rows"].as_array().map(Vec::len), Some(1));
}

async fn an_empty_new_value_keeps_the_old_one_and_nothing_changed_says_so(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin(&app).await;
    new_project(&admin, &app, "Bot").await;
    add_secret(&admin, &app, "bot", "API_KEY", "the-original-value").await;

    let form = [
        ("scope", "bot"),
        ("key", "API_KEY"),
        ("version", "1"),
        ("value", ""),
        ("description", "Payments"),
    ];
    let (status, body) = call(&admin, &app, "/rpc/update_secret", &form).await;
    assert_eq!(status, 200, "{body}");
    let form = [
        ("scope", "bot"),
        ("key", "API_KEY"),
        ("version", "2"),
        ("value", ""),
        ("description", "Payments"),
    ];
    let (status, body) = call(&admin, &app, "/rpc/update_secret", &form).await;
    assert_eq!(status, 422);
    assert_eq!(body["Validation"], "No changes to save");

    let listed = table(&admin, &app, "bot").await;
    assert_eq!(row(&listed, "API_KEY")["meta"]["description"], "Payments");
    assert_eq!(row(&listed, "API_KEY")["meta"]["version"], 2);
    let scope = Scope::development(ProjectSlug::parse("bot").expect("slug"));
    let key = SecretKey::parse("API_KEY").expect("key");
    let revealed = app.vault.reveal(&Actor::new("test", None), &scope, &key).await.expect("reveal");
    assert_eq!(revealed.value.expose(), "the-original-value");
}

async fn a_stale_edit_or_delete_gets_the_conflict_message_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin(&app).await;
    new_project(&admin, &app, "Bot").await;
    add_secret(&admin, &app, "bot", "API_KEY", "value-one").await;
    let form = [
        ("scope", "bot"),
        ("key", "API_KEY"),
        ("version", "1"),
        ("value", "value-two"),
        ("description", ""),
    ];
    assert_eq!(call(&admin, &app, "/rpc/update_secret", &form).await.0, 200);

    // Someone still looking at version 1:
    let form = [
        ("scope", "bot"),
        ("key", "API_KEY"),
        ("version", "1"),
        ("value", "value-three"),
        ("description", ""),
    ];
    let (status, body) = call(&admin, &app, "/rpc/update_secret", &form).await;
    assert_eq!(status, 409);
    assert_eq!(body["Conflict"], "This secret was changed by someone else; reload and try again");
    let form = [("scope", "bot"), ("key", "API_KEY"), ("version", "1")];
    let (status, _) = call(&admin, &app, "/rpc/delete_secret", &form).await;
    assert_eq!(status, 409);

    assert_eq!(row(&table(&admin, &app, "bot").await, "API_KEY")["meta"]["version"], 2);
    let form = [("scope", "bot"), ("key", "API_KEY"), ("version", "2")];
    assert_eq!(call(&admin, &app, "/rpc/delete_secret", &form).await.0, 200);
    assert_eq!(table(&admin, &app, "bot").await["rows"].as_array().map(Vec::len), Some(0));
}

async fn the_table_marks_team_secrets_overrides_missing_required_and_overdue_ones(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let admin = admin(&app).await;
    new_project(&admin, &app, "Bot").await;
    add_secret(&admin, &app, "_team", "SENTRY_DSN", "https://team.example/1").await;
    add_secret(&admin, &app, "_team", "LOG_TOKEN", "team-log-token").await;
    add_secret(&admin, &app, "bot", "LOG_TOKEN", "project-log-token").await;
    add_secret(&admin, &app, "bot", "OLD_KEY", "an-old-value").await;
    let settings = [
        ("slug", "bot"),
        ("name", "Bot"),
        ("required", "DISCORD_BOT_TOKEN, SENTRY_DSN\nLOG_TOKEN"),
        ("max_secret_age_days", "30"),
    ];
    let (status, body) = call(&admin, &app, "/rpc/update_project_settings", &settings).await;
    assert_eq!(status, 200, "{body}");
    // Make OLD_KEY 31 days (2,678,400,000 ms) old.
    let mut sql = app.sql().await;
    sqlx::query("UPDATE secrets SET updated_at = updated_at - 2678400000 WHERE key = 'OLD_KEY'")
        .execute(&mut sql)
        .await
        .expect("age a secret");

    let listed = table(&admin, &app, "bot").await;

    assert_eq!(row(&listed, "SENTRY_DSN")["team"], "*");
    assert_eq!(row(&listed, "LOG_TOKEN")["team"], Value::Null);
    assert_eq!(row(&listed, "LOG_TOKEN")["overrides_team"], "*");
    assert_eq!(row(&listed, "OLD_KEY")["overdue"], true);
    assert_eq!(row(&listed, "LOG_TOKEN")["overdue"], false);
    assert_eq!(listed["missing_required"], serde_json::json!(["DISCORD_BOT_TOKEN"]));
    let team = table(&admin, &app, "_team").await;
    assert_eq!(team["rows"].as_array().map(Vec::len), Some(2));

    let bad = [
        ("slug", "bot"),
        ("name", "Bot"),
        ("required", "lower_case"),
        ("max_secret_age_days", "0"),
    ];
    let (status, body) = call(&admin, &app, "/rpc/update_project_settings", &bad).await;
    assert_eq!(status, 422);
    assert_eq!(body["Invalid"]["field"], "required", "{body}");
}

async fn deleting_a_project_needs_its_name_typed_exactly(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin(&app).await;
    new_project(&admin, &app, "Discord Bot").await;

    let (status, body) = call(
        &admin,
        &app,
        "/rpc/delete_project",
        &[("slug", "discord-bot"), ("confirm", "discord bot")],
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["Invalid"]["field"], "confirm");
    assert_eq!(call(&admin, &app, "/rpc/project", &[("slug", "discord-bot")]).await.0, 200);

    let (status, _) = call(
        &admin,
        &app,
        "/rpc/delete_project",
        &[("slug", "discord-bot"), ("confirm", "Discord Bot")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(call(&admin, &app, "/rpc/project", &[("slug", "discord-bot")]).await.0, 404);
}

async fn variables_export_only_those_marked_and_never_secrets(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = admin(&app).await;
    new_project(&admin, &app, "Bot").await;
    add_secret(&admin, &app, "bot", "SECRET_TOKEN", "never-exported-value").await;
    for (key, value, include) in [
        ("LOG_LEVEL", "debug", Some("true")),
        ("GREETING", "hello \"world\"", Some("true")),
        ("LOCAL_ONLY", "x", None),
    ] {
        let mut form = vec![("slug", "bot"), ("key", key), ("value", value)];
        if let Some(include) = include {
            form.push(("include_in_export", include));
        }
        let (status, body) = call(&admin, &app, "/rpc/create_variable", &form).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) =
        call(&admin, &app, "/rpc/create_variable", &[("slug", "bot"), ("key", ""), ("value", "")])
            .await;
    assert_eq!(status, 422);
    assert_eq!(body["Invalid"]["message"], "Variable key is required");

    let response = admin.get(app.url("/projects/bot/variables.env")).send().await.expect("export");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"bot.development.env\""
    );
    let env = response.text().await.expect("text");
    assert_eq!(env, "GREETING=\"hello \\\"world\\\"\"\nLOG_LEVEL=debug\n");

    // Variables are audited like secrets, by key and never by value.
    let form =
        [("slug", "bot"), ("key", "LOG_LEVEL"), ("value", "info"), ("include_in_export", "true")];
    assert_eq!(call(&admin, &app, "/rpc/update_variable", &form).await.0, 200);
    assert_eq!(
        call(&admin, &app, "/rpc/update_variable", &form).await.1["Validation"],
        "No changes to save"
    );
    let mut sql = app.sql().await;
    let actions: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT action, secret_key FROM audit_events WHERE action LIKE 'variable.%' ORDER BY id",
    )
    .fetch_all(&mut sql)
    .await
    .expect("audit");
    assert_eq!(actions.len(), 4);
    assert_eq!(actions[3], ("variable.updated".to_string(), Some("LOG_LEVEL".to_string())));
}

async fn no_page_or_server_function_ever_returns_a_saved_value(backend: Backend) {
    // Arrange: a unique value saved through the server function the page uses.
    let app = spawn_app(backend).await;
    let admin = admin(&app).await;
    let member = app.sign_in_as("member@example.com", Role::Member).await;
    let canary = format!("canary-{}", uuid::Uuid::new_v4().simple());
    new_project(&admin, &app, "Bot").await;
    add_secret(&admin, &app, "bot", "CANARY_TOKEN", &canary).await;
    add_secret(&admin, &app, "_team", "TEAM_CANARY", &format!("team-{canary}")).await;
    let form = [
        ("scope", "bot"),
        ("key", "CANARY_TOKEN"),
        ("version", "1"),
        ("value", ""),
        ("description", "described"),
    ];
    let (_, updated) = call(&admin, &app, "/rpc/update_secret", &form).await;

    // Act: everything a browser could fetch, as each role.
    let mut seen = vec![updated.to_string()];
    for client in [&admin, &member] {
        for page in [
            "/projects",
            "/projects/bot",
            "/projects/bot?dialog=edit:CANARY_TOKEN",
            "/projects/bot?dialog=delete:CANARY_TOKEN",
            "/projects/bot/variables",
            "/projects/bot/settings",
            "/projects/bot/variables.env",
            "/settings/team-secrets",
            "/settings/team-secrets?dialog=edit:TEAM_CANARY",
        ] {
            let response = client.get(app.url(page)).send().await.expect("page");
            seen.push(response.text().await.unwrap_or_default());
        }
        for (path, form) in [
            ("/rpc/list_secrets", vec![("scope", "bot")]),
            ("/rpc/list_secrets", vec![("scope", "_team")]),
            ("/rpc/list_projects", vec![]),
            ("/rpc/project", vec![("slug", "bot")]),
        ] {
            seen.push(call(client, &app, path, &form).await.1.to_string());
        }
    }

    // Assert
    let page = &seen[2];
    assert!(page.contains("CANARY_TOKEN"), "the admin's table lists the key");
    for body in &seen {
        assert!(!body.contains(&canary), "a value leaked: …{}…", &body[..body.len().min(200)]);
    }
    let mut sql = app.sql().await;
    let audit: Vec<String> = sqlx::query_scalar("SELECT coalesce(details, '') FROM audit_events")
        .fetch_all(&mut sql)
        .await
        .expect("audit");
    assert!(audit.iter().all(|details| !details.contains(&canary)));
    assert!(!crate::helpers::captured_logs().contains(&canary), "no log line holds the value");
}
