//! Command-line and environment configuration, validated before anything starts. Every problem
//! becomes one sentence that names the setting and says what is wrong with it.
//!
//! Over ~450 lines with its tests because every command's clap definition is here (the server's,
//! the admin and audit commands', and the API client's at the end), so that what `sealbox --help`
//! prints is read in one file.
use std::{
    fs,
    io::{self, Write},
    net::SocketAddr,
    path::{Path, PathBuf},
};

use app::crypto::{MasterKey, MasterKeyError};
use clap::{Args, Parser, Subcommand, ValueEnum};

const MASTER_KEY_ENV: &str = "SEALBOX_MASTER_KEY";
const OLD_MASTER_KEYS_ENV: &str = "SEALBOX_OLD_MASTER_KEYS";
const DEV_KEY_FILE_NAME: &str = "master.key";
const SQLITE_FILE_NAME: &str = "sealbox.db";

#[derive(Debug, Parser)]
#[command(
    name = "sealbox",
    version,
    about = "Sealbox: a self-hosted secrets manager for teams",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a command, Sealbox runs the web server.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default when no command is given).
    Serve(ServeArgs),
    /// Maintenance commands that work on the database directly; no running server needed.
    Admin(AdminArgs),
    /// The audit log.
    Audit(AuditArgs),
    /// Set, list, read and delete a project's secrets on a Sealbox server (needs a service
    /// token).
    Secrets(SecretsArgs),
    /// Run a command with the project's secrets and variables in its environment:
    /// `sealbox run -- ./bot`. Uses the server when one is configured, else --dotenv FILE or a
    /// .env in the current directory.
    Run(RunArgs),
    /// Print the project's environment (variables, team and project secrets) as .env or JSON.
    Export(ExportArgs),
    /// Set every entry of a .env file as a secret, after showing what will change.
    Import(ImportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AuditCommand {
    /// Walk the audit log's chain and report the first broken link (an edited, deleted,
    /// inserted or reordered event, or one written without the chain key). Exits 0 on an intact
    /// chain, 1 otherwise. Needs the master key; writes nothing unless --record.
    Verify {
        /// A head noted earlier (`sealbox audit head`, or the server's "audit chain head" log
        /// line), COUNT:MAC: also fail when the chain is shorter or differs there.
        #[arg(long, value_name = "COUNT:MAC")]
        expect: Option<app::audit::chain::Head>,
        /// Save the result, which Settings → Audit shows.
        #[arg(long)]
        record: bool,
    },
    /// Print the chain's event count and last link as COUNT:MAC, to keep somewhere the
    /// database's writers cannot reach and give to `verify --expect` later.
    Head,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "SEALBOX_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    #[command(flatten)]
    pub store: StoreArgs,

    /// The URL people use to reach Sealbox, e.g. https://secrets.example.com
    #[arg(long, env = "SEALBOX_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Sign people out after this many hours without a request (1 to 720).
    #[arg(long, env = "SEALBOX_SESSION_IDLE_HOURS", default_value_t = 12,
          value_parser = clap::value_parser!(u16).range(1..=720))]
    pub session_idle_hours: u16,

    /// Reverse proxies whose forwarding headers (X-Forwarded-For, Forwarded, X-Forwarded-Proto)
    /// are believed: comma-separated addresses or ranges, e.g. 127.0.0.1,10.0.0.0/8.
    #[arg(long, env = "SEALBOX_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// On SIGTERM or Ctrl-C, how many seconds requests in flight get to finish (1 to 3600)
    /// before the server gives up on them and exits with status 1.
    #[arg(long, env = "SEALBOX_SHUTDOWN_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u16).range(1..=3600))]
    pub shutdown_seconds: u16,

    #[command(flatten)]
    pub log: LogArgs,

    /// Directory with the compiled stylesheet, JavaScript and WebAssembly (set by cargo-leptos).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Re-wrap every data key with the current master key (SEALBOX_MASTER_KEY, or the first line
    /// of the key file) and retire the older ones, in one transaction. Give the older keys in
    /// SEALBOX_OLD_MASTER_KEYS (or the next lines of the key file) so they can be unwrapped.
    RotateMasterKey,
    /// Give every project and the team scope (or one project) a fresh data key, re-encrypt each
    /// stored version under it in batches while servers keep serving, then delete the old data
    /// key. Audited; resumes an interrupted rotation when run again.
    RotateDataKeys {
        /// Only this project (its URL slug, as in /projects/SLUG).
        #[arg(long, value_name = "SLUG", conflicts_with = "team")]
        project: Option<String>,
        /// Only the team secrets.
        #[arg(long)]
        team: bool,
        /// Versions re-encrypted per transaction (1 to 10000).
        #[arg(long, default_value_t = 500,
              value_parser = clap::value_parser!(u16).range(1..=10000))]
        batch_size: u16,
    },
    /// Which secrets hold (or held) a value, read from standard input: every project,
    /// environment and the team secrets, current and older versions, with who set each and who
    /// read it since. Compared by keyed fingerprint only (nothing is decrypted); audited without
    /// the value. Exits 0 when the value was found, 1 when not.
    LeakCheck,
    /// Create a user, e.g. the first owner, without a running server. The password is read from
    /// standard input so that it stays out of shell history and process lists.
    CreateUser {
        /// Their email address (how they sign in).
        #[arg(long)]
        email: String,
        /// owner, admin or member.
        #[arg(long)]
        role: String,
        /// The name shown for them (default: the part of the email before @).
        #[arg(long)]
        name: Option<String>,
        /// Read the password (12 to 256 characters) from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

/// Where the data is and the keys that open it.
#[derive(Debug, Clone, Args)]
#[command(
    after_long_help = "The master key can also be given as base64 in the SEALBOX_MASTER_KEY \
    environment variable, and keys being rotated out in SEALBOX_OLD_MASTER_KEYS (comma-separated); \
    there are no flags for them because command lines are visible to every user of the machine. \
    Without a key, `serve` generates a development key in the data directory."
)]
pub struct StoreArgs {
    /// The database: sqlite://FILE or postgres://USER@HOST/DB [default: sqlite://DATA_DIR/sealbox.db]
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// File holding the base64 master key (32 bytes); further lines hold older keys.
    #[arg(long, env = "SEALBOX_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,

