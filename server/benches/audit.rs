//! The Audit page's filter queries over 10 million events, on SQLite and PostgreSQL, with the
//! indexes the migrations create: `cargo bench --bench audit` (after `. scripts/env.sh`).
//!
//! Seeding 10 million events with a real hash chain takes minutes, so the seeded databases are
//! kept and reused while they hold exactly that many events: SQLite at
//! `$SEALBOX_CACHE_DIR/bench/audit.db`, PostgreSQL as the database `sealbox_bench_audit` on
//! `SEALBOX_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
//! `SEALBOX_BENCH_AUDIT_EVENTS` changes the count; `SEALBOX_BENCH_AUDIT_VERIFY=1` also times one
//! `audit verify` walk of the whole chain.
#![allow(clippy::unwrap_used)]
use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use app::{
    audit::{
        chain::{self, Canonical},
        query::page,
        view::{AuditFilter, Cursor},
    },
    store::Store,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sqlx::{AnyPool, Connection, Executor, Row, any::AnyPoolOptions};

const PAGE: i64 = app::audit::view::PAGE_SIZE + 1;
/// Two years of events, ending now.
const SPAN_MS: i64 = 2 * 365 * 86_400_000;
const ROWS_PER_INSERT: usize = 500;
const INSERTS_PER_TRANSACTION: usize = 100;

fn event_count() -> i64 {
    std::env::var("SEALBOX_BENCH_AUDIT_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000_000)
}

/// A small deterministic generator: the same database on every machine.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One generated event, shaped like a busy installation's: mostly reads by tokens, 200 people,
/// 500 projects with 40 keys each.
struct Generated {
    at: i64,
    actor: String,
    action: &'static str,
    project: Option<String>,
    key: Option<String>,
    version: Option<i64>,
    ip: Option<String>,
}

fn generate(random: &mut Random, at: i64) -> Generated {
    const ACTIONS: [(&str, u64, bool); 8] = [
        ("secret.read", 60, true),
        ("secret.updated", 15, true),
        ("secret.created", 8, true),
        ("user.signed_in", 8, false),
        ("variable.updated", 4, true),
        ("user.sign_in_failed", 2, false),
        ("secret.deleted", 2, true),
        ("project.settings_changed", 1, true),
    ];
    let mut roll = random.below(100);
    let (action, about_project) = ACTIONS
        .iter()
        .find(|(_, weight, _)| {
            let hit = roll < *weight;
            roll = roll.saturating_sub(*weight);
            hit
        })
        .map(|(action, _, project)| (*action, *project))
        .unwrap_or(("secret.read", true));
    let actor = if action == "secret.read" && random.below(4) > 0 {
        format!("token:deploy-{}", random.below(50))
    } else {
        format!("user{}@example.com", random.below(200))
    };
    let project = about_project.then(|| format!("project-{}", random.below(500)));
    let key = (about_project && action != "project.settings_changed")
        .then(|| format!("KEY_{}", random.below(2_000)));
    let version = action.starts_with("secret.").then(|| 1 + random.below(20) as i64);
    let ip = Some(format!("10.{}.{}.{}", random.below(4), random.below(256), random.below(256)));
    Generated { at, actor, action, project, key, version, ip }
}

struct Bench {
    name: &'static str,
    url: String,
}

async fn pool(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new().max_connections(1).connect(url).await.expect("the database opens")
}

/// The bench database for each backend, seeded unless it already holds the events.
async fn databases(count: i64) -> Vec<Bench> {
    let cache = std::env::var_os("SEALBOX_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/sealbox")))
        .unwrap_or_else(std::env::temp_dir)
        .join("bench");
    std::fs::create_dir_all(&cache).expect("the bench directory");
    let sqlite = format!("sqlite://{}", cache.join("audit.db").display());

    let admin = std::env::var("SEALBOX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let (server, _) = admin.rsplit_once('/').expect("a database in the URL");
    let postgres = format!("{server}/sealbox_bench_audit");

    let mut benches = Vec::new();
    for (name, url) in [("sqlite", sqlite), ("postgres", postgres)] {
        if seeded(&url).await != Some(count) {
            reset(name, &url, &admin).await;
            seed(name, &url, count).await;
        }
        benches.push(Bench { name, url });
    }
    benches
}

async fn seeded(url: &str) -> Option<i64> {
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(url).await.ok()?;
    sqlx::query_scalar("SELECT count(*) FROM audit_events").fetch_one(&mut connection).await.ok()
}

async fn reset(name: &str, url: &str, admin: &str) {
    if name == "sqlite" {
        let file = url.trim_start_matches("sqlite://");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{file}{suffix}"));
        }
        return;
    }
    let mut connection = sqlx::PgConnection::connect(admin).await.expect("PostgreSQL is up");
    for statement in [
        "DROP DATABASE IF EXISTS sealbox_bench_audit WITH (FORCE)",
        "CREATE DATABASE sealbox_bench_audit",
    ] {
        connection.execute(statement).await.expect(statement);
    }
}

