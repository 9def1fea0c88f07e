//! Fault injection through the simulated link: a full wallet unlock carrying pending door
//! updates (20 revocations and a doorcode slot) is cut off after every possible byte count of
//! the session, both directions counted, and then retried on a fresh connection with whatever
//! the wallet kept. At the end, for every kill point: the door holds every update exactly once
//! (its seq is the batch's last, 20 revocations, the slot), its activity log is gap-free, the
//! wallet dropped the pending batch only because a verified receipt showed it applied, and the
//! receipts in the wallet's outbox verify and carry the door's activity without gaps.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::door_update::UpdateBatchBody;
use keyway_protocol::credential::*;
use keyway_protocol::door::{DoorEngine, DoorProvisioning, DoorState};
use keyway_test_kit::sim::{SimConfig, SimDoorLink};
use keyway_wallet::Wallet;
use keyway_wallet::store::SyncChanges;
use keyway_wallet::store::secure::MemorySecureStorage;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const DOOR: DoorId = DoorId(3);
const DAY: u64 = 86_400;
const REVOCATIONS: u64 = 20;
const SLOT: u32 = 9;

struct Property {
    authority: KeyPair,
    door_key: KeyPair,
    now: UnixTime,
    batch: UpdateBatch,
}

impl Property {
    fn new() -> Self {
        let authority = KeyPair::from_secret(&[1; 32]);
        let now = keyway_api::clock::now();
        let until = now.saturating_add_secs(30 * DAY);
        let mut updates: Vec<DoorUpdate> = (0..REVOCATIONS)
            .map(|i| DoorUpdate::new(vec![DoorOp::RevokeKey { key: KeyId(1_000 + i), until }]).unwrap())
            .collect();
        let validity = Validity::new(now.saturating_sub_secs(DAY), until).unwrap();
        updates
            .push(DoorUpdate::new(vec![DoorOp::AddDoorcode { slot: SLOT, person: PersonId(77), validity }]).unwrap());
        let issuer = AuthorityKeyId::of(&authority.public().0);
        let body = UpdateBatchBody::new(DOOR, 1, now, issuer, updates).unwrap();
        let batch = Signed::sign(body, &authority);
        Property { door_key: KeyPair::from_secret(&[2; 32]), authority, now, batch }
    }

    fn issuer(&self) -> AuthorityKeyId {
        AuthorityKeyId::of(&self.authority.public().0)
    }

    fn anchors(&self) -> TrustAnchors {
        TrustAnchors::new([self.authority.public()])
    }

    fn last_seq(&self) -> u64 {
        self.batch.body.last_seq()
    }

    fn door(&self) -> Arc<Mutex<DoorEngine>> {
        Arc::new(Mutex::new(DoorEngine::new(DoorProvisioning {
            door_id: DOOR,
            door_key: self.door_key.clone(),
            anchors: self.anchors(),
            doorcode_secret: DoorcodeSecret::new([7; 32]),
            card_key: None,
            utc_offset_minutes: 0,
            clock: self.now.saturating_sub_secs(60),
        })))
    }

    /// A wallet that synced a key for `DOOR` and the door's pending batch.
    fn wallet(&self) -> Wallet {
        let mut wallet = Wallet::open_in_memory(Arc::new(MemorySecureStorage::default())).unwrap();
        let body = KeyCertBody::new(
            KeyId(5),
            PersonId(50),
            wallet.device_public_key(),
            DoorSet::new(vec![DOOR]).unwrap(),
            Validity::new(self.now.saturating_sub_secs(DAY), self.now.saturating_add_secs(30 * DAY)).unwrap(),
            KeyFlags { resident: true, may_share: false },
            self.issuer(),
        );
        let door_cert = Signed::sign(DoorCertBody::new(DOOR, self.door_key.public(), self.issuer()), &self.authority);
        let changes = SyncChanges {
            anchors: Some(self.anchors()),
            door_certs: vec![("Back door".into(), door_cert)],
            keys: vec![KeyChain::resident(Signed::sign(body, &self.authority))],
            pending: vec![(DOOR, Some(self.batch.clone()))],
            server_time: self.now,
            ..Default::default()
        };
        wallet.store_mut().apply_sync(&changes, self.now).unwrap();
        wallet
    }
}

