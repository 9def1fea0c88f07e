//! What the app's own implementations ([`crate::BleLink`], [`crate::SecureStore`]) raise to
//! Keyway (`CallbackError` in Python and Swift, `CallbackException` in Kotlin). Separate from
//! [`crate::KeywayError`], which only goes from Keyway to the app and carries its message as
//! text (so it can be the platform exception's message); this one comes from the app and
//! keeps its cases typed.

use keyway_link::LinkError;
use keyway_wallet::store::secure::SecureStorageError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum CallbackError {
    /// `BleLink.receiveFrame`: no notification came in time.
    #[error("the door did not answer in time")]
    LinkTimeout,
    /// `BleLink`: the connection to the door dropped.
    #[error("the connection to the door was lost")]
    LinkDisconnected,
    /// `BleLink`: any other failure of the link.
    #[error("link: {reason}")]
    Link { reason: String },
    /// `SecureStore`: the store is unavailable (device locked, key invalidated).
    #[error("secure storage: {reason}")]
    SecureStorage { reason: String },
    /// The app's callback raised something it does not declare (a bug in the app's
    /// implementation); it reaches the app back as a secure storage or link error.
    #[error("app callback failed: {reason}")]
    Unexpected { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CallbackError::Unexpected { reason: e.reason }
    }
}

impl From<CallbackError> for LinkError {
    fn from(e: CallbackError) -> Self {
        match e {
            CallbackError::LinkTimeout => LinkError::Timeout,
            CallbackError::LinkDisconnected => LinkError::Disconnected,
            CallbackError::Link { reason } => LinkError::Io(reason),
            other => LinkError::Io(other.to_string()),
        }
    }
}

impl From<CallbackError> for SecureStorageError {
    fn from(e: CallbackError) -> Self {
        match e {
            CallbackError::SecureStorage { reason } => SecureStorageError(reason),
            other => SecureStorageError(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_failures_keep_their_meaning_and_text() {
        assert_eq!(LinkError::from(CallbackError::LinkTimeout), LinkError::Timeout);
        assert_eq!(LinkError::from(CallbackError::LinkDisconnected), LinkError::Disconnected);
        assert_eq!(
            LinkError::from(CallbackError::Link { reason: "gatt 133".into() }),
            LinkError::Io("gatt 133".into())
        );
        let locked = SecureStorageError::from(CallbackError::SecureStorage { reason: "device is locked".into() });
        assert_eq!(locked.0, "device is locked");
        let bug = CallbackError::from(uniffi::UnexpectedUniFFICallbackError::new("boom"));
        assert!(SecureStorageError::from(bug).0.contains("app callback failed: boom"));
    }
}
