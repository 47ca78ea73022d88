//! Structured logs with tracing: human-readable text by default, one JSON object per line with
//! `SEALBOX_LOG_FORMAT=json`. Logs go to stderr; stdout is kept for command output.
use tracing_subscriber::EnvFilter;

use crate::config::{ConfigError, LogFormat};

/// Installs the global subscriber. Returns an error for an invalid filter; a second call (as in
/// tests that start several servers in one process) keeps the first subscriber.
pub fn init(filter: &str, format: LogFormat) -> Result<(), ConfigError> {
    let filter =
        EnvFilter::try_new(filter).map_err(|e| ConfigError::BadLogFilter(e.to_string()))?;
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    // An error here only means a subscriber is already installed.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
    Ok(())
}
