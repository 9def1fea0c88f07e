//! The wallet unlocking doors over a simulated BLE link: key choice, carrying the door's
//! pending updates, recording the receipt, and the errors an app sees.

use keyway_link::{Link, LinkError, UnlockError};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::*;
use keyway_protocol::door::{DoorEngine, DoorProvisioning};
use keyway_test_kit::sim::{SimConfig, SimDoorLink};
use keyway_wallet::store::SyncChanges;
use keyway_wallet::store::secure::MemorySecureStorage;
use keyway_wallet::{Wallet, WalletError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    fn issuer(&self) -> AuthorityKeyId {
        AuthorityKeyId::of(&self.authority.public().0)
    }

    fn resident_key(&self, id: u64, holder: PublicKey) -> KeyChain {
        let now = keyway_api::clock::now().0;
        let body = KeyCertBody::new(
            KeyId(id),
            PersonId(1),
            holder,
            DoorSet::new(vec![self.cert.body.door_id]).unwrap(),
            Validity::new(UnixTime(now - 3600), UnixTime(now + 86_400)).unwrap(),
            KeyFlags { resident: true, may_share: true },
            self.issuer(),
        );
        KeyChain::resident(Signed::sign(body, &self.authority))
    }

    fn batch(&self, first_seq: u64, n: u64) -> UpdateBatch {
        let updates = (0..n)
            .map(|i| {
                DoorUpdate::new(vec![DoorOp::RevokeKey {
                    key: KeyId(1000 + i),
                    until: UnixTime(keyway_api::clock::now().0 + 86_400),
                }])
                .unwrap()
            })
            .collect();
        let body =
            UpdateBatchBody::new(self.cert.body.door_id, first_seq, keyway_api::clock::now(), self.issuer(), updates)
                .unwrap();
        Signed::sign(body, &self.authority)
    }

    /// A wallet that synced this site: its door, the given keys and pending batch.
    fn sync(&self, wallet: &mut Wallet, keys: Vec<KeyChain>, batch: Option<UpdateBatch>) {
        let changes = SyncChanges {
            anchors: Some(TrustAnchors::new([self.authority.public()])),
            door_certs: vec![("Lobby".into(), self.cert.clone())],
            keys,
            pending: vec![(self.cert.body.door_id, batch)],
            server_time: keyway_api::clock::now(),
            ..Default::default()
        };
        wallet.store_mut().apply_sync(&changes, keyway_api::clock::now()).unwrap();
    }

    fn link(&self, mtu: usize) -> SimDoorLink {
        SimDoorLink::connect(self.door.clone(), SimConfig::with_mtu(mtu), keyway_api::clock::now(), [7; 16])
    }
}

fn new_wallet() -> Wallet {
    Wallet::open_in_memory(Arc::new(MemorySecureStorage::default())).unwrap()
}

/// A resident's wallet holding key 1 for the site's door.
fn wallet_for(site: &Site, batch: Option<UpdateBatch>) -> Wallet {
    let mut wallet = new_wallet();
    let key = site.resident_key(1, wallet.device_public_key());
    site.sync(&mut wallet, vec![key], batch);
    wallet
}

#[test]
fn unlock_carries_pending_updates_and_records_the_receipt() {
    let site = site(4);
    let mut wallet = wallet_for(&site, Some(site.batch(1, 3)));
    assert_eq!(wallet.pending_updates().unwrap().len(), 1);

    let report = wallet.unlock(DoorId(4), &mut site.link(185)).unwrap();
    assert!(report.granted, "{report:?}");
    assert_eq!(report.denial, None);
    assert!(report.updates_carried);
    assert_eq!((report.seq_before, report.seq_after), (0, 3));
    assert_eq!(report.door_name, "Lobby");
    assert!(!report.is_guest);
    assert_eq!(report.key_id, KeyId(1));
    assert_eq!(site.door.lock().unwrap().update_seq(), 3);
    assert!(wallet.pending_updates().unwrap().is_empty(), "delivered updates are dropped");
    let receipts = wallet.receipts().unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].receipt.body.applied_seq, 3);

    // A second unlock carries nothing and brings back only the new activity record.
    let again = wallet.unlock(DoorId(4), &mut site.link(23)).unwrap();
    assert!(again.granted);
    assert!(!again.updates_carried);
    assert_eq!((again.seq_before, again.seq_after), (3, 3));
    assert_eq!(again.activity_records, 1);
    assert_eq!(wallet.receipts().unwrap().len(), 2);
}