    /// Directory for the SQLite database and the development master key.
    #[arg(long, env = "SEALBOX_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log filter: a level (error, warn, info, debug, trace) or tracing directives.
    #[arg(long = "log-level", env = "SEALBOX_LOG", default_value = "info")]
    pub level: String,

    /// Log format.
    #[arg(long = "log-format", env = "SEALBOX_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Expired sessions are refused at once; this only bounds how long their rows linger.
pub const SESSION_CLEANUP_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Everything the server needs, checked.
#[derive(Debug)]
pub struct Config {
    pub addr: SocketAddr,
    pub store: StoreConfig,
    pub public_url: Option<url::Url>,
    pub session_idle_hours: u16,
    /// How often expired sessions are deleted from the database.
    pub session_cleanup_every: std::time::Duration,
    pub site_root: PathBuf,
    /// Peers whose forwarding headers are believed.
    pub trusted_proxies: Vec<crate::proxy::Cidr>,
    /// How long a graceful stop waits for requests in flight.
    pub shutdown_deadline: std::time::Duration,
}

/// The database and the master keys, checked.
#[derive(Debug)]
pub struct StoreConfig {
    pub database_url: String,
    /// Wraps everything new.
    pub master_key: MasterKey,
    /// Only unwrap, until `admin rotate-master-key` has re-wrapped what they wrapped.
    pub older_master_keys: Vec<MasterKey>,
    pub master_key_source: MasterKeySource,
}

/// Where the master key came from; a development key is announced loudly at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    Environment,
    File(PathBuf),
    DevelopmentFile { path: PathBuf, created: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("set {MASTER_KEY_ENV} or SEALBOX_MASTER_KEY_FILE, not both")]
    TwoMasterKeys,
    #[error("{MASTER_KEY_ENV} is not a valid master key: {0}")]
    BadMasterKeyEnv(MasterKeyError),
    #[error("{OLD_MASTER_KEYS_ENV} holds an invalid key (number {index}): {source}")]
    BadOldMasterKey { index: usize, source: MasterKeyError },
    #[error("cannot read the master key file {path}: {source}")]
    UnreadableKeyFile { path: String, source: io::Error },
    #[error("the master key file {path} is not a valid master key: {source}")]
    MalformedKeyFile { path: String, source: MasterKeyError },
    #[error("cannot create the development master key file {path}: {source}")]
    CreateKeyFile { path: String, source: io::Error },
    #[error("no master key is configured: set {MASTER_KEY_ENV} or SEALBOX_MASTER_KEY_FILE")]
    NoMasterKey,
    #[error(
        "SEALBOX_PUBLIC_URL must be an http:// or https:// URL such as https://secrets.example.com"
    )]
    BadPublicUrl,
    #[error(
        "SEALBOX_TRUSTED_PROXIES must list addresses or ranges such as 10.0.0.0/8, separated by \
         commas; \"{0}\" is neither"
    )]
    BadTrustedProxy(String),
    #[error("SEALBOX_LOG is not a valid log filter: {0}")]
    BadLogFilter(String),
}

