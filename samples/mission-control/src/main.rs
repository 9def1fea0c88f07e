//! `mission-control [--db FILE] [--listen ADDR]`: runs the reference backend until Ctrl-C.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "mission-control", about = "Keyway's reference Mission Control backend")]
struct Args {
    /// SQLite database file (created and migrated if needed).
    #[arg(long, default_value = "mission-control.db")]
    db: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mission-control: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| args.listen.to_string());
    println!("mission-control listening on http://{addr} (database {})", args.db.display());
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match mission_control::serve(&args.db, listener, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mission-control: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
