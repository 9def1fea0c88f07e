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
