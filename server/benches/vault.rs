//! Create and reveal throughput through the Vault on SQLite and PostgreSQL (a fresh database
//! each): `cargo bench --bench vault`. PostgreSQL at SEALBOX_TEST_POSTGRES_URL, default
//! postgres://postgres@127.0.0.1:5432/test.
//!
//! `sqlite_commit/{full,normal}` isolates what `synchronous = FULL` costs: one small write
//! transaction on a WAL database with each setting, side by side in the same run, so the ratio
//! holds on any machine (the absolute cost is the disk's sync latency).
#![allow(clippy::unwrap_used)]
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use app::{
    crypto::MasterKey,
    projects::{ProjectName, ProjectSlug, service::Projects},
    secrets::{
        domain::{Description, SecretKey, SecretValue},
        service::{Actor, NewSecret, Scope, Vault},
    },
};
use criterion::{Criterion, criterion_group, criterion_main};
use sealbox::config::{MasterKeySource, StoreConfig};
use sqlx::{Connection, Executor};

async fn open(url: &str) -> Vault {
    let config = StoreConfig {
        database_url: url.to_string(),
        master_key: MasterKey::generate(),
        older_master_keys: Vec::new(),
        master_key_source: MasterKeySource::Environment,
    };
    sealbox::startup::open_vault(config).await.expect("the vault opens").1
}

async fn postgres_database() -> String {
    let admin = std::env::var("SEALBOX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("sealbox_bench_{}", std::process::id());
    let mut connection = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL is up");
    connection
        .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
        .await
        .expect("drop");
    connection.execute(format!(r#"CREATE DATABASE "{name}""#).as_str()).await.expect("create");
    let (server, _) = admin.rsplit_once('/').expect("a database in the URL");
    format!("{server}/{name}")
}

fn create_and_reveal(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let backends = [
        ("sqlite", format!("sqlite://{}", dir.path().join("bench.db").display())),
        ("postgres", runtime.block_on(postgres_database())),
    ];
    let actor = Actor::new("bench", None);
    let counter = AtomicU64::new(0);
    let mut group = c.benchmark_group("vault");
    group.measurement_time(Duration::from_secs(5)).sample_size(30);
    for (backend, url) in backends {
        let vault = runtime.block_on(open(&url));
        let project = runtime
            .block_on(
                Projects::new(
                    vault.store().clone(),
                    vault.audit().clone(),
                    vault.keyring().clone(),
                )
                .create_project(&actor, ProjectName::parse("Bench").expect("name")),
            )
            .expect("project");
        let scope = Scope::development(ProjectSlug::parse(&project.slug).expect("slug"));
        let secret = |n: u64| NewSecret {
            key: SecretKey::parse(&format!("KEY_{n}")).expect("key"),
            value: SecretValue::new(format!("value-{n}-{}", "x".repeat(64))).expect("value"),
            description: Description::default(),
            secret_type: None,
        };
        let first = counter.load(Ordering::Relaxed);
        group.bench_function(format!("create/{backend}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                vault.create_secret(&actor, &scope, secret(n)).await.expect("created")
            })
        });
        let key = SecretKey::parse(&format!("KEY_{first}")).expect("key");
        group.bench_function(format!("reveal/{backend}"), |b| {
            b.to_async(&runtime).iter(|| async {
                vault.reveal(&actor, &scope, &key).await.expect("revealed").version
            })
        });
    }
    group.finish();
}

fn sqlite_commit(c: &mut Criterion) {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut group = c.benchmark_group("sqlite_commit");
    group.measurement_time(Duration::from_secs(5)).sample_size(30);
    for (name, synchronous) in
        [("full", SqliteSynchronous::Full), ("normal", SqliteSynchronous::Normal)]
    {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join(format!("{name}.db")))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous);
        let mut connection =
            runtime.block_on(sqlx::SqliteConnection::connect_with(&options)).expect("SQLite");
        runtime
            .block_on(connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body BLOB)"))
            .expect("table");
        let body = vec![7u8; 300];
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let mut tx = connection.begin().await.expect("begin");
                    sqlx::query("INSERT INTO events (body) VALUES ($1)")
                        .bind(&body)
                        .execute(&mut *tx)
                        .await
                        .expect("insert");
                    tx.commit().await.expect("commit");
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, create_and_reveal, sqlite_commit);
criterion_main!(benches);
