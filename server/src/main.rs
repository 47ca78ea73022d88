//! `sealbox`: the web server and, in later commands, the command-line client.
use std::process::ExitCode;

use clap::Parser;
use sealbox::{
    config::{Cli, Command, ServeArgs},
    startup::{Application, shutdown_signal},
    telemetry,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&anyhow::Error::new(error).context("cannot start the runtime")),
    };
    let result = match cli.command {
        Some(Command::Serve(args)) => runtime.block_on(serve(args)),
        None => runtime.block_on(serve(cli.serve)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init(&args.log_level, args.log_format)?;
    let config = args.resolve()?;
    let app = Application::build(config).await?;
    tracing::info!("Sealbox is running at http://{}", app.local_addr());
    app.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// One line on stderr, the whole cause chain, no backtrace.
fn fail(error: &anyhow::Error) -> ExitCode {
    let message = format!("{error:#}").replace('\n', " ");
    eprintln!("sealbox: error: {message}");
    ExitCode::FAILURE
}
