//! `lock-sim`: see [`lock_sim::cli`].

fn main() -> std::process::ExitCode {
    lock_sim::cli::main_from(std::env::args_os())
}
