//! The wallet without a network: key states, key choice, offline guest sharing, durability of
//! the store across reopen.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::*;
use keyway_wallet::Wallet;
use keyway_wallet::key_state::{KeyState, pick_key};
use keyway_wallet::share::{GuestKeyOffer, ShareError};
use keyway_wallet::store::SyncChanges;
use keyway_wallet::store::secure::{FileSecureStorage, MemorySecureStorage, SecureStorage};
use std::sync::Arc;

const T0: u64 = 1_796_000_000; // late 2026

struct Property {
    authority: KeyPair,
    doors: Vec<DoorCertificate>,
}

impl Property {
    fn new(n_doors: u32) -> Self {
        let authority = KeyPair::generate();
        let issuer = AuthorityKeyId::of(&authority.public().0);
        let doors = (1..=n_doors)
            .map(|d| Signed::sign(DoorCertBody::new(DoorId(d), KeyPair::generate().public(), issuer), &authority))
            .collect();
        Property { authority, doors }
    }

    fn anchors(&self) -> TrustAnchors {
        TrustAnchors::new([self.authority.public()])
    }

    fn key(&self, id: u64, holder: PublicKey, doors: &[u32], start: u64, expiry: u64, may_share: bool) -> KeyChain {
        let body = KeyCertBody::new(
            KeyId(id),
            PersonId(1),
            holder,
            DoorSet::new(doors.iter().map(|d| DoorId(*d)).collect()).unwrap(),
            Validity::new(UnixTime(start), UnixTime(expiry)).unwrap(),
            KeyFlags { resident: true, may_share },
            AuthorityKeyId::of(&self.authority.public().0),
        );
        KeyChain::resident(Signed::sign(body, &self.authority))
    }

    /// What a sync delivering `keys` would store.
    fn deliver(&self, wallet: &mut Wallet, keys: Vec<KeyChain>, server_time: u64) {
        let changes = SyncChanges {
            anchors: Some(self.anchors()),
            door_certs: self.doors.iter().map(|c| (format!("Door {}", c.body.door_id.0), c.clone())).collect(),
            keys,
            server_time: UnixTime(server_time),
            ..Default::default()
        };
        wallet.store_mut().apply_sync(&changes, UnixTime(server_time)).unwrap();
    }
}

fn memory() -> Arc<dyn SecureStorage> {
    Arc::new(MemorySecureStorage::default())
}

#[test]
fn key_states_follow_the_clock_and_never_go_back_before_server_time() {
    let p = Property::new(2);
    let mut w = Wallet::open_in_memory(memory()).unwrap();
    let me = w.device_public_key();
    p.deliver(&mut w, vec![p.key(1, me, &[1], T0 + 3600, T0 + 7200, false)], T0);
    let state = |w: &Wallet, t| w.keys_at(UnixTime(t)).unwrap()[0].state;
    assert_eq!(state(&w, T0), KeyState::Upcoming { start: UnixTime(T0 + 3600) });
    assert_eq!(state(&w, T0 + 3600), KeyState::Active);
    assert_eq!(state(&w, T0 + 7200), KeyState::Expired { at: UnixTime(T0 + 7200) });
    // A device clock set back before the last server time still sees the server's present.
    p.deliver(&mut w, vec![], T0 + 8000);
    assert_eq!(state(&w, T0), KeyState::Expired { at: UnixTime(T0 + 7200) });
}

/// A key whose certificate's freshness ran out (no sync within the property's revalidation
/// window) reads "needs sync", says until when it was good, and is not presented at a door;
/// the next sync's fresh certificate makes it active again.
#[test]
fn a_key_not_revalidated_in_time_needs_sync_and_is_not_presented() {
    let p = Property::new(2);
    let mut w = Wallet::open_in_memory(memory()).unwrap();
    let me = w.device_public_key();
    let week = 7 * 86_400;
    let fresh = |synced: u64| {
        let chain = p.key(1, me, &[1], T0, T0 + 365 * 86_400, false);
        let body = chain.root().body.clone().fresh_until(UnixTime(synced + week));
        KeyChain::resident(Signed::sign(body, &p.authority))
    };
    p.deliver(&mut w, vec![fresh(T0)], T0);
    let view = |w: &Wallet, t: u64| w.keys_at(UnixTime(t)).unwrap()[0].clone();
    assert_eq!(view(&w, T0 + week - 1).state, KeyState::Active);
    assert_eq!(view(&w, T0).fresh_until, UnixTime(T0 + week), "sync needed by");
    assert_eq!(view(&w, T0 + week).state, KeyState::NeedsSync { since: UnixTime(T0 + week) });
    let stored: Vec<_> = w.store().keys().unwrap().into_iter().map(|k| (k.chain, k.revoked)).collect();
    let keys: Vec<_> = stored.iter().map(|(c, r)| (c, *r)).collect();
    assert!(pick_key(keys, DoorId(1), UnixTime(T0 + week)).is_none(), "a door would refuse it");
    // A sync a day later re-issues it: active again, for a week from then.
    p.deliver(&mut w, vec![fresh(T0 + week + 86_400)], T0 + week + 86_400);
    assert_eq!(view(&w, T0 + week + 86_400).state, KeyState::Active);
}

