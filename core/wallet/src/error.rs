//! The wallet's errors, and what each means for the app: the category is decided here, where
//! the causes are known, so the bindings translate categories and nothing else.

use crate::share::ShareError;
use crate::store::StoreError;
use crate::store::secure::SecureStorageError;
use crate::verify_sync::BadSync;
use keyway_api::client::SyncError;
use keyway_link::{LinkError, UnlockError};
use keyway_protocol::credential::{DoorId, KeyId};
use keyway_protocol::unlock::{ErrorCategory, ProtocolError};

/// Why a wallet call failed. Each cause has one route: an unlock's protocol failure arrives
/// as [`WalletError::Unlock`], whether the door certificate was refused before the first
/// frame or the receipt after the last.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalletError {
    /// The wallet's SQLite store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The app's secure storage failed or holds a damaged device key.
    #[error(transparent)]
    SecureStorage(#[from] SecureStorageError),
    /// A share payload or a sharing request was refused.
    #[error(transparent)]
    Share(#[from] ShareError),
    /// No active, unrevoked key of this wallet opens the door.
    #[error("no active key opens {0}")]
    NoKeyForDoor(DoorId),
    /// The door is not one this wallet has a certificate for.
    #[error("{0} is not a door this wallet knows (sync first)")]
    UnknownDoor(DoorId),
    /// A delivery session was asked for a door this wallet carries no updates for.
    #[error("this wallet carries no updates for {0}")]
    NothingToDeliver(DoorId),
    /// No (unrevoked) key with this id is held by this wallet.
    #[error("no key with id {0}")]
    UnknownKey(KeyId),
    /// The wallet has no backend credentials yet.
    #[error("this wallet has not accepted an invite yet")]
    NotEnrolled,
    /// The backend could not be reached, kept failing, or refused the request.
    #[error(transparent)]
    Backend(#[from] SyncError),
    /// The backend's answer failed verification; nothing was stored.
    #[error("the backend's answer was refused: {0}")]
    BadSync(BadSync),
    /// The unlock failed (link, protocol or timeout).
    #[error("unlock failed: {0}")]
    Unlock(#[from] UnlockError),
    /// Scanned bytes are not a Keyway door advertisement.
    #[error("not a Keyway door advertisement: {0}")]
    BadAdvertisement(String),
    /// Another unlock of this wallet is still at a door: one unlock at a time.
    #[error("another unlock is in progress: wait for it to finish or cancel it")]
    UnlockInProgress,
    /// An invite for a property this wallet has already joined (the same authority keys, or the
    /// same property of the same backend); it was not used. One wallet is one person at a
    /// property: leave the property first to join it as someone else.
    #[error("this invite is for {property}, which this wallet has already joined; {}", if *unused {
        "it was not used: leave that property first to join it again, or accept it in another wallet"
    } else {
        "the backend bound it to this device before that could be told (nothing was stored): leave the property, then ask the manager for a new invite"
    })]
    AlreadyJoined {
        /// The invite's property, as its backend names it.
        property: String,
        /// Whether the invite was refused before the backend saw it (the usual case: the
        /// preview told); `false` when only the backend's answer showed it.
        unused: bool,
    },
    /// No property with this local id is joined (it was left, or never joined).
    #[error("{0} is not a property this wallet has joined")]
    UnknownProperty(crate::store::PropertyId),
    /// The wallet has joined several properties and the call concerns one: say which.
    #[error("this wallet has joined several properties: say which one this is for")]
    PropertyNeeded,
    /// A key id that several joined properties use (each backend numbers its own keys): say
    /// which property's key is meant.
    #[error("key {0} is held at several properties: say which property's key is meant")]
    AmbiguousKey(KeyId),
    /// The wallet was reset (signed out) while this call was under way; nothing of it was kept.
    #[error("the wallet was reset while this call was under way; nothing of it was kept")]
    Reset,
}

/// What a [`WalletError`] means for the app, and so what it should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Category {
    /// The wallet's database could not be read or written.
    Storage,
    /// The app's secure storage failed.
    SecureStorage,
    /// A setting the app passed cannot work (e.g. the backend URL).
    InvalidInput,
    /// A scanned or pasted payload is not valid or its signatures do not verify.
    InvalidPayload,
    /// The action is not allowed for this key.
    NotPermitted,
    /// No active key opens this door.
    NoKeyForDoor(DoorId),
    /// The door is unknown to this wallet: sync first.
    UnknownDoor(DoorId),
    /// No key with this id.
    UnknownKey(KeyId),
    /// No invite accepted yet.
    NotEnrolled,
    /// The backend could not be reached after retries.
    Network,
    /// The backend kept failing (5xx) after retries.
    Server,
    /// The backend no longer accepts this device's credentials.
    Unauthorized,
    /// The backend refused the request with this HTTP status; retrying cannot help.
    Rejected {
        /// The HTTP status of the refusal.
        status: u16,
    },
    /// The backend's answer failed verification or could not be read.
    BackendNotTrusted,
    /// Another unlock is in progress.
    Busy,
    /// The door did not answer in time.
    LinkTimeout,
    /// The connection to the door dropped.
    LinkDisconnected,
    /// Another link failure.
    Link,
    /// The door could not prove it is the certified door.
    DoorNotTrusted,
    /// The phone is connected to another door than the one asked for (the door's own claim,
    /// checked before its signature): connect to the right door.
    WrongDoor {
        /// The door the unlock was for.
        expected: DoorId,
        /// The door id the connected door's challenge names.
        found: DoorId,
    },
    /// The exchange with the door broke down: retry.
    DoorExchange,
    /// A bug in Keyway itself.
    Internal,
}

