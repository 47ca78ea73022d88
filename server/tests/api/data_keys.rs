//! `sealbox admin rotate-data-keys`: every version resealed under a fresh data key while servers
//! keep serving, the old key deleted, fingerprints kept, audited, resumable; and an old database
//! copy with the master key opens nothing written since.
use std::{
    collections::BTreeMap,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use app::{
    crypto::{DataKey, MasterKey, Sealed, SecretAddress},
    ids::{EnvironmentId, ProjectId, Version},
    keyring::{KeyringError, project_key_aad},
    projects::ProjectSlug,
    secrets::{
        domain::{Description, SecretValue},
        service::{Actor, Scope, SecretUpdate, VaultError},
    },
    tokens::TokenScope,
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Row;

use crate::{
    helpers::{Backend, TestApp, key, spawn_app, verify_chain},
    on_both_backends,
    tokens::{CANARY, api, project_with_secrets, token},
};

on_both_backends!(
    rotation_reseals_every_version_under_a_key_an_old_copy_does_not_hold,
    servers_keep_reading_and_writing_while_the_data_keys_rotate,
    an_interrupted_rotation_resumes_where_it_stopped,
    a_write_sealed_with_the_old_key_during_the_finish_is_resealed_before_the_key_goes,
    one_scope_is_rotated_alone_one_run_at_a_time_and_bad_arguments_are_refused,
);

const ENV: &str = "/api/v1/projects/bot/env";

/// One stored version: (project id, key, version, key generation, sealed value, fingerprint).
/// (project id, key, version, key generation, sealed value, fingerprint, environment id)
type Stored = (i64, String, i64, i64, Vec<u8>, Vec<u8>, i64);

fn actor() -> Actor {
    Actor::new("test", None)
}

async fn rotate(app: &TestApp, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sealbox"))
        .args(["admin", "rotate-data-keys"])
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &app.database.url)
        .env("SEALBOX_MASTER_KEY", &app.master_key)
        .env("SEALBOX_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("sealbox runs")
}

async fn stored(app: &TestApp) -> Vec<Stored> {
    let mut sql = app.sql().await;
    sqlx::query(
        "SELECT s.project_id, s.key, v.version, v.key_generation, v.sealed_value, v.fingerprint, \
         s.environment_id FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
         ORDER BY s.project_id, s.key, v.version",
    )
    .fetch_all(&mut sql)
    .await
    .expect("versions")
    .iter()
    .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
    .collect()
}

/// Every stored data key, unwrapped with the master key: (project id, generation) → key.
async fn data_keys(app: &TestApp) -> BTreeMap<(i64, i64), DataKey> {
    let master = MasterKey::from_base64(&app.master_key).expect("the test's master key");
    let mut sql = app.sql().await;
    sqlx::query("SELECT project_id, generation, wrapped_key FROM project_keys")
        .fetch_all(&mut sql)
        .await
        .expect("keys")
        .iter()
        .map(|row| {
            let (project, generation): (i64, i64) = (row.get(0), row.get(1));
            let wrapped: Vec<u8> = row.get(2);
            let aad = project_key_aad(ProjectId(project), generation);
            let key = master.unwrap_key(&wrapped, &aad).expect("a stored key unwraps");
            ((project, generation), key)
        })
        .collect()
}

fn opens(key: &DataKey, version: &Stored) -> Option<String> {
    let (project, name, number, _, sealed, _, environment) = version;
    let sealed = Sealed::from_bytes(sealed).ok()?;
    let at = SecretAddress::new(
        ProjectId(*project),
        EnvironmentId(*environment),
        name,
        Version(*number),
    );
    let plain = key.open_secret(&at, &sealed);
    plain.ok().map(|plain| String::from_utf8_lossy(&plain).into_owned())
}

async fn count(app: &TestApp, sql_text: &str) -> i64 {
    let mut sql = app.sql().await;
    sqlx::query_scalar(sql_text).fetch_one(&mut sql).await.expect("a count")
}

async fn rotation_reseals_every_version_under_a_key_an_old_copy_does_not_hold(backend: Backend) {
    // Arrange: bot (two versions of API_KEY, SHARED), the team (two), and an empty project.
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let bot = Scope::development(ProjectSlug::parse("bot").expect("slug"));
    let update = SecretUpdate {
        expected_version: Version(1),
        value: Some(SecretValue::new(format!("{CANARY}-second")).expect("value")),
        description: Description::default(),
    };
    app.vault.update_secret(&actor(), &bot, &key("API_KEY"), update).await.expect("v2");
    let reader = token(&app, "bot", "reader", TokenScope::Read).await;
    let writer = token(&app, "bot", "writer", TokenScope::ReadWrite).await;
    let (status, expected) = api(&app, Method::GET, ENV, Some(&reader), None).await;
    assert_eq!(status, StatusCode::OK);
    let before = stored(&app).await;
    let old_keys = data_keys(&app).await;
    assert_eq!(before.len(), 5);
    assert!(old_keys.keys().all(|(_, generation)| *generation == 1), "{:?}", old_keys.keys());

    // Act: batches of two, so every scope takes more than one.
    let output = rotate(&app, &["--batch-size", "2"]).await;

    // Assert: reported per scope.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    for line in [
        "✔ bot: data key generation 2; re-encrypted 3 versions; deleted generation 1",
        "✔ other: data key generation 2; re-encrypted 0 versions; deleted generation 1",
        "✔ team secrets: data key generation 2; re-encrypted 2 versions; deleted generation 1",
        "✔ Rotated 3 data keys; re-encrypted 5 versions",
    ] {
        assert!(stdout.contains(line), "{line:?} in {stdout}");
    }
    // The running server, which held the old keys in memory, delivers the same values.
    let (status, body) = api(&app, Method::GET, ENV, Some(&reader), None).await;
    assert_eq!((status, &body), (StatusCode::OK, &expected));
    // One key per scope is left, a new one; each version moved to it, fingerprints unchanged.
    let new_keys = data_keys(&app).await;
    let scopes = |keys: &BTreeMap<(i64, i64), DataKey>| -> Vec<i64> {
        keys.keys().map(|(project, _)| *project).collect()
    };
    assert_eq!(scopes(&new_keys), scopes(&old_keys));
    assert!(new_keys.keys().all(|(_, generation)| *generation == 2), "{:?}", new_keys.keys());
    let after = stored(&app).await;
    assert_eq!(after.len(), before.len());
    for (old, new) in before.iter().zip(&after) {
        let (project, name, version) = (old.0, &old.1, old.2);
        assert_eq!((new.0, &new.1, new.2, new.3), (project, name, version, 2));
        assert_eq!(new.5, old.5, "the fingerprint of {name} v{version} is kept");
        assert_ne!(new.4, old.4, "{name} v{version} is sealed again");
        let value = opens(&old_keys[&(project, 1)], old).expect("the old key opened the old row");
        assert_eq!(opens(&new_keys[&(project, 2)], new), Some(value), "{name} v{version}");
        assert_eq!(opens(&old_keys[&(project, 1)], new), None, "{name} v{version}: old key");
    }
    // What is written from now on is out of an old copy's reach too.
    let put = api(
        &app,
        Method::PUT,
        "/api/v1/projects/bot/secrets/WRITTEN_AFTER",
        Some(&writer),
        Some(json!({ "value": "written after the rotation" })),
    )
    .await;
    assert_eq!(put.0, StatusCode::CREATED, "{put:?}");
    let written = stored(&app).await;
    let written = written.iter().find(|row| row.1 == "WRITTEN_AFTER").expect("stored");
    assert_eq!(written.3, 2);
    assert_eq!(opens(&old_keys[&(written.0, 1)], written), None);
    assert!(opens(&new_keys[&(written.0, 2)], written).is_some());
    // Audited, with the chain intact.
    let started = "SELECT count(*) FROM audit_events WHERE action = 'data_key.rotation_started'";
    let rotated = "SELECT count(*) FROM audit_events WHERE action = 'data_key.rotated'";
    assert_eq!((count(&app, started).await, count(&app, rotated).await), (3, 3));
    let verification = verify_chain(&app).await;
    assert!(verification.broken.is_none(), "{}", verification.message());
    // A wrapped key copied from the old generation's row does not pass for the new one.
    let bot_id = written.0;
    let mut sql = app.sql().await;
    let master = MasterKey::from_base64(&app.master_key).expect("key");
    let forged = master.wrap_key(&old_keys[&(bot_id, 1)], &project_key_aad(ProjectId(bot_id), 1));
    sqlx::query("UPDATE project_keys SET wrapped_key = $1 WHERE project_id = $2")
        .bind(forged)
        .bind(bot_id)
        .execute(&mut sql)
        .await
        .expect("tampered");
    let peer = app.peer().await;
    let refused = peer.vault.reveal(&actor(), &bot, &key("API_KEY")).await;
    assert!(
        matches!(refused, Err(VaultError::Keyring(KeyringError::Unwrap(_)))),
        "a key wrapped for generation 1 does not unwrap as generation 2: {refused:?}"
    );
    peer.stop().await;
    app.stop().await;
}

async fn servers_keep_reading_and_writing_while_the_data_keys_rotate(backend: Backend) {
    // Arrange: two servers on one database, a project with enough versions for many batches.
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let peer = app.peer().await;
    let bot = Scope::development(ProjectSlug::parse("bot").expect("slug"));
    for n in 0..60 {
        app.create_secret(&bot, &format!("S_{n}"), &format!("value-{n}")).await;
    }
    let reader = token(&app, "bot", "reader", TokenScope::Read).await;
    let writer = token(&app, "bot", "writer", TokenScope::ReadWrite).await;
    let done = Arc::new(AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for server in [&app, &peer] {
        let (done, request) =
            (done.clone(), server.client.get(server.url(ENV)).bearer_auth(&reader));
        load.spawn(async move {
            let mut reads = 0_i64;
            while !done.load(Ordering::Relaxed) {
                let response = request.try_clone().expect("clone").send().await.expect("a read");
                assert_eq!(response.status(), StatusCode::OK);
                let body: serde_json::Value = response.json().await.expect("JSON");
                assert_eq!(body["S_7"], "value-7");
                assert_eq!(body["API_KEY"], format!("{CANARY}-project"));
                reads += 1;
            }
            ("read".to_string(), reads)
        });
    }
    for (server, name) in [(&app, "A"), (&peer, "B")] {
        let (done, client, base) = (done.clone(), server.client.clone(), server.url(""));
        let writer = writer.clone();
        load.spawn(async move {
            let mut writes = 0_i64;
            while !done.load(Ordering::Relaxed) {
                let url = format!("{base}/api/v1/projects/bot/secrets/W_{name}_{writes}");
                let body = json!({ "value": format!("w-{name}-{writes}") });
                let response =
                    client.put(url).bearer_auth(&writer).json(&body).send().await.expect("a PUT");
                assert_eq!(response.status(), StatusCode::CREATED);
                writes += 1;
            }
            (name.to_string(), writes)
        });
    }
    // A new description with the same value: the old value is opened (with whichever key
    // sealed it) and sealed again as a new version.
    let (done_describing, client, base) = (done.clone(), app.client.clone(), app.url(""));
    let describer = writer.clone();
    load.spawn(async move {
        let mut writes = 0_i64;
        while !done_describing.load(Ordering::Relaxed) {
            let n = writes % 60;
            let url = format!("{base}/api/v1/projects/bot/secrets/S_{n}");
            let body =
                json!({ "value": format!("value-{n}"), "description": format!("d{writes}") });
            let response =
                client.put(url).bearer_auth(&describer).json(&body).send().await.expect("a PUT");
            assert_eq!(response.status(), StatusCode::OK);
            writes += 1;
        }
        ("describe".to_string(), writes)
    });

    // Act
    let output = rotate(&app, &["--batch-size", "7"]).await;
    done.store(true, Ordering::Relaxed);
    let worked: Vec<(String, i64)> = load.join_all().await;

    // Assert: nothing failed, every value reads back, nothing is left under the old key.
    assert!(output.status.success(), "{output:?}");
    assert!(worked.iter().all(|(_, n)| *n > 0), "every reader and writer ran: {worked:?}");
    let (status, body) = api(&peer, Method::GET, ENV, Some(&reader), None).await;
    assert_eq!(status, StatusCode::OK);
    for n in 0..60 {
        assert_eq!(body[format!("S_{n}")], format!("value-{n}"));
    }
    for (name, writes) in worked.iter().filter(|(task, _)| task == "A" || task == "B") {
        for n in 0..*writes {
            assert_eq!(body[format!("W_{name}_{n}")], format!("w-{name}-{n}"), "W_{name}_{n}");
        }
    }
    let left = "SELECT count(*) FROM secret_versions WHERE key_generation <> 2";
    assert_eq!(count(&app, left).await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM project_keys WHERE generation <> 2").await, 0);
    let verification = verify_chain(&app).await;
    assert!(verification.broken.is_none(), "{}", verification.message());
    peer.stop().await;
    app.stop().await;
}

/// Leaves bot as a rotation stopped after some batches leaves it: a second data key, and the
/// versions of the keys in `moved` resealed under it. Returns bot's id and its generation-1 key.
async fn half_rotated(app: &TestApp, moved: &[&str]) -> (i64, DataKey) {
    let mut keys = data_keys(app).await;
    let versions = stored(app).await;
    let bot_id = versions.iter().find(|row| row.1 == "API_KEY").expect("API_KEY").0;
    let old = keys.remove(&(bot_id, 1)).expect("bot's key");
    let master = MasterKey::from_base64(&app.master_key).expect("key");
    let next = DataKey::generate();
    let mut sql = app.sql().await;
    sqlx::query(
        "INSERT INTO project_keys (project_id, generation, master_key_id, wrapped_key, created_at) \
         VALUES ($1, 2, $2, $3, 0)",
    )
    .bind(bot_id)
    .bind(master.id())
    .bind(master.wrap_key(&next, &project_key_aad(ProjectId(bot_id), 2)))
    .execute(&mut sql)
    .await
    .expect("the second key");
    for version in versions.iter().filter(|row| row.0 == bot_id && moved.contains(&&*row.1)) {
        let plain = opens(&old, version).expect("opens");
        let at = SecretAddress::new(
            ProjectId(bot_id),
            EnvironmentId(version.6),
            &version.1,
            Version(version.2),
        );
        sqlx::query(
            "UPDATE secret_versions SET sealed_value = $1, key_generation = 2 \
             WHERE version = $2 AND secret_id = \
             (SELECT id FROM secrets WHERE project_id = $3 AND key = $4)",
        )
        .bind(next.seal_secret(&at, plain.as_bytes()).to_bytes())
        .bind(version.2)
        .bind(bot_id)
        .bind(&version.1)
        .execute(&mut sql)
        .await
        .expect("a version moved");
    }
    (bot_id, old)
}

async fn an_interrupted_rotation_resumes_where_it_stopped(backend: Backend) {
    // Arrange: stopped after its first batch of bot's versions.
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let reader = token(&app, "bot", "reader", TokenScope::Read).await;
    let (_, expected) = api(&app, Method::GET, ENV, Some(&reader), None).await;
    let (bot_id, _) = half_rotated(&app, &["API_KEY"]).await;
    // Halfway, the server reads the two generations side by side.
    let (status, halfway) = api(&app, Method::GET, ENV, Some(&reader), None).await;
    assert_eq!((status, &halfway), (StatusCode::OK, &expected));

    // Act
    let output = rotate(&app, &["--project", "bot"]).await;

    // Assert: resumed at generation 2 (not 3), the one version left moved, the old key gone.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let line =
        "✔ bot: data key generation 2 (resumed); re-encrypted 1 versions; deleted generation 1";
    assert!(stdout.contains(line), "{stdout}");
    let (status, body) = api(&app, Method::GET, ENV, Some(&reader), None).await;
    assert_eq!((status, &body), (StatusCode::OK, &expected));
    let generations: Vec<i64> = data_keys(&app)
        .await
        .keys()
        .filter(|(project, _)| *project == bot_id)
        .map(|(_, generation)| *generation)
        .collect();
    assert_eq!(generations, [2]);
    let started = "SELECT count(*) FROM audit_events WHERE action = 'data_key.rotation_started'";
    assert_eq!(count(&app, started).await, 0, "the resumed rotation did not start another");
    app.stop().await;
}

async fn a_write_sealed_with_the_old_key_during_the_finish_is_resealed_before_the_key_goes(
    backend: Backend,
) {
    // Arrange: every version of bot already under generation 2, and a write that sealed with
    // generation 1 (it began before that key existed) still in flight: its transaction holds
    // SQLite's write lock, or on PostgreSQL the audit chain's lock, as a real write does.
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;
    let (bot_id, old_key) = half_rotated(&app, &["API_KEY", "SHARED"]).await;
    let mut sql = app.sql().await;
    let mut write = sqlx::Connection::begin(&mut sql).await.expect("begin");
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7301190815)")
            .execute(&mut *write)
            .await
            .expect("the chain lock");
    }
    let (secret_id, environment_id): (i64, i64) = sqlx::query_as(
        "INSERT INTO secrets (project_id, environment_id, key, description, secret_type, \
         current_version, created_at, created_by, updated_at, updated_by) \
         SELECT $1, id, 'IN_FLIGHT', NULL, 'other', 1, 0, 'test', 0, 'test' FROM environments \
         WHERE project_id = $1 AND name = 'development' RETURNING id, environment_id",
    )
    .bind(bot_id)
    .fetch_one(&mut *write)
    .await
    .expect("the secret");
    let at = SecretAddress::new(
        ProjectId(bot_id),
        EnvironmentId(environment_id),
        "IN_FLIGHT",
        Version(1),
    );
    sqlx::query(
        "INSERT INTO secret_versions (secret_id, version, key_generation, sealed_value, \
         fingerprint, created_at, created_by, binding) VALUES ($1, 1, 1, $2, $3, 0, 'test', 2)",
    )
    .bind(secret_id)
    .bind(old_key.seal_secret(&at, b"sealed with the old key").to_bytes())
    .bind(vec![0u8; 32])
    .execute(&mut *write)
    .await
    .expect("the version");

    // Act: the rotation resumes, finds nothing to move, and its finish waits for the write.
    let rotation = tokio::spawn({
        let (url, key) = (app.database.url.clone(), app.master_key.clone());
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_sealbox"))
                .args(["admin", "rotate-data-keys", "--project", "bot"])
                .env_clear()
                .env("DATABASE_URL", url)
                .env("SEALBOX_MASTER_KEY", key)
                .env("SEALBOX_LOG", "info")
                .stdin(Stdio::null())
                .output()
                .await
                .expect("sealbox runs")
        }
    });
    if backend == Backend::Postgres {
        // Until the finish's DELETE waits for the chain lock.
        let mut watch = app.sql().await;
        let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                       AND query LIKE 'DELETE FROM project_keys%'";
        for _ in 0..200 {
            let waiters: i64 =
                sqlx::query_scalar(waiting).fetch_one(&mut watch).await.expect("locks");
            if waiters > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    } else {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    }
    write.commit().await.expect("the write commits");
    let output = rotation.await.expect("the rotation task");

    // Assert: the late version was resealed before generation 1 was deleted.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("re-encrypted 1 versions; deleted generation 1"), "{stdout}");
    if backend == Backend::Postgres {
        // The finish waited for the write (PostgreSQL lets the test see that it waits), found
        // its version and went back for it.
        let log = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
        assert!(log.contains("were written meanwhile"), "{log}");
    }
    let late = stored(&app).await.into_iter().find(|row| row.1 == "IN_FLIGHT").expect("kept");
    assert_eq!(late.3, 2);
    let keys = data_keys(&app).await;
    assert_eq!(opens(&keys[&(bot_id, 2)], &late).as_deref(), Some("sealed with the old key"));
    assert!(!keys.contains_key(&(bot_id, 1)));
    app.stop().await;
}

async fn one_scope_is_rotated_alone_one_run_at_a_time_and_bad_arguments_are_refused(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    project_with_secrets(&app).await;

    let output = rotate(&app, &["--project", "other"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("✔ Rotated 1 data keys; re-encrypted 0 versions"), "{stdout}");
    let rotated = "SELECT count(*) FROM project_keys WHERE generation = 2";
    assert_eq!(count(&app, rotated).await, 1, "only other's key is new");
    let output = rotate(&app, &["--team"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("✔ team secrets: data key generation 2; re-encrypted 2"), "{stdout}");
    assert_eq!(count(&app, rotated).await, 2, "and then the team's");

    // A run that holds the lease keeps a second one out; a lease that ran out does not.
    let mut sql = app.sql().await;
    let future = app::time::Millis::now() + 30_000;
    sqlx::query("INSERT INTO maintenance_leases (name, holder, expires_at) VALUES ($1, 'x', $2)")
        .bind("rotate-data-keys")
        .bind(future)
        .execute(&mut sql)
        .await
        .expect("a lease");
    let output = rotate(&app, &[]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("another rotate-data-keys is running"), "{stderr}");
    assert_eq!(count(&app, rotated).await, 2, "the refused run changed nothing");
    sqlx::query("UPDATE maintenance_leases SET expires_at = 0")
        .execute(&mut sql)
        .await
        .expect("the lease runs out");
    let output = rotate(&app, &["--project", "bot"]).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(count(&app, "SELECT count(*) FROM maintenance_leases").await, 0, "released");

    for (args, message) in [
        (&["--project", "nope"][..], "there is no project at /projects/nope"),
        (&["--project", "Not A Slug"][..], "Project URLs use lowercase letters"),
        (&["--batch-size", "0"][..], "0 is not in 1..=10000"),
        (&["--team", "--project", "bot"][..], "cannot be used with"),
    ] {
        let output = rotate(&app, args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} is refused");
        assert!(stderr.contains(message), "{args:?}: {message:?} in {stderr}");
    }
    assert_eq!(count(&app, rotated).await, 3, "the refused runs changed nothing");
    app.stop().await;
}
