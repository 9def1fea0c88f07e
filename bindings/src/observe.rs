//! Streams for apps: the keys as they change and each unlock's progress, as listener traits
//! the app implements and subscriptions it holds (`Wallet.subscribeKeys`,
//! `Wallet.subscribeUnlockEvents`). Cancelling a [`Subscription`] (or dropping/closing it)
//! unsubscribes. `bindings/kotlin/src/KeywayFlows.kt` wraps both as Kotlin `Flow`s and
//! `bindings/swift/Keyway+AsyncStream.swift` as Swift `AsyncStream`s.
//!
//! Listeners are called on the thread doing the work (the unlock's, the sync's), never while
//! the wallet is locked: a listener may read the wallet, and should hand the event on to the
//! app's own queue rather than do slow work.

use crate::error::KeywayError;
use crate::records::{KeyInfo, to_system_time};
use keyway_protocol::credential::DenialReason;
use keyway_wallet::events::{Subscription as CoreSubscription, UnlockEvent as CoreUnlockEvent};
use keyway_wallet::observe::{KeyChange as CoreKeyChange, KeyUpdate as CoreKeyUpdate, SyncNeed as CoreSyncNeed};
use std::sync::Mutex;
use std::time::SystemTime;

/// Receives the wallet's keys whenever they change.
#[uniffi::export(with_foreign)]
pub trait KeyListener: Send + Sync {
    /// Every key as it stands, and what changed since the previous call (empty in the first
    /// call, which comes at once when subscribing, unless the wallet needs a sync).
    fn on_update(&self, update: KeyUpdate);
}

/// Receives the progress of every unlock.
#[uniffi::export(with_foreign)]
pub trait UnlockListener: Send + Sync {
    fn on_event(&self, event: UnlockEvent);
}

/// A subscription: `cancel()` (or dropping it; Kotlin `close()`) stops the deliveries.
#[derive(uniffi::Object)]
pub struct Subscription {
    inner: Mutex<Option<CoreSubscription>>,
}

impl Subscription {
    pub(crate) fn new(inner: CoreSubscription) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Subscription { inner: Mutex::new(Some(inner)) })
    }
}

#[uniffi::export]
impl Subscription {
    /// Unsubscribes at once (a delivery already under way on another thread completes).
    pub fn cancel(&self) {
        let inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(inner) = inner {
            inner.cancel();
        }
    }
}

/// Why the wallet needs a sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SyncNeed {
    /// Enrolled, but nothing synced yet (e.g. after a reinstall that kept the secure store).
    NeverSynced,
    /// The last sync failed (network, server): revocations may be missing.
    SyncFailed { reason: String },
    /// The last successful sync is more than a day old.
    Stale { last_sync: SystemTime },
    /// The key's certificate is no longer fresh: doors refuse it until a sync revalidates it.
    KeyNotFresh { key_id: u64, since: SystemTime },
}

/// One change to the wallet's keys.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum KeyChange {
    Added {
        key: KeyInfo,
    },
    /// Ended early by the property manager.
    Revoked {
        key: KeyInfo,
    },
    /// Shortened by the property manager: the key `replaced_by` took its place.
    Replaced {
        key: KeyInfo,
        replaced_by: u64,
    },
    /// An upcoming key's start has come.
    Activated {
        key: KeyInfo,
    },
    Expired {
        key: KeyInfo,
    },
    /// Not revalidated in time (no sync within the property's window): doors refuse it until
    /// the phone syncs.
    Lapsed {
        key: KeyInfo,
        since: SystemTime,
    },
    /// An active key ends within a day (said once per key).
    Expiring {
        key: KeyInfo,
        at: SystemTime,
    },
    /// Gone from the wallet (sign-out, or its property was left).
    Removed {
        key_id: u64,
        property: Option<keyway_wallet::Property>,
    },
    /// A sync succeeded, as of the backend's `server_time`.
    Synced {
        server_time: SystemTime,
    },
    /// The keys may be out of date: call `sync`.
    NeedsSync {
        reason: SyncNeed,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct KeyUpdate {
    pub keys: Vec<KeyInfo>,
    pub changes: Vec<KeyChange>,
}

impl From<&CoreKeyUpdate> for KeyUpdate {
    fn from(u: &CoreKeyUpdate) -> Self {
        let change = |c: &CoreKeyChange| match c {
            CoreKeyChange::Added { key } => KeyChange::Added { key: key.into() },
            CoreKeyChange::Revoked { key } => KeyChange::Revoked { key: key.into() },
            CoreKeyChange::Replaced { key, by } => KeyChange::Replaced { key: key.into(), replaced_by: by.0 },
            CoreKeyChange::Activated { key } => KeyChange::Activated { key: key.into() },
            CoreKeyChange::Expired { key } => KeyChange::Expired { key: key.into() },
            CoreKeyChange::Lapsed { key, since } => {
                KeyChange::Lapsed { key: key.into(), since: to_system_time(*since) }
            }
            CoreKeyChange::Expiring { key, at } => KeyChange::Expiring { key: key.into(), at: to_system_time(*at) },
            CoreKeyChange::Removed { key_id, property } => {
                KeyChange::Removed { key_id: key_id.0, property: property.clone() }
            }
            CoreKeyChange::Synced { server_time } => KeyChange::Synced { server_time: to_system_time(*server_time) },
            CoreKeyChange::NeedsSync { reason } => KeyChange::NeedsSync {
                reason: match reason {
                    CoreSyncNeed::NeverSynced => SyncNeed::NeverSynced,
                    CoreSyncNeed::SyncFailed { reason } => SyncNeed::SyncFailed { reason: reason.clone() },
                    CoreSyncNeed::Stale { last_sync } => SyncNeed::Stale { last_sync: to_system_time(*last_sync) },
                    CoreSyncNeed::KeyNotFresh { key_id, since } => {
                        SyncNeed::KeyNotFresh { key_id: key_id.0, since: to_system_time(*since) }
                    }
                },
            },
        };
        KeyUpdate { keys: u.keys.iter().map(KeyInfo::from).collect(), changes: u.changes.iter().map(change).collect() }
    }
}

/// What kind of failure ended an unlock: the case of `KeywayError` the call raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ErrorKind {
    Storage,
    SecureStorage,
    InvalidInput,
    InvalidPayload,
    NotPermitted,
    NoKeyForDoor,
    UnknownDoor,
    UnknownKey,
    NotEnrolled,
    Network,
    Server,
    Unauthorized,
    Rejected,
    BackendNotTrusted,
    UnlockInProgress,
    LinkTimeout,
    LinkDisconnected,
    Link,
    DoorNotTrusted,
    WrongDoor,
    DoorExchange,
    Internal,
}

