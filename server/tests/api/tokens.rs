//! Service tokens and the JSON API under `/api/v1`: the contract of every endpoint and error code,
//! token scope, expiry and revocation, the audit events with the token's name as actor, the
//! OpenAPI document against the routes, and the canary that no listing ever carries a value.
use app::{
    accounts::domain::Role,
    projects::{ProjectName, ProjectSlug, VariableValue},
    secrets::{
        domain::Description,
        service::{Actor, NewSecret, Scope},
    },
    tokens::{TokenName, TokenScope},
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::{Backend, TestApp, captured_logs, dev, key, new_secret, spawn_app},
    on_both_backends,
};

on_both_backends!(
    an_admin_creates_a_token_shown_once_stored_as_a_hash_and_revokes_it,
    every_endpoint_answers_as_the_contract_says,
    each_token_problem_gets_its_own_401,
    a_token_is_for_its_project_and_its_scope,
    bad_bodies_and_keys_get_clear_json_errors_and_change_nothing,
    every_value_read_and_write_is_audited_with_the_tokens_name,
    the_openapi_document_describes_exactly_the_routes,
    listings_and_logs_never_carry_a_value,
    a_read_whose_audit_event_cannot_be_written_fails_and_shows_no_value,
    many_concurrent_reads_are_each_audited_in_one_chain,
    the_same_put_again_succeeds_without_a_new_version,
    concurrent_writes_that_read_first_all_succeed,
);

pub(crate) const CANARY: &str = "api-canary-5d2f8a71";

/// A project `bot` with a secret, an overridden and a plain team secret, and a variable.
pub(crate) async fn project_with_secrets(app: &TestApp) {
    let actor = Actor::new("test", None);
    app.projects.create_project(&actor, ProjectName::parse("Bot").expect("name")).await.expect("p");
    app.projects
        .create_project(&actor, ProjectName::parse("Other").expect("name"))
        .await
        .expect("p");
    let slug = ProjectSlug::parse("bot").expect("slug");
    let secrets = [
        (Scope::development(slug.clone()), "API_KEY", format!("{CANARY}-project")),
        (Scope::development(slug.clone()), "SHARED", "project wins".to_string()),
        (Scope::Team, "SHARED", "team loses".to_string()),
        (Scope::Team, "TEAM_ONLY", "from the team".to_string()),
    ];
    for (scope, name, value) in secrets {
        let new = NewSecret {
            description: Description::parse(Some("what it is for")).expect("description"),
            ..new_secret(name, value)
        };
        app.vault.create_secret(&actor, &scope, new).await.expect("secret");
    }
    let port = VariableValue::parse("8080".into()).expect("variable");
    app.projects
        .create_variable(&actor, &slug, &dev(), &key("PORT"), port, true)
        .await
        .expect("variable");
}

/// A token for `project` with `scope`, made through the service as the Tokens tab does.
pub(crate) async fn token(app: &TestApp, project: &str, name: &str, scope: TokenScope) -> String {
    let slug = ProjectSlug::parse(project).expect("slug");
    let name = TokenName::parse(name).expect("name");
    let (_, token) = app
        .tokens
        .create(&Actor::new("admin@example.com", None), &slug, None, name, scope, None)
        .await
        .expect("a token");
    token.expose().to_string()
}

