//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub(crate) mod v2;

use keyway_protocol::credential::{KeyCertBody, KeyChain, KeyFlags, KeyId, PersonId, Signed};
use keyway_test_kit::fixture::*;

/// A resident of door A whose certificate was fresh (revalidated) only until a day ago: refused
/// by a rule the door checks after the chain verified and the device key was proven, so the
/// refusal names it.
pub(crate) fn not_revalidated(p: &Property, key_id: u64, person: u64) -> Holder {
    let device = key(10 + person as u8);
    let body = KeyCertBody::new(
        KeyId(key_id),
        PersonId(person),
        device.public(),
        doors(&[DOOR_A]),
        current(),
        KeyFlags { resident: true, may_share: false },
        p.issuer(),
    )
    .fresh_until(NOW.saturating_sub_secs(DAY));
    Holder { chain: KeyChain::resident(Signed::sign(body, &p.authority)), device }
}
