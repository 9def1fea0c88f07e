//! Door simulator processes. Each door is a child process running `lock-sim serve` on its own
//! state file; keypad input is a `lock-sim keypad` process on the same file.
//!
//! The walkthrough binary carries the lock simulator inside it (`keyway-walkthrough lock-sim
//! ...` runs [`lock_sim::cli`]) and spawns itself, found with `std::env::current_exe()`: so
//! `cargo run -p keyway-walkthrough` on a fresh clone needs no other binary built or installed,
//! and the doors are still separate processes that talk to the phones only over the socket.

use keyway_api::ProvisionedDoor;
use keyway_protocol::credential::DoorId;
use lock_sim::EntryReport;
use lock_sim::cli::DoorStatus;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The hidden subcommand through which the walkthrough binary acts as `lock-sim`.
pub const LOCK_SIM_SUBCOMMAND: &str = "lock-sim";

#[derive(Debug, thiserror::Error)]
#[error("door simulator: {0}")]
pub struct DoorError(pub String);

/// One running door process.
pub struct DoorProcess {
    pub name: String,
    pub provisioned: ProvisionedDoor,
    pub addr: SocketAddr,
    pub state: PathBuf,
    child: Child,
    /// The door's own session lines, as it printed them.
    pub log: Arc<Mutex<Vec<String>>>,
}

fn lock_sim() -> Result<Command, DoorError> {
    let exe = std::env::current_exe().map_err(|e| DoorError(format!("cannot find the walkthrough binary: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.arg(LOCK_SIM_SUBCOMMAND);
    Ok(cmd)
}

impl DoorProcess {
    /// Writes the provisioning JSON next to the state file and starts `lock-sim serve`; an
    /// internet-connected door also follows its door feed from the Mission Control at `backend`.
    pub fn start(dir: &Path, provisioned: &ProvisionedDoor, backend: &str) -> Result<DoorProcess, DoorError> {
        Self::start_with_rtc(dir, provisioned, backend, 0)
    }

    /// [`DoorProcess::start`] for a lock whose real-time clock runs `rtc_offset_secs` ahead of
    /// the host's (negative: behind).
    pub fn start_with_rtc(
        dir: &Path,
        provisioned: &ProvisionedDoor,
        backend: &str,
        rtc_offset_secs: i64,
    ) -> Result<DoorProcess, DoorError> {
        let slug: String =
            provisioned.name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let json_path = dir.join(format!("{slug}.json"));
        let state = dir.join(format!("{slug}.state"));
        let json = serde_json::to_string_pretty(provisioned).map_err(|e| DoorError(e.to_string()))?;
        std::fs::write(&json_path, json).map_err(|e| DoorError(format!("{}: {e}", json_path.display())))?;
        let mut cmd = lock_sim()?;
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--print-addr", "--json", "--state"])
            .arg(&state)
            .arg("--provision")
            .arg(&json_path);
        if provisioned.online {
            cmd.args(["--backend", backend]);
        }
        if rtc_offset_secs != 0 {
            cmd.arg(format!("--rtc-offset-secs={rtc_offset_secs}"));
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| DoorError(format!("cannot start the door process: {e}")))?;
        let stdout = child.stdout.take().ok_or_else(|| DoorError("no stdout from the door process".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let first = match lines.next() {
            Some(Ok(line)) => line,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(DoorError(format!("{} did not start", provisioned.name)));
            }
        };
        let addr: SocketAddr = match first.trim().parse() {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(DoorError(format!("{} printed {first:?} instead of its address", provisioned.name)));
            }
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
        });
        Ok(DoorProcess { name: provisioned.name.clone(), provisioned: provisioned.clone(), addr, state, child, log })
    }

    pub fn id(&self) -> DoorId {
        self.provisioned.door_id
    }

    fn run_json<T: serde::de::DeserializeOwned>(&self, args: &[&str]) -> Result<T, DoorError> {
        let out = lock_sim()?
            .args(args)
            .arg("--state")
            .arg(&self.state)
            .arg("--json")
            .output()
            .map_err(|e| DoorError(format!("cannot run lock-sim: {e}")))?;
        if !out.status.success() {
            return Err(DoorError(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| DoorError(format!("unreadable lock-sim output: {e}")))
    }

    /// Types `code` on this door's keypad.
    pub fn keypad(&self, code: &str) -> Result<EntryReport, DoorError> {
        self.run_json(&["keypad", "--code", code])
    }

    /// Holds a card that shows the id `uid_hex` and holds no key to this door's reader.
    pub fn card(&self, uid_hex: &str) -> Result<EntryReport, DoorError> {
        self.run_json(&["card", "--card", uid_hex])
    }

    /// Holds the card encoded from the card file at `path` to this door's reader: it answers
    /// the door's challenge with the file's key.
    pub fn card_file(&self, path: &std::path::Path) -> Result<EntryReport, DoorError> {
        let path = path.to_str().ok_or_else(|| DoorError(format!("{} is not UTF-8", path.display())))?;
        self.run_json(&["card", "--card-file", path])
    }

    /// What the door itself knows, from its state file.
    pub fn status(&self) -> Result<DoorStatus, DoorError> {
        self.run_json(&["status"])
    }

    /// What the door's feed did so far (an internet-connected door prints one line per event).
    pub fn feed_lines(&self) -> Vec<lock_sim::FeedLine> {
        self.log
            .lock()
            .map(|l| l.iter().filter_map(|line| serde_json::from_str(line).ok()).collect())
            .unwrap_or_default()
    }

    /// Waits (up to 10 s) until the door's own state satisfies `done`.
    pub fn wait_for(&self, mut done: impl FnMut(&DoorStatus) -> bool) -> Result<DoorStatus, DoorError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let status = self.status()?;
            if done(&status) {
                return Ok(status);
            }
            if std::time::Instant::now() > deadline {
                return Err(DoorError(format!("{} did not get there in 10 s: {status:?}", self.name)));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The door's own account of its sessions so far (it prints one line per session).
    pub fn sessions(&self) -> Vec<lock_sim::SessionLine> {
        self.log
            .lock()
            .map(|l| l.iter().filter_map(|line| serde_json::from_str(line).ok()).collect())
            .unwrap_or_default()
    }
}

impl Drop for DoorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