impl ServeArgs {
    /// Validates the settings and loads (or, for development, creates) the master key.
    pub fn resolve(self) -> Result<Config, ConfigError> {
        let public_url = self.public_url.as_deref().map(parse_public_url).transpose()?;
        Ok(Config {
            addr: self.addr,
            store: self.store.resolve(DevKey::CreateIfMissing)?,
            public_url,
            session_idle_hours: self.session_idle_hours,
            session_cleanup_every: SESSION_CLEANUP_EVERY,
            site_root: self.site_root,
            trusted_proxies: crate::proxy::parse_list(&self.trusted_proxies)
                .map_err(ConfigError::BadTrustedProxy)?,
            shutdown_deadline: std::time::Duration::from_secs(self.shutdown_seconds.into()),
        })
    }
}

/// Whether a missing development key may be created (the server) or not (admin commands, which
/// must work with the keys the data was written with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevKey {
    CreateIfMissing,
    MustExist,
}

impl StoreArgs {
    /// `DATABASE_URL`, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir.join(SQLITE_FILE_NAME).display())
        })
    }

    pub fn resolve(self, dev_key: DevKey) -> Result<StoreConfig, ConfigError> {
        let database_url = self.database_url();
        let env_key = std::env::var(MASTER_KEY_ENV).ok().filter(|v| !v.is_empty());
        let (mut keys, master_key_source) = load_master_keys(
            env_key.as_deref(),
            self.master_key_file.as_deref(),
            &self.data_dir,
            dev_key,
        )?;
        let old_env = std::env::var(OLD_MASTER_KEYS_ENV).unwrap_or_default();
        for (index, text) in old_env.split(',').filter(|t| !t.trim().is_empty()).enumerate() {
            let key = MasterKey::from_base64(text)
                .map_err(|source| ConfigError::BadOldMasterKey { index: index + 1, source })?;
            keys.push(key);
        }
        let mut keys = keys.into_iter();
        let master_key = keys.next().ok_or(ConfigError::NoMasterKey)?;
        Ok(StoreConfig {
            database_url,
            master_key,
            older_master_keys: keys.collect(),
            master_key_source,
        })
    }
}

fn parse_public_url(text: &str) -> Result<url::Url, ConfigError> {
    let url = url::Url::parse(text).map_err(|_| ConfigError::BadPublicUrl)?;
    match url.scheme() {
        "http" | "https" if url.has_host() => Ok(url),
        _ => Err(ConfigError::BadPublicUrl),
    }
}

fn load_master_keys(
    env_key: Option<&str>,
    key_file: Option<&Path>,
    data_dir: &Path,
    dev_key: DevKey,
) -> Result<(Vec<MasterKey>, MasterKeySource), ConfigError> {
    match (env_key, key_file) {
        (Some(_), Some(_)) => Err(ConfigError::TwoMasterKeys),
        (Some(text), None) => MasterKey::from_base64(text)
            .map(|key| (vec![key], MasterKeySource::Environment))
            .map_err(ConfigError::BadMasterKeyEnv),
        (None, Some(path)) => {
            read_key_file(path).map(|keys| (keys, MasterKeySource::File(path.to_path_buf())))
        }
        (None, None) => {
            let path = data_dir.join(DEV_KEY_FILE_NAME);
            if path.exists() {
                let keys = read_key_file(&path)?;
                Ok((keys, MasterKeySource::DevelopmentFile { path, created: false }))
            } else if dev_key == DevKey::CreateIfMissing {
                let key = create_dev_key_file(&path)?;
                Ok((vec![key], MasterKeySource::DevelopmentFile { path, created: true }))
            } else {
                Err(ConfigError::NoMasterKey)
            }
        }
    }
}