fn connect(door: &Arc<Mutex<DoorEngine>>, now: UnixTime, cut: Option<usize>, nonce: u8) -> SimDoorLink {
    let cfg = SimConfig { disconnect_after_bytes: cut, ..SimConfig::default() };
    SimDoorLink::connect(door.clone(), cfg, now, [nonce; 16])
}

/// What the door and the wallet must show once the updates have been delivered.
fn check_delivered(p: &Property, door: &DoorEngine, wallet: &Wallet, cut: usize) {
    let ctx = format!("cut after {cut} bytes");
    assert_eq!(door.update_seq(), p.last_seq(), "{ctx}: door seq");
    assert_eq!(door.revocations().len() as u64, REVOCATIONS, "{ctx}: each revocation once");
    assert!(door.state().doorcodes.contains_key(&SLOT), "{ctx}: doorcode slot lost");
    // Nothing was rejected (an update applied twice would have to be refused or logged).
    let records: Vec<&ActivityRecord> = door.activity().records().collect();
    assert!(!records.iter().any(|r| matches!(r.event, ActivityEvent::UpdateRejected { .. })), "{ctx}: {records:?}");
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=door.activity().head()).collect::<Vec<_>>(), "{ctx}: activity gap-free from 1");
    let unlocks = records.iter().filter(|r| matches!(r.event, ActivityEvent::AppUnlock { .. })).count();
    assert!((1..=2).contains(&unlocks), "{ctx}: {unlocks} unlocks logged");
    assert_eq!(unlocks, records.len(), "{ctx}: only unlock decisions logged");
    // The door's persisted form survives a restart unchanged.
    assert_eq!(&DoorState::from_bytes(&door.state().to_bytes()).unwrap(), door.state(), "{ctx}");

    // The wallet dropped the batch, knows the door's seq, and every receipt it holds verifies.
    let store = wallet.store();
    assert!(store.pending(DOOR).unwrap().is_none(), "{ctx}: pending batch kept after delivery");
    assert_eq!(store.door_applied_seq(DOOR).unwrap(), p.last_seq(), "{ctx}");
    let receipts = store.receipts_to_upload().unwrap();
    assert!(!receipts.is_empty() && receipts.len() <= 2, "{ctx}: {} receipts", receipts.len());
    let mut activity: BTreeMap<u64, ActivityRecord> = BTreeMap::new();
    for r in &receipts {
        r.receipt.verify_signature(&p.door_key.public()).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(r.receipt.body.door_id, DOOR);
        for rec in r.receipt.body.activity.iter() {
            if let Some(before) = activity.insert(rec.seq, rec.clone()) {
                assert_eq!(&before, rec, "{ctx}: one activity seq, two records");
            }
        }
    }
    let last = receipts.last().unwrap();
    assert_eq!(last.receipt.body.applied_seq, p.last_seq(), "{ctx}: the final receipt shows the applied seq");
    assert_eq!(last.receipt.body.activity_head, door.activity().head(), "{ctx}");
    assert_eq!(
        activity.keys().copied().collect::<Vec<_>>(),
        (1..=door.activity().head()).collect::<Vec<_>>(),
        "{ctx}: the receipts carry every activity record"
    );
}

/// Bytes of one uninterrupted session (both directions).
fn session_bytes(p: &Property) -> usize {
    let door = p.door();
    let mut wallet = p.wallet();
    let mut link = connect(&door, p.now, None, 0xC0);
    let report = wallet.unlock(DOOR, &mut link).unwrap();
    assert!(report.granted && report.updates_carried);
    assert_eq!(report.seq_after, p.last_seq());
    check_delivered(p, &door.lock().unwrap(), &wallet, usize::MAX);
    let s = link.stats();
    s.bytes_phone_to_door + s.bytes_door_to_phone
}

