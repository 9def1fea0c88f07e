//! The app's own BLE connection to a door (CoreBluetooth, BluetoothGatt) as the core's
//! [`Link`]. The app connects, subscribes to the door's response characteristic (see
//! [`gatt_profile`]), and then moves frames; Keyway does the rest.

use crate::callback_error::CallbackError;
use keyway_link::gatt;
use keyway_link::{Link, LinkError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One connected door, implemented by the app.
#[uniffi::export(foreign)]
pub trait BleLink: Send + Sync {
    /// The negotiated ATT MTU (23..=517; values outside are held to that range).
    fn mtu(&self) -> u32;
    /// Writes one frame (at most `mtu - 3` bytes) to the door's request characteristic.
    fn send_frame(&self, frame: Vec<u8>) -> Result<(), CallbackError>;
    /// The next notification from the door's response characteristic, waiting at most
    /// `timeout_ms`. Raise `CallbackError.LinkTimeout` (Kotlin: `CallbackException.LinkTimeout`)
    /// when none came in time and `LinkDisconnected` when the connection dropped.
    fn receive_frame(&self, timeout_ms: u32) -> Result<Vec<u8>, CallbackError>;
    /// The exchange is over: the app disconnects from the door (or keeps the connection for
    /// another exchange, at its choice). Called once per unlock, also when the app cancels
    /// the unlock (the awaiting coroutine, task or asyncio future is cancelled): then it may
    /// come from another thread while `receive_frame` is waiting, which should then return
    /// `LinkDisconnected` promptly (Keyway ignores whatever it returns after a cancel). Named
    /// `disconnect` because generated Kotlin objects already have `close`.
    fn disconnect(&self);
}

/// The GATT service and characteristic UUIDs a Keyway door exposes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GattProfile {
    pub service_uuid: String,
    /// Phone → door writes.
    pub request_uuid: String,
    /// Door → phone notifications.
    pub response_uuid: String,
}

#[uniffi::export]
pub fn gatt_profile() -> GattProfile {
    GattProfile {
        service_uuid: gatt::uuid_string(gatt::SERVICE_UUID),
        request_uuid: gatt::uuid_string(gatt::REQUEST_UUID),
        response_uuid: gatt::uuid_string(gatt::RESPONSE_UUID),
    }
}

/// Largest frame one write or notification carries at `mtu`.
#[uniffi::export]
pub fn frame_capacity(mtu: u32) -> u32 {
    u32::try_from(gatt::frame_capacity(usize::try_from(mtu).unwrap_or(usize::MAX))).unwrap_or(u32::MAX)
}

/// An app's link as one unlock sees it: cancelled or not, disconnected or not. Shared by the
/// exchange (on a blocking thread) and the awaiting future, which cancels it when dropped.
pub struct LinkHandle {
    inner: Arc<dyn BleLink>,
    cancelled: AtomicBool,
    closed: AtomicBool,
}

impl LinkHandle {
    /// Ends the exchange: nothing more is written or read, and the app's link is disconnected
    /// now (once in all).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.close();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            self.inner.disconnect();
        }
    }
}

/// Adapts an app's [`BleLink`] to the core's [`Link`], enforcing frame sizes both ways. After
/// a cancel every call fails as a dropped connection.
pub struct ForeignLink {
    handle: Arc<LinkHandle>,
}

impl ForeignLink {
    pub fn new(inner: Arc<dyn BleLink>) -> Self {
        let handle = LinkHandle { inner, cancelled: AtomicBool::new(false), closed: AtomicBool::new(false) };
        ForeignLink { handle: Arc::new(handle) }
    }

    /// What the awaiting side keeps to cancel this exchange.
    pub fn handle(&self) -> Arc<LinkHandle> {
        self.handle.clone()
    }

    fn live(&self) -> Result<&dyn BleLink, LinkError> {
        if self.handle.is_cancelled() { Err(LinkError::Disconnected) } else { Ok(self.handle.inner.as_ref()) }
    }
}

