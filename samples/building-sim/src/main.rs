//! `cargo run --release -p building-sim`: prints the table and writes the plot.

use building_sim::{Config, plot, report};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// A building in simulation: how fast a manager's change reaches every door, with the real
/// wallet, door engine and Mission Control on a simulated clock.
#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 200)]
    residents: usize,
    /// Lobby and garage (connected), then mail room, gym, bike room, roof, unit floors.
    #[arg(long, default_value_t = 20)]
    doors: usize,
    #[arg(long, default_value_t = 7)]
    days: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Revalidation window of run (c), in days.
    #[arg(long, default_value_t = 7)]
    window_days: u32,
    /// Manager actions per weekday (a quarter of it at weekends).
    #[arg(long, default_value_t = 16.0)]
    actions_per_day: f64,
    /// Folder for Mission Control's SQLite file (default: /dev/shm where there is one).
    #[arg(long)]
    db_dir: Option<PathBuf>,
    /// Also write every record (per manager action and door) as CSV here.
    #[arg(long)]
    records: Option<PathBuf>,
    /// Where the PNG goes (its folder is created if need be).
    #[arg(long, default_value = "target/building-sim.png")]
    plot: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = Config {
        residents: args.residents,
        doors: args.doors,
        days: args.days,
        seed: args.seed,
        window_days: args.window_days,
        actions_per_day: args.actions_per_day,
        db_dir: args.db_dir,
        ..Config::default()
    };
    if let Err(e) = cfg.check() {
        eprintln!("building-sim: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("building-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (runs, outcomes) = match runtime.block_on(building_sim::run_all(&cfg)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("building-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report::render(&cfg, &outcomes, &runs));
    if let Some(path) = &args.records {
        if let Err(e) = std::fs::write(path, report::records_csv(&runs)) {
            eprintln!("building-sim: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("\nRecords: {}", path.display());
    }
    if let Some(dir) = args.plot.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("building-sim: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    match plot::write_png(&args.plot, &outcomes, cfg.days) {
        Ok(plot::Labels::Drawn) => println!("\nPlot: {}", args.plot.display()),
        Ok(plot::Labels::NoFont) => println!(
            "\nPlot: {} (no TrueType font found, drawn without labels; set BUILDING_SIM_FONT to a .ttf)",
            args.plot.display()
        ),
        Err(e) => {
            eprintln!("building-sim: plot: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
