//! `sealbox`: the web server and, in later commands, the command-line client.
use std::process::ExitCode;

use std::io::BufRead;

use app::{
    accounts::{
        domain::{DisplayName, Email, Password, Role},
        service::Accounts,
    },
    keyring::rotation::{Which, generations, rotate_data_keys},
    projects::ProjectSlug,
    secrets::service::Actor,
    store::Store,
};
use clap::Parser;
use sealbox::{
    cli,
    config::{AdminArgs, AdminCommand, AuditArgs, AuditCommand, Cli, Command, DevKey, ServeArgs},
    startup::{Application, open_vault, shutdown_signal},
    telemetry,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&anyhow::Error::new(error).context("cannot start the runtime")),
    };
    let result = match cli.command {
        Some(Command::Serve(args)) => runtime.block_on(serve(args)).map(|()| ExitCode::SUCCESS),
        // A leak check that cannot run is not "not found" (1): it exits 2.
        Some(Command::Admin(args)) if matches!(args.command, AdminCommand::LeakCheck) => {
            match runtime.block_on(admin(args)) {
                Err(error) => {
                    fail(&error);
                    return ExitCode::from(2);
                }
                outcome => outcome,
            }
        }
        Some(Command::Admin(args)) => runtime.block_on(admin(args)),
        Some(Command::Audit(args)) => runtime.block_on(audit(args)),
        Some(Command::Secrets(args)) => runtime.block_on(cli::secrets(args)),
        Some(Command::Run(args)) => runtime.block_on(cli::run(args)),
        Some(Command::Export(args)) => runtime.block_on(cli::export(args)),
        Some(Command::Import(args)) => runtime.block_on(cli::import(args)),
        None => runtime.block_on(serve(cli.serve)).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(error) => fail(&error),
    }
}

