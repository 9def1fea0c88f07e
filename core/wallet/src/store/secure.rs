//! Where the device's private key lives. Apps supply the platform's secure storage (iOS
//! Keychain, Android Keystore-wrapped preferences) through [`SecureStorage`]; the file-backed
//! default is for desktops, tests and the sample CLI.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
#[error("secure storage: {0}")]
pub struct SecureStorageError(pub String);

/// Named secrets. Implementations must make `put` durable before returning.
pub trait SecureStorage: Send + Sync {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, SecureStorageError>;
    fn put(&self, name: &str, secret: &[u8]) -> Result<(), SecureStorageError>;
    fn delete(&self, name: &str) -> Result<(), SecureStorageError>;
}

/// One file per secret in a directory, created with mode 0600 on Unix and written atomically
/// (temporary file, fsync, rename).
pub struct FileSecureStorage {
    dir: PathBuf,
}

impl FileSecureStorage {
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, SecureStorageError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| SecureStorageError(format!("{}: {e}", dir.display())))?;
        Ok(FileSecureStorage { dir })
    }

    fn path(&self, name: &str) -> Result<PathBuf, SecureStorageError> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(SecureStorageError(format!("invalid secret name {name:?}")));
        }
        Ok(self.dir.join(format!("{name}.secret")))
    }
}

impl SecureStorage for FileSecureStorage {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, SecureStorageError> {
        match fs::read(self.path(name)?) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SecureStorageError(e.to_string())),
        }
    }

    fn put(&self, name: &str, secret: &[u8]) -> Result<(), SecureStorageError> {
        let path = self.path(name)?;
        let tmp = path.with_extension("tmp");
        let err = |e: std::io::Error| SecureStorageError(format!("{}: {e}", path.display()));
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp).map_err(err)?;
        f.write_all(secret).map_err(err)?;
        f.sync_all().map_err(err)?;
        fs::rename(&tmp, &path).map_err(err)?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), SecureStorageError> {
        match fs::remove_file(self.path(name)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SecureStorageError(e.to_string())),
        }
    }
}

/// Secrets in memory only (tests, ephemeral guests).
#[derive(Default)]
pub struct MemorySecureStorage(Mutex<Vec<(String, Vec<u8>)>>);

impl SecureStorage for MemorySecureStorage {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, SecureStorageError> {
        let items = self.0.lock().map_err(|_| SecureStorageError("poisoned".into()))?;
        Ok(items.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
    }

    fn put(&self, name: &str, secret: &[u8]) -> Result<(), SecureStorageError> {
        let mut items = self.0.lock().map_err(|_| SecureStorageError("poisoned".into()))?;
        items.retain(|(n, _)| n != name);
        items.push((name.to_string(), secret.to_vec()));
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), SecureStorageError> {
        let mut items = self.0.lock().map_err(|_| SecureStorageError("poisoned".into()))?;
        items.retain(|(n, _)| n != name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_storage_round_trip_and_names() {
        let dir = std::env::temp_dir().join(format!("keyway-secure-{}", std::process::id()));
        let s = FileSecureStorage::new(&dir).unwrap();
        assert_eq!(s.get("device").unwrap(), None);
        s.put("device", b"secret").unwrap();
        assert_eq!(s.get("device").unwrap().as_deref(), Some(&b"secret"[..]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("device.secret")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(s.put("../escape", b"x").is_err());
        s.delete("device").unwrap();
        assert_eq!(s.get("device").unwrap(), None);
        let _ = fs::remove_dir_all(dir);
    }
}
