//! The run-time read path remembers tokens and sealed environments between requests, tagged with
//! the run-time generation (`app::store::snapshot`). These tests prove that the memory never
//! shows a change late: every change a program can read moves the generation (and nothing else
//! does), the audit appender refuses an event read at a passed generation, and a read that starts
//! after a change has committed sees it, on the server that made it and on another one, also
//! while other reads race the writes.
use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use app::{
    audit::{AuditAction, Event, group::AppendError},
    ids::Version,
    projects::{ProjectName, ProjectSlug, VariableValue},
    secrets::{
        domain::{Description, SecretValue},
        service::{Actor, Scope, SecretUpdate},
    },
    tokens::TokenScope,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    helpers::{Backend, TestApp, TestDatabase, dev, key, spawn_app},
    on_both_backends,
    tokens::{CANARY, api, project_with_secrets, token},
};

on_both_backends!(
    every_change_a_program_reads_moves_the_generation_and_nothing_else_does,
    an_event_read_at_a_passed_generation_is_not_appended,
    a_read_after_a_change_sees_it_at_once,
    a_change_through_one_server_is_read_at_once_through_another,
    reads_racing_writes_never_go_back_in_time,
    flushing_the_audit_log_before_closing_commits_the_events_handed_over,
);

const ENV: &str = "/api/v1/projects/bot/env";

fn bot() -> ProjectSlug {
    ProjectSlug::parse("bot").expect("slug")
}

async fn generation(app: &TestApp) -> i64 {
    app.store.run_time_generation().await.expect("the generation")
}

async fn environment_reads(app: &TestApp) -> i64 {
    let mut sql = app.sql().await;
    sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'environment.read'")
        .fetch_one(&mut sql)
        .await
        .expect("count")
}

async fn put(app: &TestApp, token: &str, name: &str, value: &str) -> StatusCode {
    let path = format!("/api/v1/projects/bot/secrets/{name}");
    api(app, Method::PUT, &path, Some(token), Some(json!({ "value": value }))).await.0
}

