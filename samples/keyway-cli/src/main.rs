//! `keyway`: the resident's side of Keyway on the command line, over the same
//! [`Wallet`](keyway_wallet::Wallet) the apps embed.
//!
//! ```text
//! keyway --wallet DIR accept --backend URL --token T
//! keyway --wallet DIR sync | upload | keys | pending | activity
//! keyway --wallet DIR unlock --door N --addr HOST:PORT [--mtu 185]
//! keyway --wallet DIR unlock --door N --ble [--scan-secs 10]
//! keyway --wallet DIR share-request --name NAME
//! keyway --wallet DIR share --key K --request TEXT --doors 1,2 [--from T] --until T
//! keyway --wallet DIR accept-guest-key TEXT
//! ```
//!
//! The wallet directory holds `wallet.db` (SQLite) and `secure/` (the device key and the device
//! token, one file each, mode 0600). Network operations show a spinner on a terminal. A usage
//! error prints clap's whole message (with its tip and usage line); failures are one line on
//! stderr; both exit with code 1.

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
            // clap's whole message: what is wrong, the tip it may give, and the usage line.
            eprint!("{e}");
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
