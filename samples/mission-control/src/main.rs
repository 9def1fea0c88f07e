//! `mission-control [--db FILE] [--listen ADDR] [--operator-token TOKEN] ...`: runs the reference
//! backend until Ctrl-C. Creating a property needs the operator token; the secret key that seals
//! the database's secrets comes from `KEYWAY_MC_SECRET_KEY` or `<db>.key`.

use clap::Parser;
use mission_control::{ConsoleOptions, OperatorSettings, PropertyCreation, Server, ServerOptions};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The environment variable that may hold the operator token (safer than the command line,
/// which other users of the machine can read).
const OPERATOR_TOKEN_ENV: &str = "KEYWAY_MC_OPERATOR_TOKEN";
/// The environment variable that may set the manager token lifetime in days (the flag wins).
const MANAGER_TOKEN_LIFETIME_ENV: &str = "KEYWAY_MC_MANAGER_TOKEN_LIFETIME_DAYS";
/// The longest manager token lifetime accepted, in days (ten years).
const MAX_MANAGER_TOKEN_LIFETIME_DAYS: u64 = 3650;

#[derive(Parser, Debug)]
#[command(name = "mission-control", about = "Keyway's reference Mission Control backend")]
struct Args {
    /// SQLite database file (created and migrated if needed). Its secrets are sealed under the
    /// key in KEYWAY_MC_SECRET_KEY (64 hex digits) or else in the key file <db>.key (created on
    /// first start, mode 0600): back that file up apart from the database.
    #[arg(long, default_value = "mission-control.db")]
    db: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// The operator token that may create properties (or set KEYWAY_MC_OPERATOR_TOKEN). Without
    /// either, one is generated on the first start and printed once on stderr.
    #[arg(long)]
    operator_token: Option<String>,
    /// Most properties one operator token may create.
    #[arg(long, default_value_t = OperatorSettings::DEFAULT_MAX_PROPERTIES)]
    max_properties_per_operator: u32,
    /// Property creations a minute per operator token.
    #[arg(long, default_value_t = OperatorSettings::DEFAULT_CREATIONS_PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..))]
    property_creations_per_minute: u32,
    /// Days a manager token works after it is issued or rotated (or set
    /// KEYWAY_MC_MANAGER_TOKEN_LIFETIME_DAYS); then it answers 401 until the manager gets a new
    /// one. Default 90.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_MANAGER_TOKEN_LIFETIME_DAYS))]
    manager_token_lifetime_days: Option<u64>,
    /// Mark the web console's session cookie Secure: set it when a TLS proxy serves Mission
    /// Control (a proxy that sends `X-Forwarded-Proto: https` marks it without this flag).
    #[arg(long)]
    console_secure_cookies: bool,
    /// The URL phones and doorcode holders reach this server at (e.g. https://keys.example.com
    /// behind a TLS proxy), named in welcome messages. Default: http:// and the --listen address.
    #[arg(long)]
    public_url: Option<String>,
}

/// The lifetime from the flag, else the environment, else the default.
fn manager_token_lifetime(flag: Option<u64>) -> Result<std::time::Duration, String> {
    let days = match (flag, std::env::var(MANAGER_TOKEN_LIFETIME_ENV).ok().filter(|v| !v.is_empty())) {
        (Some(days), _) => days,
        (None, Some(text)) => match text.trim().parse::<u64>() {
            Ok(days) if (1..=MAX_MANAGER_TOKEN_LIFETIME_DAYS).contains(&days) => days,
            _ => {
                return Err(format!(
                    "{MANAGER_TOKEN_LIFETIME_ENV} must be a whole number of days from 1 to {MAX_MANAGER_TOKEN_LIFETIME_DAYS}, not {text:?}"
                ));
            }
        },
        (None, None) => return Ok(ServerOptions::DEFAULT_MANAGER_TOKEN_LIFETIME),
    };
    Ok(std::time::Duration::from_secs(days * 86_400))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let manager_token_lifetime = match manager_token_lifetime(args.manager_token_lifetime_days) {
        Ok(lifetime) => lifetime,
        Err(e) => {
            eprintln!("mission-control: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mission-control: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    let token = args.operator_token.or_else(|| std::env::var(OPERATOR_TOKEN_ENV).ok()).filter(|t| !t.is_empty());
    let options = ServerOptions {
        property_creation: PropertyCreation::Operator(OperatorSettings {
            token,
            max_properties: args.max_properties_per_operator,
            creations_per_minute: args.property_creations_per_minute,
        }),
        manager_token_lifetime,
        console: ConsoleOptions { secure_cookies: args.console_secure_cookies },
        public_url: args.public_url.filter(|u| !u.trim().is_empty()),
        ..ServerOptions::default()
    };
    let server = match Server::start_on_with(&args.db, listener, options).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("mission-control: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(token) = server.operator_token() {
        eprintln!(
            "mission-control: operator token, shown this once (only its hash is stored; it creates properties): {token}"
        );
    }
    println!("mission-control listening on {} (database {})", server.base_url(), args.db.display());
    eprintln!("mission-control: the manager's console is at {}/ (sign in with a manager token)", server.base_url());
    let _ = tokio::signal::ctrl_c().await;
    match server.shutdown().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mission-control: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