#[test]
fn revoked_or_missing_keys_and_unknown_doors_are_errors_before_any_radio_traffic() {
    let site = site(4);
    let mut wallet = new_wallet();
    site.sync(&mut wallet, vec![], None);
    assert!(matches!(wallet.unlock(DoorId(4), &mut site.link(247)), Err(WalletError::NoKeyForDoor(DoorId(4)))));

    let other = self::site(9);
    let mut wallet = wallet_for(&site, None);
    assert!(matches!(wallet.unlock(DoorId(9), &mut other.link(247)), Err(WalletError::UnknownDoor(DoorId(9)))));

    let changes =
        SyncChanges { revoked_keys: vec![KeyId(1)], server_time: keyway_api::clock::now(), ..Default::default() };
    wallet.store_mut().apply_sync(&changes, keyway_api::clock::now()).unwrap();
    assert!(matches!(wallet.unlock(DoorId(4), &mut site.link(247)), Err(WalletError::NoKeyForDoor(DoorId(4)))));
    assert!(site.door.lock().unwrap().activity().is_empty());
    assert!(other.door.lock().unwrap().activity().is_empty());
}

struct DeadLink;

impl Link for DeadLink {
    fn mtu(&self) -> usize {
        247
    }
    fn send(&mut self, _frame: &[u8]) -> Result<(), LinkError> {
        Err(LinkError::Disconnected)
    }
    fn recv(&mut self, _timeout: Duration) -> Result<Vec<u8>, LinkError> {
        Err(LinkError::Disconnected)
    }
}

#[test]
fn a_lost_connection_keeps_the_pending_updates() {
    let site = site(4);
    let mut wallet = wallet_for(&site, Some(site.batch(1, 2)));
    let err = wallet.unlock(DoorId(4), &mut DeadLink).unwrap_err();
    assert!(matches!(err, WalletError::Unlock(UnlockError::Link(LinkError::Disconnected))), "{err}");
    assert_eq!(wallet.pending_updates().unwrap().len(), 1);
    assert!(wallet.receipts().unwrap().is_empty());
}

// ---- guest-key offers from strangers ------------------------------------------------------

/// An attacker's offer for `victim`: the attacker's own authority vouches for door
/// certificates with ids 1..=32 (the one for `attacker`'s door id is that door's real key) and
/// a guest key `guest_id` for `attacker`'s door, under a key the attacker certified for itself.
fn hostile_offer(attacker: &Site, victim: PublicKey, guest_id: KeyId) -> String {
    let attacker_device = KeyPair::generate();
    let root = attacker.resident_key(900, attacker_device.public());
    let door = attacker.cert.body.door_id;
    let certs: Vec<DoorCertificate> = (1..=32)
        .map(|d| match DoorId(d) {
            id if id == door => attacker.cert.clone(),
            id => Signed::sign(
                DoorCertBody::new(id, KeyPair::generate().public(), attacker.issuer()),
                &attacker.authority,
            ),
        })
        .collect();
    let validity = root.root().body.validity;
    let body = GuestKeyBody::new(guest_id, KeyId(900), victim, DoorSet::new(vec![door]).unwrap(), validity);
    let chain = KeyChain::guest(root.root().clone(), Signed::sign(body, &attacker_device));
    let anchors = TrustAnchors::new([attacker.authority.public()]);
    keyway_wallet::share::GuestKeyOffer::new(chain, &anchors, certs).to_text()
}

#[test]
fn a_hostile_guest_offer_changes_no_trust_for_the_propertys_own_doors() {
    let site = site(4);
    let impostor = self::site(4);
    let mut wallet = wallet_for(&site, Some(site.batch(1, 2)));
    let offer = hostile_offer(&impostor, wallet.device_public_key(), KeyId(KeyId::GUEST_BIT | 77));
    wallet.accept_guest_key(&offer).unwrap();

    // The property's trust is as it was: one authority key, the real door's certificate.
    let anchors: Vec<PublicKey> = wallet.store().anchors().unwrap().keys().copied().collect();
    assert_eq!(anchors, vec![site.authority.public()], "the offer's authority key must not be trusted");
    assert_eq!(wallet.store().door_cert(DoorId(4)).unwrap().unwrap().1, site.cert);
    assert_eq!(wallet.store().door_certs().unwrap().len(), 1, "the offer's 32 certificates stay with the offer");

    // The impostor cannot pass as the door for the resident's own key, and learns nothing.
    let err = wallet.unlock(DoorId(4), &mut impostor.link(247)).unwrap_err();
    assert_eq!(err.category(), keyway_wallet::Category::DoorNotTrusted, "{err}");
    assert_eq!(wallet.pending_updates().unwrap().len(), 1, "the revocations stay with the phone");
    assert!(wallet.receipts().unwrap().is_empty());
    // The real door still opens, and takes its updates.
    let report = wallet.unlock(DoorId(4), &mut site.link(247)).unwrap();
    assert!(report.granted && !report.is_guest && report.updates_carried, "{report:?}");
    assert_eq!(report.key_id, KeyId(1));
    assert_eq!(site.door.lock().unwrap().update_seq(), 2);
}

