//! A link for callback-driven BLE stacks (CoreBluetooth's delegate, Android's
//! `BluetoothGattCallback`): the app pushes what its stack reports and pulls the frames to
//! write; `Wallet.unlockPush` runs the exchange on no thread of its own (unlike `unlock` over a
//! `BleLink`, whose `receiveFrame` blocks one of Keyway's threads while it waits).
//!
//! ```text
//! val link = PushLink()
//! launch { wallet.unlockPush(doorId, link) }
//! onServicesDiscovered / onDescriptorWrite(CCCD)  -> link.connected(mtu)
//! onMtuChanged                                    -> link.mtuChanged(mtu)
//! onCharacteristicChanged(response)               -> link.notification(value)
//! onConnectionStateChange(DISCONNECTED)           -> link.disconnected()
//! loop { val frame = link.nextWrite() ?: break; write it; await onCharacteristicWrite }
//! gatt.disconnect()
//! ```
//!
//! `bindings/kotlin/src/BluetoothGattLink.kt` and `bindings/swift/CoreBluetoothLink.swift`
//! are reference implementations (not compiled here).

use crate::error::{KeywayError, Result};
use std::sync::Arc;

/// One connection to a door, driven by the app's BLE callbacks. Make one per connection; it
/// carries one unlock.
#[derive(uniffi::Object)]
pub struct PushLink {
    pub(crate) inner: Arc<keyway_wallet::PushLink>,
}

fn size(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

#[uniffi::export]
impl PushLink {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(PushLink { inner: Arc::new(keyway_wallet::PushLink::new()) })
    }

    /// Connected and subscribed to the door's response characteristic, at `mtu` (held to
    /// 23..=517).
    pub fn connected(&self, mtu: u32) {
        self.inner.connected(size(mtu));
    }

    /// The stack negotiated another MTU.
    pub fn mtu_changed(&self, mtu: u32) {
        self.inner.mtu_changed(size(mtu));
    }

    /// A notification from the door's response characteristic. Raises `Link` when it cannot
    /// be one ATT packet or too many are waiting.
    pub fn notification(&self, frame: Vec<u8>) -> Result<()> {
        self.inner.notification(frame).map_err(KeywayError::from)
    }

    /// The connection dropped.
    pub fn disconnected(&self) {
        self.inner.disconnected();
    }

    /// Without waiting: the next frame to write now, if one is ready.
    pub fn take_write(&self) -> Option<Vec<u8>> {
        self.inner.take_write()
    }

    /// Whether the exchange is over (then disconnect).
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl PushLink {
    /// The next frame to write to the door's request characteristic (write it, wait for the
    /// write to be confirmed, ask again), or null/nil/None when the exchange is over: then
    /// disconnect.
    pub async fn next_write(&self) -> Option<Vec<u8>> {
        self.inner.next_write().await
    }
}
