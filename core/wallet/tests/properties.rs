//! Several properties in one wallet: two properties whose ids collide (both have door 4 and a
//! key 1) stay apart in every lookup, the door's signed challenge picks the property at an
//! unlock, leaving one keeps the other, and a one-property (schema v4) store upgrades with its
//! data as property 1.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::*;
use keyway_protocol::door::{DoorEngine, DoorProvisioning};
use keyway_test_kit::sim::{SimConfig, SimDoorLink};
use keyway_wallet::key_state::KeyState;
use keyway_wallet::store::secure::{MemorySecureStorage, SecureStorage};
use keyway_wallet::store::{PropertyId, Store, SyncChanges};
use keyway_wallet::{Category, Wallet, WalletError};
use std::sync::{Arc, Mutex};

struct Site {
    authority: KeyPair,
    door: Arc<Mutex<DoorEngine>>,
    cert: DoorCertificate,
}

fn site(door_id: u32) -> Site {
    let authority = KeyPair::generate();
    let door_key = KeyPair::generate();
    let issuer = AuthorityKeyId::of(&authority.public().0);
    let cert = Signed::sign(DoorCertBody::new(DoorId(door_id), door_key.public(), issuer), &authority);
    let door = DoorEngine::new(DoorProvisioning {
        door_id: DoorId(door_id),
        door_key,
        anchors: TrustAnchors::new([authority.public()]),
        doorcode_secret: DoorcodeSecret::generate(),
        card_key: None,
        utc_offset_minutes: 0,
        clock: keyway_api::clock::now(),
    });
    Site { authority, door: Arc::new(Mutex::new(door)), cert }
}

impl Site {
    fn key(&self, id: u64, holder: PublicKey) -> KeyChain {
        let now = keyway_api::clock::now().0;
        let body = KeyCertBody::new(
            KeyId(id),
            PersonId(1),
            holder,
            DoorSet::new(vec![self.cert.body.door_id]).unwrap(),
            Validity::new(UnixTime(now - 3600), UnixTime(now + 86_400)).unwrap(),
            KeyFlags { resident: true, may_share: true },
            AuthorityKeyId::of(&self.authority.public().0),
        );
        KeyChain::resident(Signed::sign(body, &self.authority))
    }

    fn batch(&self, n: u64) -> UpdateBatch {
        let until = UnixTime(keyway_api::clock::now().0 + 86_400);
        let updates =
            (0..n).map(|i| DoorUpdate::new(vec![DoorOp::RevokeKey { key: KeyId(1000 + i), until }]).unwrap()).collect();
        let issuer = AuthorityKeyId::of(&self.authority.public().0);
        let body = UpdateBatchBody::new(self.cert.body.door_id, 1, keyway_api::clock::now(), issuer, updates).unwrap();
        Signed::sign(body, &self.authority)
    }

    fn changes(&self, name: &str, keys: Vec<KeyChain>, batch: Option<UpdateBatch>) -> SyncChanges {
        SyncChanges {
            anchors: Some(TrustAnchors::new([self.authority.public()])),
            door_certs: vec![(name.into(), self.cert.clone())],
            keys,
            pending: vec![(self.cert.body.door_id, batch)],
            cursor: Some(format!("{name}-cursor")),
            server_time: keyway_api::clock::now(),
            ..Default::default()
        }
    }

    fn link(&self) -> SimDoorLink {
        SimDoorLink::connect(self.door.clone(), SimConfig::with_mtu(185), keyway_api::clock::now(), [7; 16])
    }
}

/// A wallet that joined two properties, each with door 4 and a key 1 for it; property A's
/// door has updates waiting.
fn two_properties() -> (Wallet, Site, Site, PropertyId, PropertyId) {
    let (a, b) = (site(4), site(4));
    let mut w = Wallet::open_in_memory(Arc::new(MemorySecureStorage::default())).unwrap();
    let me = w.device_public_key();
    let now = keyway_api::clock::now();
    let pa = w.store().add_property("http://127.0.0.1:1", Some(1), Some("Elm Court"), now).unwrap();
    let pb = w.store().add_property("http://127.0.0.1:2", Some(1), Some("Oak Row"), now).unwrap();
    w.store_mut().apply_sync_in(pa, &a.changes("Elm front", vec![a.key(1, me)], Some(a.batch(2))), now).unwrap();
    w.store_mut().apply_sync_in(pb, &b.changes("Oak front", vec![b.key(1, me)], None), now).unwrap();
    (w, a, b, pa, pb)
}

