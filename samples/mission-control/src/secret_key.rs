//! The key that seals secrets at rest, kept outside the database: from the environment variable
//! `KEYWAY_MC_SECRET_KEY` (64 hex digits) if it is set, else from a key file next to the database
//! (`<db path>.key`: 64 hex digits and a newline, mode 0600). The key file is created only for a
//! database that has never been sealed (a new one, or one from before sealing); once a database
//! is sealed, a missing key is an error, never a reason to make a new one.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const ENV_VAR: &str = "KEYWAY_MC_SECRET_KEY";
const HEX_LEN: usize = 64;

/// 32 bytes, wiped when dropped.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretKey(Zeroizing::new(bytes))
    }

    pub fn generate() -> Self {
        let mut key = SecretKey(Zeroizing::new([0u8; 32]));
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, key.0.as_mut());
        key
    }

    /// 64 hex digits; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != HEX_LEN {
            return None;
        }
        let mut key = SecretKey(Zeroizing::new([0u8; 32]));
        hex::decode_to_slice(text, key.0.as_mut()).ok()?;
        Some(key)
    }

    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_ref()))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Where the secret key comes from.
#[derive(Clone, Debug, Default)]
pub enum SecretKeySource {
    /// `KEYWAY_MC_SECRET_KEY` if set, else the key file `<db path>.key`.
    #[default]
    EnvOrFile,
    /// This key file (created on first start if the database was never sealed).
    File(PathBuf),
    /// A key the embedding program holds (from a KMS, for example).
    Key(SecretKey),
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{ENV_VAR} must be 64 hex digits (a 32-byte key)")]
    BadEnv,
    #[error("secret key file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("secret key file {} is not a regular file", .0.display())]
    NotAFile(PathBuf),
    #[error("secret key file {} is open to other users (mode {mode:o}): make it 0600 (`chmod 600`)", path.display())]
    Permissions { path: PathBuf, mode: u32 },
    #[error("secret key file {} must hold exactly 64 hex digits (a 32-byte key)", .0.display())]
    Length(PathBuf),
    #[error(
        "secret key file {} is missing but this database's secrets are sealed: restore the key file from its backup or set {ENV_VAR}",
        .0.display()
    )]
    Missing(PathBuf),
    #[error(
        "the secret key does not open this database's secrets (it is not the key they were sealed under): restore the right key file or {ENV_VAR}"
    )]
    Wrong,
}

/// `<db path>.key`.
pub fn key_file_path(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// The key for the database at `db_path`; `sealed` tells whether it already holds sealed values
/// (then a key file is never created).
pub fn resolve(source: &SecretKeySource, db_path: &Path, sealed: bool) -> Result<SecretKey, KeyError> {
    match source {
        SecretKeySource::Key(key) => Ok(key.clone()),
        SecretKeySource::File(path) => from_file(path, sealed),
        SecretKeySource::EnvOrFile => match std::env::var_os(ENV_VAR) {
            Some(value) => value.to_str().and_then(SecretKey::from_hex).ok_or(KeyError::BadEnv),
            None => from_file(&key_file_path(db_path), sealed),
        },
    }
}

fn from_file(path: &Path, sealed: bool) -> Result<SecretKey, KeyError> {
    match File::open(path) {
        Ok(file) => read(path, file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && sealed => Err(KeyError::Missing(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(source) => Err(KeyError::Io { path: path.to_path_buf(), source }),
    }
}

fn read(path: &Path, file: File) -> Result<SecretKey, KeyError> {
    let io = |source| KeyError::Io { path: path.to_path_buf(), source };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(KeyError::NotAFile(path.to_path_buf()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions { path: path.to_path_buf(), mode });
        }
    }
    // One byte more than a key and its newline is enough to tell a wrong length.
    let mut text = Zeroizing::new(String::new());
    file.take(HEX_LEN as u64 + 2).read_to_string(&mut text).map_err(|_| KeyError::Length(path.to_path_buf()))?;
    let digits = text.strip_suffix('\n').unwrap_or(&text);
    SecretKey::from_hex(digits).ok_or_else(|| KeyError::Length(path.to_path_buf()))
}

/// A fresh key in a new file, readable by its owner only, on disk before anything is sealed
/// under it.
fn create(path: &Path) -> Result<SecretKey, KeyError> {
    let io = |source| KeyError::Io { path: path.to_path_buf(), source };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(file) => file,
        // Another process created it meanwhile: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return from_file(path, true),
        Err(e) => return Err(io(e)),
    };
    let key = SecretKey::generate();
    let mut line = key.to_hex();
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    tracing::info!(path = %path.display(), "created the secret key file: back it up, the database's secrets need it");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_sits_next_to_the_database() {
        assert_eq!(key_file_path(Path::new("/var/lib/mc/mc.db")), PathBuf::from("/var/lib/mc/mc.db.key"));
    }

    #[test]
    fn hex_keys_are_exactly_32_bytes() {
        let key = SecretKey::generate();
        assert_eq!(SecretKey::from_hex(&key.to_hex()).unwrap().as_bytes(), key.as_bytes());
        assert!(SecretKey::from_hex(&"ab".repeat(31)).is_none());
        assert!(SecretKey::from_hex(&"ab".repeat(33)).is_none());
        assert!(SecretKey::from_hex(&"zz".repeat(32)).is_none());
        assert_eq!(format!("{key:?}"), "SecretKey(..)");
    }

    #[test]
    fn a_created_key_file_reads_back_and_a_sealed_database_never_gets_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mc.db.key");
        assert!(matches!(from_file(&path, true), Err(KeyError::Missing(_))));
        assert!(!path.exists());
        let created = from_file(&path, false).unwrap();
        assert_eq!(from_file(&path, true).unwrap().as_bytes(), created.as_bytes());
        assert_eq!(std::fs::read_to_string(&path).unwrap().len(), HEX_LEN + 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
