//! The one error type apps see (`KeywayError` in Python and Swift, `KeywayException` in
//! Kotlin). Each variant says what went wrong and so what the app should do; every one
//! carries its human message (the `#[error]` text below, e.g. "no active key opens door 7"),
//! which is the exception's `message` in Kotlin and `str()` in Python (uniffi's flat errors).
//! In Swift each case holds it as `message`; the hand-written `KeywayError+LocalizedError.swift`
//! makes it the `localizedDescription`. Ids and HTTP statuses are in the message text.

use keyway_link::{LinkError, UnlockError};
use keyway_wallet::share::ShareError;
use keyway_wallet::store::secure::SecureStorageError;
use keyway_wallet::{Category, WalletError};

#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum KeywayError {
    /// The wallet's database could not be read or written (disk full, file damaged): show
    /// the message and offer to retry; reinstalling loses keys until the next sync.
    #[error("wallet storage: {reason}")]
    Storage { reason: String },
    /// The app's secure storage (Keychain, Keystore) failed or holds a damaged device key.
    // The wallet's message already names the secure storage.
    #[error("{reason}")]
    SecureStorage { reason: String },
    /// An argument the app passed is not valid (empty door list, end before start).
    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },
    /// A scanned or pasted payload (share request, guest key offer) is not a valid Keyway
    /// payload, or its signatures do not verify: ask the sender for a new one.
    #[error("invalid payload: {reason}")]
    InvalidPayload { reason: String },
    /// The action is not allowed for this key (sharing not permitted, scope too wide, a key
    /// issued to another device).
    #[error("not permitted: {reason}")]
    NotPermitted { reason: String },
    /// No active key of this wallet opens the door.
    #[error("no active key opens door {door_id}")]
    NoKeyForDoor { door_id: u32 },
    /// The door is unknown to this wallet: sync first.
    #[error("door {door_id} is unknown to this wallet (sync first)")]
    UnknownDoor { door_id: u32 },
    /// No key with this id is held by this wallet.
    #[error("no key with id {key_id}")]
    UnknownKey { key_id: String },
    /// This wallet has not accepted an invite yet: show the invite screen.
    #[error("this wallet has not accepted an invite yet")]
    NotEnrolled,
    /// The backend could not be reached (offline, DNS, TLS, timeout) after retries: keep
    /// working offline and retry later.
    #[error("backend unreachable: {reason}")]
    Network { reason: String },
    /// The backend kept failing (5xx) after retries: retry later.
    #[error("backend error: {reason}")]
    Server { reason: String },
    /// The backend no longer accepts this device's credentials (removed person, reset
    /// device): the person needs a new invite.
    #[error("device credentials refused: {reason}")]
    Unauthorized { reason: String },
    /// The backend refused the request (e.g. an invite that is used up or expired); retrying
    /// the same request cannot help.
    #[error("refused by the backend ({status}): {reason}")]
    Rejected { status: u16, reason: String },
    /// The backend's answer failed verification (bad signatures, keys for another device,
    /// another property's authority) or could not be read: nothing was stored.
    #[error("backend answer refused: {reason}")]
    BackendNotTrusted { reason: String },
    /// Another unlock of this wallet is still at a door: one unlock at a time. Wait for it,
    /// or cancel it.
    #[error("another unlock is in progress: wait for it to finish or cancel it")]
    UnlockInProgress,
    /// The door did not answer in time (the app's link raised `CallbackError.LinkTimeout`, or
    /// the unlock's timeout ran out); move closer and retry.
    #[error("the door did not answer in time")]
    LinkTimeout,
    /// The BLE connection to the door dropped.
    #[error("the connection to the door was lost")]
    LinkDisconnected,
    /// Any other BLE link failure.
    #[error("link: {reason}")]
    Link { reason: String },
    /// The door could not prove it is the certified door (bad certificate, challenge or
    /// receipt signature, another door id): nothing was recorded; do not retry with it and
    /// report the door to the property manager.
    #[error("door not trusted: {reason}")]
    DoorNotTrusted { reason: String },
    /// The phone is connected to another door than the one it asked for (the peripheral's
    /// challenge names door `found`): connect to door `expected` and retry. This is the
    /// peripheral's own claim, checked before anything else; nothing was sent to it.
    #[error("this is door {found}, not door {expected}: connect to door {expected}")]
    WrongDoor { expected: u32, found: u32 },
    /// The exchange with the door broke down (garbled or unexpected messages): retry.
    #[error("door exchange failed: {reason}")]
    DoorExchange { reason: String },
    /// A bug in Keyway itself; please report it with the message.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

