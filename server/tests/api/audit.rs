//! The audit log's hash chain: append-only triggers, `sealbox audit verify` against each kind of
//! tampering made directly in the database, and a chain that holds under concurrent writers.
use app::{
    accounts::domain::{Password, Role},
    ids::Version,
    projects::{ProjectName, ProjectSlug, VariableValue},
    secrets::{
        domain::{Description, SecretKey, SecretValue},
        service::{Actor, Scope, SecretUpdate},
    },
};
use sqlx::Executor;

use crate::{
    helpers::{
        Backend, TestApp, TestDatabase, dev, new_secret, spawn_app, spawn_on_database, verify_chain,
    },
    on_both_backends,
};

on_both_backends!(
    every_mutation_writes_exactly_one_event_with_its_actor_project_key_and_version,
    the_database_refuses_to_change_or_delete_audit_events,
    verify_passes_an_intact_chain_and_exits_0,
    verify_names_the_first_edited_event_and_exits_1,
    verify_catches_a_deleted_event,
    verify_catches_an_inserted_event,
    verify_catches_reordered_events,
    verify_refuses_links_made_without_the_chain_key,
    verify_only_reads_needs_the_master_key_and_fails_an_unlinked_event,
    verify_with_a_noted_head_catches_events_removed_from_the_end,
    an_existing_plain_chain_is_keyed_once_and_still_verifies,
    a_server_will_not_start_on_a_chain_whose_keyed_start_or_key_was_removed,
    two_hundred_concurrent_mutations_leave_a_chain_that_verifies,
    the_audit_page_pages_newest_first_and_filters,
    the_csv_export_streams_the_filtered_events_and_never_a_value,
);

/// Five audited changes: a project, three secrets, a user.
async fn some_events(app: &TestApp) {
    let actor = Actor::new("alice@example.com", Some("10.0.0.1".into()));
    let vault = &app.vault;
    app.projects
        .create_project(&actor, ProjectName::parse("Bot").expect("name"))
        .await
        .expect("project");
    let scope = Scope::development(app::projects::ProjectSlug::parse("bot").expect("slug"));
    for key in ["ONE", "TWO", "THREE"] {
        vault
            .create_secret(&actor, &scope, new_secret(key, format!("value of {key}")))
            .await
            .expect("secret");
    }
    app.add_user("owner@example.com", Role::Owner).await;
}

async fn verify(app: &TestApp) -> (bool, String, String) {
    sealbox(app, &["audit", "verify", "--record"], true).await
}

/// Runs `sealbox ARGS` on the app's database, with its master key or without one.
async fn sealbox(app: &TestApp, args: &[&str], with_key: bool) -> (bool, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealbox"));
    command
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &app.database.url)
        .env("SEALBOX_DATA_DIR", app.database.dir())
        .env("SEALBOX_LOG", "warn");
    if with_key {
        command.env("SEALBOX_MASTER_KEY", &app.master_key);
    }
    let output = command.output().await.expect("sealbox runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
        String::from_utf8_lossy(&output.stderr).trim().to_string(),
    )
}