#[test]
fn colliding_ids_stay_apart_and_the_challenge_picks_the_property() {
    let (mut w, a, b, pa, pb) = two_properties();
    let keys = w.keys_at(keyway_api::clock::now()).unwrap();
    assert_eq!(keys.len(), 2, "key 1 of each property: {keys:?}");
    let mut of: Vec<_> = keys.iter().map(|k| (k.key_id, k.property.as_ref().map(|p| p.id))).collect();
    of.sort();
    assert_eq!(of, vec![(KeyId(1), Some(pa)), (KeyId(1), Some(pb))]);
    let doors = w.door_list().unwrap();
    assert_eq!(doors.len(), 2);
    assert_eq!(doors[1].property.as_ref().and_then(|p| p.name.clone()).as_deref(), Some("Oak Row"));

    // The advertisement names only door 4: both properties have one.
    let advert = w.parse_advertisement(&keyway_protocol::advert::DoorAdvert::new(DoorId(4), 0).to_bytes(), None, -70);
    let advert = advert.unwrap();
    assert_eq!(advert.properties, vec![pa, pb]);
    assert!(advert.can_open && advert.carries_updates);

    // At B's door: B's key, and A's updates stay for A's door.
    let at_b = w.unlock(DoorId(4), &mut b.link()).unwrap();
    assert!(at_b.granted, "{at_b:?}");
    assert_eq!(at_b.property.as_ref().map(|p| p.id), Some(pb));
    assert_eq!(at_b.door_name, "Oak front");
    assert!(!at_b.updates_carried, "A's updates never go to B's door");
    assert_eq!(b.door.lock().unwrap().update_seq(), 0);
    assert_eq!(w.pending_updates().unwrap().len(), 1);

    // At A's door: A's key, carrying A's updates.
    let at_a = w.unlock(DoorId(4), &mut a.link()).unwrap();
    assert!(at_a.granted && at_a.updates_carried, "{at_a:?}");
    assert_eq!(at_a.property.as_ref().map(|p| p.id), Some(pa));
    assert_eq!(a.door.lock().unwrap().update_seq(), 2);
    assert!(w.pending_updates().unwrap().is_empty());
    let receipts = w.receipts().unwrap();
    assert_eq!(receipts.iter().map(|r| r.property).collect::<Vec<_>>(), vec![Some(pb), Some(pa)]);
    assert_eq!(w.store().receipts_to_upload_of(pa).unwrap().len(), 1);

    // A revocation of A's key 1 leaves B's key 1.
    let revoke =
        SyncChanges { revoked_keys: vec![KeyId(1)], server_time: keyway_api::clock::now(), ..Default::default() };
    w.store_mut().apply_sync_in(pa, &revoke, keyway_api::clock::now()).unwrap();
    let states: Vec<_> =
        w.keys_at(keyway_api::clock::now()).unwrap().into_iter().map(|k| (k.property.map(|p| p.id), k.state)).collect();
    assert!(states.contains(&(Some(pa), KeyState::Revoked)) && states.contains(&(Some(pb), KeyState::Active)));
    assert!(w.unlock(DoorId(4), &mut b.link()).unwrap().granted);
    // A's door is not B's, whatever its id: B's key alone is left, and A's door fails its check.
    let err = w.unlock(DoorId(4), &mut a.link()).unwrap_err();
    assert_eq!(err.category(), Category::DoorNotTrusted, "{err}");
}

