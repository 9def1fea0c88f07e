//! A link for callback-driven BLE stacks (CoreBluetooth, Android's BluetoothGatt): the app
//! pushes what its stack reports (connected with an MTU, the MTU changed, a notification from
//! the door, disconnected) and pulls the frames to write. The exchange is an async task that
//! waits on these events: no thread blocks on a read, unlike the blocking [`keyway_link::Link`]
//! (which stays for Rust callers: btleplug, the socket link, tests).
//!
//! One [`PushLink`] per connection and per unlock. When the exchange is over (done, failed,
//! timed out or cancelled) [`PushLink::next_write`] returns `None`: the app then disconnects.

use crate::events::Progress;
use crate::unlock::{FinishedUnlock, PreparedUnlock};
use crate::{Result, WalletError};
use keyway_link::gatt;
use keyway_link::{LinkError, UnlockError, UnlockStep};
use keyway_protocol::unlock::UnlockOutcome;
use keyway_protocol::unlock::frame::{MAX_MTU, MIN_MTU};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// Notifications the door may send before the exchange reads them (a whole exchange is a
/// handful of frames; more means a misbehaving peer).
pub const INBOX_FRAMES: usize = 256;

#[derive(Default)]
struct State {
    /// The MTU, once the app said the link is connected.
    mtu: Option<usize>,
    disconnected: bool,
    inbox: VecDeque<Vec<u8>>,
    outbox: VecDeque<Vec<u8>>,
    /// The exchange is over: nothing more goes out, and the app should disconnect.
    finished: bool,
    /// An exchange has claimed this link.
    claimed: bool,
}

/// The app's side of a callback-driven connection to one door.
#[derive(Default)]
pub struct PushLink {
    state: Mutex<State>,
    /// Something arrived for the exchange (connected, MTU, notification, disconnected).
    to_exchange: Notify,
    /// Something is ready for the app (a frame to write, or the end).
    to_app: Notify,
}

impl PushLink {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection is up and subscribed to the door's responses, at `mtu` (held to
    /// 23..=517).
    pub fn connected(&self, mtu: usize) {
        self.state().mtu = Some(gatt::effective_mtu(mtu));
        self.to_exchange.notify_one();
    }

    /// The stack negotiated a new MTU (frames written from now on are sized to it).
    pub fn mtu_changed(&self, mtu: usize) {
        let mut s = self.state();
        if s.mtu.is_some() {
            s.mtu = Some(gatt::effective_mtu(mtu));
        }
    }

    /// A notification from the door's response characteristic. Refused when it does not fit
    /// one ATT packet or when too many are waiting; ignored once the exchange is over.
    pub fn notification(&self, frame: Vec<u8>) -> std::result::Result<(), LinkError> {
        let mut s = self.state();
        if s.finished || s.disconnected {
            return Ok(());
        }
        gatt::check_frame(&frame, s.mtu.unwrap_or(MAX_MTU))?;
        if s.inbox.len() >= INBOX_FRAMES {
            return Err(LinkError::Io(format!("more than {INBOX_FRAMES} notifications waiting")));
        }
        s.inbox.push_back(frame);
        drop(s);
        self.to_exchange.notify_one();
        Ok(())
    }

    /// The connection dropped: the exchange ends with `LinkDisconnected`.
    pub fn disconnected(&self) {
        self.state().disconnected = true;
        self.to_exchange.notify_one();
        self.to_app.notify_one();
    }

    /// The next frame to write to the door's request characteristic (write it, wait for the
    /// stack's write confirmation, then ask again), or `None` when the exchange is over and
    /// the app should disconnect.
    pub async fn next_write(&self) -> Option<Vec<u8>> {
        loop {
            {
                let mut s = self.state();
                if let Some(frame) = s.outbox.pop_front() {
                    return Some(frame);
                }
                if s.finished || s.disconnected {
                    return None;
                }
            }
            self.to_app.notified().await;
        }
    }

    /// [`PushLink::next_write`] without waiting: `None` when no frame is ready now.
    pub fn take_write(&self) -> Option<Vec<u8>> {
        self.state().outbox.pop_front()
    }

    /// Whether the exchange is over (the app should disconnect once the frames are written).
    pub fn is_finished(&self) -> bool {
        let s = self.state();
        s.finished || s.disconnected
    }

    /// Ends the exchange: frames not yet taken are dropped, and `next_write` returns `None`.
    pub fn finish(&self) {
        let mut s = self.state();
        s.finished = true;
        s.outbox.clear();
        s.inbox.clear();
        drop(s);
        self.to_app.notify_one();
        self.to_exchange.notify_one();
    }

    fn claim(&self) -> std::result::Result<(), LinkError> {
        let mut s = self.state();
        if s.claimed || s.finished {
            return Err(LinkError::Io("this push link already carried an unlock: make one per connection".into()));
        }
        s.claimed = true;
        Ok(())
    }

    /// The next notification and the MTU, once connected; `Disconnected` when the app said so.
    async fn next_frame(&self) -> std::result::Result<(Vec<u8>, usize), LinkError> {
        loop {
            {
                let mut s = self.state();
                if s.disconnected || s.finished {
                    return Err(LinkError::Disconnected);
                }
                if let Some(mtu) = s.mtu
                    && let Some(frame) = s.inbox.pop_front()
                {
                    return Ok((frame, mtu));
                }
            }
            self.to_exchange.notified().await;
        }
    }

    fn write(&self, frame: Vec<u8>, mtu: usize) -> std::result::Result<(), LinkError> {
        gatt::check_frame(&frame, mtu)?;
        let mut s = self.state();
        if s.disconnected || s.finished {
            return Err(LinkError::Disconnected);
        }
        s.outbox.push_back(frame);
        drop(s);
        self.to_app.notify_one();
        Ok(())
    }
}

/// The exchange of `prepared` over `link`, bounded by the prepared timeout; `link` is finished
/// when it returns (and when the future is dropped, by the caller's guard).
pub(crate) async fn exchange(
    prepared: PreparedUnlock,
    link: &PushLink,
    progress: &Progress<'_>,
) -> Result<FinishedUnlock> {
    let PreparedUnlock { mut candidates, timeout } = prepared;
    link.claim().map_err(|e| WalletError::Unlock(e.into()))?;
    let run = async {
        loop {
            let (frame, mtu) = link.next_frame().await?;
            if !(MIN_MTU..=MAX_MTU).contains(&mtu) {
                return Err(UnlockError::Link(LinkError::BadMtu(mtu)));
            }
            let outcome = candidates.handle_frame(&frame, mtu)?;
            let mut sent = false;
            while let Some(out) = candidates.poll_transmit(mtu) {
                if !sent {
                    let carrying_updates = candidates.carrying_updates();
                    progress.step(UnlockStep::DoorVerified { carrying_updates }, candidates.key_id());
                    sent = true;
                }
                link.write(out, mtu)?;
            }
            if sent {
                progress.step(UnlockStep::RequestSent, candidates.key_id());
            }
            if let Some(outcome) = outcome {
                return Ok::<UnlockOutcome, UnlockError>(outcome);
            }
        }
    };
    let result = tokio::time::timeout(timeout, run).await.unwrap_or(Err(UnlockError::Timeout(timeout)));
    link.finish();
    let outcome = result?;
    progress.outcome(&outcome);
    candidates.finish(outcome)
}