async fn every_change_a_program_reads_moves_the_generation_and_nothing_else_does(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let actor = Actor::new("test", None);
    let writer = token(&app, "bot", "writer", TokenScope::ReadWrite).await;
    let mut last = generation(&app).await;

    // Reads (whose first use of the token is noted), listings and new tokens leave it.
    for path in [ENV, "/api/v1/projects/bot/secrets", "/api/v1/projects/bot/secrets/API_KEY"] {
        let (status, _) = api(&app, Method::GET, path, Some(&writer), None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    token(&app, "bot", "reader", TokenScope::Read).await;
    let used: Option<i64> = {
        let mut sql = app.sql().await;
        sqlx::query_scalar("SELECT last_used_at FROM service_tokens WHERE name = 'writer'")
            .fetch_one(&mut sql)
            .await
            .expect("the token")
    };
    assert!(used.is_some(), "the token's use was noted");
    assert_eq!(generation(&app).await, last, "reads, use notes and new tokens leave it");

    macro_rules! moves {
        ($what:literal, $change:expr) => {{
            $change;
            let now = generation(&app).await;
            assert!(now > last, "{} moves the generation ({last} → {now})", $what);
            last = now;
        }};
    }
    moves!("a secret created", assert_eq!(put(&app, &writer, "NEW_ONE", "1").await, 201));
    moves!("a secret updated", assert_eq!(put(&app, &writer, "NEW_ONE", "2").await, 200));
    moves!("a secret deleted", {
        let path = "/api/v1/projects/bot/secrets/NEW_ONE";
        assert_eq!(api(&app, Method::DELETE, path, Some(&writer), None).await.0, 204);
    });
    moves!("a team secret created", {
        app.create_secret(&Scope::Team, "TEAM_NEW", "team").await;
    });
    moves!("a secret's description changed", {
        let update = SecretUpdate {
            expected_version: Version(1),
            value: None,
            description: Description::parse(Some("now described")).expect("description"),
        };
        app.vault.update_secret(&actor, &Scope::Team, &key("TEAM_NEW"), update).await.expect("u");
    });
    let port = |text: &str| VariableValue::parse(text.into()).expect("variable");
    moves!("a variable created", {
        app.projects
            .create_variable(&actor, &bot(), &dev(), &key("HOST"), port("h"), false)
            .await
            .expect("v")
    });
    moves!("a variable updated", {
        app.projects
            .update_variable(&actor, &bot(), &dev(), &key("HOST"), port("i"), false)
            .await
            .expect("v")
    });
    moves!("a variable deleted", {
        app.projects.delete_variable(&actor, &bot(), &dev(), &key("HOST")).await.expect("v")
    });
    moves!("a project's settings changed", {
        let name = ProjectName::parse("Bot renamed").expect("name");
        app.projects.update_settings(&actor, &bot(), name, BTreeSet::new(), None).await.expect("s");
    });
    moves!("a token revoked", {
        let tokens = app.tokens.list(&bot()).await.expect("tokens");
        let reader = tokens.iter().find(|t| t.name == "reader").expect("the reader");
        app.tokens.revoke(&actor, &bot(), reader.id).await.expect("revoked");
    });
    moves!("a project deleted", {
        let other = ProjectSlug::parse("other").expect("slug");
        app.projects.delete_project(&actor, &other).await.expect("deleted");
    });
    assert_eq!(generation(&app).await, last);
    app.stop().await;
}

async fn an_event_read_at_a_passed_generation_is_not_appended(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let actor = Actor::new("token:probe", None);
    let read_at = generation(&app).await;
    let before = environment_reads(&app).await;
    let event = || Event::general(&actor, AuditAction::EnvironmentRead, None);
    app.vault.audit().record_alone_at(event(), read_at).await.expect("still current: appended");

    let variable = VariableValue::parse("1".into()).expect("variable");
    app.projects
        .create_variable(&actor, &bot(), &dev(), &key("LATER"), variable, false)
        .await
        .expect("v");
    let refused = app.vault.audit().record_alone_at(event(), read_at).await;
    let Err(AppendError::Stale { current }) = refused else {
        panic!("an event read before a change is refused: {refused:?}");
    };
    assert_eq!(current, generation(&app).await);
    // Unconditional events and events at the current generation still go in.
    app.vault.audit().record_alone(event()).await.expect("no generation: appended");
    app.vault.audit().record_alone_at(event(), current).await.expect("current: appended");
    assert_eq!(environment_reads(&app).await - before, 3, "the refused event is not there");
    let verification = crate::helpers::verify_chain(&app).await;
    assert!(verification.broken.is_none(), "{}", verification.message());
    app.stop().await;
}

async fn a_read_after_a_change_sees_it_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let actor = Actor::new("test", None);
    let reader = token(&app, "bot", "reader", TokenScope::Read).await;
    let writer = token(&app, "bot", "writer", TokenScope::ReadWrite).await;
    let before = environment_reads(&app).await;
    let read = || async {
        let (status, body) = api(&app, Method::GET, ENV, Some(&reader), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };
    let first = read().await;
    assert_eq!(first["API_KEY"], format!("{CANARY}-project"));
    assert_eq!(read().await, first, "a second read (from memory) is the same");

    assert_eq!(put(&app, &writer, "API_KEY", "second").await, 200);
    assert_eq!(read().await["API_KEY"], "second", "a write through the API");

    let port = VariableValue::parse("9090".into()).expect("variable");
    app.projects
        .update_variable(&actor, &bot(), &dev(), &key("PORT"), port, true)
        .await
        .expect("v");
    assert_eq!(read().await["PORT"], "9090", "a variable changed by the service");

    let update = SecretUpdate {
        expected_version: Version(1),
        value: Some(SecretValue::new("the team's new one".into()).expect("value")),
        description: Description::default(),
    };
    app.vault.update_secret(&actor, &Scope::Team, &key("TEAM_ONLY"), update).await.expect("u");
    assert_eq!(read().await["TEAM_ONLY"], "the team's new one", "a team secret");

    let project = Scope::development(bot());
    app.vault.delete_secret(&actor, &project, &key("SHARED"), None).await.expect("deleted");
    assert_eq!(read().await["SHARED"], "team loses", "the team's shows once the project's is gone");

    let reads = environment_reads(&app).await - before;
    assert_eq!(reads, 6, "every delivery audited, none twice");

    let tokens = app.tokens.list(&bot()).await.expect("tokens");
    let id = tokens.iter().find(|t| t.name == "reader").expect("the reader").id;
    app.tokens.revoke(&actor, &bot(), id).await.expect("revoked");
    let (status, body) = api(&app, Method::GET, ENV, Some(&reader), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked at once: {body}");
    assert_eq!(body["error"], "token_revoked");
    assert_eq!(environment_reads(&app).await - before, reads, "nothing delivered");
    app.stop().await;
}

async fn a_change_through_one_server_is_read_at_once_through_another(backend: Backend) {
    let first = spawn_app(backend).await;
    project_with_secrets(&first).await;
    let second = first.peer().await;
    let reader = token(&first, "bot", "reader", TokenScope::Read).await;
    let writer = token(&first, "bot", "writer", TokenScope::ReadWrite).await;
    for n in 0..10 {
        let (status, before) = api(&second, Method::GET, ENV, Some(&reader), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(before["API_KEY"], format!("value {n}"));
        assert_eq!(put(&first, &writer, "API_KEY", &format!("value {n}")).await, 200);
        let (status, after) = api(&second, Method::GET, ENV, Some(&reader), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(after["API_KEY"], format!("value {n}"), "written on one, read on the other");
    }
    second.stop().await;
    first.stop().await;
}

async fn reads_racing_writes_never_go_back_in_time(backend: Backend) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let reader = token(&app, "bot", "reader", TokenScope::Read).await;
    let writer = token(&app, "bot", "writer", TokenScope::ReadWrite).await;
    let before = environment_reads(&app).await;
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (done, request) = (done.clone(), app.client.get(app.url(ENV)).bearer_auth(&reader));
        readers.spawn(async move {
            let (mut reads, mut newest) = (0_i64, 0_u32);
            while !done.load(Ordering::Relaxed) {
                let request = request.try_clone().expect("a GET can be cloned");
                let response = request.send().await.expect("a read");
                assert_eq!(response.status(), StatusCode::OK);
                let body: Value = response.json().await.expect("JSON");
                let seen = body["API_KEY"]
                    .as_str()
                    .and_then(|v| v.strip_prefix('v'))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                assert!(seen >= newest, "a reader saw v{seen} after v{newest}");
                newest = seen;
                reads += 1;
            }
            reads
        });
    }
    for n in 1..=20 {
        assert_eq!(put(&app, &writer, "API_KEY", &format!("v{n}")).await, 200);
        let (status, body) = api(&app, Method::GET, ENV, Some(&reader), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["API_KEY"], format!("v{n}"), "a read after the write sees it");
    }
    done.store(true, Ordering::Relaxed);
    let raced: i64 = readers.join_all().await.into_iter().sum();
    assert!(raced > 0, "the readers ran");
    assert_eq!(environment_reads(&app).await - before, raced + 20, "each delivery audited once");
    let verification = crate::helpers::verify_chain(&app).await;
    assert!(verification.broken.is_none(), "{}", verification.message());
    app.stop().await;
}

async fn flushing_the_audit_log_before_closing_commits_the_events_handed_over(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let store = app::store::Store::connect(&database.url).await.expect("the store");
    store.migrate().await.expect("migrations");
    let audit = app::audit::AuditLog::unkeyed(&store);
    // Hold the appender's lock from outside, so that the events queue up behind it.
    let mut holder = {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&database.url).await.expect("a connection")
    };
    let (lock, unlock) = match backend {
        Backend::Sqlite => ("BEGIN IMMEDIATE", "COMMIT"),
        Backend::Postgres => {
            ("SELECT pg_advisory_lock(7301190815)", "SELECT pg_advisory_unlock(7301190815)")
        }
    };
    sqlx::query(lock).execute(&mut holder).await.expect("the lock");
    let mut appends = tokio::task::JoinSet::new();
    for n in 0..100 {
        let audit = audit.clone();
        appends.spawn(async move {
            let actor = Actor::new(format!("token:closing-{n}"), None);
            audit.record_alone(Event::general(&actor, AuditAction::EnvironmentRead, None)).await
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let closing = tokio::spawn({
        let (store, audit) = (store.clone(), audit.clone());
        async move {
            audit.flush().await;
            store.close().await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    sqlx::query(unlock).execute(&mut holder).await.expect("the lock is released");
    closing.await.expect("the store closes");
    let results = appends.join_all().await;
    assert!(results.iter().all(Result::is_ok), "every event handed over is committed: {results:?}");
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE actor LIKE 'token:closing-%'")
            .fetch_one(&mut holder)
            .await
            .expect("count");
    assert_eq!(count, 100);
}