pub(crate) async fn api(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the request reaches the server");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

use reqwest::Method;

async fn an_admin_creates_a_token_shown_once_stored_as_a_hash_and_revokes_it(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;
    let form =
        [("slug", "bot"), ("name", "deploy-bot"), ("scope", "read"), ("expires_in_days", "30")];
    let created = app.post_rpc(&admin, "create_token", &form).await;
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.expect("JSON");
    let token = created["token"].as_str().expect("the token, once").to_string();
    assert!(token.starts_with("sbx_") && token.len() == 47, "{token}");

    let listed = admin.post(app.url("/rpc/list_tokens")).form(&[("slug", "bot")]).send().await;
    let listed = listed.expect("call").text().await.expect("body");
    assert!(listed.contains("deploy-bot") && !listed.contains(&token), "never shown again");
    let mut sql = app.sql().await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM service_tokens")
        .fetch_one(&mut sql)
        .await
        .expect("the stored token");
    assert_eq!(stored.len(), 32, "a SHA-256, not the token");
    assert!(!String::from_utf8_lossy(&stored).contains(&token[4..]));

    let (status, _) = api(&app, Method::GET, "/api/v1/projects/bot/env", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    let again = app.post_rpc(&admin, "create_token", &form).await;
    assert_eq!(again.status(), 422, "one live token of a name per project");
    let again: Value = again.json().await.expect("JSON");
    assert_eq!(again["Invalid"]["message"], "This project already has a token named deploy-bot");

    let id = serde_json::from_str::<Value>(&listed).expect("JSON")["tokens"][0]["id"].clone();
    let revoke = [("slug", "bot".to_string()), ("token_id", id.to_string())];
    let revoked = admin.post(app.url("/rpc/revoke_token")).form(&revoke).send().await;
    assert_eq!(revoked.expect("call").status(), 200);
    let (status, body) =
        api(&app, Method::GET, "/api/v1/projects/bot/env", Some(&token), None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("token_revoked")));
    let revoked_again = admin.post(app.url("/rpc/revoke_token")).form(&revoke).send().await;
    assert_eq!(revoked_again.expect("call").status(), 404);

    let bad = [("slug", "bot"), ("name", "a/b"), ("scope", "admin"), ("expires_in_days", "0")];
    let bad = app.post_rpc(&admin, "create_token", &bad).await;
    assert_eq!(bad.status(), 422);
}

async fn every_endpoint_answers_as_the_contract_says(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let token = token(&app, "bot", "ci", TokenScope::ReadWrite).await;
    let token = Some(token.as_str());

    let (status, list) = api(&app, Method::GET, "/api/v1/projects/bot/secrets", token, None).await;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&str> =
        list.as_array().expect("a list").iter().filter_map(|s| s["key"].as_str()).collect();
    assert_eq!(keys, ["API_KEY", "SHARED"]);
    let first = &list[0];
    assert_eq!(first["description"], "what it is for");
    assert_eq!(first["version"], 1);
    for field in ["type", "created_at", "updated_at"] {
        assert!(first[field].is_string(), "{field}: {first}");
    }
    assert!(first.get("value").is_none());

    let (status, secret) =
        api(&app, Method::GET, "/api/v1/projects/bot/secrets/API_KEY", token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(secret["key"], "API_KEY");
    assert_eq!(secret["value"], format!("{CANARY}-project"));
    assert_eq!(secret["version"], 1);
    assert!(secret["updated_at"].as_str().is_some_and(|at| at.ends_with('Z')));

    let (status, env) = api(&app, Method::GET, "/api/v1/projects/bot/env", token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        env,
        json!({
            "API_KEY": format!("{CANARY}-project"),
            "PORT": "8080",
            "SHARED": "project wins",
            "TEAM_ONLY": "from the team",
        })
    );

    let path = "/api/v1/projects/bot/secrets/NEW_KEY";
    let body = json!({ "value": "first", "description": "made by CI", "type": "api_key" });
    let (status, created) = api(&app, Method::PUT, path, token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["version"].as_i64(), created["description"].as_str()),
        (Some(1), Some("made by CI"))
    );
    let (status, updated) =
        api(&app, Method::PUT, path, token, Some(json!({ "value": "second" }))).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["description"], "made by CI", "an update keeps the description");
    let (_, read) = api(&app, Method::GET, path, token, None).await;
    assert_eq!(read["value"], "second");

    let (status, body) = api(&app, Method::DELETE, path, token, None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::String(String::new())));
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = api(&app, method, path, token, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "secret_not_found");
        assert!(body["message"].as_str().is_some_and(|m| m.contains("NEW_KEY")), "{body}");
    }
    let (status, body) = api(&app, Method::GET, "/api/v1/nothing", token, None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, body) = api(&app, Method::POST, "/api/v1/projects/bot/env", token, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
}