#[test]
fn an_offered_key_runs_on_its_offers_trust_alone_and_carries_nothing_of_the_propertys() {
    let site = site(4);
    let impostor = self::site(4);
    // The impostor's door has moved far ahead in its own log, so its receipts claim seq 5.
    let mut own = wallet_for(&impostor, Some(impostor.batch(1, 5)));
    assert!(own.unlock(DoorId(4), &mut impostor.link(247)).unwrap().granted);

    let mut wallet = wallet_for(&site, Some(site.batch(1, 2)));
    let guest_id = KeyId(KeyId::GUEST_BIT | 78);
    wallet.accept_guest_key(&hostile_offer(&impostor, wallet.device_public_key(), guest_id)).unwrap();
    // The resident's own key is revoked: only the offered key names door 4 now.
    let changes =
        SyncChanges { revoked_keys: vec![KeyId(1)], server_time: keyway_api::clock::now(), ..Default::default() };
    wallet.store_mut().apply_sync(&changes, keyway_api::clock::now()).unwrap();

    let report = wallet.unlock(DoorId(4), &mut impostor.link(247)).unwrap();
    assert!(report.granted && report.is_guest && report.key_id == guest_id, "{report:?}");
    assert!(!report.updates_carried, "the property's updates never go to a door only an offer vouches for");
    assert_eq!(report.activity_records, 0, "nor is its activity asked for");
    assert_eq!(wallet.pending_updates().unwrap().len(), 1, "a foreign receipt drops nothing");
    assert_eq!(wallet.store().door_applied_seq(DoorId(4)).unwrap(), 0);
    assert!(wallet.store().receipts_to_upload().unwrap().is_empty(), "a foreign receipt is never uploaded");
    assert_eq!(wallet.receipts().unwrap().len(), 1, "but it is kept on the device");
    // At the property's real door the offered key checks the door against its offer, and stops.
    let err = wallet.unlock(DoorId(4), &mut site.link(247)).unwrap_err();
    assert_eq!(err.category(), keyway_wallet::Category::DoorNotTrusted, "{err}");
}

#[test]
fn an_offer_cannot_take_the_id_of_a_key_the_wallet_holds() {
    let site = site(4);
    let mut wallet = wallet_for(&site, None);
    // A real guest key from another resident of the property.
    let friend = KeyPair::generate();
    let friend_key = site.resident_key(2, friend.public());
    let real = keyway_wallet::share::issue_guest_key(
        &friend_key,
        &friend,
        wallet.device_public_key(),
        DoorSet::new(vec![DoorId(4)]).unwrap(),
        friend_key.root().body.validity,
    )
    .unwrap();
    let real_chain = KeyChain::guest(friend_key.root().clone(), real.clone());
    let anchors = TrustAnchors::new([site.authority.public()]);
    let real_offer = keyway_wallet::share::GuestKeyOffer::new(real_chain.clone(), &anchors, vec![site.cert.clone()]);
    wallet.accept_guest_key(&real_offer.to_text()).unwrap();
    // Accepting the same offer again is harmless.
    wallet.accept_guest_key(&real_offer.to_text()).unwrap();

    // A stranger's offer reusing that id is refused, and the real key is kept.
    let impostor = self::site(4);
    let err =
        wallet.accept_guest_key(&hostile_offer(&impostor, wallet.device_public_key(), real.body.key_id)).unwrap_err();
    assert!(
        matches!(err, WalletError::Share(keyway_wallet::share::ShareError::KeyIdTaken(id)) if id == real.body.key_id),
        "{err}"
    );
    let held: Vec<KeyChain> = wallet.store().keys().unwrap().into_iter().map(|k| k.chain).collect();
    assert_eq!(held.len(), 2);
    assert!(held.contains(&real_chain));
}

/// A second unlock at the same door is a repeat unlock: the ticket from the first (kept in the
/// wallet's store, its secret masked with the device key) opens the door with no public-key
/// work there; the door hands out the next ticket each time. A door that restarted (no
/// tickets) costs one full unlock in the same session.
#[test]
fn a_second_unlock_uses_the_ticket_of_the_first() {
    let site = site(4);
    let mut wallet = wallet_for(&site, None);
    let first = wallet.unlock(DoorId(4), &mut site.link(185)).unwrap();
    assert!(first.granted && !first.resumed);
    let before = site.door.lock().unwrap().crypto_ops();
    let again = wallet.unlock(DoorId(4), &mut site.link(185)).unwrap();
    assert!(again.granted && again.resumed, "{again:?}");
    let after = site.door.lock().unwrap().crypto_ops();
    assert_eq!((after.key_agreements, after.verifications), (before.key_agreements, before.verifications));
    assert_eq!(wallet.receipts().unwrap().len(), 2, "a repeat unlock brings its receipt too");
    let third = wallet.unlock(DoorId(4), &mut site.link(23)).unwrap();
    assert!(third.resumed, "each session hands out the next ticket");
    // The door restarts: its tickets are gone, the wallet's is refused, and the same session
    // falls back to a full unlock.
    let restarted = {
        let door = site.door.lock().unwrap();
        DoorEngine::from_state(door.state().clone(), *door.limits()).unwrap()
    };
    *site.door.lock().unwrap() = restarted;
    let fallback = wallet.unlock(DoorId(4), &mut site.link(185)).unwrap();
    assert!(fallback.granted && !fallback.resumed);
    assert!(wallet.unlock(DoorId(4), &mut site.link(185)).unwrap().resumed);
}
