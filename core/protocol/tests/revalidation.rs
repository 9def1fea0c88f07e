//! Revalidation at the door: a key certificate opens doors only until its `fresh_until`, so a
//! phone that stops syncing (revoked, lost, or simply offline) loses offline access within the
//! property's window instead of at the end of its lease — and a guest key lapses with its host.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::{
    ChainError, DenialReason, KeyCertBody, KeyChain, KeyFlags, KeyId, NoRevocations, PersonId, Signed, SignedBody,
};
use keyway_test_kit::fixture::*;

const WEEK: u64 = 7 * DAY;

/// A resident certificate with no lease end (9999-12-31), fresh for a week from `synced`.
fn synced_at(p: &Property, key_id: u64, person: u64, synced: UnixTime) -> Holder {
    let device = key(10 + person as u8);
    let body = KeyCertBody::new(
        KeyId(key_id),
        PersonId(person),
        device.public(),
        doors(&[DOOR_A, DOOR_B]),
        window(NOW.saturating_sub_secs(30 * DAY), UnixTime(253_402_300_799)),
        KeyFlags { resident: true, may_share: true },
        p.issuer(),
    )
    .fresh_until(synced.saturating_add_secs(WEEK));
    Holder { chain: KeyChain::resident(Signed::sign(body, &p.authority)), device }
}

#[test]
fn a_phone_that_stopped_syncing_is_refused_once_its_window_has_passed() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    // Both synced a week or less ago... until the door's clock passes the silent one's window.
    let silent = synced_at(&p, 1, 1, NOW.saturating_sub_secs(WEEK));
    let honest = synced_at(&p, 2, 2, NOW.saturating_sub_secs(6 * DAY));
    let run = p.unlock(&mut door, &silent, None);
    assert_eq!(run.outcome.unwrap().denial, Some(DenialReason::NotRevalidated));
    let run = p.unlock(&mut door, &honest, None);
    assert!(run.outcome.unwrap().granted, "offline for less than the window: nothing to notice");
}

#[test]
fn the_chain_says_which_key_needs_its_phone_to_sync_and_since_when() {
    let p = Property::new();
    let silent = synced_at(&p, 1, 1, NOW.saturating_sub_secs(8 * DAY));
    let err = silent.chain.verify_for_door(&p.anchors, DOOR_A, NOW, &NoRevocations).unwrap_err();
    assert_eq!(err, ChainError::NotRevalidated { key: KeyId(1), fresh_until: NOW.saturating_sub_secs(DAY) });
    assert_eq!(DenialReason::from(&err), DenialReason::NotRevalidated);
    // The lease says nothing of it: the chain still verifies structurally.
    assert!(silent.chain.verify_structure(&p.anchors).is_ok());
    // One instant before the end it opens.
    let edge = NOW.saturating_sub_secs(DAY + 1);
    assert!(silent.chain.verify_for_door(&p.anchors, DOOR_A, edge, &NoRevocations).is_ok());
}

#[test]
fn a_guest_key_lapses_with_its_host_and_not_before() {
    let p = Property::new();
    let guest_window = window(NOW.saturating_sub_secs(DAY), NOW.saturating_add_secs(30 * DAY));
    // The host synced 5 days ago: the guest opens for two more days, then lapses.
    let host = synced_at(&p, 1, 1, NOW.saturating_sub_secs(5 * DAY));
    let guest = Property::guest_of(&host, 9, 60, doors(&[DOOR_A]), guest_window);
    let mut door = p.door(DOOR_A);
    assert!(p.unlock(&mut door, &guest, None).outcome.unwrap().granted);
    let later = NOW.saturating_add_secs(2 * DAY);
    let err = guest.chain.verify_for_door(&p.anchors, DOOR_A, later, &NoRevocations).unwrap_err();
    assert_eq!(err, ChainError::NotRevalidated { key: KeyId(1), fresh_until: later });
    // The host syncs again: the guest, given the host's new certificate, opens again for the
    // rest of its own window.
    let renewed = synced_at(&p, 1, 1, later);
    let link = guest.chain.guest_link().unwrap().clone();
    let refreshed = KeyChain::guest(renewed.chain.root().clone(), link);
    assert!(refreshed.verify_for_door(&p.anchors, DOOR_A, later, &NoRevocations).is_ok());
}