/// Creates the schema through the real migrations, then appends `count` chained events.
async fn seed(name: &str, url: &str, count: i64) {
    let started = Instant::now();
    let store = Store::connect(url).await.expect("the store opens");
    store.migrate().await.expect("migrations");
    store.close().await;

    let pool = pool(url).await;
    let mut connection = pool.acquire().await.expect("a connection");
    let tuning: &[&str] = if name == "sqlite" {
        &["PRAGMA synchronous = OFF", "PRAGMA cache_size = -1000000"]
    } else {
        &["SET synchronous_commit = off"]
    };
    for statement in tuning {
        connection.execute(*statement).await.expect(statement);
    }
    let (last_id, previous): (i64, Option<Vec<u8>>) = {
        let row = sqlx::query("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *connection)
            .await
            .expect("the last event");
        row.map(|row| (row.get(0), row.get(1))).unwrap_or((0, None))
    };
    let mut previous = previous;
    let overriding = if name == "postgres" { "OVERRIDING SYSTEM VALUE" } else { "" };
    let row_sql = |n: usize| {
        let first = n * 11;
        format!("({})", (1..=11).map(|i| format!("${}", first + i)).collect::<Vec<_>>().join(", "))
    };
    let insert = format!(
        "INSERT INTO audit_events \
         (id, at, actor, action, project_slug, secret_key, version, ip, details, project_id, \
         hash) {overriding} VALUES {}",
        (0..ROWS_PER_INSERT).map(row_sql).collect::<Vec<_>>().join(", ")
    );
    let now = app::time::Millis::now().0;
    let step = (SPAN_MS / count.max(1)).max(1);
    let mut random = Random(0x5EA1_B0C5);
    let mut id = last_id;
    let mut transaction = connection.begin().await.expect("a transaction");
    let mut inserts = 0;
    while id < last_id + count {
        let batch = ROWS_PER_INSERT.min((last_id + count - id) as usize);
        let mut rows = Vec::with_capacity(batch);
        for _ in 0..batch {
            id += 1;
            let at = now - SPAN_MS + (id - last_id) * step + random.below(step as u64) as i64;
            let event = generate(&mut random, at);
            // Plain links: the seeded databases are cached across runs, and a chain key would
            // not be (the verify timing below walks the same number of links either way).
            let hash = chain::link(
                None,
                previous.as_deref(),
                &Canonical {
                    id,
                    at: app::time::Millis(event.at),
                    actor: &event.actor,
                    action: event.action,
                    project_id: None,
                    project_slug: event.project.as_deref(),
                    secret_key: event.key.as_deref(),
                    version: event.version.map(app::ids::Version),
                    ip: event.ip.as_deref(),
                    details: None,
                    environment: None,
                },
            );
            previous = Some(hash.to_vec());
            rows.push((id, event, hash));
        }
        let sql = if batch == ROWS_PER_INSERT {
            insert.clone()
        } else {
            format!(
                "INSERT INTO audit_events \
                 (id, at, actor, action, project_slug, secret_key, version, ip, details, \
                 project_id, hash) {overriding} VALUES {}",
                (0..batch).map(row_sql).collect::<Vec<_>>().join(", ")
            )
        };
        let mut query = sqlx::query(&sql);
        for (id, event, hash) in rows {
            query = query
                .bind(id)
                .bind(event.at)
                .bind(event.actor)
                .bind(event.action)
                .bind(event.project)
                .bind(event.key)
                .bind(event.version)
                .bind(event.ip)
                .bind(None::<String>)
                .bind(None::<i64>)
                .bind(hash.to_vec());
        }
        query.execute(&mut *transaction).await.expect("a batch of events");
        inserts += 1;
        if inserts % INSERTS_PER_TRANSACTION == 0 {
            transaction.commit().await.expect("commit");
            transaction = connection.begin().await.expect("a transaction");
            eprint!("\r{name}: {} of {count} events seeded", id - last_id);
        }
    }
    transaction.commit().await.expect("commit");
    if name == "postgres" {
        connection
            .execute("SELECT setval(pg_get_serial_sequence('audit_events', 'id'), max(id)) FROM audit_events")
            .await
            .expect("the id sequence follows the seeded ids");
    }
    connection.execute("ANALYZE").await.expect("statistics");
    eprintln!("\r{name}: {count} events seeded in {:.0?}", started.elapsed());
}

/// The position halfway through the events `filter` matches, for a deep page.
async fn halfway(url: &str, column: Option<(&str, &str)>) -> Cursor {
    let pool = pool(url).await;
    let (condition, value) = match column {
        Some((column, value)) => (format!("WHERE {column} = $1"), Some(value)),
        None => (String::new(), None),
    };
    let count_sql = format!("SELECT count(*) FROM audit_events {condition}");
    let mut count = sqlx::query_scalar(&count_sql);
    if let Some(value) = value {
        count = count.bind(value);
    }
    let matching: i64 = count.fetch_one(&pool).await.expect("count");
    let sql = format!(
        "SELECT at, id FROM audit_events {condition} ORDER BY at DESC, id DESC \
         LIMIT 1 OFFSET {}",
        matching / 2
    );
    let mut query = sqlx::query(&sql);
    if let Some(value) = value {
        query = query.bind(value);
    }
    let row = query.fetch_one(&pool).await.expect("the middle event");
    Cursor { at: row.get(0), id: row.get(1) }
}

fn filter_queries(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let count = event_count();
    let benches = runtime.block_on(databases(count));
    let day = |days_ago: i64| {
        let millis = app::time::Millis::now().0 - days_ago * 86_400_000;
        chrono::DateTime::from_timestamp_millis(millis)
            .map(|at| at.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let filter = |change: &dyn Fn(&mut AuditFilter)| {
        let mut filter = AuditFilter::default();
        change(&mut filter);
        filter
    };
    let by_actor = filter(&|f| f.actor = "user7@example.com".into());
    let by_project = filter(&|f| f.project = "project-42".into());
    let by_key = filter(&|f| f.key = "KEY_1234".into());
    let by_action = filter(&|f| f.action = "secret.deleted".into());
    let one_day = filter(&|f| (f.from, f.to) = (day(365), day(365)));
    let one_month = filter(&|f| (f.from, f.to) = (day(400), day(370)));
    let key_in_month = filter(&|f| {
        f.key = "KEY_1234".into();
        (f.from, f.to) = (day(400), day(370));
    });

    let mut group = c.benchmark_group(format!("audit_{}M", count / 1_000_000));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for bench in &benches {
        let store = runtime.block_on(Store::connect(&bench.url)).expect("the store opens");
        let deep = |column: Option<(&str, &str)>| runtime.block_on(halfway(&bench.url, column));
        let cases: Vec<(&str, AuditFilter, Option<Cursor>)> = vec![
            ("first_page", AuditFilter::default(), None),
            ("deep_page", AuditFilter::default(), Some(deep(None))),
            ("actor_first", by_actor.clone(), None),
            ("actor_deep", by_actor.clone(), Some(deep(Some(("actor", &by_actor.actor))))),
            ("project_first", by_project.clone(), None),
            (
                "project_deep",
                by_project.clone(),
                Some(deep(Some(("project_slug", &by_project.project)))),
            ),
            ("key_first", by_key.clone(), None),
            ("key_deep", by_key.clone(), Some(deep(Some(("secret_key", &by_key.key))))),
            ("action_deep", by_action.clone(), Some(deep(Some(("action", &by_action.action))))),
            ("date_one_day", one_day.clone(), None),
            ("date_one_month", one_month.clone(), None),
            ("key_in_month", key_in_month.clone(), None),
        ];
        for (name, filter, before) in cases {
            let rows = runtime.block_on(page(&store, &filter, before, PAGE)).expect("a page");
            assert!(!rows.is_empty(), "{name} on {} matches events", bench.name);
            group.bench_with_input(BenchmarkId::new(name, bench.name), &filter, |b, filter| {
                b.to_async(&runtime)
                    .iter(|| async { page(&store, filter, before, PAGE).await.expect("a page") })
            });
        }
        if std::env::var_os("SEALBOX_BENCH_AUDIT_VERIFY").is_some() {
            let started = Instant::now();
            // The seeded chain has plain links only, so the walk ends by reporting that it has no
            // keyed part; what it measures is the time to check every link.
            let key = chain::ChainKey::derive(&app::crypto::DataKey::generate());
            let verification = runtime.block_on(chain::verify(&store, &key, None)).expect("verify");
            eprintln!("{}: {} in {:.1?}", bench.name, verification.message(), started.elapsed());
        }
        runtime.block_on(store.close());
    }
    group.finish();
}

criterion_group!(benches, filter_queries);
criterion_main!(benches);
