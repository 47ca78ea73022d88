//! The run-time commands: `secrets set/list/get/delete`, `run`, `export` and `import`. They talk
//! to a server through [`Remote`]; `run` can also read a local `.env` for development. No command
//! prints a value except `secrets get` and `export`, whose whole purpose is to.
use std::{
    collections::BTreeMap,
    ffi::OsString,
    io::{self, BufRead, IsTerminal, Read, Write},
    path::Path,
    process::ExitCode,
};

use anyhow::{Context, anyhow, bail};
use app::{
    projects::dotenv,
    secrets::domain::{RESERVED_PREFIX, SecretKey, SecretValue, loads_code, loads_code_message},
};
use zeroize::Zeroizing;

use crate::{
    client::{Remote, Written},
    config::{ExportArgs, ExportFormat, ImportArgs, RunArgs, SecretsArgs, SecretsCommand},
};

pub async fn secrets(args: SecretsArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote::required(&args.remote)?;
    match args.command {
        SecretsCommand::Set { key, value } => {
            let key = checked_key(&key)?;
            let value = if value == "-" { read_stdin_value()? } else { Zeroizing::new(value) };
            SecretValue::new(value.to_string()).map_err(|error| anyhow!("{}", error.message))?;
            match remote.set(key.as_str(), &value).await? {
                Written::Created => println!("✔ Secret set: {key}"),
                Written::Updated => println!("✔ Secret updated: {key}"),
            }
        }
        SecretsCommand::List => {
            let (secrets, environment) = remote.list().await?;
            let project = args.remote.project.as_deref().unwrap_or_default().trim();
            let environment = environment.unwrap_or_else(|| "?".to_string());
            println!("Secrets of {project} in {environment}:");
            if secrets.is_empty() {
                eprintln!("No secrets in this environment yet.");
            }
            let now = app::time::Millis::now();
            let width = secrets.iter().map(|s| s.key.len()).max().unwrap_or(0);
            for secret in secrets {
                let set = chrono::DateTime::parse_from_rfc3339(&secret.updated_at)
                    .map(|at| app::time::relative(app::time::Millis(at.timestamp_millis()), now))
                    .unwrap_or(secret.updated_at);
                println!("{:width$}  set {set}", secret.key);
            }
        }
        SecretsCommand::Get { key, fallback } => {
            let key = checked_key(&key)?;
            match (remote.get(key.as_str()).await?, fallback) {
                (Some(revealed), _) => print_value(&revealed.value)?,
                (None, Some(fallback)) => print_value(&fallback)?,
                (None, None) => {
                    eprintln!("sealbox: error: this project has no secret named {key}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        SecretsCommand::Delete { key } => {
            let key = checked_key(&key)?;
            remote.delete(key.as_str()).await?;
            println!("✔ Secret deleted: {key}");
        }
        SecretsCommand::History { key } => {
            let key = checked_key(&key)?;
            let now = app::time::Millis::now();
            let versions = remote.history(key.as_str()).await?;
            let width = versions.iter().map(|v| v.version.to_string().len()).max().unwrap_or(1);
            for entry in versions {
                let set = chrono::DateTime::parse_from_rfc3339(&entry.created_at)
                    .map(|at| app::time::relative(app::time::Millis(at.timestamp_millis()), now))
                    .unwrap_or(entry.created_at);
                let change = match (
                    app::secrets::VersionChange::parse(&entry.change),
                    entry.restored_from,
                ) {
                    (Some(app::secrets::VersionChange::RolledBack), Some(from)) => {
                        format!("rolled back to v{from}")
                    }
                    (Some(change), _) => change.label().to_string(),
                    (None, _) => entry.change,
                };
                let current = if entry.current { "  (current)" } else { "" };
                let version = format!("v{}", entry.version);
                println!(
                    "{version:<width$}  set {set} by {}  {change}{current}",
                    entry.created_by,
                    width = width + 1
                );
            }
        }
        SecretsCommand::Rollback { key, to } => {
            let key = checked_key(&key)?;
            let secret = remote.rollback(key.as_str(), to).await?;
            println!("✔ Secret rolled back: {key} (v{to} → v{})", secret.version);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the command with the environment injected. On Unix the command replaces this process, so
/// its exit status (and a signal that ends it) passes through unchanged.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let environment = match (&args.dotenv, Remote::configured(&args.remote)?) {
        (Some(file), _) => read_dotenv(file)?,
        (None, Some(remote)) => remote.environment().await?,
        (None, None) if Path::new(".env").is_file() => read_dotenv(Path::new(".env"))?,
        (None, None) => bail!(
            "no Sealbox server configured and no .env here: set SEALBOX_URL, SEALBOX_TOKEN and \
             SEALBOX_PROJECT, or give --dotenv FILE"
        ),
    };
    let (program, arguments) =
        args.command.split_first().ok_or_else(|| anyhow!("give the command to run after --"))?;
    refuse_reserved(environment.keys())?;
    let mut command = std::process::Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with(RESERVED_PREFIX) {
            command.env_remove(name);
        }
    }
    command.args(arguments).envs(environment.iter().map(|(key, value)| (key, value.as_str())));
    exec(command, program)
}

/// Refuses to start a program with a name that [`loads_code`] (a database from before that
/// rule, or a hand-written `.env`, may hold one) or one of Sealbox's own `SEALBOX_` names.
fn refuse_reserved<'a>(keys: impl Iterator<Item = &'a String>) -> anyhow::Result<()> {
    let refused: Vec<String> = keys
        .filter_map(|key| {
            if loads_code(key) {
                Some(loads_code_message(key))
            } else if key.starts_with(RESERVED_PREFIX) {
                Some(format!(
                    "{key} is reserved: names starting with {RESERVED_PREFIX} are Sealbox's"
                ))
            } else {
                None
            }
        })
        .collect();
    if refused.is_empty() { Ok(()) } else { bail!("nothing was run: {}", refused.join("; ")) }
}

#[cfg(unix)]
fn exec(mut command: std::process::Command, program: &OsString) -> anyhow::Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let error = command.exec();
    Err(anyhow!("cannot run {}: {error}", program.to_string_lossy()))
}

#[cfg(not(unix))]
fn exec(mut command: std::process::Command, program: &OsString) -> anyhow::Result<ExitCode> {
    let status =
        command.status().with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    Ok(ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8))
}

