//! The app's secure storage (iOS Keychain, Android Keystore-wrapped storage) as the core's
//! [`SecureStorage`]. The device's private key lives there and nowhere else.

use crate::callback_error::CallbackError;
use keyway_wallet::store::secure::{SecureStorage, SecureStorageError};
use std::sync::Arc;

/// Named secrets kept by the app. `put` must be durable when it returns. Raise
/// `CallbackError.SecureStorage` (Kotlin: `CallbackException.SecureStorage`) when the store is
/// unavailable (device locked, key invalidated).
#[uniffi::export(foreign)]
pub trait SecureStore: Send + Sync {
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, CallbackError>;
    fn put(&self, name: String, secret: Vec<u8>) -> Result<(), CallbackError>;
    fn delete(&self, name: String) -> Result<(), CallbackError>;
}

/// Adapts an app's [`SecureStore`] to the core.
pub struct ForeignSecureStorage(pub Arc<dyn SecureStore>);

impl SecureStorage for ForeignSecureStorage {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, SecureStorageError> {
        self.0.get(name.to_string()).map_err(SecureStorageError::from)
    }

    fn put(&self, name: &str, secret: &[u8]) -> Result<(), SecureStorageError> {
        self.0.put(name.to_string(), secret.to_vec()).map_err(SecureStorageError::from)
    }

    fn delete(&self, name: &str) -> Result<(), SecureStorageError> {
        self.0.delete(name.to_string()).map_err(SecureStorageError::from)
    }
}
