//! `keyway`: the resident's side of Keyway on the command line, over the same
//! [`Wallet`](keyway_wallet::Wallet) the apps embed.
//!
//! ```text
//! keyway --wallet DIR accept --backend URL --token T
//! keyway --wallet DIR sync | upload | keys | pending | activity
//! keyway --wallet DIR unlock --door N --addr HOST:PORT [--mtu 185]
//! keyway --wallet DIR share-request --name NAME
//! keyway --wallet DIR share --key K --request TEXT --doors 1,2 [--from T] --until T
//! keyway --wallet DIR accept-guest-key TEXT
//! ```
//!
//! The wallet directory holds `wallet.db` (SQLite) and `secure/` (the device key and the device
//! token, one file each, mode 0600). Network operations show a spinner on a terminal. Bad
//! input and failures are one line on stderr and exit code 1.

mod args;
mod commands;
mod display;

use clap::Parser;
use clap::error::ErrorKind;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => e.exit(),
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{e}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            // One line, like every other error: clap's first line without its "error: " tag.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments").trim_start_matches("error: ");
            eprintln!("keyway: {first} (see keyway --help)");
            return ExitCode::FAILURE;
        }
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("keyway: {message}");
            ExitCode::FAILURE
        }
    }
}