/// The category is decided in the wallet; this is only its translation for apps.
impl From<WalletError> for KeywayError {
    fn from(e: WalletError) -> Self {
        KeywayError::from_category(e.category(), e.to_string())
    }
}

impl KeywayError {
    /// The case for an error of `category` whose text is `reason`.
    pub(crate) fn from_category(category: Category, reason: String) -> Self {
        match category {
            Category::Storage => KeywayError::Storage { reason },
            Category::SecureStorage => KeywayError::SecureStorage { reason },
            Category::InvalidInput => KeywayError::InvalidInput { reason },
            Category::InvalidPayload => KeywayError::InvalidPayload { reason },
            Category::NotPermitted => KeywayError::NotPermitted { reason },
            Category::NoKeyForDoor(d) => KeywayError::NoKeyForDoor { door_id: d.0 },
            Category::UnknownDoor(d) => KeywayError::UnknownDoor { door_id: d.0 },
            Category::UnknownKey(k) => KeywayError::UnknownKey { key_id: k.to_string() },
            Category::NotEnrolled => KeywayError::NotEnrolled,
            Category::Network => KeywayError::Network { reason },
            Category::Server => KeywayError::Server { reason },
            Category::Unauthorized => KeywayError::Unauthorized { reason },
            Category::Rejected { status } => KeywayError::Rejected { status, reason },
            Category::BackendNotTrusted => KeywayError::BackendNotTrusted { reason },
            Category::Busy => KeywayError::UnlockInProgress,
            Category::LinkTimeout => KeywayError::LinkTimeout,
            Category::LinkDisconnected => KeywayError::LinkDisconnected,
            Category::Link => KeywayError::Link { reason },
            Category::DoorNotTrusted => KeywayError::DoorNotTrusted { reason },
            Category::WrongDoor { expected, found } => KeywayError::WrongDoor { expected: expected.0, found: found.0 },
            Category::DoorExchange => KeywayError::DoorExchange { reason },
            _ => KeywayError::Internal { reason },
        }
    }
}

impl From<LinkError> for KeywayError {
    fn from(e: LinkError) -> Self {
        WalletError::Unlock(UnlockError::Link(e)).into()
    }
}

impl From<ShareError> for KeywayError {
    fn from(e: ShareError) -> Self {
        WalletError::Share(e).into()
    }
}

impl From<SecureStorageError> for KeywayError {
    fn from(e: SecureStorageError) -> Self {
        WalletError::SecureStorage(e).into()
    }
}

pub type Result<T, E = KeywayError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_errors_keep_their_meaning() {
        assert!(matches!(KeywayError::from(LinkError::Timeout), KeywayError::LinkTimeout));
        assert!(matches!(KeywayError::from(LinkError::Disconnected), KeywayError::LinkDisconnected));
        assert!(
            matches!(KeywayError::from(LinkError::Io("x".into())), KeywayError::Link { reason } if reason.contains("x"))
        );
    }

    #[test]
    fn share_errors_split_into_bad_payload_and_not_permitted() {
        assert!(matches!(KeywayError::from(ShareError::BadText), KeywayError::InvalidPayload { .. }));
        assert!(matches!(KeywayError::from(ShareError::NotForThisDevice), KeywayError::NotPermitted { .. }));
    }
}
