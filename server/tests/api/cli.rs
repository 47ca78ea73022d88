//! The `sealbox` run-time commands end to end: the real binary against the real server.
use std::process::Stdio;

use app::{
    projects::{ProjectName, ProjectSlug},
    secrets::service::Actor,
    tokens::{TokenName, TokenScope},
};
use tokio::io::AsyncWriteExt;

use crate::{
    helpers::{Backend, TestApp, spawn_app},
    on_both_backends,
};

on_both_backends!(
    set_list_get_run_and_delete_through_the_cli,
    export_and_import_go_through_dotenv_files,
    run_uses_a_local_dotenv_without_a_server,
    a_missing_or_half_configuration_is_explained,
    run_hands_the_program_no_sealbox_setting_and_no_name_that_loads_code,
);

const CANARY: &str = "cli-canary-8e41b0";

pub(crate) struct Output {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `sealbox ARGS` with `env`, feeding `stdin`.
pub(crate) async fn sealbox(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let dir = tempfile::tempdir().expect("a working directory");
    sealbox_in(dir.path(), args, env, stdin).await
}

async fn sealbox_in(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> Output {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealbox"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sealbox starts");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).await.expect("stdin");
    }
    let output = child.wait_with_output().await.expect("sealbox ends");
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A project `bot` and a read-write token for it; the environment the CLI needs.
async fn configured(app: &TestApp) -> Vec<(&'static str, String)> {
    let actor = Actor::new("test", None);
    app.projects.create_project(&actor, ProjectName::parse("Bot").expect("name")).await.expect("p");
    let slug = ProjectSlug::parse("bot").expect("slug");
    let name = TokenName::parse("cli").expect("name");
    let (_, token) = app
        .tokens
        .create(&actor, &slug, None, name, TokenScope::ReadWrite, None)
        .await
        .expect("token");
    vec![
        ("SEALBOX_URL", app.address.clone()),
        ("SEALBOX_TOKEN", token.expose().to_string()),
        ("SEALBOX_PROJECT", "bot".to_string()),
    ]
}

fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn set_list_get_run_and_delete_through_the_cli(backend: Backend) {
    let app = spawn_app(backend).await;
    let env = configured(&app).await;
    let env = pairs(&env);
    let value = format!("{CANARY}-one");

    let set = sealbox(&["secrets", "set", "API_KEY", &value], &env, "").await;
    assert_eq!(
        (set.code, set.stdout.as_str()),
        (Some(0), "✔ Secret set: API_KEY\n"),
        "{}",
        set.stderr
    );
    let updated = format!("{CANARY}-two with spaces");
    let set = sealbox(&["secrets", "set", "API_KEY", "-"], &env, &format!("{updated}\n")).await;
    assert_eq!((set.code, set.stdout.as_str()), (Some(0), "✔ Secret updated: API_KEY\n"));

    let list = sealbox(&["secrets", "list"], &env, "").await;
    assert_eq!(list.code, Some(0));
    assert_eq!(list.stdout, "Secrets of bot in development:\nAPI_KEY  set just now\n");
    assert!(!list.stdout.contains(CANARY) && !list.stderr.contains(CANARY));

    let get = sealbox(&["secrets", "get", "API_KEY"], &env, "").await;
    assert_eq!((get.code, get.stdout.as_str()), (Some(0), updated.as_str()), "exactly the value");
    let missing = sealbox(&["secrets", "get", "MISSING"], &env, "").await;
    assert_eq!((missing.code, missing.stdout.as_str()), (Some(1), ""));
    assert!(missing.stderr.contains("no secret named MISSING"), "{}", missing.stderr);
    let fallback = sealbox(&["secrets", "get", "MISSING", "--fallback", "dflt"], &env, "").await;
    assert_eq!((fallback.code, fallback.stdout.as_str()), (Some(0), "dflt"));

    let run = sealbox(&["run", "--", "printenv", "API_KEY"], &env, "").await;
    assert_eq!((run.code, run.stdout.as_str()), (Some(0), format!("{updated}\n").as_str()));
    assert!(!run.stderr.contains(CANARY));
    let exit = sealbox(&["run", "--", "sh", "-c", "exit 7"], &env, "").await;
    assert_eq!(exit.code, Some(7), "the command's exit code passes through");
    let absent = sealbox(&["run", "--", "no-such-program-here"], &env, "").await;
    assert_eq!(absent.code, Some(1));
    assert!(absent.stderr.contains("cannot run no-such-program-here"), "{}", absent.stderr);

    let bad = sealbox(&["secrets", "set", "lower", "v"], &env, "").await;
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("lower:"), "{}", bad.stderr);

    let delete = sealbox(&["secrets", "delete", "API_KEY"], &env, "").await;
    assert_eq!((delete.code, delete.stdout.as_str()), (Some(0), "✔ Secret deleted: API_KEY\n"));
    let again = sealbox(&["secrets", "delete", "API_KEY"], &env, "").await;
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains("API_KEY"), "{}", again.stderr);
}