#[test]
fn a_door_of_each_property_with_distinct_ids_and_shares_name_the_right_property() {
    let (w, _a, _b, pa, pb) = two_properties();
    let request = Wallet::open_in_memory(Arc::new(MemorySecureStorage::default())).unwrap().share_request("Gus");
    let doors = DoorSet::new(vec![DoorId(4)]).unwrap();
    let now = keyway_api::clock::now();
    let window = Validity::new(now, UnixTime(now.0 + 3600)).unwrap();
    let text = request.to_text();
    let err = w.share_offline(KeyId(1), &text, doors.clone(), window).unwrap_err();
    assert!(matches!(err, WalletError::AmbiguousKey(KeyId(1))), "{err}");
    w.share_offline_at(Some(pb), KeyId(1), &text, doors, window).unwrap();
    let issued = w.store().issued_guest_keys().unwrap();
    assert_eq!(issued.iter().map(|g| g.property).collect::<Vec<_>>(), vec![pb]);
    assert_ne!(pa, pb);
}

#[test]
fn leaving_one_property_keeps_the_other() {
    let secure: Arc<dyn SecureStorage> = Arc::new(MemorySecureStorage::default());
    let (a, b) = (site(4), site(4));
    let mut w = Wallet::open_in_memory(secure.clone()).unwrap();
    let me = w.device_public_key();
    let now = keyway_api::clock::now();
    let pa = w.store().add_property("http://127.0.0.1:1", None, None, now).unwrap();
    let pb = w.store().add_property("http://127.0.0.1:2", None, None, now).unwrap();
    w.store_mut().apply_sync_in(pa, &a.changes("A", vec![a.key(1, me)], None), now).unwrap();
    w.store_mut().apply_sync_in(pb, &b.changes("B", vec![b.key(1, me)], None), now).unwrap();
    secure.put("device-token", b"token-a").unwrap();
    secure.put("backend-url", b"http://127.0.0.1:1").unwrap();
    secure.put("device-token-2", b"token-b").unwrap();
    secure.put("backend-url-2", b"http://127.0.0.1:2").unwrap();
    secure.put("property-slots", b"1,2").unwrap();
    assert!(w.unlock(DoorId(4), &mut a.link()).unwrap().granted);

    w.leave_property(pa).unwrap();
    assert_eq!(w.properties().unwrap().iter().map(|p| p.id).collect::<Vec<_>>(), vec![pb]);
    let keys = w.keys_at(keyway_api::clock::now()).unwrap();
    assert_eq!(keys.iter().map(|k| k.property.as_ref().map(|p| p.id)).collect::<Vec<_>>(), vec![Some(pb)]);
    assert!(w.receipts().unwrap().is_empty(), "A's receipts went with it");
    assert_eq!(secure.get("device-token").unwrap(), None);
    assert_eq!(secure.get("device-token-2").unwrap().as_deref(), Some(&b"token-b"[..]));
    assert!(w.is_enrolled().unwrap());
    assert!(w.unlock(DoorId(4), &mut b.link()).unwrap().granted);
    assert!(matches!(w.unlock(DoorId(4), &mut a.link()).unwrap_err().category(), Category::DoorNotTrusted));
    assert!(matches!(w.leave_property(pa), Err(WalletError::UnknownProperty(p)) if p == pa));

    // Reset wipes every property and every property's credentials.
    w.reset().unwrap();
    assert!(w.properties().unwrap().is_empty() && w.keys_at(keyway_api::clock::now()).unwrap().is_empty());
    for name in ["device-token-2", "backend-url-2", "property-slots"] {
        assert_eq!(secure.get(name).unwrap(), None, "{name}");
    }
}

/// A reinstall that lost the database but kept the secure store finds every property again.
#[test]
fn a_lost_database_finds_every_property_in_secure_storage() {
    let dir = tempfile::tempdir().unwrap();
    let secure: Arc<dyn SecureStorage> = Arc::new(MemorySecureStorage::default());
    drop(Wallet::open(&dir.path().join("w.db"), secure.clone()).unwrap());
    secure.put("device-token", b"token-a").unwrap();
    secure.put("backend-url", b"http://127.0.0.1:1").unwrap();
    secure.put("device-token-3", b"token-c").unwrap();
    secure.put("backend-url-3", b"http://127.0.0.1:3").unwrap();
    secure.put("property-slots", b"1,3").unwrap();
    let w = Wallet::open(&dir.path().join("new.db"), secure).unwrap();
    let found: Vec<_> = w.properties().unwrap().into_iter().map(|p| (p.id, p.backend_url)).collect();
    assert_eq!(
        found,
        vec![(PropertyId(1), "http://127.0.0.1:1".to_string()), (PropertyId(3), "http://127.0.0.1:3".to_string())]
    );
    assert!(w.is_enrolled().unwrap());
}