#[test]
fn disconnect_after_every_byte_then_retry() {
    let p = Property::new();
    let total = session_bytes(&p);
    let (mut failed_before_apply, mut failed_after_apply, mut completed) = (0, 0, 0);
    for cut in 0..=total {
        let door = p.door();
        let mut wallet = p.wallet();
        let mut link = connect(&door, p.now, Some(cut), 0xC1);
        match wallet.unlock(DOOR, &mut link) {
            Ok(report) => {
                completed += 1;
                assert_eq!(cut, total, "the session completed although cut after {cut} of {total} bytes");
                assert_eq!(report.seq_after, p.last_seq());
            }
            Err(_) => {
                // Whatever the door did, the wallet changed nothing: the batch is still pending
                // and no receipt was recorded.
                let d = door.lock().unwrap();
                assert!(
                    d.update_seq() == 0 || d.update_seq() == p.last_seq(),
                    "cut {cut}: a batch applies whole or not at all"
                );
                assert!(d.state().check(&keyway_protocol::door::DoorLimits::STANDARD).is_ok(), "cut {cut}");
                if d.update_seq() == 0 {
                    failed_before_apply += 1
                } else {
                    failed_after_apply += 1
                }
                drop(d);
                assert!(wallet.store().pending(DOOR).unwrap().is_some(), "cut {cut}: batch dropped without proof");
                assert!(wallet.store().receipts_to_upload().unwrap().is_empty(), "cut {cut}");
                // Retry on a fresh connection with the wallet as it is.
                let mut retry = connect(&door, p.now, None, 0xC2);
                let report = wallet.unlock(DOOR, &mut retry).unwrap_or_else(|e| panic!("retry after cut {cut}: {e}"));
                assert!(report.granted, "cut {cut}");
                assert_eq!(report.seq_after, p.last_seq(), "cut {cut}");
                // The batch travels again only if the door lacked it.
                assert_eq!(report.updates_carried, report.seq_before == 0, "cut {cut}");
            }
        }
        check_delivered(&p, &door.lock().unwrap(), &wallet, cut);
    }
    eprintln!(
        "session of {total} bytes: {} kill points ({failed_before_apply} cut before the door applied the batch, \
         {failed_after_apply} after, {completed} completed)",
        total + 1
    );
    assert_eq!(completed, 1);
    assert!(failed_before_apply > 0 && failed_after_apply > 0, "both sides of the apply point were exercised");
}

#[test]
fn two_cuts_in_a_row_then_a_clean_retry() {
    // A second failure on the retry must not lose or duplicate anything either.
    let p = Property::new();
    let total = session_bytes(&p);
    for cut in (0..=total).step_by(7) {
        let door = p.door();
        let mut wallet = p.wallet();
        for (nonce, c) in [(0xD1, cut), (0xD2, total.saturating_sub(cut + 1))] {
            let mut link = connect(&door, p.now, Some(c), nonce);
            let _ = wallet.unlock(DOOR, &mut link);
        }
        let mut link = connect(&door, p.now, None, 0xD3);
        wallet.unlock(DOOR, &mut link).unwrap_or_else(|e| panic!("final retry after cuts at {cut}: {e}"));
        let d = door.lock().unwrap();
        assert_eq!(d.update_seq(), p.last_seq());
        assert_eq!(d.revocations().len() as u64, REVOCATIONS);
        assert!(wallet.store().pending(DOOR).unwrap().is_none());
        let receipts = wallet.store().receipts_to_upload().unwrap();
        assert!(receipts.iter().all(|r| r.receipt.verify_signature(&p.door_key.public()).is_ok()));
        assert_eq!(receipts.last().unwrap().receipt.body.applied_seq, p.last_seq());
    }
}
