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
    /// Measure the door feed instead: manager action → internet-connected door.
    #[arg(long)]
    feed: bool,
    /// With --feed: manager actions per row.
    #[arg(long, default_value_t = 200)]
    actions: usize,
    /// With --feed: doors connected in the second row (the first has one).
    #[arg(long, default_value_t = 100)]
    doors: usize,
    /// Measure revalidation windows instead: request bytes, and the backend re-issuing
    /// certificates at sync.
    #[arg(long)]
    revalidation: bool,
    /// With --revalidation: keys held by the measured phone.
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
}

fn revalidation(args: &Args) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench-report: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench_report::revalidation::measure(args.keys)) {
        Ok(r) if args.json => {
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            std::process::ExitCode::SUCCESS
        }
        Ok(r) => {
            print!("{}", bench_report::revalidation::render(&r));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-report: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn feed(args: &Args) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench-report: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let rows = runtime.block_on(async {
        let mut rows = Vec::new();
        for doors in [1, args.doors] {
            rows.push(bench_report::feed::measure(args.actions, doors).await?);
        }
        Ok::<_, String>(rows)
    });
    match rows {
        Ok(rows) if args.json => {
            println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
            std::process::ExitCode::SUCCESS
        }
        Ok(rows) => {
            print!("{}", bench_report::feed::render(&rows));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-report: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if args.feed {
        return feed(&args);
    }
    if args.revalidation {
        return revalidation(&args);
    }
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