impl Link for ForeignLink {
    fn mtu(&self) -> usize {
        gatt::effective_mtu(usize::try_from(self.handle.inner.mtu()).unwrap_or(usize::MAX))
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        gatt::check_frame(frame, self.mtu())?;
        self.live()?.send_frame(frame.to_vec()).map_err(LinkError::from)
    }

    fn recv(&mut self, timeout: Duration) -> Result<Vec<u8>, LinkError> {
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        let frame = self.live()?.receive_frame(ms).map_err(LinkError::from)?;
        // A frame that arrives after a cancel belongs to an exchange that is over.
        self.live()?;
        gatt::check_frame(&frame, self.mtu()).map_err(|e| LinkError::Io(format!("door sent a bad frame: {e}")))?;
        Ok(frame)
    }

    fn close(&mut self) {
        self.handle.close();
    }
}

impl Drop for ForeignLink {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Loop {
        mtu: u32,
        sent: Mutex<Vec<Vec<u8>>>,
        inbox: Mutex<Vec<Result<Vec<u8>, CallbackError>>>,
        closes: Mutex<u32>,
    }

    impl BleLink for Loop {
        fn mtu(&self) -> u32 {
            self.mtu
        }
        fn send_frame(&self, frame: Vec<u8>) -> Result<(), CallbackError> {
            self.sent.lock().unwrap().push(frame);
            Ok(())
        }
        fn receive_frame(&self, _timeout_ms: u32) -> Result<Vec<u8>, CallbackError> {
            self.inbox.lock().unwrap().pop().unwrap_or(Err(CallbackError::LinkTimeout))
        }
        fn disconnect(&self) {
            *self.closes.lock().unwrap() += 1;
        }
    }

    #[test]
    fn enforces_frame_sizes_and_maps_errors() {
        let app = Arc::new(Loop { mtu: 23, ..Default::default() });
        let mut link = ForeignLink::new(app.clone());
        assert_eq!(link.mtu(), 23);
        link.send(&[1; 20]).unwrap();
        assert_eq!(link.send(&[1; 21]), Err(LinkError::FrameTooLarge { len: 21, max: 20 }));
        assert_eq!(app.sent.lock().unwrap().len(), 1);

        app.inbox.lock().unwrap().extend([Err(CallbackError::LinkDisconnected), Ok(vec![9; 21]), Ok(vec![9; 20])]);
        assert_eq!(link.recv(Duration::from_secs(1)).unwrap(), vec![9; 20]);
        assert!(matches!(link.recv(Duration::from_secs(1)), Err(LinkError::Io(m)) if m.contains("bad frame")));
        assert_eq!(link.recv(Duration::from_secs(1)), Err(LinkError::Disconnected));
        assert_eq!(link.recv(Duration::from_secs(1)), Err(LinkError::Timeout));

        link.close();
        drop(link);
        assert_eq!(*app.closes.lock().unwrap(), 1);
    }

    #[test]
    fn a_cancelled_link_is_disconnected_once_and_moves_no_more_frames() {
        let app = Arc::new(Loop { mtu: 247, ..Default::default() });
        app.inbox.lock().unwrap().push(Ok(vec![1; 4]));
        let mut link = ForeignLink::new(app.clone());
        link.handle().cancel();
        assert_eq!(*app.closes.lock().unwrap(), 1, "cancel disconnects at once");
        assert_eq!(link.send(&[1; 4]), Err(LinkError::Disconnected));
        assert_eq!(link.recv(Duration::from_secs(1)), Err(LinkError::Disconnected));
        assert!(app.sent.lock().unwrap().is_empty());
        assert_eq!(app.inbox.lock().unwrap().len(), 1, "nothing read after the cancel");
        link.close();
        drop(link);
        assert_eq!(*app.closes.lock().unwrap(), 1, "disconnected once in all");
    }

    #[test]
    fn out_of_range_mtu_is_held_to_att_limits() {
        let link = ForeignLink::new(Arc::new(Loop { mtu: 0, ..Default::default() }));
        assert_eq!(link.mtu(), 23);
        let link = ForeignLink::new(Arc::new(Loop { mtu: 4096, ..Default::default() }));
        assert_eq!(link.mtu(), 517);
        assert_eq!(frame_capacity(247), 244);
    }
}
