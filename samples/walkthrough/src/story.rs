//! The story: sets the stage (a work directory, Mission Control on a loopback port, a signed
//! out console) and tells it, step by step (the steps are in `src/steps/`, one file each).

use crate::report::{Report, StepReport};
use crate::steps;
use crate::world::World;
use keyway_api::client::ManagerClient;

pub use crate::world::Options;

/// Runs the whole story. The report says which steps passed; the walkthrough stops at the
/// first failing step (the later ones build on it).
pub async fn run(opts: Options) -> Report {
    let temp = match &opts.workdir {
        Some(_) => None,
        None => tempfile::Builder::new().prefix("keyway-walkthrough-").tempdir().ok(),
    };
    let dir = match (&opts.workdir, &temp) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => return set_up_failed(Report::default(), "set up", "cannot create a temporary directory"),
    };
    let report = Report { workdir: dir.display().to_string(), ..Default::default() };
    if std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
        let why = format!("{} is not empty; the walkthrough starts from nothing", dir.display());
        return set_up_failed(report, "set up", why);
    }
    let server = match std::fs::create_dir_all(dir.join("doors")) {
        Ok(()) => mission_control::Server::start(dir.join("mission-control.db"), ([127, 0, 0, 1], 0).into()).await,
        Err(e) => Err(mission_control::ServeError::Io(e)),
    };
    let server = match server {
        Ok(s) => s,
        Err(e) => return set_up_failed(report, "start Mission Control", e.to_string()),
    };
    let mut report = report;
    report.backend = server.base_url();
    // Signed out until step 1 creates the property and its managers.
    let console = match ManagerClient::new(&server.base_url(), "") {
        Ok(c) => c,
        Err(e) => return set_up_failed(report, "connect to Mission Control", e.to_string()),
    };
    let mut w = World::new(opts, report, dir, server.base_url(), console);
    w.say(format!("Mission Control is listening on {}; everything lives in {}", w.base, w.dir.display()));
    w.say(format!("The manager's console: {}/ (sign in with a manager token)", w.base));
    w.report.passed = steps::tell(&mut w).await.is_some();
    if w.opts.keep_running {
        keep_running(&w).await;
    }
    let _ = server.shutdown().await;
    let report = w.report;
    drop(temp);
    report
}

/// `--keep-running`: says where the console is and how to sign in, then waits for Ctrl-C (to
/// stdout with the narrative, to stderr beside `--json`, whose stdout is the report).
async fn keep_running(w: &World) {
    let token = w.pm_token.as_deref().unwrap_or("(none: step 1 did not create the property)");
    let text = format!(
        "\nMission Control keeps running: open {}/ in a browser and sign in as Pat (Portfolio Manager) with the manager token\n  {token}\nPress Ctrl-C to stop.\n",
        w.base
    );
    if w.opts.narrate {
        print!("{text}");
    } else {
        eprint!("{text}");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("keyway-walkthrough: cannot wait for Ctrl-C ({e}); stopping");
    }
}

/// The report of a walkthrough that could not set the stage: step 0 failed.
fn set_up_failed(mut report: Report, title: &str, why: impl Into<String>) -> Report {
    report.steps.push(StepReport { number: 0, title: title.into(), failure: Some(why.into()), ..Default::default() });
    report
}
