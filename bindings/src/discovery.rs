//! Telling doors apart while scanning: `Wallet.parseAdvertisement(bytes, rssi)` reads the
//! Keyway service data a door advertises (its door id and update seq, nine bytes; see
//! `keyway_protocol::advert`) against this wallet.
//!
//! CoreBluetooth: scan for `gattProfile().serviceUuid`, then in `didDiscover` pass
//! `advertisementData[CBAdvertisementDataServiceDataKey][CBUUID(string: serviceUuid)]` and
//! `RSSI`. Android: `ScanFilter.Builder().setServiceUuid(...)`, then in `onScanResult` pass
//! `result.scanRecord.getServiceData(ParcelUuid(serviceUuid))` (or `scanRecord.bytes`) and
//! `result.rssi`.

use keyway_wallet::advert::{Advertisement, Proximity as CoreProximity};

/// How near the door is by the app's RSSI threshold (`Wallet.setNearRssi`, default -70 dBm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Proximity {
    Near,
    Far,
    /// No RSSI came with the advertisement.
    Unknown,
}

/// A scanned door as this wallet sees it. The advertisement is the door's unsigned claim: it
/// picks the peripheral to connect to; the unlock then checks the door's signed challenge.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DoorAdvertisement {
    pub door_id: u32,
    /// The door's name when this wallet knows the door.
    pub door_name: Option<String>,
    /// The local ids of the joined properties that have a door with this id. The advertisement
    /// carries no property: with more than one, `unlock` tells them apart by the door's signed
    /// challenge (it presents the key of the property whose certified door answers).
    pub property_ids: Vec<u32>,
    /// An active key of this wallet opens it now.
    pub can_open: bool,
    /// This phone carries door updates the door lacks (delivered at the next unlock there).
    pub carries_updates: bool,
    /// The door's update seq as advertised.
    pub seq_hint: u32,
    pub rssi: Option<i16>,
    pub proximity: Proximity,
}

impl From<Advertisement> for DoorAdvertisement {
    fn from(a: Advertisement) -> Self {
        DoorAdvertisement {
            door_id: a.door_id.0,
            door_name: a.door_name,
            property_ids: a.properties.iter().map(|p| p.0).collect(),
            can_open: a.can_open,
            carries_updates: a.carries_updates,
            seq_hint: a.seq_hint,
            rssi: a.rssi,
            proximity: match a.proximity {
                CoreProximity::Near => Proximity::Near,
                CoreProximity::Far => Proximity::Far,
                CoreProximity::Unknown => Proximity::Unknown,
            },
        }
    }
}

/// A door's advertisement payload for `door_id` at update seq `update_seq` (what a door's
/// firmware puts in its Keyway service data; for door simulators and tests).
#[uniffi::export]
pub fn door_advertisement(door_id: u32, update_seq: u64) -> Vec<u8> {
    keyway_protocol::advert::DoorAdvert::new(keyway_protocol::credential::DoorId(door_id), update_seq)
        .to_bytes()
        .to_vec()
}
