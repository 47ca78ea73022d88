//! Team secrets per environment name: the team's secret for every environment, the team's for
//! the environments of one name, and a project environment's own — the more specific wins, at
//! run time, in the table's badges and in the required-secret count.
use std::collections::BTreeSet;

use app::{accounts::domain::Role, projects::ProjectName, secrets::service::Scope};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::{
    environments::{actor, bot, project},
    helpers::{Backend, TestApp, environment, in_environment, key, read_token, spawn_app},
    on_both_backends,
    tokens::api,
};

on_both_backends!(
    the_team_secret_for_an_environment_name_beats_the_one_for_all_and_loses_to_the_projects,
    the_tables_say_which_team_secret_applies_and_required_secrets_count_team_environments,
);

fn team_for(name: &str) -> Scope {
    Scope::TeamEnvironment(environment(name))
}

/// `bot` (development, staging, production) and the team secrets: A, B and C for every
/// environment, B and C for production, C in bot's production.
async fn arrange(app: &TestApp) {
    project(app).await;
    for name in ["A", "B", "C"] {
        app.create_secret(&Scope::Team, name, "team-all").await;
    }
    for name in ["B", "C"] {
        app.create_secret(&team_for("production"), name, "team-production").await;
    }
    app.create_secret(&in_environment("bot", "production"), "C", "own-production").await;
}

async fn read_env(app: &TestApp, environment_name: &str) -> Value {
    let token = read_token(app, "bot", environment_name).await;
    let (status, body) =
        api(app, Method::GET, "/api/v1/projects/bot/env", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn the_team_secret_for_an_environment_name_beats_the_one_for_all_and_loses_to_the_projects(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    arrange(&app).await;

    let production = read_env(&app, "production").await;
    assert_eq!(production["A"], "team-all", "only the team has A for every environment");
    assert_eq!(production["B"], "team-production", "the team's production B beats its B for all");
    assert_eq!(production["C"], "own-production", "the project's own C beats both");
    let development = read_env(&app, "development").await;
    for name in ["A", "B", "C"] {
        assert_eq!(development[name], "team-all", "{name}: production's do not reach development");
    }

    // The delivery's event says where each value came from.
    let mut sql = app.sql().await;
    let details: String = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'environment.read' \
         AND environment = 'production'",
    )
    .fetch_one(&mut sql)
    .await
    .expect("the read's event");
    assert_eq!(details, "A v1 (team), B v1 (team, production), C v1");

    // The same key twice for one environment name is refused with the name in the message.
    let twice = app
        .vault
        .create_secret(&actor(), &team_for("production"), crate::helpers::new_secret("B", "x"))
        .await
        .expect_err("B exists for production");
    assert_eq!(twice.to_string(), "A team secret named B already exists for production");

    // Renaming bot's production takes it out of the team's production secrets.
    let prod = environment("production");
    app.environments.rename(&actor(), &bot(), &prod, &environment("live")).await.expect("rename");
    let live = read_env(&app, "live").await;
    assert_eq!(live["B"], "team-all");
    assert_eq!(live["C"], "own-production", "its own secret went with it");

    // Deleting the team's production B brings back the team's B for all, once renamed back.
    app.environments.rename(&actor(), &bot(), &environment("live"), &prod).await.expect("back");
    app.vault.delete_secret(&actor(), &team_for("production"), &key("B"), None).await.expect("d");
    assert_eq!(read_env(&app, "production").await["B"], "team-all");
}

async fn rpc(client: &reqwest::Client, app: &TestApp, name: &str, form: &[(&str, &str)]) -> Value {
    let response = app.post_rpc(client, name, form).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::OK, "{name} {form:?}: {body}");
    body
}

fn badges(table: &Value, key: &str) -> (Value, Value) {
    let row = table["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["meta"]["key"] == key))
        .unwrap_or_else(|| panic!("{key} is in {table}"));
    (row["team"].clone(), row["overrides_team"].clone())
}

async fn the_tables_say_which_team_secret_applies_and_required_secrets_count_team_environments(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    arrange(&app).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    let table = |scope: &'static str, environment: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            rpc(&admin, app, "list_secrets", &[("scope", scope), ("environment", environment)])
                .await
        }
    };

    // bot's production: A from the team (all), B from the team's production (beating all),
    // C its own (beating the team's production).
    let production = table("bot", "production").await;
    assert_eq!(badges(&production, "A"), (Value::from("*"), Value::Null));
    assert_eq!(badges(&production, "B"), (Value::from("production"), Value::from("*")));
    assert_eq!(badges(&production, "C"), (Value::Null, Value::from("production")));
    assert_eq!(production["rows"].as_array().map(Vec::len), Some(3));
    let development = table("bot", "development").await;
    assert_eq!(badges(&development, "B"), (Value::from("*"), Value::Null));

    // The team's page for production: its own B and C, each beating the one for all, and A
    // from all; the switcher offers every environment name in use.
    let team_production = table("_team", "production").await;
    assert_eq!(badges(&team_production, "A"), (Value::from("*"), Value::Null));
    assert_eq!(badges(&team_production, "B"), (Value::Null, Value::from("*")));
    assert_eq!(team_production["environment"], "production");
    assert_eq!(
        team_production["environments"],
        serde_json::json!(["development", "staging", "production"])
    );
    let team_all = table("_team", "").await;
    assert_eq!(team_all["environment"], "*");
    assert_eq!(badges(&team_all, "B"), (Value::Null, Value::Null));
    // A name nothing was set for is empty, and a name that breaks the rules is not found.
    let staging = table("_team", "staging").await;
    assert_eq!(badges(&staging, "A"), (Value::from("*"), Value::Null));
    let response = app
        .post_rpc(&admin, "list_secrets", &[("scope", "_team"), ("environment", "Not A Name")])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // A team secret set for production through the page's form lands there only.
    rpc(
        &admin,
        &app,
        "create_secret",
        &[
            ("scope", "_team"),
            ("environment", "production"),
            ("key", "P_ONLY"),
            ("value", "for production"),
            ("description", ""),
            ("secret_type", ""),
        ],
    )
    .await;
    assert_eq!(read_env(&app, "production").await["P_ONLY"], "for production");
    assert!(read_env(&app, "staging").await.get("P_ONLY").is_none());

    // Required: P_ONLY is set (by the team) for production only, so two environments lack it.
    let required = BTreeSet::from([key("P_ONLY")]);
    app.projects
        .update_settings(&actor(), &bot(), ProjectName::parse("Bot").expect("n"), required, None)
        .await
        .expect("settings");
    let listed = app.projects.list().await.expect("projects");
    assert_eq!(listed[0].environments_missing_required, 2);
    let warned = table("bot", "staging").await;
    assert_eq!(warned["missing_required"], serde_json::json!(["P_ONLY"]));
    let fine = table("bot", "production").await;
    assert_eq!(fine["missing_required"], serde_json::json!([]));

    // Members see the badges too, and cannot set a team secret for an environment.
    let member = app.sign_in_as("member@example.com", Role::Member).await;
    let response = app
        .post_rpc(
            &member,
            "create_secret",
            &[
                ("scope", "_team"),
                ("environment", "staging"),
                ("key", "NOPE"),
                ("value", "x"),
                ("description", ""),
                ("secret_type", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let as_member =
        rpc(&member, &app, "list_secrets", &[("scope", "bot"), ("environment", "production")])
            .await;
    assert_eq!(badges(&as_member, "B"), (Value::from("production"), Value::from("*")));
}