async fn export_and_import_go_through_dotenv_files(backend: Backend) {
    let app = spawn_app(backend).await;
    let env = configured(&app).await;
    let env = pairs(&env);
    sealbox(&["secrets", "set", "EXISTING", "old"], &env, "").await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("import.env");
    std::fs::write(
        &file,
        "# from the old host\nEXISTING=new\nexport DB_URL=\"postgres://u:p@h/db?x=1\"\n",
    )
    .expect("file");
    let file = file.to_string_lossy().into_owned();

    let refused = sealbox(&["import", &file], &env, "").await;
    assert_eq!(refused.code, Some(1), "no terminal and no --yes");
    assert!(refused.stderr.contains("Will create 1: DB_URL"), "{}", refused.stderr);
    assert!(refused.stderr.contains("Will update 1: EXISTING"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    let imported = sealbox(&["import", &file, "--yes"], &env, "").await;
    assert_eq!(imported.code, Some(0), "{}", imported.stderr);
    assert_eq!(imported.stdout, "✔ Secret set: DB_URL\n✔ Secret updated: EXISTING\n");

    let dotenv = sealbox(&["export", "--format", "dotenv"], &env, "").await;
    assert_eq!(dotenv.stdout, "DB_URL=\"postgres://u:p@h/db?x=1\"\nEXISTING=new\n");
    let json = sealbox(&["export", "--format", "json"], &env, "").await;
    let json: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(json, serde_json::json!({ "DB_URL": "postgres://u:p@h/db?x=1", "EXISTING": "new" }));

    std::fs::write(dir.path().join("broken.env"), "GOOD=1\nthis line is wrong\n").expect("file");
    let broken = dir.path().join("broken.env").to_string_lossy().into_owned();
    let bad = sealbox(&["import", &broken, "--yes"], &env, "").await;
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("line 2: expected KEY=value"), "{}", bad.stderr);
    let list = sealbox(&["secrets", "list"], &env, "").await;
    assert!(!list.stdout.contains("GOOD"), "a broken file imports nothing");
}

async fn run_uses_a_local_dotenv_without_a_server(backend: Backend) {
    let _ = backend;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join(".env"), "LOCAL=from the file\n").expect(".env");
    let run = sealbox_in(dir.path(), &["run", "--", "printenv", "LOCAL"], &[], "").await;
    assert_eq!((run.code, run.stdout.as_str()), (Some(0), "from the file\n"), "{}", run.stderr);
    std::fs::write(dir.path().join("other.env"), "OTHER='quoted $x'\n").expect("file");
    let run = sealbox_in(
        dir.path(),
        &["run", "--dotenv", "other.env", "--", "printenv", "OTHER"],
        &[],
        "",
    )
    .await;
    assert_eq!(run.stdout, "quoted $x\n");
}

async fn a_missing_or_half_configuration_is_explained(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "no Sealbox server configured"),
        (&[("SEALBOX_URL", "http://127.0.0.1:9")], "set SEALBOX_TOKEN"),
        (&[("SEALBOX_TOKEN", "sbx_x")], "set SEALBOX_URL"),
        (&[("SEALBOX_URL", "ftp://x"), ("SEALBOX_TOKEN", "sbx_x")], "http:// or https://"),
    ];
    for (env, message) in cases {
        let out = sealbox(&["secrets", "list"], env, "").await;
        assert_eq!(out.code, Some(1));
        assert!(out.stderr.contains(message), "{message}: {}", out.stderr);
    }
    let wrong_token = [
        ("SEALBOX_URL", app.address.as_str()),
        ("SEALBOX_TOKEN", "sbx_not-a-real-token"),
        ("SEALBOX_PROJECT", "bot"),
    ];
    let out = sealbox(&["secrets", "list"], &wrong_token, "").await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("This token is not valid"), "{}", out.stderr);
    let unreachable = [
        ("SEALBOX_URL", "http://127.0.0.1:9"),
        ("SEALBOX_TOKEN", "sbx_x"),
        ("SEALBOX_PROJECT", "bot"),
    ];
    let out = sealbox(&["secrets", "list"], &unreachable, "").await;
    assert!(out.stderr.contains("cannot reach Sealbox"), "{}", out.stderr);
}

async fn run_hands_the_program_no_sealbox_setting_and_no_name_that_loads_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut env = configured(&app).await;
    let set = sealbox(&["secrets", "set", "API_KEY", CANARY], &pairs(&env), "").await;
    assert_eq!(set.code, Some(0), "{}", set.stderr);
    env.push(("SEALBOX_MASTER_KEY", "a-master-key-that-happens-to-be-set".to_string()));
    let run = sealbox(&["run", "--", "env"], &pairs(&env), "").await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains(&format!("API_KEY={CANARY}")), "{}", run.stdout);
    let leaked: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("SEALBOX_")).collect();
    assert!(leaked.is_empty(), "the program got {leaked:?}");

    // A hand-written .env (or a database from before the rule) cannot preload code either.
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("bad.env"), "LD_PRELOAD=/tmp/evil.so\nOK=1\n").expect("file");
    let args = ["run", "--dotenv", "bad.env", "--", "printenv", "OK"];
    let run = sealbox_in(dir.path(), &args, &[], "").await;
    assert_eq!((run.code, run.stdout.as_str()), (Some(1), ""));
    assert!(
        run.stderr
            .contains("nothing was run: LD_PRELOAD is reserved: it changes how programs load code"),
        "{}",
        run.stderr
    );
}
