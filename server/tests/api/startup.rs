//! The `sealbox` binary itself: configuration errors end it with one clear line; a good
//! configuration starts it, and SIGTERM stops it cleanly.
use std::{path::Path, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::helpers::{Backend, TestDatabase};

const TIMEOUT: Duration = Duration::from_secs(30);
const VALID_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes

/// The binary with a clean environment, working in `dir`, listening on a free port.
fn sealbox(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sealbox"));
    command
        .env_clear()
        .env("RUST_BACKTRACE", "1") // proves that failures print no backtrace even when asked
        .env("SEALBOX_ADDR", "127.0.0.1:0")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs a start that must fail and returns its stderr, asserting the exit code is non-zero.
async fn failing_start(command: &mut Command) -> String {
    let output = tokio::time::timeout(TIMEOUT, command.output())
        .await
        .expect("sealbox exits in time")
        .expect("sealbox runs");
    assert!(!output.status.success(), "sealbox should have failed: {output:?}");
    String::from_utf8(output.stderr).expect("UTF-8 stderr")
}

/// The last stderr line is the error, alone on its line; nothing panicked.
fn assert_one_clear_line(stderr: &str, expected: &str) {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("sealbox: error:")).collect();
    assert_eq!(errors.len(), 1, "exactly one error line in: {stderr}");
    assert!(errors[0].contains(expected), "{:?} should contain {expected:?}", errors[0]);
    assert_eq!(stderr.lines().last(), Some(errors[0]), "the error is the last line: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
}

#[tokio::test]
async fn an_unsupported_database_scheme_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = failing_start(
        sealbox(dir.path())
            .env("DATABASE_URL", "mysql://root:hunter2@localhost/sealbox")
            .env("SEALBOX_MASTER_KEY", VALID_KEY),
    )
    .await;
    assert_one_clear_line(&stderr, "DATABASE_URL must start with sqlite:// or postgres://");
    assert!(!stderr.contains("hunter2"), "the password is never printed: {stderr}");
}

#[tokio::test]
async fn an_unreachable_database_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = failing_start(
        sealbox(dir.path())
            .env("DATABASE_URL", "postgres://sealbox:hunter2@127.0.0.1:1/sealbox")
            .env("SEALBOX_MASTER_KEY", VALID_KEY),
    )
    .await;
    assert_one_clear_line(
        &stderr,
        "cannot connect to the PostgreSQL database at 127.0.0.1:1/sealbox",
    );
    assert!(!stderr.contains("hunter2"), "the password is never printed: {stderr}");
}

#[tokio::test]
async fn an_unreadable_master_key_file_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = failing_start(
        sealbox(dir.path()).env("SEALBOX_MASTER_KEY_FILE", dir.path().join("missing.key")),
    )
    .await;
    assert_one_clear_line(&stderr, "cannot read the master key file");
}

#[tokio::test]
async fn a_malformed_master_key_file_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("bad.key");
    std::fs::write(&key_file, "c2hvcnQ=\n").expect("write the key file"); // "short"
    let stderr = failing_start(sealbox(dir.path()).env("SEALBOX_MASTER_KEY_FILE", &key_file)).await;
    assert_one_clear_line(&stderr, "is not a valid master key: it decodes to 5 bytes");
    assert!(!stderr.contains("c2hvcnQ"), "the key is never printed: {stderr}");
}

#[tokio::test]
async fn a_malformed_master_key_variable_stops_the_start_without_echoing_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr =
        failing_start(sealbox(dir.path()).env("SEALBOX_MASTER_KEY", "not-a-key-but-secret!")).await;
    assert_one_clear_line(&stderr, "SEALBOX_MASTER_KEY is not a valid master key");
    assert!(!stderr.contains("not-a-key-but-secret"), "{stderr}");
}

#[tokio::test]
async fn a_public_url_that_is_not_http_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = failing_start(
        sealbox(dir.path())
            .env("SEALBOX_MASTER_KEY", VALID_KEY)
            .env("SEALBOX_PUBLIC_URL", "secrets.example.com"),
    )
    .await;
    assert_one_clear_line(&stderr, "SEALBOX_PUBLIC_URL must be an http:// or https:// URL");
}

#[tokio::test]
async fn an_invalid_log_filter_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = failing_start(
        sealbox(dir.path()).env("SEALBOX_MASTER_KEY", VALID_KEY).env("SEALBOX_LOG", "loud=[[["),
    )
    .await;
    assert_one_clear_line(&stderr, "SEALBOX_LOG is not a valid log filter");
}

