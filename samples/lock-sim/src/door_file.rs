//! A door's state file: one transaction per session or entry, atomic writes, a lock file so
//! that concurrent `lock-sim` commands on one door take turns.

use keyway_ffi::door_install;
use keyway_protocol::door::{DoorEngine, DoorProvisioning, DoorStateError};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DoorFileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}: no door state here (provision the door first)")]
    Missing(PathBuf),
    #[error("{0}: a door is already provisioned here")]
    Exists(PathBuf),
    #[error("{path}: unreadable door state: {source}")]
    Corrupt { path: PathBuf, source: DoorStateError },
}

/// The file holding one door's [`DoorState`](keyway_protocol::door::DoorState).
#[derive(Clone, Debug)]
pub struct DoorFile {
    path: PathBuf,
    rtc_offset_secs: i64,
}

impl DoorFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DoorFile { path: path.into(), rtc_offset_secs: 0 }
    }

    /// The same door with a real-time clock that runs `secs` ahead of the host's clock
    /// (negative: behind): a simulated lock whose RTC drifted.
    pub fn with_rtc_offset(mut self, secs: i64) -> Self {
        self.rtc_offset_secs = secs;
        self
    }

    /// The door's RTC reading: the host's clock plus the simulated offset. Every engine call
    /// gets this as `now`; the engine corrects it with the signed time it has taken.
    pub fn rtc_now(&self) -> keyway_protocol::UnixTime {
        let host = keyway_api::clock::now();
        keyway_protocol::UnixTime(host.0.saturating_add_signed(self.rtc_offset_secs))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    fn io(&self, source: std::io::Error) -> DoorFileError {
        DoorFileError::Io { path: self.path.clone(), source }
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    /// Holds the door's lock until dropped.
    fn lock(&self) -> Result<File, DoorFileError> {
        let lock_path = self.sibling(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| DoorFileError::Io { path: lock_path, source })?;
        file.lock().map_err(|e| self.io(e))?;
        Ok(file)
    }

    /// Installs a new door here; refuses to overwrite an existing one.
    pub fn provision(&self, p: DoorProvisioning) -> Result<DoorEngine, DoorFileError> {
        let _lock = self.lock()?;
        if self.path.exists() {
            return Err(DoorFileError::Exists(self.path.clone()));
        }
        let door = DoorEngine::new(p);
        self.write(&door)?;
        Ok(door)
    }

    /// The door as last saved.
    pub fn load(&self) -> Result<DoorEngine, DoorFileError> {
        let _lock = self.lock()?;
        self.read()
    }

    /// Runs `act` on the door and saves the door afterwards, whatever `act` returns (a session
    /// that failed after the decision still logged it).
    pub fn with_door<T>(&self, act: impl FnOnce(&mut DoorEngine) -> T) -> Result<T, DoorFileError> {
        let _lock = self.lock()?;
        let mut door = self.read()?;
        let out = act(&mut door);
        self.write(&door)?;
        Ok(out)
    }

    /// [`DoorFile::with_door`] for a session: `act` also gets a way to save the door midway
    /// (under the same lock), used to persist before the receipt goes out.
    pub fn with_door_saving<T>(
        &self,
        act: impl FnOnce(&mut DoorEngine, &dyn Fn(&DoorEngine) -> Result<(), DoorFileError>) -> T,
    ) -> Result<T, DoorFileError> {
        let _lock = self.lock()?;
        let mut door = self.read()?;
        let saved: std::cell::RefCell<Option<Vec<u8>>> = std::cell::RefCell::new(None);
        let out = act(&mut door, &|d: &DoorEngine| {
            let bytes = door_install::state_bytes(d);
            self.write_bytes(&bytes)?;
            *saved.borrow_mut() = Some(bytes);
            Ok(())
        });
        // Written again only if something changed since the save inside the session (a session
        // that ended before it saved, or changed the door afterwards).
        let bytes = door_install::state_bytes(&door);
        if saved.borrow().as_deref() != Some(&bytes[..]) {
            self.write_bytes(&bytes)?;
        }
        Ok(out)
    }

    fn read(&self) -> Result<DoorEngine, DoorFileError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DoorFileError::Missing(self.path.clone()));
            }
            Err(e) => return Err(self.io(e)),
        };
        let corrupt = |source| DoorFileError::Corrupt { path: self.path.clone(), source };
        door_install::engine_from_bytes(&bytes).map_err(corrupt)
    }

    /// Temporary file, fsync, rename over the old state, fsync the directory.
    fn write(&self, door: &DoorEngine) -> Result<(), DoorFileError> {
        self.write_bytes(&door_install::state_bytes(door))
    }

    fn write_bytes(&self, bytes: &[u8]) -> Result<(), DoorFileError> {
        let tmp = self.sibling(".tmp");
        let tmp_err = |source| DoorFileError::Io { path: tmp.clone(), source };
        let mut f = File::create(&tmp).map_err(tmp_err)?;
        f.write_all(bytes).map_err(tmp_err)?;
        f.sync_all().map_err(tmp_err)?;
        drop(f);
        fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}