pub async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let environment = Remote::required(&args.remote)?.environment().await?;
    let text = Zeroizing::new(match args.format {
        ExportFormat::Dotenv => {
            environment.iter().map(|(key, value)| dotenv::line(key, value)).collect::<String>()
        }
        ExportFormat::Json => {
            let plain: BTreeMap<&str, &str> =
                environment.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
            let mut json = serde_json::to_string_pretty(&plain)?;
            json.push('\n');
            json
        }
    });
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush())?;
    Ok(ExitCode::SUCCESS)
}

/// Sets every entry of a `.env` file, after showing which keys will be created and which
/// updated and asking (unless `--yes`).
pub async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let remote = Remote::required(&args.remote)?;
    let entries = read_dotenv(&args.file)?;
    if entries.is_empty() {
        bail!("{} has no entries to import", args.file.display());
    }
    for (key, value) in &entries {
        checked_key(key)?;
        SecretValue::new(value.to_string()).map_err(|error| anyhow!("{key}: {}", error.message))?;
    }
    let (listed, environment) = remote.list().await?;
    let existing: Vec<String> = listed.into_iter().map(|s| s.key).collect();
    let (updated, created): (Vec<&String>, Vec<&String>) =
        entries.keys().partition(|key| existing.contains(key));
    let names = |keys: &[&String]| {
        if keys.is_empty() {
            "none".to_string()
        } else {
            keys.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        }
    };
    if let Some(environment) = environment {
        eprintln!("Importing into {environment}");
    }
    eprintln!("Will create {}: {}", created.len(), names(&created));
    eprintln!("Will update {}: {}", updated.len(), names(&updated));
    if !args.yes && !confirmed()? {
        eprintln!("Nothing imported.");
        return Ok(ExitCode::FAILURE);
    }
    for (key, value) in &entries {
        let written = remote
            .set(key, value)
            .await
            .with_context(|| format!("{key} was not imported (the keys before it were)"))?;
        match written {
            Written::Created => println!("✔ Secret set: {key}"),
            Written::Updated => println!("✔ Secret updated: {key}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; without one, refuses and says how to go on.
fn confirmed() -> anyhow::Result<bool> {
    if !io::stdin().is_terminal() {
        bail!("not asking without a terminal: run again with --yes to import");
    }
    eprint!("Import? [y/N] ");
    io::stderr().flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

fn checked_key(text: &str) -> anyhow::Result<SecretKey> {
    SecretKey::parse(text).map_err(|error| anyhow!("{text}: {}", error.message))
}

/// A value from standard input, so that it stays out of shell history; one trailing newline
/// (what `echo` adds) is dropped.
fn read_stdin_value() -> anyhow::Result<Zeroizing<String>> {
    let mut value = Zeroizing::new(String::new());
    io::stdin().lock().read_to_string(&mut value).context("cannot read the value from stdin")?;
    let trimmed = value.strip_suffix('\n').map(|v| v.strip_suffix('\r').unwrap_or(v));
    Ok(match trimmed {
        Some(trimmed) => Zeroizing::new(trimmed.to_string()),
        None => value,
    })
}

fn print_value(value: &str) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(value.as_bytes())?;
    if stdout_is_terminal() {
        stdout.write_all(b"\n")?;
    }
    stdout.flush()?;
    Ok(())
}

/// A value piped into another program is printed exactly; on a terminal it gets a newline.
fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

fn read_dotenv(file: &Path) -> anyhow::Result<BTreeMap<String, Zeroizing<String>>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    let entries = dotenv::parse(&text).map_err(|error| anyhow!("{}: {error}", file.display()))?;
    Ok(entries.into_iter().map(|(key, value)| (key, Zeroizing::new(value))).collect())
}
