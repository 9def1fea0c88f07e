//! `cargo run -p keyway-walkthrough [-- --json] [-- --keep-running]`: the README's main command. See
//! [`keyway_walkthrough`].

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "keyway-walkthrough",
    about = "Runs the property manager's article end to end: Mission Control, door simulators and wallets on loopback"
)]
struct Args {
    /// Print a machine-readable report instead of the narrative.
    #[arg(long)]
    json: bool,
    /// Work (and keep everything) in this directory instead of a temporary one.
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// After the story, keep Mission Control running (print its console's URL and a manager
    /// token to sign in with) until Ctrl-C.
    #[arg(long)]
    keep_running: bool,
}

fn main() -> ExitCode {
    // The doors are this same binary, re-executed as `keyway-walkthrough lock-sim ...`.
    let mut args = std::env::args_os();
    if std::env::args_os().nth(1).is_some_and(|a| a == keyway_walkthrough::doors::LOCK_SIM_SUBCOMMAND) {
        let _ = args.next();
        return lock_sim::cli::main_from(args);
    }
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("keyway-walkthrough: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = runtime.block_on(keyway_walkthrough::run(keyway_walkthrough::Options {
        narrate: !args.json,
        workdir: args.workdir,
        keep_running: args.keep_running,
    }));
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("keyway-walkthrough: {e}"),
        }
    } else {
        print!("{}", report.summary());
        if let Some(f) = report.steps.iter().find_map(|s| s.failure.as_ref().map(|f| (s.number, f))) {
            eprintln!("keyway-walkthrough: step {} failed: {}", f.0, f.1);
        }
    }
    if report.passed { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
