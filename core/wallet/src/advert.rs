//! Reading a door's advertisement while scanning ([`keyway_protocol::advert`]): which door it
//! is, whether this wallet can open it now, whether this phone carries updates for it, and
//! whether it is near enough to unlock by the app's own threshold.
//!
//! The advertisement is the door's unsigned claim: it chooses which peripheral to connect to,
//! and the unlock then checks the door's signed challenge (a peripheral that advertised
//! another door id fails with [`crate::Category::WrongDoor`] before anything is sent).
//!
//! It carries a door id and nothing of the property: with several properties joined, two may
//! have a door with the same id. [`Advertisement::properties`] then lists both; the unlock
//! tells them apart by the door's signed challenge (see [`crate::unlock`]).

use crate::store::PropertyId;
use crate::unlock::Scope;
use crate::{Result, Wallet, WalletError};
use keyway_link::gatt;
use keyway_protocol::advert::{ADVERT_LEN, DoorAdvert};
use keyway_protocol::credential::DoorId;

/// Received signal strength (dBm) at or above which a door counts as near, unless the app sets
/// its own threshold: about an arm's length from a typical door reader with a phone in hand.
/// Calibrate per door model and phone; RSSI varies by several dB from one reading to the next.
pub const DEFAULT_NEAR_RSSI: i16 = -70;
/// What CoreBluetooth and Android report when no RSSI was measured.
pub const RSSI_UNAVAILABLE: i16 = 127;

/// How near the advertising door is, by the app's RSSI threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proximity {
    /// At or above the threshold.
    Near,
    /// Below it.
    Far,
    /// No RSSI reading came with the advertisement.
    Unknown,
}

impl Proximity {
    /// The verdict for `rssi` (dBm) against `near_rssi`.
    pub fn of(rssi: Option<i16>, near_rssi: i16) -> Self {
        match rssi {
            None | Some(RSSI_UNAVAILABLE) => Proximity::Unknown,
            Some(r) if r > 20 => Proximity::Unknown,
            Some(r) if r >= near_rssi => Proximity::Near,
            Some(_) => Proximity::Far,
        }
    }
}

/// One scanned door, as this wallet sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertisement {
    /// The door id the door advertises (its claim).
    pub door_id: DoorId,
    /// The door's name, when this wallet knows the door.
    pub door_name: Option<String>,
    /// The joined properties that have a door with this id (more than one: the unlock tells
    /// them apart by the door's signed challenge).
    pub properties: Vec<PropertyId>,
    /// Whether an active key of this wallet opens the door now.
    pub can_open: bool,
    /// Whether this phone carries door updates the door lacks (going along at the next unlock
    /// there).
    pub carries_updates: bool,
    /// The door's update seq as advertised (held to `u32::MAX`).
    pub seq_hint: u32,
    /// The RSSI reading that came with the advertisement, if any.
    pub rssi: Option<i16>,
    pub proximity: Proximity,
}

/// The door's advertisement in `bytes`: either the Keyway service data itself (what
/// CoreBluetooth's `CBAdvertisementDataServiceDataKey`, Android's `ScanRecord.getServiceData`
/// and btleplug's `service_data` give for the Keyway service UUID) or raw advertising data /
/// a scan response holding it (Android's `ScanRecord.getBytes`).
pub fn door_advert(bytes: &[u8]) -> Result<DoorAdvert> {
    let payload = if bytes.len() == ADVERT_LEN {
        bytes
    } else {
        gatt::find_service_data(bytes).ok_or_else(|| {
            WalletError::BadAdvertisement(format!(
                "{} bytes that hold no Keyway service data (expected the {ADVERT_LEN}-byte service data or advertising data holding it)",
                bytes.len()
            ))
        })?
    };
    DoorAdvert::from_bytes(payload).map_err(|e| WalletError::BadAdvertisement(e.to_string()))
}

impl Wallet {
    /// Reads a scanned door's advertisement (see [`door_advert`] for the forms `bytes` may
    /// take) against this wallet's keys and pending updates, with `rssi` judged against
    /// `near_rssi` (dBm). A door this wallet does not know is not an error: it is reported with
    /// no name and `can_open == false`.
    pub fn parse_advertisement(&self, bytes: &[u8], rssi: Option<i16>, near_rssi: i16) -> Result<Advertisement> {
        let advert = door_advert(bytes)?;
        let door = advert.door_id;
        let now = self.now()?;
        let contexts = match self.door_contexts(door, now) {
            Ok(contexts) => contexts,
            Err(WalletError::UnknownDoor(_) | WalletError::NoKeyForDoor(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut properties = Vec::new();
        for p in self.store.properties()? {
            if self.store.door_cert_of(p.id, door)?.is_some() {
                properties.push(p.id);
            }
        }
        let door_name = match contexts.first() {
            Some(ctx) => Some(ctx.door_name.clone()),
            None => self.doors()?.into_iter().find(|(id, _)| *id == door).map(|(_, name)| name),
        };
        // Updates go only to a door of their own property: those that can open it, or, with no
        // key for it, every property that has the door.
        let carriers: Vec<PropertyId> = if contexts.is_empty() {
            properties.clone()
        } else {
            contexts.iter().filter_map(|c| if let Scope::Property(p) = c.scope { Some(p) } else { None }).collect()
        };
        let mut carries_updates = false;
        for p in carriers {
            carries_updates |= self.store.pending_of(p, door)?.is_some_and(|b| advert.lacks(b.batch.body.last_seq()));
        }
        Ok(Advertisement {
            door_id: door,
            door_name,
            properties,
            can_open: !contexts.is_empty(),
            carries_updates,
            seq_hint: advert.seq_hint,
            rssi: rssi.filter(|r| *r != RSSI_UNAVAILABLE),
            proximity: Proximity::of(rssi, near_rssi),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proximity_follows_the_threshold() {
        assert_eq!(Proximity::of(Some(-60), -70), Proximity::Near);
        assert_eq!(Proximity::of(Some(-70), -70), Proximity::Near);
        assert_eq!(Proximity::of(Some(-71), -70), Proximity::Far);
        assert_eq!(Proximity::of(Some(-80), -85), Proximity::Near);
        assert_eq!(Proximity::of(None, -70), Proximity::Unknown);
        assert_eq!(Proximity::of(Some(RSSI_UNAVAILABLE), -70), Proximity::Unknown);
    }

    #[test]
    fn takes_service_data_or_advertising_data_and_names_bad_input() {
        let advert = DoorAdvert::new(DoorId(9), 4);
        assert_eq!(door_advert(&advert.to_bytes()).unwrap(), advert);
        let mut scan = vec![2, 0x01, 0x06];
        scan.extend_from_slice(&gatt::service_data_ad(&advert));
        assert_eq!(door_advert(&scan).unwrap(), advert);
        let e = door_advert(&[1, 2, 3]).unwrap_err();
        assert!(e.to_string().contains("no Keyway service data"), "{e}");
        let mut v2 = advert.to_bytes();
        v2[0] = 9;
        assert!(door_advert(&v2).unwrap_err().to_string().contains("version 9"));
    }
}