#[test]
fn pick_prefers_active_resident_keys_that_open_the_door() {
    let p = Property::new(3);
    let dev = KeyPair::generate();
    let short = p.key(1, dev.public(), &[1, 2], T0, T0 + 100, true);
    let long = p.key(2, dev.public(), &[1], T0, T0 + 1000, true);
    let future = p.key(3, dev.public(), &[1, 2, 3], T0 + 50, T0 + 5000, true);
    let keys = vec![(&short, false), (&long, false), (&future, false)];
    assert_eq!(pick_key(keys.clone(), DoorId(1), UnixTime(T0 + 10)).unwrap().leaf_key_id(), KeyId(2));
    assert_eq!(pick_key(keys.clone(), DoorId(2), UnixTime(T0 + 10)).unwrap().leaf_key_id(), KeyId(1));
    assert!(pick_key(keys.clone(), DoorId(3), UnixTime(T0 + 10)).is_none(), "the upcoming key does not open yet");
    assert_eq!(pick_key(keys, DoorId(3), UnixTime(T0 + 60)).unwrap().leaf_key_id(), KeyId(3));
    let revoked = vec![(&long, true), (&short, false)];
    assert_eq!(pick_key(revoked, DoorId(1), UnixTime(T0 + 10)).unwrap().leaf_key_id(), KeyId(1));
}

#[test]
fn offline_guest_sharing_round_trip() {
    let p = Property::new(3);
    let mut resident = Wallet::open_in_memory(memory()).unwrap();
    let mut guest = Wallet::open_in_memory(memory()).unwrap();
    let me = resident.device_public_key();
    p.deliver(&mut resident, vec![p.key(10, me, &[1, 2], T0, T0 + 86_400 * 30, true)], T0);

    let request = guest.share_request("Ana's phone").to_text();
    assert!(request.starts_with("KWSR1."));
    let window = Validity::new(UnixTime(T0 + 10), UnixTime(T0 + 86_400)).unwrap();
    let offer = resident.share_offline(KeyId(10), &request, DoorSet::new(vec![DoorId(2)]).unwrap(), window).unwrap();
    eprintln!("share request {} chars, guest key offer {} chars", request.len(), offer.len());

    let view = guest.accept_guest_key(&offer).unwrap();
    assert!(view.is_guest);
    assert_eq!(view.doors.doors(), &[DoorId(2)]);
    // The guest now recognises door 2 and holds a chain a door would accept.
    assert!(guest.doors().unwrap().iter().any(|(d, _)| *d == DoorId(2)));
    let held = &guest.store().keys().unwrap()[0].chain;
    held.verify_for_door(&p.anchors(), DoorId(2), UnixTime(T0 + 100), &NoRevocations).unwrap();
    assert_eq!(resident.store().issued_guest_keys().unwrap().len(), 1);

    // Someone else's device cannot import it.
    let mut other = Wallet::open_in_memory(memory()).unwrap();
    assert!(matches!(
        other.accept_guest_key(&offer),
        Err(keyway_wallet::WalletError::Share(ShareError::NotForThisDevice))
    ));
}

#[test]
fn sharing_refuses_wider_scope_and_unshareable_keys() {
    let p = Property::new(3);
    let mut resident = Wallet::open_in_memory(memory()).unwrap();
    let guest = Wallet::open_in_memory(memory()).unwrap();
    let me = resident.device_public_key();
    p.deliver(
        &mut resident,
        vec![p.key(10, me, &[1, 2], T0, T0 + 1000, true), p.key(11, me, &[1], T0, T0 + 1000, false)],
        T0,
    );
    let req = guest.share_request("g").to_text();
    let doors = |d: &[u32]| DoorSet::new(d.iter().map(|x| DoorId(*x)).collect()).unwrap();
    let w = |a, b| Validity::new(UnixTime(a), UnixTime(b)).unwrap();
    let err = |r: Result<String, keyway_wallet::WalletError>| format!("{}", r.unwrap_err());
    assert!(err(resident.share_offline(KeyId(10), &req, doors(&[3]), w(T0, T0 + 10))).contains("doors"));
    assert!(err(resident.share_offline(KeyId(10), &req, doors(&[1]), w(T0, T0 + 2000))).contains("dates"));
    assert!(err(resident.share_offline(KeyId(11), &req, doors(&[1]), w(T0, T0 + 10))).contains("may not be shared"));
    // A tampered request (name changed after signing) is refused.
    let mut tampered = keyway_wallet::share::ShareRequest::from_text(&req).unwrap();
    tampered.body.name = keyway_protocol::codec::BoundedBytes::new(b"mallory".to_vec()).unwrap();
    assert!(
        err(resident.share_offline(KeyId(10), &tampered.to_text(), doors(&[1]), w(T0, T0 + 10))).contains("signature")
    );
    // Garbage payloads give errors, not panics.
    for bad in ["", "KWGK1.", "KWGK1.!!!!", "hello", &"KWGK1.".repeat(5000)] {
        assert!(GuestKeyOffer::from_text(bad).is_err());
    }
}

#[test]
fn device_key_and_state_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let secure: Arc<dyn SecureStorage> = Arc::new(FileSecureStorage::new(dir.path().join("secrets")).unwrap());
    let p = Property::new(1);
    let pk = {
        let mut w = Wallet::open(&dir.path().join("wallet.db"), secure.clone()).unwrap();
        let pk = w.device_public_key();
        p.deliver(&mut w, vec![p.key(1, pk, &[1], T0, T0 + 10, false)], T0);
        pk
    };
    let w = Wallet::open(&dir.path().join("wallet.db"), secure).unwrap();
    assert_eq!(w.device_public_key(), pk);
    assert_eq!(w.keys_at(UnixTime(T0)).unwrap().len(), 1);
    assert_eq!(w.store().schema_version().unwrap(), keyway_wallet::store::schema::LATEST_VERSION);
}