/// `sealbox audit verify` (exit 0 on an intact chain, 1 on a broken one, named on stderr) and
/// `sealbox audit head`. Neither migrates nor writes (but `verify --record`).
async fn audit(args: AuditArgs) -> anyhow::Result<ExitCode> {
    telemetry::init(&args.log.level, args.log.format)?;
    let store = Store::connect(&args.store.database_url()).await?;
    let outcome = match args.command {
        AuditCommand::Head => match app::audit::chain::head(&store).await? {
            Some(head) => {
                println!("{head}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("sealbox: the audit log is empty");
                ExitCode::FAILURE
            }
        },
        AuditCommand::Verify { expect, record } => {
            let config = args.store.resolve(DevKey::MustExist)?;
            let keys: Vec<_> =
                std::iter::once(config.master_key).chain(config.older_master_keys).collect();
            let key = app::keyring::Keyring::read_chain_key(&store, &keys).await?;
            let verification = app::audit::chain::verify(&store, &key, expect.as_ref()).await?;
            if record {
                app::audit::chain::record_verification(&store, &verification).await?;
            }
            if verification.broken.is_none() {
                println!("✔ {}", verification.message());
                ExitCode::SUCCESS
            } else {
                eprintln!("✘ {}", verification.message());
                ExitCode::FAILURE
            }
        }
    };
    store.close().await;
    Ok(outcome)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init(&args.log.level, args.log.format)?;
    let stop = shutdown_signal();
    let config = args.resolve()?;
    let app = Application::build(config).await?;
    tracing::info!("Sealbox is running at http://{}", app.local_addr());
    app.run_until(stop).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn admin(args: AdminArgs) -> anyhow::Result<ExitCode> {
    telemetry::init(&args.log.level, args.log.format)?;
    let (store, vault) = open_vault(args.store.resolve(DevKey::MustExist)?).await?;
    let actor = Actor::new("admin (command line)", None);
    let mut outcome = ExitCode::SUCCESS;
    match args.command {
        AdminCommand::RotateDataKeys { project, team, batch_size } => {
            let which = match (project, team) {
                (Some(slug), _) => Which::Project(ProjectSlug::parse(&slug)?.as_str().to_string()),
                (None, true) => Which::Team,
                (None, false) => Which::All,
            };
            let rotated = rotate_data_keys(
                &store,
                vault.audit(),
                vault.keyring(),
                &actor,
                &which,
                usize::from(batch_size),
            )
            .await?;
            for scope in &rotated {
                println!(
                    "✔ {}: data key generation {}{}; re-encrypted {} versions; deleted generation {}",
                    scope.slug.as_deref().unwrap_or("team secrets"),
                    scope.generation,
                    if scope.resumed { " (resumed)" } else { "" },
                    scope.resealed,
                    generations(&scope.retired),
                );
            }
            let versions: u64 = rotated.iter().map(|scope| scope.resealed).sum();
            println!("✔ Rotated {} data keys; re-encrypted {versions} versions", rotated.len());
        }
        AdminCommand::CreateUser { email, role, name, password_stdin: _ } => {
            let email = Email::parse(&email)?;
            let role = Role::parse(&role)?;
            let name = DisplayName::parse(name.as_deref(), &email)?;
            let mut line = zeroize::Zeroizing::new(String::new());
            std::io::stdin().lock().read_line(&mut line)?;
            let password = Password::new(line.trim_end_matches(['\r', '\n']).to_string())?;
            let user = Accounts::new(store.clone(), vault.audit().clone())
                .create_user(&actor, email, name, role, password)
                .await?;
            println!("✔ Created {} {}", user.role.as_str(), user.email);
        }
        // 0 found, 1 not found, 2 the check failed.
        AdminCommand::LeakCheck => {
            outcome = match leak_check(&vault, &actor).await {
                Ok(found) => found,
                Err(error) => {
                    fail(&error);
                    ExitCode::from(2)
                }
            };
        }
        AdminCommand::RotateMasterKey => {
            let report = app::keyring::master::rotate_master_key(
                vault.store(),
                vault.audit(),
                vault.keyring(),
                &actor,
            )
            .await?;
            println!("✔ {report}");
        }
    }
    vault.audit().flush().await;
    store.close().await;
    Ok(outcome)
}

/// One line on stderr, the whole cause chain, no backtrace.
fn fail(error: &anyhow::Error) -> ExitCode {
    let message = format!("{error:#}").replace('\n', " ");
    eprintln!("sealbox: error: {message}");
    ExitCode::FAILURE
}

/// `sealbox admin leak-check`: the value from standard input (one trailing newline dropped), the
/// versions that hold it on standard output.
async fn leak_check(
    vault: &app::secrets::service::Vault,
    actor: &Actor,
) -> anyhow::Result<ExitCode> {
    use std::io::Read;
    let mut text = zeroize::Zeroizing::new(String::new());
    std::io::stdin().lock().read_to_string(&mut text)?;
    let trimmed =
        text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    if trimmed.is_empty() {
        anyhow::bail!(
            "give the value to check on standard input, e.g. sealbox admin leak-check < leaked.txt"
        );
    }
    let value = app::secrets::domain::SecretValue::new(trimmed.to_string())
        .map_err(|error| anyhow::anyhow!("{}", error.message))?;
    let report = app::leaks::service::check(vault, actor, &value).await?;
    if report.matches.is_empty() {
        println!("No secret holds this value.");
        return Ok(ExitCode::FAILURE);
    }
    let now = app::time::Millis::now();
    for found in &report.matches {
        let place = match (&found.project, found.environment.as_str()) {
            (Some(slug), name) => format!("{slug}/{name}"),
            (None, app::environments::TEAM_ENVIRONMENT) => "team/*".to_string(),
            (None, name) => format!("team/{name}"),
        };
        let current = if found.current { "current" } else { "earlier version" };
        let reads = match found.reads {
            0 => "not read since".to_string(),
            n => format!("read {n} times since by {}", found.readers.join(", ")),
        };
        println!(
            "{place}  {} v{} ({current})  set {} by {}  {reads}",
            found.key,
            found.version,
            app::time::relative(found.set_at, now),
            found.set_by
        );
    }
    Ok(ExitCode::SUCCESS)
}