/// Reads a key file: the current key on the first line, older keys on the lines after it.
fn read_key_file(path: &Path) -> Result<Vec<MasterKey>, ConfigError> {
    let display = path.display().to_string();
    let text = zeroize::Zeroizing::new(
        fs::read_to_string(path)
            .map_err(|source| ConfigError::UnreadableKeyFile { path: display.clone(), source })?,
    );
    let keys: Result<Vec<MasterKey>, MasterKeyError> =
        text.lines().filter(|l| !l.trim().is_empty()).map(MasterKey::from_base64).collect();
    match keys {
        Ok(keys) if keys.is_empty() => Err(ConfigError::MalformedKeyFile {
            path: display,
            source: MasterKeyError::WrongLength(0),
        }),
        Ok(keys) => Ok(keys),
        Err(source) => Err(ConfigError::MalformedKeyFile { path: display, source }),
    }
}

/// Writes a fresh key readable by its owner only (mode 0600), refusing to overwrite a file.
fn create_dev_key_file(path: &Path) -> Result<MasterKey, ConfigError> {
    let failed = |source| ConfigError::CreateKeyFile { path: path.display().to_string(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The data directory holds the database and this key: private to its owner.
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(failed)?;
    }
    let key = MasterKey::generate();
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(key.to_base64().as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(failed)?;
    Ok(key)
}

/// Where the run-time commands find the server, the project and the token.
#[derive(Debug, Clone, Args)]
#[command(after_long_help = "The token can also be given in the SEALBOX_TOKEN environment \
    variable; there is no --token flag because command lines are visible to every user of the \
    machine.")]
pub struct RemoteArgs {
    /// The Sealbox server, e.g. https://secrets.example.com
    #[arg(long, env = "SEALBOX_URL")]
    pub url: Option<String>,

    /// The project's slug, as in its address (/projects/SLUG).
    #[arg(long, env = "SEALBOX_PROJECT")]
    pub project: Option<String>,

    /// The environment (development, staging, production, …): checked against the token, which
    /// belongs to one environment. Without it, the token's environment.
    #[arg(long = "env", env = "SEALBOX_ENVIRONMENT")]
    pub environment: Option<String>,

    /// A file holding a service token from the project's Tokens tab (instead of SEALBOX_TOKEN).
    #[arg(long, env = "SEALBOX_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// Set from SEALBOX_TOKEN only.
    #[arg(skip = std::env::var("SEALBOX_TOKEN").ok())]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub command: SecretsCommand,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SecretsCommand {
    /// Create or update a secret. Give VALUE as - to read it from standard input, which keeps it
    /// out of shell history.
    Set { key: String, value: String },
    /// One line per secret with when it was last set; never values.
    List,
    /// Print a secret's value.
    Get {
        key: String,
        /// Print this instead when the project has no such secret (exit 0).
        #[arg(long)]
        fallback: Option<String>,
    },
    /// Delete a secret and its history.
    Delete { key: String },
    /// One line per version of a secret, the newest first: when, by whom, what changed; never
    /// values.
    History { key: String },
    /// Make an earlier version's value and description current again, as a new version (needs a
    /// read-write token).
    Rollback {
        key: String,
        /// The version to roll back to (see `sealbox secrets history KEY`).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
        to: i64,
    },
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Take the environment from this .env file instead of the server.
    #[arg(long)]
    pub dotenv: Option<PathBuf>,

    #[command(flatten)]
    pub remote: RemoteArgs,

    /// The command and its arguments, after --.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Dotenv,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value = "dotenv")]
    pub format: ExportFormat,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The .env file to import.
    pub file: PathBuf,

    /// Import without asking.
    #[arg(long)]
    pub yes: bool,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_key_sources_at_once_are_refused() {
        let dir = std::env::temp_dir();
        let error = load_master_keys(Some("x"), Some(Path::new("/k")), &dir, DevKey::MustExist)
            .expect_err("refused");
        assert!(matches!(error, ConfigError::TwoMasterKeys));
    }

    #[test]
    fn a_public_url_must_be_http_or_https() {
        assert!(parse_public_url("https://secrets.example.com").is_ok());
        assert!(parse_public_url("ftp://secrets.example.com").is_err());
        assert!(parse_public_url("secrets.example.com").is_err());
    }
}
