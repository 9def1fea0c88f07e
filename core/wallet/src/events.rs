//! Progress of an unlock as the app shows it, and the listener lists behind every wallet
//! subscription ([`crate::SharedWallet::subscribe_unlock_events`],
//! [`crate::SharedWallet::subscribe_keys`]).
//!
//! Listeners are called on the thread doing the work (the unlock's exchange, the task that
//! finished a sync), never while the wallet's lock is held: a listener may call the wallet's
//! reads. Keep them short (hand the event to the UI's queue); a panicking listener is caught
//! and the others still hear the event.

use crate::error::Category;
use crate::unlock::{FinishedUnlock, PreparedUnlock, UnlockReport};
use crate::{Result, WalletError};
use keyway_link::{Link, UnlockStep};
use keyway_protocol::credential::{DenialReason, DoorId, KeyId};
use keyway_protocol::unlock::UnlockOutcome;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// One step of an unlock, in the order they happen. A run ends with `ReceiptStored` (a grant),
/// with `Denied` (or the `UpdatesDelivered` after it: a refused presenter gets no receipt),
/// `Failed` or `Cancelled`; `Granted` or `Denied` comes as soon as the door's verified result
/// is in (before the receipt is stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnlockEvent {
    /// The key is chosen; waiting for the door's challenge.
    Connecting { door: DoorId },
    /// The door proved it is the certified door.
    DoorVerified { door: DoorId, carrying_updates: bool },
    /// The request went out, presenting `key_id`.
    RequestSent { door: DoorId, key_id: KeyId },
    /// The door opened.
    Granted { door: DoorId },
    /// The door refused, for `reason` (when the door gave one).
    Denied { door: DoorId, reason: Option<DenialReason> },
    /// The door applied updates this phone carried.
    UpdatesDelivered { door: DoorId, seq_before: u64, seq_after: u64 },
    /// The door's signed receipt is stored (for upload): the unlock is complete.
    ReceiptStored { door: DoorId },
    /// The unlock failed; `category` is the error's, `message` its text.
    Failed { door: DoorId, category: Category, message: String },
    /// The app cancelled the unlock; nothing of it was stored.
    Cancelled { door: DoorId },
}

type Listener<T> = Arc<dyn Fn(&T) + Send + Sync>;

/// The listeners of one kind of event.
pub struct Listeners<T> {
    next: AtomicU64,
    list: Mutex<Vec<(u64, Listener<T>)>>,
}

impl<T> Default for Listeners<T> {
    fn default() -> Self {
        Listeners { next: AtomicU64::new(1), list: Mutex::new(Vec::new()) }
    }
}

impl<T: 'static> Listeners<T> {
    /// Adds `listener`; it is removed when the returned [`Subscription`] is cancelled or dropped.
    pub fn add(self: &Arc<Self>, listener: Listener<T>) -> Subscription {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.list.lock().unwrap_or_else(PoisonError::into_inner).push((id, listener));
        let weak: Weak<Self> = Arc::downgrade(self);
        Subscription {
            remove: Mutex::new(Some(Box::new(move || {
                if let Some(listeners) = weak.upgrade() {
                    listeners.list.lock().unwrap_or_else(PoisonError::into_inner).retain(|(i, _)| *i != id);
                }
            }))),
        }
    }

    /// Calls every listener with `event` (outside the list's lock).
    pub fn emit(&self, event: &T) {
        let listeners: Vec<Listener<T>> =
            self.list.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|(_, l)| l.clone()).collect();
        for listener in listeners {
            deliver(&listener, event);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.lock().unwrap_or_else(PoisonError::into_inner).is_empty()
    }
}

/// Calls one listener. A listener that panics has missed this event; nothing else is
/// affected (the wallet's state is never touched by a delivery).
pub(crate) fn deliver<T>(listener: &Listener<T>, event: &T) {
    let _ = catch_unwind(AssertUnwindSafe(|| listener(event)));
}

/// A registered listener. Cancelling it (or dropping it) unsubscribes at once; a delivery
/// already under way on another thread still completes.
pub struct Subscription {
    remove: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Subscription {
    pub fn cancel(&self) {
        let remove = self.remove.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(remove) = remove {
            remove();
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// The progress events of one unlock of `door`.
pub(crate) struct Progress<'a> {
    pub(crate) door: DoorId,
    pub(crate) listeners: &'a Listeners<UnlockEvent>,
}

impl Progress<'_> {
    pub(crate) fn emit(&self, event: UnlockEvent) {
        self.listeners.emit(&event);
    }

    /// The session's steps as events.
    pub(crate) fn step(&self, step: UnlockStep, key_id: KeyId) {
        let door = self.door;
        match step {
            UnlockStep::DoorVerified { carrying_updates } => {
                self.emit(UnlockEvent::DoorVerified { door, carrying_updates })
            }
            UnlockStep::RequestSent => self.emit(UnlockEvent::RequestSent { door, key_id }),
            _ => {}
        }
    }

    /// The door's verified result: granted or denied, then the updates it applied.
    pub(crate) fn outcome(&self, outcome: &UnlockOutcome) {
        let door = self.door;
        if outcome.granted {
            self.emit(UnlockEvent::Granted { door });
        } else {
            self.emit(UnlockEvent::Denied { door, reason: outcome.denial });
        }
        if outcome.updates.seq_after > outcome.updates.seq_before {
            self.emit(UnlockEvent::UpdatesDelivered {
                door,
                seq_before: outcome.updates.seq_before,
                seq_after: outcome.updates.seq_after,
            });
        }
    }

    /// The unlock's end: `ReceiptStored` (only a granted unlock brings a receipt) or `Failed`.
    pub(crate) fn finished(&self, result: &Result<UnlockReport>) {
        let door = self.door;
        match result {
            Ok(report) if report.granted => self.emit(UnlockEvent::ReceiptStored { door }),
            Ok(_) => {}
            Err(e) => self.failed(e),
        }
    }

    pub(crate) fn failed(&self, e: &WalletError) {
        self.emit(UnlockEvent::Failed { door: self.door, category: e.category(), message: e.to_string() });
    }
}

/// The blocking exchange of `prepared` over `link`, reporting its steps.
pub(crate) fn exchange(
    prepared: PreparedUnlock,
    link: &mut dyn Link,
    progress: &Progress<'_>,
) -> Result<FinishedUnlock> {
    let PreparedUnlock { candidates, timeout } = prepared;
    let finished =
        crate::unlock::run_candidates(link, candidates, timeout, &mut |step, key_id| progress.step(step, key_id))?;
    progress.outcome(&finished.outcome);
    Ok(finished)
}