async fn each_token_problem_gets_its_own_401(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let good = token(&app, "bot", "expiring", TokenScope::Read).await;
    let path = "/api/v1/projects/bot/secrets";
    let mut sql = app.sql().await;
    sqlx::query("UPDATE service_tokens SET expires_at = 1 WHERE name = 'expiring'")
        .execute(&mut sql)
        .await
        .expect("the token expires");
    let forged = format!("sbx_{}", "A".repeat(43));
    let cases = [
        (None, "token_missing"),
        (Some("not-a-token"), "token_invalid"),
        (Some(forged.as_str()), "token_invalid"),
        (Some(good.as_str()), "token_expired"),
    ];
    for (token, code) in cases {
        let (status, body) = api(&app, Method::GET, path, token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{code}");
        assert_eq!(body["error"], code);
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let response = app.client.get(app.url(path)).header("authorization", "Basic abc").send().await;
    let response = response.expect("request");
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}

async fn a_token_is_for_its_project_and_its_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let read = token(&app, "bot", "reader", TokenScope::Read).await;
    let other = token(&app, "other", "other-writer", TokenScope::ReadWrite).await;
    let path = "/api/v1/projects/bot/secrets/API_KEY";
    let body = || Some(json!({ "value": "changed" }));
    for (method, body) in [(Method::PUT, body()), (Method::DELETE, None)] {
        let (status, answer) = api(&app, method, path, Some(&read), body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("insufficient_scope"))
        );
    }
    for (method, body) in [(Method::GET, None), (Method::PUT, body()), (Method::DELETE, None)] {
        let (status, answer) = api(&app, method, path, Some(&other), body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("wrong_project"))
        );
    }
    let (status, _) =
        api(&app, Method::GET, "/api/v1/projects/nowhere/env", Some(&other), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a token says nothing about other projects");
    let (_, secret) = api(&app, Method::GET, path, Some(&read), None).await;
    assert_eq!(
        (secret["value"].as_str(), secret["version"].as_i64()),
        (Some(format!("{CANARY}-project").as_str()), Some(1)),
        "unchanged"
    );
}