/// A wallet store of schema v4 (one property, its ids unique per wallet) with real data in
/// every table upgrades to v5: all of it is property 1's, an offered key belongs to no property,
/// the secure store's v4 names are property 1's credentials, and the wallet still unlocks.
#[test]
fn a_v4_store_upgrades_with_its_data_as_property_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wallet.db");
    let secure: Arc<dyn SecureStorage> = Arc::new(MemorySecureStorage::default());
    // The device key, made as a v4 wallet made it.
    let me = Wallet::open_in_memory(secure.clone()).unwrap().device_public_key();
    secure.put("device-token", b"v4-token").unwrap();
    secure.put("backend-url", b"http://127.0.0.1:9").unwrap();

    let home = site(4);
    let key = home.key(1, me);
    let replaced = home.key(2, me);
    let batch = home.batch(1);
    // A real receipt from the door, and a real offer for this device from a host elsewhere.
    let receipt = {
        let mut scratch = Wallet::open_in_memory(Arc::new(MemorySecureStorage::default())).unwrap();
        let k = home.key(7, scratch.device_public_key());
        scratch.store_mut().apply_sync(&home.changes("Front", vec![k], None), keyway_api::clock::now()).unwrap();
        assert!(scratch.unlock(DoorId(4), &mut home.link()).unwrap().granted);
        scratch.receipts().unwrap().remove(0).receipt
    };
    let away = site(8);
    let (offer, _) = {
        let mut host = Wallet::open_in_memory(Arc::new(MemorySecureStorage::default())).unwrap();
        let k = away.key(3, host.device_public_key());
        host.store_mut().apply_sync(&away.changes("Gate", vec![k], None), keyway_api::clock::now()).unwrap();
        let now = keyway_api::clock::now();
        let window = Validity::new(now, UnixTime(now.0 + 3600)).unwrap();
        host.issue_guest_offer(KeyId(3), me, DoorSet::new(vec![DoorId(8)]).unwrap(), window).unwrap()
    };
    let guest = keyway_wallet::share::issue_guest_key(
        &key,
        &KeyPair::from_secret(&secure.get("device-key").unwrap().unwrap().try_into().unwrap()),
        KeyPair::generate().public(),
        DoorSet::new(vec![DoorId(4)]).unwrap(),
        Validity::new(keyway_api::clock::now(), UnixTime(keyway_api::clock::now().0 + 600)).unwrap(),
    )
    .unwrap();

    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        keyway_wallet::store::schema::migrations().to_version(&mut conn, 4).unwrap();
        let issuer = AuthorityKeyId::of(&home.authority.public().0);
        let now = keyway_api::clock::now().0 as i64;
        let put_key = |conn: &rusqlite::Connection, chain: &KeyChain, guest: bool, revoked: bool| {
            let v = if guest { chain.guest_link().unwrap().body.validity } else { chain.root().body.validity };
            conn.execute(
                "INSERT INTO keys (key_id, chain, is_guest, start, expiry, revoked, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![
                    chain.leaf_key_id().0 as i64,
                    chain.to_bytes(),
                    guest,
                    v.start.0 as i64,
                    v.expiry.0 as i64,
                    revoked,
                    now
                ],
            )
            .unwrap();
        };
        conn.execute(
            "INSERT INTO anchors (issuer, public_key) VALUES (?1, ?2)",
            rusqlite::params![&issuer.0[..], &home.authority.public().0[..]],
        )
        .unwrap();
        conn.execute("INSERT INTO door_certs (door_id, name, cert) VALUES (4, 'Front', ?1)", [home.cert.to_bytes()])
            .unwrap();
        put_key(&conn, &key, false, false);
        put_key(&conn, &replaced, false, true);
        put_key(&conn, &offer.chain, true, false);
        conn.execute(
            "INSERT INTO offers (key_id, offer, accepted_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![offer.chain.leaf_key_id().0 as i64, offer.to_bytes(), now],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO pending_updates (door_id, batch, first_seq, last_seq) VALUES (4, ?1, 1, 1)",
            [batch.to_bytes()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO receipts (door_id, receipt, applied_seq, created_at, activity_last) VALUES (4, ?1, 0, ?2, 1)",
            rusqlite::params![receipt.to_bytes(), now],
        )
        .unwrap();
        conn.execute("INSERT INTO door_state (door_id, applied_seq, backend_activity) VALUES (4, 0, 1)", []).unwrap();
        conn.execute(
            "INSERT INTO issued_guest_keys (key_id, parent, guest_key, issued_at) VALUES (?1, 1, ?2, ?3)",
            rusqlite::params![guest.body.key_id.0 as i64, guest.to_bytes(), now],
        )
        .unwrap();
        for (name, value) in [
            ("backend_url", b"http://127.0.0.1:9".to_vec()),
            ("person_id", 5u64.to_be_bytes().to_vec()),
            ("sync_cursor", b"c-41".to_vec()),
            ("last_server_time", (now as u64).to_be_bytes().to_vec()),
            ("replaced_by/2", 1u64.to_be_bytes().to_vec()),
            ("device_public_key", me.0.to_vec()),
        ] {
            conn.execute("INSERT INTO meta (name, value) VALUES (?1, ?2)", rusqlite::params![name, value]).unwrap();
        }
    }

    let mut w = Wallet::open(&path, secure.clone()).unwrap();
    assert_eq!(w.store().schema_version().unwrap(), keyway_wallet::store::schema::LATEST_VERSION);
    let properties = w.properties().unwrap();
    assert_eq!(properties.len(), 1);
    assert_eq!((properties[0].id, properties[0].backend_url.as_str()), (PropertyId(1), "http://127.0.0.1:9"));
    assert!(w.is_enrolled().unwrap(), "the v4 secure-store names are property 1's credentials");
    let p1 = PropertyId(1);
    let store: &Store = w.store();
    assert_eq!(store.cursor_of(p1).unwrap().as_deref(), Some("c-41"));
    assert_eq!(store.anchors_of(p1).unwrap().keys().count(), 1);
    assert_eq!(store.door_cert_of(p1, DoorId(4)).unwrap().unwrap().0, "Front");
    assert_eq!(store.pending_of(p1, DoorId(4)).unwrap().unwrap().batch, batch);
    assert_eq!(store.activity_after_of(p1, DoorId(4)).unwrap(), 1);
    assert_eq!(store.receipts_to_upload_of(p1).unwrap().len(), 1);
    assert_eq!(store.issued_guest_keys().unwrap()[0].property, p1);
    assert_eq!(store.property_meta(p1, "person_id").unwrap(), Some(5u64.to_be_bytes().to_vec()));
    let mut keys: Vec<_> = w
        .keys_at(keyway_api::clock::now())
        .unwrap()
        .into_iter()
        .map(|k| (k.key_id, k.property.map(|p| p.id), k.state))
        .collect();
    keys.sort_by_key(|k| k.0);
    assert_eq!(
        keys,
        vec![
            (KeyId(1), Some(p1), KeyState::Active),
            (KeyId(2), Some(p1), KeyState::Replaced { by: KeyId(1) }),
            (offer.chain.leaf_key_id(), None, KeyState::Active),
        ]
    );
    // The upgraded wallet opens its door with the upgraded key, carrying the upgraded batch.
    let report = w.unlock(DoorId(4), &mut home.link()).unwrap();
    assert!(report.granted && report.updates_carried, "{report:?}");
    assert_eq!(report.property.map(|p| p.id), Some(p1));
    // And the offered key still opens its own door.
    assert!(
        w.unlock(DoorId(8), &mut {
            SimDoorLink::connect(away.door.clone(), SimConfig::with_mtu(185), keyway_api::clock::now(), [7; 16])
        })
        .unwrap()
        .granted
    );
}