#[test]
fn freshness_never_outlasts_the_lease_and_costs_few_bytes() {
    let p = Property::new();
    let device = key(20);
    let lease = window(NOW, NOW.saturating_add_secs(3 * DAY));
    let body = KeyCertBody::new(
        KeyId(3),
        PersonId(3),
        device.public(),
        doors(&[DOOR_A]),
        lease,
        KeyFlags { resident: true, may_share: false },
        p.issuer(),
    );
    assert_eq!(body.fresh_until, lease.expiry, "new: fresh for the whole lease");
    let capped = body.clone().fresh_until(NOW.saturating_add_secs(WEEK));
    assert_eq!(capped.fresh_until, lease.expiry, "never after the lease");
    assert_eq!(KeyCertBody::VERSION, 2);
    // A resident's request stays in one ATT packet at MTU 247 (the figure is in
    // credential_sizes.rs); the freshness adds at most a 5-byte varint.
    let bytes = Signed::sign(capped, &p.authority).to_bytes().len();
    assert!(bytes <= 150, "{bytes}");
}

/// Every revocation at a door is bounded in time: a guest key (whose revocation must last to
/// its own expiry) may not run longer than 366 days, even under a key with no expiry.
#[test]
fn a_guest_key_longer_than_a_year_is_refused() {
    let p = Property::new();
    let host = synced_at(&p, 1, 1, NOW);
    let start = NOW.saturating_sub_secs(DAY);
    let year = Property::guest_of(&host, 9, 60, doors(&[DOOR_A]), window(start, start.saturating_add_secs(366 * DAY)));
    assert!(year.chain.verify_for_door(&p.anchors, DOOR_A, NOW, &NoRevocations).is_ok());
    let longer =
        Property::guest_of(&host, 10, 61, doors(&[DOOR_A]), window(start, start.saturating_add_secs(366 * DAY + 1)));
    let err = longer.chain.verify_structure(&p.anchors).unwrap_err();
    assert!(matches!(err, ChainError::GuestScopeWider { .. }), "{err:?}");
    assert_eq!(keyway_protocol::credential::MAX_GUEST_VALIDITY_SECS, 366 * DAY);
}

/// A person's lost phone: `RevokeDevice` refuses every key certified for that device and every
/// guest key it signed, while the same key certified for the person's new phone opens.
#[test]
fn a_removed_device_is_refused_with_its_guests_and_the_new_phone_opens() {
    use keyway_protocol::credential::{DeviceId, DoorOp};
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let lost = synced_at(&p, 1, 1, NOW);
    // The same key id, certified for the new phone (device seed 30).
    let new_device = key(30);
    let mut body = lost.chain.root().body.clone();
    body.holder = new_device.public();
    let new_phone = Holder { chain: KeyChain::resident(Signed::sign(body, &p.authority)), device: new_device };
    let guest = Property::guest_of(&lost, 9, 60, doors(&[DOOR_A]), window(NOW, NOW.saturating_add_secs(DAY)));
    let until = NOW.saturating_add_secs(7 * DAY);
    let removed = DeviceId::of(&lost.device.public().0);
    let report =
        door.apply_batch(&p.batch(DOOR_A, 1, vec![vec![DoorOp::RevokeDevice { device: removed, until }]]), NOW);
    assert_eq!((report.seq_after, report.batch_rejected), (1, None));
    assert_eq!(door.revocations().device_until(removed), Some(until));
    assert_eq!(p.unlock(&mut door, &lost, None).outcome.unwrap().denial, Some(DenialReason::RevokedDevice));
    assert_eq!(p.unlock(&mut door, &guest, None).outcome.unwrap().denial, Some(DenialReason::RevokedDevice));
    assert!(p.unlock(&mut door, &new_phone, None).outcome.unwrap().granted, "the person's other phone opens");
    // The entry lapses with the lost phone's freshest certificate.
    door.observe_time(until.saturating_add_secs(1));
    assert_eq!(door.revocations().device_until(removed), None);
}