async fn bad_bodies_and_keys_get_clear_json_errors_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let bearer = token(&app, "bot", "writer", TokenScope::ReadWrite).await;
    let token = Some(bearer.as_str());
    let put = |key: &str| format!("/api/v1/projects/bot/secrets/{key}");
    let cases = [
        (put("lower_case"), json!({ "value": "v" }), 422, "invalid_key"),
        (put("API_KEY"), json!({ "value": "" }), 422, "invalid_value"),
        (
            put("API_KEY"),
            json!({ "value": "v", "description": "x".repeat(1001) }),
            422,
            "invalid_description",
        ),
        (put("NEW_ONE"), json!({ "value": "v", "type": "nonsense" }), 422, "invalid_type"),
        (put("API_KEY"), json!({ "value": "v", "type": "certificate" }), 409, "type_conflict"),
        (put("API_KEY"), json!({ "valeu": "v" }), 400, "invalid_body"),
        (put("API_KEY"), json!(["v"]), 400, "invalid_body"),
    ];
    for (path, body, status, code) in cases {
        let (got, answer) = api(&app, Method::PUT, &path, token, Some(body.clone())).await;
        assert_eq!((got.as_u16(), answer["error"].as_str()), (status, Some(code)), "{body}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty() && !message.contains(CANARY), "{message}");
    }
    let (_, answer) =
        api(&app, Method::PUT, &put("lower_case"), token, Some(json!({"value": "v"}))).await;
    assert_eq!(
        answer["message"],
        app::secrets::domain::SecretKey::parse("lower_case").expect_err("invalid").message,
        "the message the pages show"
    );
    let huge = "x".repeat(129 * 1024);
    let response = app
        .client
        .put(app.url(&put("API_KEY")))
        .bearer_auth(&bearer)
        .header("content-type", "application/json")
        .body(format!("{{\"value\": \"{huge}\"}}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 413);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["error"], "body_too_large");
    let response = app
        .client
        .put(app.url(&put("API_KEY")))
        .bearer_auth(&bearer)
        .body("{\"value\": \"v\"}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 415);
    let (_, secret) = api(&app, Method::GET, &put("API_KEY"), token, None).await;
    assert_eq!(secret["version"], 1, "nothing changed");
    let (_, list) = api(&app, Method::GET, "/api/v1/projects/bot/secrets", token, None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "nothing created");
}

/// actor, action, project, key, version
type AuditRow = (String, String, Option<String>, Option<String>, Option<i64>);

async fn every_value_read_and_write_is_audited_with_the_tokens_name(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let token = token(&app, "bot", "deploy-bot", TokenScope::ReadWrite).await;
    let token = Some(token.as_str());
    let mut sql = app.sql().await;
    let last: i64 = sqlx::query_scalar("SELECT max(id) FROM audit_events")
        .fetch_one(&mut sql)
        .await
        .expect("the last event");
    let path = "/api/v1/projects/bot/secrets/API_KEY";
    api(&app, Method::GET, path, token, None).await;
    api(&app, Method::GET, "/api/v1/projects/bot/env", token, None).await;
    api(&app, Method::PUT, path, token, Some(json!({ "value": "rotated" }))).await;
    api(&app, Method::DELETE, path, token, None).await;
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT actor, action, project_slug, secret_key, version FROM audit_events \
         WHERE id > $1 ORDER BY id",
    )
    .bind(last)
    .fetch_all(&mut sql)
    .await
    .expect("the new events");
    let actor = "token:deploy-bot".to_string();
    let bot = Some("bot".to_string());
    let event = |action: &str, key: Option<&str>, version: Option<i64>| {
        (actor.clone(), action.to_string(), bot.clone(), key.map(str::to_string), version)
    };
    assert_eq!(
        rows,
        [
            event("secret.read", Some("API_KEY"), Some(1)),
            event("environment.read", None, None),
            event("secret.updated", Some("API_KEY"), Some(2)),
            event("secret.deleted", Some("API_KEY"), Some(2)),
        ]
    );
    let details: String =
        sqlx::query_scalar("SELECT details FROM audit_events WHERE action = 'environment.read'")
            .fetch_one(&mut sql)
            .await
            .expect("the environment read");
    assert_eq!(details, "API_KEY v1, SHARED v1, TEAM_ONLY v1 (team)");
    let ip: Option<String> =
        sqlx::query_scalar("SELECT ip FROM audit_events WHERE id > $1 LIMIT 1")
            .bind(last)
            .fetch_one(&mut sql)
            .await
            .expect("ip");
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
}

async fn the_openapi_document_describes_exactly_the_routes(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let token = token(&app, "bot", "writer", TokenScope::ReadWrite).await;
    let (status, document) = api(&app, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = document["paths"].as_object().expect("paths");
    let documented: Vec<(String, Vec<String>)> = paths
        .iter()
        .map(|(path, item)| {
            let methods = ["get", "put", "post", "delete", "patch"]
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_string())
                .collect();
            (path.clone(), methods)
        })
        .collect();
    let routed: Vec<(String, Vec<String>)> = app::api::ROUTES
        .iter()
        .map(|(path, methods)| (path.to_string(), methods.iter().map(|m| m.to_string()).collect()))
        .collect();
    let mut sorted = routed.clone();
    sorted.sort();
    assert_eq!(documented, sorted, "the document lists exactly the routes");
    // Every documented operation is served; every other method on the path is refused.
    for (path, methods) in routed {
        let concrete = path
            .replace("{slug}", "bot")
            .replace("{environment}", "development")
            .replace("{key}", "API_KEY");
        if path.contains("{key}") {
            // An earlier route's DELETE removed it: there again for this route's GET.
            let value = json!({ "value": "from the contract test" });
            let secret = concrete.trim_end_matches("/versions").trim_end_matches("/rollback");
            api(&app, Method::PUT, secret, Some(&token), Some(value)).await;
            if path.ends_with("/rollback") {
                // A second value, so that there is an earlier version to roll back to.
                let value = json!({ "value": "the contract test's second value" });
                api(&app, Method::PUT, secret, Some(&token), Some(value)).await;
            }
        }
        for method in ["get", "put", "post", "delete", "patch"] {
            let body = match method {
                "put" => Some(json!({ "value": "from the contract test" })),
                "post" => Some(json!({ "version": 1 })),
                _ => None,
            };
            let method_value =
                Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let (status, answer) = api(&app, method_value, &concrete, Some(&token), body).await;
            if methods.contains(&method.to_string()) {
                assert!(status.is_success(), "{method} {path}: {status} {answer}");
            } else {
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            }
        }
    }
}

async fn listings_and_logs_never_carry_a_value(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let token = token(&app, "bot", "reader", TokenScope::ReadWrite).await;
    let token = Some(token.as_str());
    let written = format!("{CANARY}-written");
    let path = "/api/v1/projects/bot/secrets/WRITTEN";
    api(&app, Method::PUT, path, token, Some(json!({ "value": written }))).await;
    let (_, list) = api(&app, Method::GET, "/api/v1/projects/bot/secrets", token, None).await;
    assert!(!list.to_string().contains(CANARY), "{list}");
    let (_, env) = api(&app, Method::GET, "/api/v1/projects/bot/env", token, None).await;
    assert!(env.to_string().contains(CANARY), "the run-time read path does deliver it");
    let logs = captured_logs();
    assert!(!logs.contains(CANARY), "a value reached a log line");
    let mut sql = app.sql().await;
    let audit: Vec<String> = sqlx::query_scalar(
        "SELECT coalesce(details, '') || coalesce(secret_key, '') FROM audit_events",
    )
    .fetch_all(&mut sql)
    .await
    .expect("audit");
    assert!(audit.iter().all(|row| !row.contains(CANARY)));
}

async fn a_read_whose_audit_event_cannot_be_written_fails_and_shows_no_value(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let token = token(&app, "bot", "reader", TokenScope::Read).await;
    let mut sql = app.sql().await;
    let refuse: &[&str] = match backend {
        Backend::Sqlite => &["CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_events \
             WHEN NEW.action IN ('secret.read', 'environment.read') \
             BEGIN SELECT RAISE(ABORT, 'the audit log is down'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION refuse_reads() RETURNS trigger AS $$ BEGIN \
             IF NEW.action IN ('secret.read', 'environment.read') THEN \
             RAISE EXCEPTION 'the audit log is down'; END IF; RETURN NEW; END $$ \
             LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_events \
             FOR EACH ROW EXECUTE FUNCTION refuse_reads()",
        ],
    };
    for statement in refuse {
        sqlx::query(statement).execute(&mut sql).await.expect("the audit log goes down");
    }
    for path in ["/api/v1/projects/bot/secrets/API_KEY", "/api/v1/projects/bot/env"] {
        let (status, body) = api(&app, Method::GET, path, Some(&token), None).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(body["error"], "internal");
        assert!(!body.to_string().contains(CANARY), "no audit event, no value: {body}");
    }
    let (status, _) =
        api(&app, Method::GET, "/api/v1/projects/bot/secrets", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "listing metadata is not a value read");
}

async fn many_concurrent_reads_are_each_audited_in_one_chain(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let token = token(&app, "bot", "reader", TokenScope::Read).await;
    let mut sql = app.sql().await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&mut sql)
        .await
        .expect("count");
    let mut reads = tokio::task::JoinSet::new();
    for n in 0..300 {
        let path = if n % 2 == 0 {
            "/api/v1/projects/bot/env"
        } else {
            "/api/v1/projects/bot/secrets/API_KEY"
        };
        let request = app.client.get(app.url(path)).bearer_auth(&token);
        reads.spawn(async move { request.send().await.expect("a read").status() });
    }
    let statuses = reads.join_all().await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&mut sql)
        .await
        .expect("count");
    assert_eq!(after - before, 300, "one event per read");
    let verification = crate::helpers::verify_chain(&app).await;
    assert!(verification.broken.is_none(), "{}", verification.message());
}