impl From<&LinkError> for Category {
    fn from(e: &LinkError) -> Self {
        match e {
            LinkError::Timeout => Category::LinkTimeout,
            LinkError::Disconnected => Category::LinkDisconnected,
            _ => Category::Link,
        }
    }
}

impl From<&UnlockError> for Category {
    fn from(e: &UnlockError) -> Self {
        match e {
            UnlockError::Link(e) => e.into(),
            UnlockError::Timeout(_) => Category::LinkTimeout,
            UnlockError::Protocol(ProtocolError::WrongDoor { expected, got }) => {
                Category::WrongDoor { expected: *expected, found: *got }
            }
            UnlockError::Protocol(p) => match p.category() {
                ErrorCategory::DoorNotTrusted => Category::DoorNotTrusted,
                ErrorCategory::ExchangeFailed => Category::DoorExchange,
                _ => Category::Internal,
            },
            _ => Category::Internal,
        }
    }
}

impl From<&SyncError> for Category {
    fn from(e: &SyncError) -> Self {
        match e {
            SyncError::Config(_) => Category::InvalidInput,
            SyncError::Network { .. } => Category::Network,
            SyncError::Server { .. } => Category::Server,
            // The backend is up but asks the phone to wait: the same standing as a 5xx (retry
            // later), not a refusal of the request itself.
            SyncError::TooManyRequests { .. } => Category::Server,
            e if e.is_unauthorized() => Category::Unauthorized,
            SyncError::Rejected { status, .. } => Category::Rejected { status: *status },
            SyncError::Decode(_) => Category::BackendNotTrusted,
            _ => Category::Internal,
        }
    }
}

impl From<&ShareError> for Category {
    fn from(e: &ShareError) -> Self {
        match e {
            ShareError::NotAPayload(_)
            | ShareError::BadText
            | ShareError::Decode(_)
            | ShareError::Chain(_)
            | ShareError::BadRequestSignature => Category::InvalidPayload,
            // The backend answered with a certificate that does not fit the offer.
            ShareError::NotTheHostKey => Category::BackendNotTrusted,
            ShareError::SharingNotAllowed
            | ShareError::NotAnAuthorityKey
            | ShareError::ScopeTooWide(_)
            | ShareError::NotForThisDevice
            | ShareError::NotOurKey
            | ShareError::KeyIdTaken(_) => Category::NotPermitted,
        }
    }
}

impl WalletError {
    /// What this error means for the app.
    pub fn category(&self) -> Category {
        match self {
            WalletError::Store(_) => Category::Storage,
            WalletError::SecureStorage(_) => Category::SecureStorage,
            WalletError::Share(e) => e.into(),
            WalletError::NoKeyForDoor(d) => Category::NoKeyForDoor(*d),
            WalletError::UnknownDoor(d) => Category::UnknownDoor(*d),
            WalletError::NothingToDeliver(_) => Category::NotPermitted,
            WalletError::UnknownKey(k) => Category::UnknownKey(*k),
            WalletError::NotEnrolled => Category::NotEnrolled,
            WalletError::Backend(e) => e.into(),
            WalletError::BadSync(_) => Category::BackendNotTrusted,
            WalletError::Unlock(e) => e.into(),
            WalletError::BadAdvertisement(_) => Category::InvalidPayload,
            WalletError::UnlockInProgress => Category::Busy,
            WalletError::Reset => Category::NotEnrolled,
            WalletError::AlreadyJoined { .. } => Category::NotPermitted,
            WalletError::UnknownProperty(_) | WalletError::AmbiguousKey(_) | WalletError::PropertyNeeded => {
                Category::InvalidInput
            }
        }
    }
}

impl From<keyway_protocol::unlock::ProtocolError> for WalletError {
    /// A protocol failure before the first frame (the door certificate) takes the same route
    /// as one during the exchange.
    fn from(e: keyway_protocol::unlock::ProtocolError) -> Self {
        WalletError::Unlock(UnlockError::Protocol(e))
    }
}
