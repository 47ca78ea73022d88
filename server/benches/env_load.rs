//! Load test of the run-time read path: `GET /api/v1/projects/{slug}/env` for a project with 20
//! secrets, every read audited, against the real `sealbox` binary on SQLite and on PostgreSQL,
//! driven by `wrk` (Debian) at 64 connections. `cargo bench --bench env_load` after
//! `. scripts/env.sh`; `SEALBOX_BENCH_SECONDS` sets the duration (default 20).
//!
//! After each run it checks what the server promised: one audit event per successful read, and a
//! hash chain that still verifies.
#![allow(clippy::unwrap_used)]
use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use app::{
    audit::{Actor, AuditLog},
    crypto::MasterKey,
    keyring::Keyring,
    projects::{ProjectName, ProjectSlug, service::Projects},
    secrets::{
        domain::{Description, SecretKey, SecretValue},
        service::{NewSecret, Scope, Vault},
    },
    store::Store,
    tokens::{TokenName, TokenScope, service::Tokens},
};
use sqlx::{Connection, Executor};

const CONNECTIONS: usize = 64;

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let seconds: u64 =
        std::env::var("SEALBOX_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("a directory");
    let admin = std::env::var("SEALBOX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let (server, _) = admin.rsplit_once('/').expect("a database in the URL");
    let databases = [
        ("sqlite", format!("sqlite://{}", dir.path().join("load.db").display())),
        ("postgres", format!("{server}/sealbox_bench_env")),
    ];
    for (name, url) in databases {
        if name == "postgres" {
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL");
                for statement in [
                    "DROP DATABASE IF EXISTS sealbox_bench_env WITH (FORCE)",
                    "CREATE DATABASE sealbox_bench_env",
                ] {
                    connection.execute(statement).await.expect(statement);
                }
            });
        }
        let key = MasterKey::generate();
        let key_text = key.to_base64().to_string();
        let token = runtime.block_on(seed(&url, key));
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sealbox"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", &url)
            .env("SEALBOX_MASTER_KEY", &key_text)
            .env("SEALBOX_LOG", "warn")
            .env("LEPTOS_SITE_ROOT", dir.path().join("site"))
            .stdout(Stdio::null())
            .spawn()
            .expect("sealbox starts");
        let base = format!("http://127.0.0.1:{port}");
        runtime.block_on(ready(&base));
        let before = runtime.block_on(events(&url));
        let report = wrk(&format!("{base}/api/v1/projects/bench/env"), &token, seconds);
        stop(&mut child);
        let after = runtime.block_on(events(&url));
        let verified = runtime.block_on(verify(&url, &key_text));
        println!("== {name}: GET /env, 20 secrets, {CONNECTIONS} connections, {seconds} s");
        println!("{}", report.text.trim_end());
        println!(
            "audit events written: {} for {} requests ({} non-2xx); chain: {verified}",
            after - before,
            report.requests,
            report.errors
        );
        // wrk does not count the requests in flight when it stops; the server still served them.
        let served = report.requests - report.errors;
        let audited = after - before;
        assert!(
            (served..=served + CONNECTIONS as u64).contains(&audited),
            "every read is audited: {audited} events for {served} reads"
        );
    }
}

/// A project with 20 secrets and a read token for it.
async fn seed(url: &str, key: MasterKey) -> String {
    let store = Store::connect(url).await.expect("the store opens");
    store.migrate().await.expect("migrations");
    let keyring = Keyring::load(&store, key, Vec::new()).await.expect("the keyring");
    let audit = AuditLog::unkeyed(&store);
    let vault = Vault::new(store.clone(), audit.clone(), Arc::new(keyring));
    let actor = Actor::new("bench", None);
    let projects = Projects::new(store.clone(), audit.clone(), vault.keyring().clone());
    projects.create_project(&actor, ProjectName::parse("Bench").expect("name")).await.expect("p");
    let slug = ProjectSlug::parse("bench").expect("slug");
    for n in 0..20 {
        let new = NewSecret {
            key: SecretKey::parse(&format!("SECRET_{n:02}")).expect("key"),
            value: SecretValue::new(format!("value-{n}-{}", "x".repeat(40))).expect("value"),
            description: Description::default(),
            secret_type: None,
        };
        vault.create_secret(&actor, &Scope::development(slug.clone()), new).await.expect("secret");
    }
    let (_, token) = Tokens::new(store.clone(), audit.clone())
        .create(
            &actor,
            &slug,
            None,
            TokenName::parse("load").expect("name"),
            TokenScope::Read,
            None,
        )
        .await
        .expect("token");
    audit.flush().await;
    store.close().await;
    token.expose().to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

async fn ready(base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(response) = reqwest::get(format!("{base}/readyz")).await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

async fn events(url: &str) -> u64 {
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(url).await.expect("the database");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_events")
        .fetch_one(&mut connection)
        .await
        .expect("count");
    count.unsigned_abs()
}

async fn verify(url: &str, key: &str) -> String {
    let store = Store::connect(url).await.expect("the store opens");
    let key = MasterKey::from_base64(key).expect("the master key");
    let chain_key = Keyring::read_chain_key(&store, &[key]).await.expect("the chain key");
    let started = Instant::now();
    let verification = app::audit::chain::verify(&store, &chain_key, None).await.expect("verify");
    store.close().await;
    format!("{} (verified in {:.1?})", verification.message(), started.elapsed())
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

struct Report {
    text: String,
    requests: u64,
    errors: u64,
}

fn wrk(url: &str, token: &str, seconds: u64) -> Report {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-H",
            &format!("Authorization: Bearer {token}"),
            url,
        ])
        .output()
        .expect("wrk runs (apt install wrk; scripts/setup.sh installs it)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let number = |line: &str, marker: &str| -> Option<u64> {
        line.split(marker).next()?.split_whitespace().last()?.parse().ok()
    };
    let requests = text.lines().find_map(|l| number(l, " requests in")).unwrap_or(0);
    let errors = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    Report { text, requests, errors }
}