async fn the_same_put_again_succeeds_without_a_new_version(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let writer = token(&app, "bot", "writer", TokenScope::ReadWrite).await;
    let path = "/api/v1/projects/bot/secrets/SAME";
    let body = json!({ "value": "same value", "description": "twice" });
    let (first, created) = api(&app, Method::PUT, path, Some(&writer), Some(body.clone())).await;
    assert_eq!((first, created["version"].as_i64()), (StatusCode::CREATED, Some(1)));
    let (again, answer) = api(&app, Method::PUT, path, Some(&writer), Some(body)).await;
    assert_eq!((again, answer["version"].as_i64()), (StatusCode::OK, Some(1)), "{answer}");
    app.stop().await;
}

/// Token creation reads (is the name taken?) before it writes. On SQLite a deferred transaction
/// doing that fails at once with "database is locked" when another writer commits in between;
/// every write transaction therefore takes the write lock first (`store::WritePool`).
async fn concurrent_writes_that_read_first_all_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let slug = ProjectSlug::parse("bot").expect("slug");
    let mut writes = tokio::task::JoinSet::new();
    for n in 0..24 {
        let (tokens, slug) = (app.tokens.clone(), slug.clone());
        writes.spawn(async move {
            let name = TokenName::parse(&format!("parallel-{n}")).expect("name");
            let actor = Actor::new("admin@example.com", None);
            tokens.create(&actor, &slug, None, name, TokenScope::Read, None).await.map(drop)
        });
    }
    let failures: Vec<String> = writes
        .join_all()
        .await
        .into_iter()
        .filter_map(|result| result.err().map(|error| error.to_string()))
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    let listed = app.tokens.list(&slug).await.expect("tokens");
    assert_eq!(listed.len(), 24);
    app.stop().await;
}
