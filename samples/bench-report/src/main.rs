use clap::Parser;

/// Compares Keyway's unlock with TLS 1.3 and Noise over the simulated BLE link.
#[derive(Parser)]
#[command(name = "bench-report")]
struct Args {
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Runs per protocol and setting for the CPU medians.
    #[arg(long, default_value_t = 200)]
    runs: usize,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let report = bench_report::report::Context::new().and_then(|ctx| bench_report::report::build(&ctx, args.runs));
    match report {
        Ok(r) if args.json => match serde_json::to_string_pretty(&r) {
            Ok(text) => {
                println!("{text}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("bench-report: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Ok(r) => {
            print!("{}", bench_report::report::render(&r));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-report: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
