//! The Keyway GATT profile and ATT frame sizing, shared by every BLE link (btleplug on
//! desktops, CoreBluetooth and BluetoothGatt in the apps, the door firmware).
//!
//! A door exposes one primary service with two characteristics: the phone writes request
//! frames to `REQUEST`, and the door sends its frames as notifications on `RESPONSE`
//! (the phone subscribes before the door sends its challenge).

use super::LinkError;
use keyway_protocol::advert::DoorAdvert;
use keyway_protocol::door::DoorEngine;

/// Primary service a Keyway door advertises.
pub const SERVICE_UUID: u128 = 0x6b77_0001_5c1e_4d3a_9f2b_8a61_e0c4_d7b2;
/// Phone → door: write (with response when the door supports it).
pub const REQUEST_UUID: u128 = 0x6b77_0002_5c1e_4d3a_9f2b_8a61_e0c4_d7b2;
/// Door → phone: notify.
pub const RESPONSE_UUID: u128 = 0x6b77_0003_5c1e_4d3a_9f2b_8a61_e0c4_d7b2;

/// ATT MTU range and the per-packet header (opcode and handle), as the framing layer uses them.
pub use keyway_protocol::unlock::frame::{ATT_OVERHEAD as ATT_HEADER, MAX_MTU, MIN_MTU};

/// AD type "Service Data – 128-bit UUID" (Bluetooth Assigned Numbers): how a door puts its
/// [`DoorAdvert`] in its advertising data or scan response.
pub const AD_SERVICE_DATA_128: u8 = 0x21;
/// Bytes one advertising packet (or scan response) holds.
pub const AD_MAX: usize = 31;

/// The AD structure a door adds to its scan response: the Keyway service's data, carrying
/// `advert` (27 of the 31 bytes). UUIDs go over the air least significant byte first.
pub fn service_data_ad(advert: &DoorAdvert) -> Vec<u8> {
    let payload = advert.to_bytes();
    let mut ad = Vec::with_capacity(2 + 16 + payload.len());
    ad.push(u8::try_from(1 + 16 + payload.len()).unwrap_or(u8::MAX));
    ad.push(AD_SERVICE_DATA_128);
    ad.extend_from_slice(&SERVICE_UUID.to_le_bytes());
    ad.extend_from_slice(&payload);
    ad
}

/// The door's advertisement now, as the door side builds it.
pub fn door_advert(door: &DoorEngine) -> DoorAdvert {
    DoorAdvert::new(door.door_id(), door.update_seq())
}

/// The Keyway service data in raw advertising data or a scan response (a sequence of AD
/// structures: length, type, data), if a well-formed structure carries it.
pub fn find_service_data(ad: &[u8]) -> Option<&[u8]> {
    let uuid = SERVICE_UUID.to_le_bytes();
    let mut rest = ad;
    while let [len, tail @ ..] = rest {
        let len = usize::from(*len);
        if len == 0 {
            // Padding: the significant part is over.
            return None;
        }
        let structure = tail.get(..len)?;
        if let [AD_SERVICE_DATA_128, data @ ..] = structure
            && let Some(payload) = data.strip_prefix(&uuid[..])
        {
            return Some(payload);
        }
        rest = &tail[len..];
    }
    None
}

/// The canonical text form (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case) that
/// platform BLE APIs take.
pub fn uuid_string(uuid: u128) -> String {
    let h = format!("{uuid:032x}");
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// The MTU a link works with: what the platform reports, held to 23..=517 (a platform that
/// reports 0 before negotiation gets the minimum, which every peer supports).
pub fn effective_mtu(reported: usize) -> usize {
    reported.clamp(MIN_MTU, MAX_MTU)
}

/// Largest frame that fits one write or notification at `mtu` (at most GATT's 512-byte
/// attribute value).
pub fn frame_capacity(mtu: usize) -> usize {
    (effective_mtu(mtu) - ATT_HEADER).min(keyway_protocol::unlock::frame::MAX_ATTRIBUTE_VALUE)
}

/// Refuses a frame that does not fit one ATT packet at `mtu` (the peer would truncate it).
pub fn check_frame(frame: &[u8], mtu: usize) -> Result<(), LinkError> {
    let max = frame_capacity(mtu);
    if frame.is_empty() {
        return Err(LinkError::Io("empty frame".into()));
    }
    if frame.len() > max {
        return Err(LinkError::FrameTooLarge { len: frame.len(), max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_distinct_and_formatted() {
        assert_eq!(uuid_string(SERVICE_UUID), "6b770001-5c1e-4d3a-9f2b-8a61e0c4d7b2");
        assert_eq!(uuid_string(1), "00000000-0000-0000-0000-000000000001");
        assert_ne!(REQUEST_UUID, RESPONSE_UUID);
        assert_ne!(SERVICE_UUID, REQUEST_UUID);
    }

    #[test]
    fn mtu_is_clamped_to_att_range() {
        assert_eq!(effective_mtu(0), 23);
        assert_eq!(effective_mtu(247), 247);
        assert_eq!(effective_mtu(10_000), 517);
        assert_eq!(frame_capacity(23), 20);
        assert_eq!(frame_capacity(247), 244);
        // GATT caps an attribute value at 512 bytes, below MTU 517 - 3.
        assert_eq!(frame_capacity(517), 512);
        assert_eq!(frame_capacity(600), 512);
    }

    #[test]
    fn the_advertisement_fits_a_scan_response_and_is_found_in_one() {
        let advert = DoorAdvert::new(keyway_protocol::credential::DoorId(7), 3);
        let ad = service_data_ad(&advert);
        assert_eq!(ad.len(), 27);
        assert!(ad.len() <= AD_MAX);
        // Flags, then a local name, then the service data: found where it is.
        let mut scan = vec![2, 0x01, 0x06, 4, 0x09, b'D', b'-', b'7'];
        scan.extend_from_slice(&ad);
        assert_eq!(find_service_data(&scan), Some(&advert.to_bytes()[..]));
        assert_eq!(find_service_data(&ad), Some(&advert.to_bytes()[..]));
        // Another service's data, truncated structures, padding: not found, no panic.
        let mut other = ad.clone();
        other[2] ^= 1;
        assert_eq!(find_service_data(&other), None);
        assert_eq!(find_service_data(&ad[..10]), None);
        assert_eq!(find_service_data(&[0, 0, 0]), None);
        assert_eq!(find_service_data(&[200]), None);
        assert_eq!(find_service_data(&[]), None);
    }

    #[test]
    fn frames_must_fit_one_packet() {
        assert!(check_frame(&[0; 20], 23).is_ok());
        assert_eq!(check_frame(&[0; 21], 23), Err(LinkError::FrameTooLarge { len: 21, max: 20 }));
        assert!(check_frame(&[0; 244], 247).is_ok());
        assert!(check_frame(&[0; 245], 247).is_err());
        assert!(check_frame(&[], 247).is_err());
    }
}