#[tokio::test]
async fn a_failing_migration_stops_the_start_and_leaves_the_database_as_it_was() {
    // Arrange: a database where the first migration's table already exists by hand.
    let dir = tempfile::tempdir().expect("tempdir");
    let db_path = dir.path().join("taken.db");
    let url = format!("sqlite://{}?mode=rwc", db_path.display());
    {
        use sqlx::{Connection, Executor};
        let mut connection = sqlx::SqliteConnection::connect(&url).await.expect("sqlite");
        connection.execute("CREATE TABLE instance (something TEXT)").await.expect("create");
        connection.close().await.expect("close");
    }

    // Act
    let stderr = failing_start(
        sealbox(dir.path()).env("DATABASE_URL", &url).env("SEALBOX_MASTER_KEY", VALID_KEY),
    )
    .await;

    // Assert
    assert_one_clear_line(&stderr, "database migration failed");
    use sqlx::Connection;
    let mut connection = sqlx::SqliteConnection::connect(&url).await.expect("sqlite");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut connection)
        .await
        .expect("the migrations table exists");
    assert_eq!(applied, 0, "no migration is recorded as applied");
}

/// Waits for the "running at" line and returns the server's base URL.
async fn wait_until_running(child: &mut Child) -> (String, Vec<String>) {
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let found = tokio::time::timeout(TIMEOUT, async {
        while let Some(line) = lines.next_line().await.expect("read stderr") {
            seen.push(line.clone());
            if let Some(at) =
                line.find("Sealbox is running at ").and_then(|_| line.find("http://127.0.0.1:"))
            {
                let url: String =
                    line[at..].chars().take_while(|c| !c.is_whitespace() && *c != '"').collect();
                return Some(url);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(url)) => {
            // Keep draining stderr so the child never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            (url, seen)
        }
        _ => panic!("sealbox did not start: {seen:#?}"),
    }
}

async fn terminate_and_wait(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().expect("the child is running").to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill runs");
    assert!(killed.success());
    tokio::time::timeout(TIMEOUT, child.wait())
        .await
        .expect("sealbox stops within the timeout after SIGTERM")
        .expect("wait for sealbox")
}

#[tokio::test]
async fn a_first_run_creates_a_private_development_key_and_reuses_it_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("data").join("master.key");

    // First run: the key file is created with mode 0600 and announced loudly.
    let mut child = sealbox(dir.path()).spawn().expect("sealbox starts");
    let (url, log) = wait_until_running(&mut child).await;
    assert!(
        log.iter().any(|l| l.contains("DEVELOPMENT MASTER KEY IN USE")),
        "a loud warning: {log:#?}"
    );
    let ready = reqwest::get(format!("{url}/readyz")).await.expect("readyz answers");
    assert_eq!(ready.status(), 200);
    assert!(terminate_and_wait(child).await.success(), "SIGTERM stops it with exit code 0");
    let first_key = std::fs::read_to_string(&key_file).expect("the key file exists");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner read/write only");
        let data = std::fs::metadata(dir.path().join("data")).expect("data dir").permissions();
        assert_eq!(data.mode() & 0o777, 0o700, "the data directory is private too");
    }
    assert!(dir.path().join("data").join("sealbox.db").exists(), "SQLite under ./data");

    // Second run: the same key is used, not replaced.
    let mut child = sealbox(dir.path()).spawn().expect("sealbox starts again");
    let _ = wait_until_running(&mut child).await;
    assert!(terminate_and_wait(child).await.success());
    assert_eq!(std::fs::read_to_string(&key_file).expect("still there"), first_key);
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_and_sigterm_stops_the_server_gracefully() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let mut child = sealbox(&database.dir())
        .env("DATABASE_URL", &database.url)
        .env("SEALBOX_MASTER_KEY", VALID_KEY)
        .env("SEALBOX_LOG_FORMAT", "json")
        .spawn()
        .expect("sealbox starts");
    let (url, log) = wait_until_running(&mut child).await;
    assert_eq!(reqwest::get(format!("{url}/readyz")).await.expect("ready").status(), 200);

    for line in &log {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(entry.get("level").is_some() && entry.get("timestamp").is_some(), "{line}");
    }
    assert!(log.iter().any(|l| l.contains("PostgreSQL")), "the backend is logged: {log:#?}");
    assert!(terminate_and_wait(child).await.success());
}