impl From<&KeywayError> for ErrorKind {
    fn from(e: &KeywayError) -> Self {
        use KeywayError as E;
        match e {
            E::Storage { .. } => ErrorKind::Storage,
            E::SecureStorage { .. } => ErrorKind::SecureStorage,
            E::InvalidInput { .. } => ErrorKind::InvalidInput,
            E::InvalidPayload { .. } => ErrorKind::InvalidPayload,
            E::NotPermitted { .. } => ErrorKind::NotPermitted,
            E::NoKeyForDoor { .. } => ErrorKind::NoKeyForDoor,
            E::UnknownDoor { .. } => ErrorKind::UnknownDoor,
            E::UnknownKey { .. } => ErrorKind::UnknownKey,
            E::NotEnrolled => ErrorKind::NotEnrolled,
            E::Network { .. } => ErrorKind::Network,
            E::Server { .. } => ErrorKind::Server,
            E::Unauthorized { .. } => ErrorKind::Unauthorized,
            E::Rejected { .. } => ErrorKind::Rejected,
            E::BackendNotTrusted { .. } => ErrorKind::BackendNotTrusted,
            E::UnlockInProgress => ErrorKind::UnlockInProgress,
            E::LinkTimeout => ErrorKind::LinkTimeout,
            E::LinkDisconnected => ErrorKind::LinkDisconnected,
            E::Link { .. } => ErrorKind::Link,
            E::DoorNotTrusted { .. } => ErrorKind::DoorNotTrusted,
            E::WrongDoor { .. } => ErrorKind::WrongDoor,
            E::DoorExchange { .. } => ErrorKind::DoorExchange,
            E::Internal { .. } => ErrorKind::Internal,
        }
    }
}

/// One step of an unlock (see `keyway_wallet::events::UnlockEvent`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UnlockEvent {
    /// The key is chosen; waiting for the door's challenge.
    Connecting {
        door_id: u32,
    },
    /// The door proved it is the certified door.
    DoorVerified {
        door_id: u32,
        carrying_updates: bool,
    },
    /// The request went out with the key `key_id`.
    RequestSent {
        door_id: u32,
        key_id: u64,
    },
    Granted {
        door_id: u32,
    },
    Denied {
        door_id: u32,
        reason: Option<DenialReason>,
    },
    /// The door applied the updates this phone carried.
    UpdatesDelivered {
        door_id: u32,
        seq_before: u64,
        seq_after: u64,
    },
    /// The door's receipt is stored: the unlock is complete.
    ReceiptStored {
        door_id: u32,
    },
    /// The unlock failed: `kind` is the `KeywayError` case the call raises, `message` its text.
    Failed {
        door_id: u32,
        kind: ErrorKind,
        message: String,
    },
    /// The app cancelled the unlock.
    Cancelled {
        door_id: u32,
    },
}

impl From<&CoreUnlockEvent> for UnlockEvent {
    fn from(e: &CoreUnlockEvent) -> Self {
        use CoreUnlockEvent as E;
        match e {
            E::Connecting { door } => UnlockEvent::Connecting { door_id: door.0 },
            E::DoorVerified { door, carrying_updates } => {
                UnlockEvent::DoorVerified { door_id: door.0, carrying_updates: *carrying_updates }
            }
            E::RequestSent { door, key_id } => UnlockEvent::RequestSent { door_id: door.0, key_id: key_id.0 },
            E::Granted { door } => UnlockEvent::Granted { door_id: door.0 },
            E::Denied { door, reason } => UnlockEvent::Denied { door_id: door.0, reason: *reason },
            E::UpdatesDelivered { door, seq_before, seq_after } => {
                UnlockEvent::UpdatesDelivered { door_id: door.0, seq_before: *seq_before, seq_after: *seq_after }
            }
            E::ReceiptStored { door } => UnlockEvent::ReceiptStored { door_id: door.0 },
            E::Failed { door, category, message } => {
                // The case and the text of the error the unlock call raises.
                let error = KeywayError::from_category(*category, message.clone());
                UnlockEvent::Failed { door_id: door.0, kind: ErrorKind::from(&error), message: error.to_string() }
            }
            E::Cancelled { door } => UnlockEvent::Cancelled { door_id: door.0 },
        }
    }
}
