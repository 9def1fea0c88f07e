//! A [`Link`] over btleplug (BlueZ on Linux, CoreBluetooth on macOS/iOS, WinRT on Windows).
//!
//! The link owns a small tokio runtime: btleplug is async, the unlock exchange is not. Its
//! notification stream is pumped into a [`NotificationQueue`]; writes go to the door's
//! request characteristic. Everything that does not touch the radio (the GATT profile, frame
//! sizing, the queue and its timeouts) lives in [`crate::gatt`] and [`crate::notify_queue`] and is tested
//! there; this file needs a Bluetooth adapter and a door to exercise.

use super::gatt;
use super::notify_queue::NotificationQueue;
use super::{Link, LinkError};
use btleplug::api::{Central, CharPropFlags, Characteristic, Manager as _, Peripheral as _, ScanFilter, WriteType};
use btleplug::platform::{Manager, Peripheral};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Frames the door may have notified before the exchange reads them.
const QUEUE_FRAMES: usize = 256;
const SCAN_POLL: Duration = Duration::from_millis(200);

/// How to find and connect to a door.
#[derive(Clone, Debug)]
pub struct BleConnectOptions {
    /// Connect only to a door advertising this local name; `None`: the first Keyway door seen.
    pub name: Option<String>,
    /// Connect only to a door whose Keyway service data ([`keyway_protocol::advert`]) names
    /// this door id; a door that advertises none is taken on its name alone.
    pub door: Option<keyway_protocol::credential::DoorId>,
    pub scan_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for BleConnectOptions {
    fn default() -> Self {
        BleConnectOptions {
            name: None,
            door: None,
            scan_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

pub struct BtleplugLink {
    runtime: tokio::runtime::Runtime,
    peripheral: Peripheral,
    request: Characteristic,
    write_type: WriteType,
    queue: Arc<NotificationQueue>,
    mtu: usize,
}

fn io(what: &str) -> impl FnOnce(btleplug::Error) -> LinkError + '_ {
    move |e| LinkError::Io(format!("{what}: {e}"))
}

/// Write with response when the door offers it (the stack then paces the writes), else
/// without.
fn write_type_for(properties: CharPropFlags) -> Option<WriteType> {
    if properties.contains(CharPropFlags::WRITE) {
        Some(WriteType::WithResponse)
    } else if properties.contains(CharPropFlags::WRITE_WITHOUT_RESPONSE) {
        Some(WriteType::WithoutResponse)
    } else {
        None
    }
}

impl BtleplugLink {
    /// Scans for a Keyway door, connects, subscribes to its responses and returns the link.
    /// Call it from a plain thread, not from inside an async task.
    pub fn connect(options: &BleConnectOptions) -> Result<Self, LinkError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(LinkError::Io(
                "BtleplugLink must be used from a blocking thread (spawn_blocking), not an async task".into(),
            ));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| LinkError::Io(format!("starting the BLE runtime: {e}")))?;
        let (peripheral, request, write_type, queue, mtu) = runtime.block_on(Self::open(options))?;
        Ok(BtleplugLink { runtime, peripheral, request, write_type, queue, mtu })
    }

    async fn open(
        options: &BleConnectOptions,
    ) -> Result<(Peripheral, Characteristic, WriteType, Arc<NotificationQueue>, usize), LinkError> {
        let service = Uuid::from_u128(gatt::SERVICE_UUID);
        let manager = Manager::new().await.map_err(io("opening the Bluetooth manager"))?;
        let adapter = manager
            .adapters()
            .await
            .map_err(io("listing Bluetooth adapters"))?
            .into_iter()
            .next()
            .ok_or_else(|| LinkError::Io("no Bluetooth adapter".into()))?;
        adapter.start_scan(ScanFilter { services: vec![service] }).await.map_err(io("starting the scan"))?;
        let found = Self::find_door(&adapter, service, options).await;
        let _ = adapter.stop_scan().await;
        let peripheral = found?;

        tokio::time::timeout(options.connect_timeout, peripheral.connect())
            .await
            .map_err(|_| LinkError::Timeout)?
            .map_err(io("connecting to the door"))?;
        peripheral.discover_services().await.map_err(io("discovering the door's services"))?;
        let chars = peripheral.characteristics();
        let find =
            |uuid: u128| chars.iter().find(|c| c.service_uuid == service && c.uuid == Uuid::from_u128(uuid)).cloned();
        let request =
            find(gatt::REQUEST_UUID).ok_or_else(|| LinkError::Io("door has no request characteristic".into()))?;
        let response =
            find(gatt::RESPONSE_UUID).ok_or_else(|| LinkError::Io("door has no response characteristic".into()))?;
        let write_type = write_type_for(request.properties)
            .ok_or_else(|| LinkError::Io("door's request characteristic is not writable".into()))?;

        let mtu = gatt::effective_mtu(usize::from(peripheral.mtu()));
        let queue = Arc::new(NotificationQueue::new(QUEUE_FRAMES, mtu));
        let mut notifications = peripheral.notifications().await.map_err(io("opening notifications"))?;
        peripheral.subscribe(&response).await.map_err(io("subscribing to the door's responses"))?;
        let pump = queue.clone();
        let response_uuid = response.uuid;
        tokio::spawn(async move {
            while let Some(n) = notifications.next().await {
                if n.uuid == response_uuid {
                    pump.push(n.value);
                }
            }
            pump.disconnect();
        });
        Ok((peripheral, request, write_type, queue, mtu))
    }

    async fn find_door(
        adapter: &btleplug::platform::Adapter,
        service: Uuid,
        options: &BleConnectOptions,
    ) -> Result<Peripheral, LinkError> {
        let deadline = Instant::now() + options.scan_timeout;
        loop {
            for p in adapter.peripherals().await.map_err(io("listing peripherals"))? {
                let Ok(Some(props)) = p.properties().await else { continue };
                let offers_service = props.services.contains(&service);
                let name_ok = match &options.name {
                    None => true,
                    Some(want) => props.local_name.as_deref() == Some(want.as_str()),
                };
                let advertised = props
                    .service_data
                    .get(&service)
                    .and_then(|d| keyway_protocol::advert::DoorAdvert::from_bytes(d).ok());
                let door_ok = match (options.door, advertised) {
                    (Some(want), Some(advert)) => advert.door_id == want,
                    _ => true,
                };
                if offers_service && name_ok && door_ok {
                    return Ok(p);
                }
            }
            if Instant::now() >= deadline {
                return Err(LinkError::Timeout);
            }
            tokio::time::sleep(SCAN_POLL).await;
        }
    }
}

impl Link for BtleplugLink {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        gatt::check_frame(frame, self.mtu)?;
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(LinkError::Io("BtleplugLink::send called from an async task".into()));
        }
        let write = self.peripheral.write(&self.request, frame, self.write_type);
        self.runtime.block_on(write).map_err(|e| match e {
            btleplug::Error::NotConnected => LinkError::Disconnected,
            btleplug::Error::TimedOut(_) => LinkError::Timeout,
            other => LinkError::Io(format!("writing to the door: {other}")),
        })
    }

    fn recv(&mut self, timeout: Duration) -> Result<Vec<u8>, LinkError> {
        self.queue.recv(timeout)
    }

    fn close(&mut self) {
        self.queue.disconnect();
        if tokio::runtime::Handle::try_current().is_err() {
            let _ = self.runtime.block_on(self.peripheral.disconnect());
        }
    }
}

impl Drop for BtleplugLink {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_acknowledged_writes() {
        assert!(matches!(
            write_type_for(CharPropFlags::WRITE | CharPropFlags::WRITE_WITHOUT_RESPONSE),
            Some(WriteType::WithResponse)
        ));
        assert!(matches!(write_type_for(CharPropFlags::WRITE_WITHOUT_RESPONSE), Some(WriteType::WithoutResponse)));
        assert!(write_type_for(CharPropFlags::NOTIFY).is_none());
    }

    #[test]
    fn refuses_to_run_inside_an_async_task() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let r = rt.block_on(async { BtleplugLink::connect(&BleConnectOptions::default()).map(|_| ()) });
        assert!(matches!(r, Err(LinkError::Io(m)) if m.contains("blocking thread")));
    }
}