/// Turns the append-only triggers off, as someone with direct database access could.
async fn without_triggers(app: &TestApp, backend: Backend, statements: &[&str]) {
    let mut sql = app.sql().await;
    let (off, on): (&[&str], &[&str]) = match backend {
        Backend::Sqlite => {
            (&["DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete"], &[])
        }
        Backend::Postgres => (
            &["ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"],
            &["ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"],
        ),
    };
    for statement in off.iter().chain(statements).chain(on) {
        sql.execute(*statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

async fn ids(app: &TestApp) -> Vec<i64> {
    let mut sql = app.sql().await;
    sqlx::query_scalar("SELECT id FROM audit_events ORDER BY id")
        .fetch_all(&mut sql)
        .await
        .expect("ids")
}

/// What one event must say.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    actor: String,
    action: String,
    project: Option<String>,
    key: Option<String>,
    version: Option<i64>,
}

fn expected(
    actor: &str,
    action: &str,
    project: Option<&str>,
    key: Option<&str>,
    version: Option<i64>,
) -> Expected {
    Expected {
        actor: actor.into(),
        action: action.into(),
        project: project.map(Into::into),
        key: key.map(Into::into),
        version,
    }
}

/// Reads the events written since `seen`, asserts that they are exactly `want`, and that no
/// column of them holds `canary`; moves `seen` past them.
async fn assert_new_events(app: &TestApp, seen: &mut i64, canary: &str, want: &[Expected]) {
    use sqlx::Row;
    let mut sql = app.sql().await;
    let rows = sqlx::query(
        "SELECT id, actor, action, project_slug, secret_key, version, \
         coalesce(ip, '') || '|' || coalesce(details, '') AS rest \
         FROM audit_events WHERE id > $1 ORDER BY id",
    )
    .bind(*seen)
    .fetch_all(&mut sql)
    .await
    .expect("the new events");
    let mut got = Vec::new();
    for row in &rows {
        *seen = row.get("id");
        let rest: String = row.get("rest");
        let event = Expected {
            actor: row.get("actor"),
            action: row.get("action"),
            project: row.get("project_slug"),
            key: row.get("secret_key"),
            version: row.get("version"),
        };
        assert!(!rest.contains(canary) && !format!("{event:?}").contains(canary), "{event:?}");
        got.push(event);
    }
    assert_eq!(got, want);
}

async fn every_mutation_writes_exactly_one_event_with_its_actor_project_key_and_version(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let owner = app.add_user("owner@example.com", Role::Owner).await;
    let mut seen = ids(&app).await.last().copied().unwrap_or(0);
    let canary = "audit-canary-3c1e9b";
    let alice = Actor::new("alice@example.com", Some("10.0.0.7".into()));
    let (vault, projects) = (&app.vault, &app.projects);
    let ev = |action: &str, key: Option<&str>, version: Option<i64>| {
        expected("alice@example.com", action, Some("bot"), key, version)
    };
    let value = |n: u32| SecretValue::new(format!("{canary}-{n}")).expect("value");
    let api_key = SecretKey::parse("API_KEY").expect("key");
    let slug = ProjectSlug::parse("bot").expect("slug");
    let scope = Scope::development(slug.clone());

    app.projects
        .create_project(&alice, ProjectName::parse("Bot").expect("name"))
        .await
        .expect("project");
    assert_new_events(&app, &mut seen, canary, &[ev("project.created", None, None)]).await;

    vault
        .create_secret(&alice, &scope, new_secret("API_KEY", format!("{canary}-1")))
        .await
        .expect("created");
    assert_new_events(&app, &mut seen, canary, &[ev("secret.created", Some("API_KEY"), Some(1))])
        .await;

    let update = SecretUpdate {
        expected_version: Version(1),
        value: Some(value(2)),
        description: Description::default(),
    };
    vault.update_secret(&alice, &scope, &api_key, update).await.expect("updated");
    assert_new_events(&app, &mut seen, canary, &[ev("secret.updated", Some("API_KEY"), Some(2))])
        .await;

    let describe = SecretUpdate {
        expected_version: Version(2),
        value: None,
        description: Description::parse(Some("the bot's key")).expect("description"),
    };
    vault.update_secret(&alice, &scope, &api_key, describe).await.expect("described");
    assert_new_events(&app, &mut seen, canary, &[ev("secret.updated", Some("API_KEY"), Some(3))])
        .await;

    vault.rollback(&alice, &scope, &api_key, Version(1), Version(3)).await.expect("rolled back");
    assert_new_events(
        &app,
        &mut seen,
        canary,
        &[ev("secret.rolled_back", Some("API_KEY"), Some(4))],
    )
    .await;

    vault.reveal(&alice, &scope, &api_key).await.expect("revealed");
    assert_new_events(&app, &mut seen, canary, &[ev("secret.read", Some("API_KEY"), Some(4))])
        .await;

    vault.find_by_value(&alice, &value(1)).await.expect("searched");
    assert_new_events(
        &app,
        &mut seen,
        canary,
        &[expected("alice@example.com", "secret.searched_by_value", None, None, None)],
    )
    .await;

    vault.delete_secret(&alice, &scope, &api_key, Some(Version(4))).await.expect("deleted");
    assert_new_events(&app, &mut seen, canary, &[ev("secret.deleted", Some("API_KEY"), Some(4))])
        .await;

    let port = SecretKey::parse("PORT").expect("key");
    let text = |t: &str| VariableValue::parse(t.into()).expect("variable");
    projects
        .create_variable(&alice, &slug, &dev(), &port, text("8080"), true)
        .await
        .expect("variable");
    assert_new_events(&app, &mut seen, canary, &[ev("variable.created", Some("PORT"), None)]).await;
    projects
        .update_variable(&alice, &slug, &dev(), &port, text("9090"), false)
        .await
        .expect("variable");
    assert_new_events(&app, &mut seen, canary, &[ev("variable.updated", Some("PORT"), None)]).await;
    projects.delete_variable(&alice, &slug, &dev(), &port).await.expect("variable");
    assert_new_events(&app, &mut seen, canary, &[ev("variable.deleted", Some("PORT"), None)]).await;

    let renamed = ProjectName::parse("Bot renamed").expect("name");
    projects
        .update_settings(&alice, &slug, renamed, Default::default(), Some(90))
        .await
        .expect("s");
    assert_new_events(&app, &mut seen, canary, &[ev("project.settings_changed", None, None)]).await;

    let member = app.add_user("member@example.com", Role::Member).await;
    assert_new_events(
        &app,
        &mut seen,
        canary,
        &[expected("test", "user.created", None, None, None)],
    )
    .await;
    for (change, action) in [
        (Some(Role::Admin), "user.role_changed"),
        (None, "user.deactivated"),
        (None, "user.reactivated"),
    ] {
        match change {
            Some(role) => app.accounts.change_role(&owner, &alice, member.id, role).await.map(drop),
            None => {
                let active = action == "user.reactivated";
                app.accounts.set_active(&owner, &alice, member.id, active).await.map(drop)
            }
        }
        .expect("membership changed");
        assert_new_events(
            &app,
            &mut seen,
            canary,
            &[expected("alice@example.com", action, None, None, None)],
        )
        .await;
    }

    let wrong = Password::new(format!("{canary}-password")).expect("password");
    app.accounts.sign_in("member@example.com", wrong, Some("10.0.0.8")).await.expect_err("wrong");
    assert_new_events(
        &app,
        &mut seen,
        canary,
        &[expected("member@example.com", "user.sign_in_failed", None, None, None)],
    )
    .await;
    let member_client = app.signed_in("member@example.com").await;
    assert_new_events(
        &app,
        &mut seen,
        canary,
        &[expected("member@example.com", "user.signed_in", None, None, None)],
    )
    .await;
    let out = member_client.post(app.url("/rpc/sign_out")).send().await.expect("sign out");
    assert_eq!(out.status(), 200);
    assert_new_events(
        &app,
        &mut seen,
        canary,
        &[expected("member@example.com", "user.signed_out", None, None, None)],
    )
    .await;

    app::keyring::master::rotate_master_key(vault.store(), vault.audit(), vault.keyring(), &alice)
        .await
        .expect("rotated");
    assert_new_events(
        &app,
        &mut seen,
        canary,
        &[expected("alice@example.com", "master_key.rotated", None, None, None)],
    )
    .await;

    app.projects.delete_project(&alice, &slug).await.expect("project deleted");
    assert_new_events(&app, &mut seen, canary, &[ev("project.deleted", None, None)]).await;
}

async fn the_database_refuses_to_change_or_delete_audit_events(backend: Backend) {
    let app = spawn_app(backend).await;
    some_events(&app).await;
    let mut sql = app.sql().await;

    for statement in [
        "UPDATE audit_events SET actor = 'mallory' WHERE id = (SELECT min(id) FROM audit_events)",
        "UPDATE audit_events SET hash = NULL",
        "DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)",
    ] {
        let error = sql.execute(statement).await.expect_err(statement).to_string();
        assert!(error.contains("audit events are append-only"), "{statement}: {error}");
    }
    assert_eq!(ids(&app).await.len(), 6, "the chain's keyed start and the five");
}

async fn verify_passes_an_intact_chain_and_exits_0(backend: Backend) {
    let app = spawn_app(backend).await;
    some_events(&app).await;

    let (ok, stdout, _) = verify(&app).await;

    assert!(ok);
    assert_eq!(stdout, "✔ Audit chain intact: 6 events");
    let mut sql = app.sql().await;
    let recorded: (i64, i64) = sqlx::query_as(
        "SELECT events, CASE WHEN intact THEN 1 ELSE 0 END FROM audit_verifications \
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&mut sql)
    .await
    .expect("the result is recorded");
    assert_eq!(recorded, (6, 1));
}

async fn verify_names_the_first_edited_event_and_exits_1(backend: Backend) {
    let app = spawn_app(backend).await;
    some_events(&app).await;
    let third = ids(&app).await[2];

    without_triggers(
        &app,
        backend,
        &[&format!("UPDATE audit_events SET secret_key = 'OTHER' WHERE id = {third}")],
    )
    .await;

    let (ok, _, stderr) = verify(&app).await;
    assert!(!ok);
    assert!(stderr.starts_with(&format!("✘ Audit chain broken at event {third}:")), "{stderr}");
}

async fn verify_catches_a_deleted_event(backend: Backend) {
    let app = spawn_app(backend).await;
    some_events(&app).await;
    let ids = ids(&app).await;

    without_triggers(&app, backend, &[&format!("DELETE FROM audit_events WHERE id = {}", ids[2])])
        .await;

    let (ok, _, stderr) = verify(&app).await;
    assert!(!ok);
    assert!(stderr.contains(&format!("broken at event {}", ids[3])), "{stderr}");
}

async fn verify_catches_an_inserted_event(backend: Backend) {
    let app = spawn_app(backend).await;
    some_events(&app).await;
    let ids = ids(&app).await;
    // A forged event appended with a copied hash.
    without_triggers(
        &app,
        backend,
        &[&format!(
            "INSERT INTO audit_events (at, actor, action, hash) \
             SELECT at + 1, 'mallory', 'secret.read', hash FROM audit_events WHERE id = {}",
            ids[5]
        )],
    )
    .await;

    let (ok, _, stderr) = verify(&app).await;
    assert!(!ok);
    assert!(stderr.contains(&format!("broken at event {}", ids[5] + 1)), "{stderr}");
}

async fn verify_catches_reordered_events(backend: Backend) {
    let app = spawn_app(backend).await;
    some_events(&app).await;
    let ids = ids(&app).await;
    let (a, b) = (ids[1], ids[2]);

    // Swap two events, hashes and all: the same rows in another order.
    let columns =
        "at, actor, action, project_id, project_slug, secret_key, version, ip, details, hash";
    let copy = |to: i64, from: i64| {
        format!(
            "UPDATE audit_events SET ({columns}) = \
             (SELECT {columns} FROM audit_copy WHERE id = {from}) WHERE id = {to}"
        )
    };
    without_triggers(
        &app,
        backend,
        &[
            &format!(
                "CREATE TEMP TABLE audit_copy AS SELECT * FROM audit_events WHERE id IN ({a}, {b})"
            ),
            &copy(a, b),
            &copy(b, a),
        ],
    )
    .await;

    let (ok, _, stderr) = verify(&app).await;
    assert!(!ok);
    assert!(stderr.contains(&format!("broken at event {a}")), "{stderr}");
}

async fn two_hundred_concurrent_mutations_leave_a_chain_that_verifies(backend: Backend) {
    let app = spawn_app(backend).await;
    let actor = Actor::new("load@example.com", None);
    app.projects
        .create_project(&actor, ProjectName::parse("Load").expect("name"))
        .await
        .expect("project");
    let scope = Scope::development(app::projects::ProjectSlug::parse("load").expect("slug"));

    let mut writers = tokio::task::JoinSet::new();
    for i in 0..200 {
        let vault = app.vault.clone();
        let scope = scope.clone();
        let actor = actor.clone();
        writers.spawn(async move {
            vault
                .create_secret(
                    &actor,
                    &scope,
                    new_secret(&format!("KEY_{i}"), format!("value {i}")),
                )
                .await
                .is_ok()
        });
    }
    let results = writers.join_all().await;

    assert!(results.iter().all(|ok| *ok), "every concurrent write succeeds");
    let (ok, stdout, stderr) = verify(&app).await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "✔ Audit chain intact: 202 events", "the keyed start and 201");
}

async fn audit_page(
    client: &reqwest::Client,
    app: &TestApp,
    form: &[(&str, &str)],
) -> serde_json::Value {
    let response = app.post_rpc(client, "audit_events", form).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

/// Sixty secrets in one project: 61 events, plus the chain's keyed start, the admin's creation
/// and sign-in.
async fn sixty_secrets(app: &TestApp) {
    let actor = Actor::new("alice@example.com", None);
    app.projects
        .create_project(&actor, ProjectName::parse("Bot").expect("name"))
        .await
        .expect("project");
    let scope = Scope::development(app::projects::ProjectSlug::parse("bot").expect("slug"));
    for i in 0..60 {
        app.vault
            .create_secret(
                &actor,
                &scope,
                new_secret(&format!("KEY_{i:02}"), format!("audit-canary-{i}")),
            )
            .await
            .expect("secret");
    }
}

async fn the_audit_page_pages_newest_first_and_filters(backend: Backend) {
    let app = spawn_app(backend).await;
    sixty_secrets(&app).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;

    let first = audit_page(&admin, &app, &[]).await;
    let rows = first["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[0]["action"], "user.signed_in", "newest first");
    let before = first["next_before"].as_str().expect("an older page");
    let second = audit_page(&admin, &app, &[("before", before)]).await;
    assert_eq!(second["rows"].as_array().map(Vec::len), Some(14));
    assert_eq!(second["next_before"], serde_json::Value::Null);
    assert_eq!(second["rows"][12]["action"], "project.created");
    assert_eq!(second["rows"][13]["action"], "audit.chain_keyed", "the oldest event");

    let by_key = audit_page(&admin, &app, &[("filter[key]", "KEY_07")]).await;
    assert_eq!(by_key["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(by_key["rows"][0]["actor"], "alice@example.com");
    let by_action = audit_page(
        &admin,
        &app,
        &[("filter[action]", "secret.created"), ("filter[project]", "bot")],
    )
    .await;
    assert_eq!(by_action["rows"].as_array().map(Vec::len), Some(50));
    let today = audit_page(&admin, &app, &[("filter[from]", "2000-01-01")]).await;
    assert_eq!(today["rows"].as_array().map(Vec::len), Some(50));
    let none = audit_page(&admin, &app, &[("filter[to]", "2000-01-01")]).await;
    assert_eq!(none["rows"].as_array().map(Vec::len), Some(0));

    let bad = app.post_rpc(&admin, "audit_events", &[("filter[from]", "yesterday")]).await;
    assert_eq!(bad.status(), 422);
    let bad: serde_json::Value = bad.json().await.expect("JSON");
    assert_eq!(bad["Invalid"]["field"], "from");
    let forged =
        app.post_rpc(&admin, "audit_events", &[("before", "12; DROP TABLE audit_events")]).await;
    assert_eq!(forged.status(), 422);
    let forged: serde_json::Value = forged.json().await.expect("JSON");
    assert_eq!(forged["Invalid"]["field"], "before");
}

async fn the_csv_export_streams_the_filtered_events_and_never_a_value(backend: Backend) {
    let app = spawn_app(backend).await;
    sixty_secrets(&app).await;
    let admin = app.sign_in_as("admin@example.com", Role::Admin).await;

    let response = admin.get(app.url("/settings/audit.csv?key=KEY_07")).send().await.expect("csv");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = response.text().await.expect("text");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "time,actor,action,project,environment,key,version,ip,details");
    assert_eq!(lines.len(), 2);
    assert!(
        lines[1].contains(",alice@example.com,secret.created,bot,development,KEY_07,1,,"),
        "{}",
        lines[1]
    );

    let all = admin.get(app.url("/settings/audit.csv")).send().await.expect("csv");
    let all = all.text().await.expect("text");
    assert_eq!(all.lines().count(), 1 + 64);
    assert!(!all.contains("audit-canary-"), "no value in the export");
    let bad = admin.get(app.url("/settings/audit.csv?from=nope")).send().await.expect("csv");
    assert_eq!(bad.status(), 422);
}

/// The newest event's id and link.
async fn last_link(app: &TestApp) -> (i64, Vec<u8>) {
    let mut sql = app.sql().await;
    sqlx::query_as("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")
        .fetch_one(&mut sql)
        .await
        .expect("the last event")
}

async fn verify_refuses_links_made_without_the_chain_key(backend: Backend) {
    use app::audit::chain::{Canonical, link};
    let app = spawn_app(backend).await;
    some_events(&app).await;
    // Someone who can write to the database appends an event with a correct plain link.
    let (id, previous) = last_link(&app).await;
    let event = Canonical {
        id: id + 1,
        at: app::time::Millis::now(),
        actor: "mallory",
        action: "secret.read",
        project_id: None,
        project_slug: None,
        secret_key: None,
        version: None,
        ip: None,
        details: None,
        environment: None,
    };
    let forged = link(None, Some(&previous), &event);
    let hex: String = forged.iter().map(|b| format!("{b:02x}")).collect();
    let (literal, overriding) = match backend {
        Backend::Sqlite => (format!("X'{hex}'"), ""),
        Backend::Postgres => (format!("'\\x{hex}'::bytea"), "OVERRIDING SYSTEM VALUE"),
    };
    without_triggers(
        &app,
        backend,
        &[&format!(
            "INSERT INTO audit_events (id, at, actor, action, hash) {overriding} \
             VALUES ({}, {}, 'mallory', 'secret.read', {literal})",
            event.id, event.at.0
        )],
    )
    .await;

    let (ok, _, stderr) = verify(&app).await;
    assert!(!ok);
    assert!(stderr.contains(&format!("broken at event {}", id + 1)), "{stderr}");
    assert!(stderr.contains("written without the chain key"), "{stderr}");
}

async fn verify_only_reads_needs_the_master_key_and_fails_an_unlinked_event(backend: Backend) {
    let app = spawn_app(backend).await;
    some_events(&app).await;
    let (ok, _, stderr) = sealbox(&app, &["audit", "verify"], false).await;
    assert!(!ok);
    assert!(stderr.contains("no master key is configured"), "{stderr}");

    // An event slipped in without a link is a break, and stays as it is.
    without_triggers(
        &app,
        backend,
        &["INSERT INTO audit_events (at, actor, action) VALUES (1, 'mallory', 'secret.read')"],
    )
    .await;
    let (unlinked, _) = last_link_or_none(&app).await;
    let (ok, _, stderr) = sealbox(&app, &["audit", "verify"], true).await;
    assert!(!ok);
    assert!(stderr.contains(&format!("broken at event {unlinked}: it has no link")), "{stderr}");
    assert_eq!(last_link_or_none(&app).await, (unlinked, None), "nothing was linked");
    let mut sql = app.sql().await;
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_verifications")
        .fetch_one(&mut sql)
        .await
        .expect("count");
    assert_eq!(recorded, 0, "without --record nothing is written");
}

async fn last_link_or_none(app: &TestApp) -> (i64, Option<Vec<u8>>) {
    let mut sql = app.sql().await;
    sqlx::query_as("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")
        .fetch_one(&mut sql)
        .await
        .expect("the last event")
}

async fn verify_with_a_noted_head_catches_events_removed_from_the_end(backend: Backend) {
    let app = spawn_app(backend).await;
    some_events(&app).await;
    let (ok, head, stderr) = sealbox(&app, &["audit", "head"], false).await;
    assert!(ok, "{stderr}");
    let (id, link) = last_link(&app).await;
    let hex: String = link.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(head, format!("6:{hex}"));
    let (ok, stdout, stderr) = sealbox(&app, &["audit", "verify", "--expect", &head], true).await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "✔ Audit chain intact: 6 events");

    // The last two events are removed: what remains still links up…
    without_triggers(&app, backend, &[&format!("DELETE FROM audit_events WHERE id >= {}", id - 1)])
        .await;
    let (ok, _, _) = sealbox(&app, &["audit", "verify"], true).await;
    assert!(ok, "a truncated chain has no break in itself");
    // …but not up to the head noted before.
    let (ok, _, stderr) = sealbox(&app, &["audit", "verify", "--expect", &head], true).await;
    assert!(!ok);
    assert!(stderr.contains("the chain has 4 events, fewer than the 6 noted"), "{stderr}");
    let (ok, _, stderr) = sealbox(&app, &["audit", "verify", "--expect", "6:zz"], true).await;
    assert!(!ok);
    assert!(stderr.contains("expected COUNT:MAC"), "{stderr}");
}

async fn an_existing_plain_chain_is_keyed_once_and_still_verifies(backend: Backend) {
    use app::audit::{AuditAction, AuditLog, Event};
    // A database as the previous release left it: events with plain links.
    let database = std::sync::Arc::new(TestDatabase::create(backend).await);
    let store = app::store::Store::connect(&database.url).await.expect("the store");
    store.migrate().await.expect("migrations");
    let actor = Actor::new("old@example.com", None);
    let audit = AuditLog::unkeyed(&store);
    for _ in 0..3 {
        audit
            .record_alone(Event::general(&actor, AuditAction::UserSignedIn, None))
            .await
            .expect("event");
    }
    audit.flush().await;
    store.close().await;

    let app = spawn_on_database(database.clone()).await;
    let mut sql = app.sql().await;
    let (plain_head,): (Vec<u8>,) = sqlx::query_as("SELECT hash FROM audit_events WHERE id = 3")
        .fetch_one(&mut sql)
        .await
        .expect("head");
    let hex: String = plain_head.iter().map(|b| format!("{b:02x}")).collect();
    let details: String =
        sqlx::query_scalar("SELECT details FROM audit_events WHERE action = 'audit.chain_keyed'")
            .fetch_one(&mut sql)
            .await
            .expect("the keyed start");
    assert!(
        details.contains(&format!("before it 3 event(s) with plain links, head {hex}")),
        "{details}"
    );
    some_events(&app).await;
    let verification = verify_chain(&app).await;
    assert_eq!(verification.message(), "Audit chain intact: 9 events");

    // A second start keys nothing again.
    let again = app.peer().await;
    let starts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'audit.chain_keyed'")
            .fetch_one(&mut sql)
            .await
            .expect("count");
    assert_eq!(starts, 1);
    again.stop().await;
    app.stop().await;
}

/// Starts another server on the app's database, returning the error instead of panicking.
async fn try_start(app: &TestApp) -> anyhow::Result<()> {
    let key = app::crypto::MasterKey::from_base64(&app.master_key).expect("the key");
    let config = crate::helpers::test_config(&app.database, key);
    sealbox::startup::Application::build(config).await.map(drop)
}

async fn a_server_will_not_start_on_a_chain_whose_keyed_start_or_key_was_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    some_events(&app).await;
    try_start(&app).await.expect("an intact chain opens");
    // Everything from the keyed start on is removed, and forged plain events put in its place.
    without_triggers(
        &app,
        backend,
        &[
            "DELETE FROM audit_events",
            "INSERT INTO audit_events (at, actor, action) VALUES (1, 'mallory', 'user.signed_in')",
        ],
    )
    .await;
    let error = format!("{:#}", try_start(&app).await.expect_err("refused"));
    assert!(
        error.contains("the audit log was tampered with: the chain's keyed start is missing"),
        "{error}"
    );
    assert_eq!(last_link_or_none(&app).await.1, None, "the forged event was not sealed");

    let other = spawn_app(backend).await;
    let mut sql = other.sql().await;
    sql.execute("DELETE FROM instance_keys WHERE purpose = 'audit-chain'").await.expect("removed");
    let error = format!("{:#}", try_start(&other).await.expect_err("refused"));
    assert!(error.contains("the chain's key is missing"), "{error}");
    other.stop().await;
    app.stop().await;
}
