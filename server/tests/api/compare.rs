//! Compare and Copy to environment: the grid (set, team, missing, missing and required, the
//! same value by fingerprint for managers only) and the server-side copy (a new version on the
//! other side, audited on both, nothing changed when it is refused), and Promote variables.
use std::collections::BTreeSet;

use app::{accounts::domain::Role, projects::ProjectName, secrets::service::Scope};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    environments::{actor, bot, project},
    helpers::{
        Backend, TestApp, environment, in_environment, key, read_token, spawn_app, verify_chain,
    },
    on_both_backends,
    tokens::api,
};

on_both_backends!(
    the_grid_shows_set_team_missing_and_required_cells_and_shared_values_to_managers_only,
    a_copy_reseals_on_the_server_and_is_audited_on_both_sides,
    a_refused_copy_changes_nothing,
    promoting_variables_applies_what_is_ticked_in_one_step_and_nothing_on_a_conflict,
);

async fn rpc(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let response = app.post_rpc(client, name, form).await;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn cells(grid: &Value, key: &str) -> Vec<Value> {
    grid["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["key"] == key))
        .and_then(|row| row["cells"].as_array().cloned())
        .unwrap_or_else(|| panic!("{key} is in the grid: {grid}"))
}

async fn the_grid_shows_set_team_missing_and_required_cells_and_shared_values_to_managers_only(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    project(&app).await;
    app.create_secret(&in_environment("bot", "development"), "API_KEY", "dev-key").await;
    app.create_secret(&in_environment("bot", "development"), "DB_URL", "same-everywhere").await;
    app.create_secret(&in_environment("bot", "production"), "DB_URL", "same-everywhere").await;
    app.create_secret(&in_environment("bot", "staging"), "DB_URL", "staging-own").await;
    app.create_secret(&Scope::Team, "SENTRY_DSN", "team").await;
    app.create_secret(&Scope::Team, "TEAM_ONLY", "not required by bot").await;
    let production = Scope::TeamEnvironment(environment("production"));
    app.create_secret(&production, "REQUIRED_KEY", "team-production").await;
    let required = BTreeSet::from([key("REQUIRED_KEY"), key("SENTRY_DSN")]);
    app.projects
        .update_settings(&actor(), &bot(), ProjectName::parse("Bot").expect("n"), required, None)
        .await
        .expect("settings");
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    let member = app.sign_in_as("member@example.com", Role::Member).await;

    let (status, grid) = rpc(&app, &admin, "compare_environments", &[("slug", "bot")]).await;
    assert_eq!(status, StatusCode::OK, "{grid}");
    assert_eq!(grid["environments"], json!(["development", "staging", "production"]));
    let keys: Vec<&str> =
        grid["rows"].as_array().into_iter().flatten().filter_map(|r| r["key"].as_str()).collect();
    assert_eq!(
        keys,
        ["API_KEY", "DB_URL", "REQUIRED_KEY", "SENTRY_DSN"],
        "team-only keys appear only when required"
    );
    let api_key = cells(&grid, "API_KEY");
    assert_eq!(api_key[0]["Set"]["version"], 1);
    assert_eq!(api_key[0]["Set"]["same_as"], Value::Null);
    let missing = json!({ "Missing": { "required": false, "copy_from": "development" } });
    assert_eq!(api_key[1], missing);
    assert_eq!(api_key[2], missing);
    // development and production share a value (fingerprints); staging holds its own.
    let db_url = cells(&grid, "DB_URL");
    assert_eq!(db_url[0]["Set"]["same_as"], "production");
    assert_eq!(db_url[1]["Set"]["same_as"], Value::Null);
    assert_eq!(db_url[2]["Set"]["same_as"], "development");
    // Required: missing where no team secret applies.
    let required_key = cells(&grid, "REQUIRED_KEY");
    let missing_required = json!({ "Missing": { "required": true, "copy_from": null } });
    assert_eq!(required_key[..2], [missing_required.clone(), missing_required]);
    assert_eq!(required_key[2], json!({ "Team": { "from": "production" } }));
    assert_eq!(cells(&grid, "SENTRY_DSN")[1], json!({ "Team": { "from": "*" } }));

    // Members see the grid, not which environments share a value.
    let (status, seen) = rpc(&app, &member, "compare_environments", &[("slug", "bot")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cells(&seen, "DB_URL")[0]["Set"]["same_as"], Value::Null);
    assert_eq!(seen["can_manage"], false);
    // Nothing in it is a value.
    for text in [grid.to_string(), seen.to_string()] {
        for value in ["dev-key", "same-everywhere", "staging-own", "team-production"] {
            assert!(!text.contains(value), "{value} in {text}");
        }
    }
    let (status, _) = rpc(&app, &admin, "compare_environments", &[("slug", "nope")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn copy_form<'a>(key: &'a str, from: &'a str, to: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("scope", "bot"), ("environment", from), ("key", key), ("to", to)]
}

async fn a_copy_reseals_on_the_server_and_is_audited_on_both_sides(backend: Backend) {
    let app = spawn_app(backend).await;
    project(&app).await;
    app.create_secret(&in_environment("bot", "development"), "API_KEY", "the-dev-value").await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;

    let (status, body) =
        rpc(&app, &admin, "copy_secret", &copy_form("API_KEY", "development", "production")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, Some("API_KEY copied to production")));

    // Production's token reads it; the development token is refused production.
    let production = read_token(&app, "bot", "production").await;
    let (status, read) =
        api(&app, Method::GET, "/api/v1/projects/bot/secrets/API_KEY", Some(&production), None)
            .await;
    assert_eq!((status, read["value"].as_str()), (StatusCode::OK, Some("the-dev-value")));
    assert_eq!(read["version"], 1);
    let development = read_token(&app, "bot", "development").await;
    let (status, answer) = api(
        &app,
        Method::GET,
        "/api/v1/projects/bot/environments/production/secrets/API_KEY",
        Some(&development),
        None,
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("wrong_environment"))
    );

    // A new ciphertext, not the source's bytes (the production token's read above is what proves
    // it is sealed for production's address).
    let mut sql = app.sql().await;
    let distinct: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT v.sealed_value) FROM secret_versions v \
         JOIN secrets s ON s.id = v.secret_id WHERE s.key = 'API_KEY'",
    )
    .fetch_one(&mut sql)
    .await
    .expect("count");
    assert_eq!(distinct, 2);

    // One event on each side, neither holding the value.
    let events: Vec<(Option<String>, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT environment, version, details FROM audit_events \
         WHERE action = 'secret.copied' ORDER BY id",
    )
    .fetch_all(&mut sql)
    .await
    .expect("events");
    assert_eq!(
        events,
        [
            (Some("development".into()), Some(1), Some("to production version 1".into())),
            (Some("production".into()), Some(1), Some("from development version 1".into())),
        ]
    );

    // Replacing a different value there makes a new version; the grid then shows the two
    // environments sharing it.
    app.vault
        .update_secret(
            &actor(),
            &in_environment("bot", "development"),
            &key("API_KEY"),
            app::secrets::service::SecretUpdate {
                expected_version: app::ids::Version::FIRST,
                value: Some(app::secrets::domain::SecretValue::new("rotated".into()).expect("v")),
                description: app::secrets::domain::Description::parse(None).expect("d"),
            },
        )
        .await
        .expect("update");
    let mut form = copy_form("API_KEY", "development", "production");
    form.push(("replace", "yes"));
    let (status, body) = rpc(&app, &admin, "copy_secret", &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "API_KEY copied to production as version 2");
    let (_, read) =
        api(&app, Method::GET, "/api/v1/projects/bot/secrets/API_KEY", Some(&production), None)
            .await;
    assert_eq!((read["value"].as_str(), read["version"].as_i64()), (Some("rotated"), Some(2)));
    let (_, grid) = rpc(&app, &admin, "compare_environments", &[("slug", "bot")]).await;
    assert_eq!(cells(&grid, "API_KEY")[2]["Set"]["same_as"], "development");
    assert_eq!(verify_chain(&app).await.broken, None);
}

/// How many versions and copy events there are.
async fn snapshot(app: &TestApp) -> (i64, i64) {
    let mut sql = app.sql().await;
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM secret_versions")
        .fetch_one(&mut sql)
        .await
        .expect("versions");
    let copied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'secret.copied'")
            .fetch_one(&mut sql)
            .await
            .expect("events");
    (versions, copied)
}

async fn a_refused_copy_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    project(&app).await;
    app.create_secret(&in_environment("bot", "development"), "API_KEY", "dev").await;
    app.create_secret(&in_environment("bot", "production"), "API_KEY", "prod").await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    let member = app.sign_in_as("member@example.com", Role::Member).await;
    let before = snapshot(&app).await;

    let mut same_value = copy_form("API_KEY", "development", "staging");
    same_value.push(("replace", "yes"));
    type Refusal<'a> = (&'a reqwest::Client, Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let refusals: Vec<Refusal> = vec![
        (
            &admin,
            copy_form("API_KEY", "development", "production"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "production already has API_KEY (version 1); tick Replace",
        ),
        (
            &admin,
            copy_form("API_KEY", "development", "development"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose another environment",
        ),
        (
            &admin,
            copy_form("NO_SUCH_KEY", "development", "staging"),
            StatusCode::NOT_FOUND,
            "There is no secret named NO_SUCH_KEY",
        ),
        (
            &admin,
            copy_form("API_KEY", "development", "qa"),
            StatusCode::NOT_FOUND,
            "no environment named qa",
        ),
        (
            &admin,
            copy_form("API_KEY", "development", ""),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose the environment to copy to",
        ),
        (
            &member,
            copy_form("API_KEY", "development", "staging"),
            StatusCode::FORBIDDEN,
            "Only owners and admins",
        ),
    ];
    for (client, form, status, message) in refusals {
        let (answer, body) = rpc(&app, client, "copy_secret", &form).await;
        assert_eq!(answer, status, "{form:?}: {body}");
        assert!(body.to_string().contains(message), "{form:?}: {body}");
    }
    assert_eq!(snapshot(&app).await, before, "nothing was written");

    // The same value is already there: refused too.
    let (status, _) = rpc(&app, &admin, "copy_secret", &same_value).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = rpc(&app, &admin, "copy_secret", &same_value).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.to_string().contains("staging already holds the same value for API_KEY"),
        "{body}"
    );
}

/// Promote variables: the difference, the apply of what is ticked in one transaction, and the
/// refusal of an apply whose difference changed meanwhile.
async fn promoting_variables_applies_what_is_ticked_in_one_step_and_nothing_on_a_conflict(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    project(&app).await;
    let dev = environment("development");
    let staging = environment("staging");
    let set = |place: &'static str, name: &'static str, value: &'static str| {
        let app = &app;
        async move {
            let variable = app::projects::VariableValue::parse(value.into()).expect("value");
            app.projects
                .create_variable(&actor(), &bot(), &environment(place), &key(name), variable, true)
                .await
                .expect("variable");
        }
    };
    set("development", "LOG_LEVEL", "debug").await;
    set("development", "NEW_FLAG", "on").await;
    set("development", "SAME", "1").await;
    set("staging", "LOG_LEVEL", "info").await;
    set("staging", "OLD_ONLY", "legacy").await;
    set("staging", "SAME", "1").await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    let member = app.sign_in_as("member@example.com", Role::Member).await;

    let (status, shown) = rpc(
        &app,
        &member,
        "variable_promotion",
        &[("slug", "bot"), ("from", "development"), ("to", "staging")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(
        shown["differences"],
        json!([
            { "key": "LOG_LEVEL", "change": { "Changed": { "old": "info", "new": "debug", "include_in_export": true } } },
            { "key": "NEW_FLAG", "change": { "Added": { "value": "on", "include_in_export": true } } },
            { "key": "OLD_ONLY", "change": { "Removed": { "old": "legacy" } } },
        ])
    );
    let seen = shown["seen"].as_str().expect("a digest").to_string();
    // Without a target, the page promotes to the environment after the source (before the last).
    for (from, to) in
        [("development", "staging"), ("staging", "production"), ("production", "staging")]
    {
        let (status, shown) =
            rpc(&app, &member, "variable_promotion", &[("slug", "bot"), ("from", from)]).await;
        assert_eq!((status, shown["from"].as_str()), (StatusCode::OK, Some(from)), "{shown}");
        assert_eq!(shown["to"], to, "from {from}");
    }
    let form = |seen: &str, keys: &[&str]| {
        let mut form = vec![
            ("slug".to_string(), "bot".to_string()),
            ("from".to_string(), "development".to_string()),
            ("to".to_string(), "staging".to_string()),
            ("seen".to_string(), seen.to_string()),
        ];
        form.extend(keys.iter().map(|key| (format!("apply[{key}]"), "yes".to_string())));
        form
    };
    let post = |client: &reqwest::Client, form: Vec<(String, String)>| {
        let (app, client) = (&app, client.clone());
        async move {
            let response = app.post_rpc(&client, "promote_variables", &form).await;
            let status = response.status();
            (status, response.text().await.unwrap_or_default())
        }
    };

    // Members may look, not apply.
    let (status, _) = post(&member, form(&seen, &["NEW_FLAG"])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Someone changes staging after the difference was shown: nothing is applied.
    set("staging", "LATE", "x").await;
    let (status, body) = post(&admin, form(&seen, &["LOG_LEVEL", "NEW_FLAG"])).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("changed since the difference was shown; nothing was applied"), "{body}");
    let staging_now = app.projects.variables(&bot(), &staging).await.expect("variables");
    assert_eq!(
        staging_now.iter().map(|v| (v.key.as_str(), v.value.as_str())).collect::<Vec<_>>(),
        [("LATE", "x"), ("LOG_LEVEL", "info"), ("OLD_ONLY", "legacy"), ("SAME", "1")]
    );
    // Nothing ticked, or a key that is not in the difference: refused.
    let (_, shown) = rpc(
        &app,
        &admin,
        "variable_promotion",
        &[("slug", "bot"), ("from", "development"), ("to", "staging")],
    )
    .await;
    let seen = shown["seen"].as_str().expect("a digest").to_string();
    let (status, body) = post(&admin, form(&seen, &[])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = post(&admin, form(&seen, &["SAME"])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("SAME is the same in development and staging"), "{body}");

    // Apply the change and the addition, keep OLD_ONLY and LATE (not ticked).
    let (status, body) = post(&admin, form(&seen, &["LOG_LEVEL", "NEW_FLAG"])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("2 variable change(s) promoted from development to staging"), "{body}");
    let staging_now = app.projects.variables(&bot(), &staging).await.expect("variables");
    assert_eq!(
        staging_now.iter().map(|v| (v.key.as_str(), v.value.as_str())).collect::<Vec<_>>(),
        [
            ("LATE", "x"),
            ("LOG_LEVEL", "debug"),
            ("NEW_FLAG", "on"),
            ("OLD_ONLY", "legacy"),
            ("SAME", "1")
        ]
    );
    let development_now = app.projects.variables(&bot(), &dev).await.expect("variables");
    assert_eq!(development_now.len(), 3, "the source is untouched");
    let mut sql = app.sql().await;
    let events: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT environment, details FROM audit_events WHERE action = 'variable.promoted'",
    )
    .fetch_all(&mut sql)
    .await
    .expect("events");
    assert_eq!(
        events,
        [(
            Some("staging".into()),
            Some("from development: added NEW_FLAG; changed LOG_LEVEL".into())
        )]
    );
}
