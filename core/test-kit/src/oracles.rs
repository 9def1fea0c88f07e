//! What must hold for every input a peer can send, one function per decoder. The fuzz targets
//! call these with libFuzzer's inputs; `core/tests/fuzz_corpus.rs` includes this file and runs
//! the committed seeds and every crash reproducer through the same functions, and writes the
//! seeds (`seeds()`, real encodings from a deterministic property).
//!
//! Common oracles: nothing panics; whatever decodes re-encodes to exactly the input (canonical
//! encodings); whatever verifies under the fixture's keys is one of the genuinely signed values
//! the fixture made (no forgery through a decoder); a door never grants, and never applies an
//! update, for input that is not genuinely signed; the door's state stays consistent and its
//! session buffers bounded.
//!
//! Multi-frame inputs are a stream of frames, each a 2-byte big-endian length and the bytes.

#![allow(dead_code)]

use keyway_api::{
    AcceptInviteResponse, AccessKind, B64, DoorEntry, KeyEntry, KeyStatus, Revocation, SyncResponse,
    UploadReceiptsResponse,
};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::door_update::UpdateBatchBody;
use keyway_protocol::credential::{
    AuthorityKeyId, CardKind, DoorCertBody, DoorCertificate, DoorId, DoorOp, DoorSet, DoorUpdate, DoorcodeSecret,
    GuestKey, GuestKeyBody, KeyCertBody, KeyChain, KeyFlags, KeyId, KeyPair, NoRevocations, PersonId, PropertyCardKey,
    Receipt, Signed, TimeStatement, TimeStatementBody, TrustAnchors, UpdateBatch, Validity,
};
use keyway_protocol::door::DoorSession;
use keyway_protocol::door::{DoorEngine, DoorProvisioning, DoorState};
use keyway_protocol::unlock::frame::{self, MessageKind, Reassembler, split_at};
use keyway_protocol::unlock::message::MAX_BATCH_BYTES;
use keyway_protocol::unlock::{
    DoorChallenge, DoorResult, PhoneSession, ResultMessage, ResumeRequest, UnlockParams, UnlockRequest,
};
use keyway_wallet::share::{GuestKeyOffer, ShareRequest};
use keyway_wallet::verify_sync::verify_sync;
use std::sync::OnceLock;

/// 2026-12-01T08:00:00Z.
pub const NOW: UnixTime = UnixTime(1_796_112_000);
const DAY: u64 = 86_400;
pub const DOOR: DoorId = DoorId(7);
pub const DOOR_NONCE: [u8; 16] = [0xD0; 16];
pub const PHONE_NONCE: [u8; 16] = [0xA1; 16];
const MAX_FRAME: usize = frame::MAX_MTU - frame::ATT_OVERHEAD;
const REVOKED_KEY: u64 = 99;

fn key(seed: u8) -> KeyPair {
    KeyPair::from_secret(&[seed; 32])
}

fn window(from: UnixTime, days: u64) -> Validity {
    Validity::new(from, from.saturating_add_secs(days * DAY)).expect("a window of whole days")
}

pub struct Holder {
    pub chain: KeyChain,
    pub device: KeyPair,
    /// The door must refuse it (its key is revoked at the fixture door).
    pub revoked: bool,
}

/// A property with one door (already holding a first batch of updates), three holders
/// (resident, guest of the resident, a resident whose key the door revoked) and two batches.
pub struct Fixture {
    pub authority: KeyPair,
    pub anchors: TrustAnchors,
    pub door_key: KeyPair,
    pub door_cert: DoorCertificate,
    pub holders: Vec<Holder>,
    /// Applied at setup (seqs 1..=3).
    pub first_batch: UpdateBatch,
    /// Overlaps the first and goes on (seqs 1..=6).
    pub next_batch: UpdateBatch,
    /// The door as provisioned, after the first batch.
    pub door: DoorEngine,
    pub share_request: ShareRequest,
    pub guest_device: KeyPair,
}

impl Fixture {
    fn issuer(&self) -> AuthorityKeyId {
        AuthorityKeyId::of(&self.authority.public().0)
    }

    fn build() -> Fixture {
        let authority = key(1);
        let issuer = AuthorityKeyId::of(&authority.public().0);
        let anchors = TrustAnchors::new([authority.public()]);
        let door_key = key(2);
        let door_cert = Signed::sign(DoorCertBody::new(DOOR, door_key.public(), issuer), &authority);
        let doors = DoorSet::new(vec![DOOR, DoorId(8)]).expect("two doors");
        let current = window(NOW.saturating_sub_secs(DAY), 30);
        let resident = |key_id: u64, seed: u8, may_share: bool| {
            let device = key(seed);
            let body = KeyCertBody::new(
                KeyId(key_id),
                PersonId(key_id + 1000),
                device.public(),
                doors.clone(),
                current,
                KeyFlags { resident: true, may_share },
                issuer,
            );
            Holder { chain: KeyChain::resident(Signed::sign(body, &authority)), device, revoked: key_id == REVOKED_KEY }
        };
        let parent = resident(10, 10, true);
        let guest_device = key(20);
        let guest_body = GuestKeyBody::new(
            KeyId(21 | KeyId::GUEST_BIT),
            KeyId(10),
            guest_device.public(),
            DoorSet::new(vec![DOOR]).expect("one door"),
            window(NOW, 2),
        );
        let guest_key: GuestKey = Signed::sign(guest_body, &parent.device);
        let guest = Holder {
            chain: KeyChain::guest(parent.chain.root().clone(), guest_key),
            device: guest_device.clone(),
            revoked: false,
        };
        let revoked = resident(REVOKED_KEY, 30, false);
        let until = NOW.saturating_add_secs(30 * DAY);
        let updates = [
            vec![DoorOp::RevokeKey { key: KeyId(REVOKED_KEY), until }],
            vec![DoorOp::AddDoorcode { slot: 3, person: PersonId(5), validity: current }],
            vec![DoorOp::SetClock { now: NOW.saturating_sub_secs(600) }],
            vec![DoorOp::RevokePerson { person: PersonId(4242), until }],
            vec![DoorOp::AddKeycard {
                card: keyway_protocol::codec::BoundedBytes::new(vec![1, 2, 3, 4, 5, 6, 7]).expect("7-byte card"),
                person: PersonId(5),
                validity: current,
                kind: CardKind::Secure,
            }],
            vec![DoorOp::SetUtcOffset { minutes: 60 }, DoorOp::RemoveDoorcode { slot: 3 }],
        ];
        let batch = |n: usize| -> UpdateBatch {
            let ups = updates.iter().take(n).map(|ops| DoorUpdate::new(ops.clone()).expect("few ops")).collect();
            Signed::sign(UpdateBatchBody::new(DOOR, 1, NOW, issuer, ups).expect("small batch"), &authority)
        };
        let (first_batch, next_batch) = (batch(3), batch(6));
        let mut door = DoorEngine::new(DoorProvisioning {
            door_id: DOOR,
            door_key: door_key.clone(),
            anchors: anchors.clone(),
            doorcode_secret: DoorcodeSecret::new([0x5c; 32]),
            card_key: Some(PropertyCardKey::new([0x3e; 16])),
            utc_offset_minutes: 0,
            clock: NOW.saturating_sub_secs(3600),
        });
        let report = door.apply_batch(&first_batch, NOW.saturating_sub_secs(1800));
        assert_eq!(report.seq_after, 3, "fixture door applies its first batch");
        let share_request = ShareRequest::create(&key(40), "Ana's phone", NOW);
        Fixture {
            authority,
            anchors,
            door_key,
            door_cert,
            holders: vec![parent, guest, revoked],
            first_batch,
            next_batch,
            door,
            share_request,
            guest_device,
        }
    }

    pub fn get() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(Fixture::build)
    }

    pub fn params(&self, holder: &Holder, batch: Option<&UpdateBatch>) -> UnlockParams {
        UnlockParams {
            chain: holder.chain.clone(),
            device_key: holder.device.clone(),
            door_cert: self.door_cert.clone(),
            anchors: self.anchors.clone(),
            batch: batch.cloned(),
            activity_after: 0,
            time: None,
            nonce: PHONE_NONCE,
            now: NOW,
            resume: None,
        }
    }

    pub fn batches(&self) -> [&UpdateBatch; 2] {
        [&self.first_batch, &self.next_batch]
    }
}

/// Everything the fixture signed genuinely, as bytes, and the frames of real sessions.
pub struct Genuine {
    pub challenge: Vec<u8>,
    /// The signed offer in the challenge.
    pub offer: Vec<u8>,
    /// (request, the holder may enter, the sealed batch that follows it)
    pub requests: Vec<(Vec<u8>, bool, Option<Vec<u8>>)>,
    pub chains: Vec<Vec<u8>>,
    pub batches: Vec<Vec<u8>>,
    pub receipts: Vec<Vec<u8>>,
    pub results: Vec<Vec<u8>>,
    /// Phone → door frames of each real session.
    pub door_inputs: Vec<Vec<Vec<u8>>>,
    /// Door → phone frames of each real session, with the holder index and batch used.
    pub phone_inputs: Vec<(usize, Option<usize>, Vec<Vec<u8>>)>,
    /// The fixture door after the first holder's full unlock: it holds that holder's ticket.
    pub resumable_door: DoorEngine,
    /// The first holder's repeat unlock with that ticket, answering the challenge the
    /// resumable door sends with [`RESUME_NONCE`].
    pub resume_request: Vec<u8>,
}

/// The challenge randomness of the repeat unlock in [`Genuine::resume_request`].
pub const RESUME_NONCE: [u8; 16] = [0xD1; 16];

impl Genuine {
    fn build(f: &Fixture) -> Genuine {
        let mut g = Genuine {
            challenge: Vec::new(),
            offer: Vec::new(),
            requests: Vec::new(),
            chains: f.holders.iter().map(|h| h.chain.to_bytes()).collect(),
            batches: f.batches().iter().map(|b| b.to_bytes()).collect(),
            receipts: Vec::new(),
            results: Vec::new(),
            door_inputs: Vec::new(),
            phone_inputs: Vec::new(),
            resumable_door: f.door.clone(),
            resume_request: Vec::new(),
        };
        for (hi, holder) in f.holders.iter().enumerate() {
            for bi in [None, Some(0), Some(1)] {
                let batch = bi.map(|i| f.batches()[i]);
                let mut door = f.door.clone();
                let mut session = DoorSession::new(&mut door, NOW, DOOR_NONCE);
                let mut phone = PhoneSession::new(f.params(holder, batch)).expect("fixture door certificate");
                let mut to_phone = Vec::new();
                let mut to_door = Vec::new();
                while let Some(fr) = session.poll_transmit(frame::MAX_MTU) {
                    to_phone.push(fr);
                }
                g.challenge = session.challenge().to_bytes();
                g.offer = session.challenge().offer.to_bytes();
                let request = phone.handle_challenge(&g.challenge).expect("genuine challenge");
                let carried = phone.sealed_batch();
                g.requests.push((request.clone(), !holder.revoked, carried.clone()));
                to_door.extend(frame::split(MessageKind::Request, 0, &request, 185).expect("frames"));
                if let Some(b) = &carried {
                    to_door.extend(frame::split(MessageKind::Batch, 1, b, 185).expect("frames"));
                }
                let mut result = None;
                for fr in &to_door {
                    result =
                        crate::door::feed(&mut session, &mut door, fr, NOW).expect("genuine frames").result.or(result);
                }
                let result = result.expect("genuine session");
                assert_eq!(result.access.is_granted(), !holder.revoked);
                while let Some(fr) = session.poll_transmit(frame::MAX_MTU) {
                    to_phone.push(fr);
                }
                if let Some(receipt) = &result.receipt {
                    g.receipts.push(receipt.to_bytes());
                }
                g.results.push(result.to_bytes());
                g.door_inputs.push(to_door);
                g.phone_inputs.push((hi, bi, to_phone));
            }
        }
        g.resume(f);
        g
    }

    /// The first holder's full unlock, then its repeat unlock with the ticket.
    fn resume(&mut self, f: &Fixture) {
        let holder = &f.holders[0];
        let mut door = f.door.clone();
        let mut session = DoorSession::new(&mut door, NOW, DOOR_NONCE);
        while session.poll_transmit(frame::MAX_MTU).is_some() {}
        let mut phone = PhoneSession::new(f.params(holder, None)).expect("fixture door certificate");
        let request = phone.handle_challenge(&session.challenge().to_bytes()).expect("genuine challenge");
        let mut outcome = None;
        for fr in frame::split(MessageKind::Request, 0, &request, frame::MAX_MTU).expect("frames") {
            crate::door::feed(&mut session, &mut door, &fr, NOW).expect("genuine frames");
        }
        while let Some(fr) = session.poll_transmit(frame::MAX_MTU) {
            outcome = phone.handle_frame(&fr).expect("the door's genuine result").or(outcome);
        }
        let ticket = outcome.and_then(|o| o.ticket).expect("an admitted holder gets a ticket");
        let mut params = f.params(holder, None);
        params.resume = Some(ticket);
        let mut phone = PhoneSession::new(params).expect("fixture door certificate");
        let mut probe = door.clone();
        let challenge = DoorSession::new(&mut probe, NOW, RESUME_NONCE).challenge().to_bytes();
        self.resume_request = phone.handle_challenge(&challenge).expect("genuine challenge");
        self.resumable_door = door;
    }

    pub fn get() -> &'static Genuine {
        static GENUINE: OnceLock<Genuine> = OnceLock::new();
        GENUINE.get_or_init(|| Genuine::build(Fixture::get()))
    }
}

/// Splits a frame stream (2-byte BE length, bytes; a short tail is the last frame).
pub fn frames_of(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let rest = &data[2..];
        let take = len.min(rest.len());
        out.push(&rest[..take]);
        data = &rest[take..];
    }
    out
}

pub fn frame_stream(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        out.extend_from_slice(&(f.len() as u16).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Framing

fn kind_bound(selector: u8) -> (MessageKind, usize) {
    match selector % 4 {
        0 => (MessageKind::Challenge, DoorChallenge::MAX_LEN),
        1 => (MessageKind::Request, UnlockRequest::MAX_LEN),
        2 => (MessageKind::Result, ResultMessage::MAX_LEN),
        _ => (MessageKind::Batch, MAX_BATCH_BYTES),
    }
}

/// `[kind selector, mtu selector, frame stream]`: a reassembler fed arbitrary frames keeps its
/// buffer within the bound, and every message it completes is exactly what the sender's
/// framing of that message at the same cuts produces.
pub fn frames(data: &[u8]) {
    let (Some(&k), Some(&m)) = (data.first(), data.get(1)) else { return };
    let (kind, max_len) = kind_bound(k);
    let mtu = frame::MIN_MTU + usize::from(m) * (frame::MAX_MTU - frame::MIN_MTU) / 255;
    let max_frame = mtu - frame::ATT_OVERHEAD;
    let mut r = Reassembler::new(kind, max_len, max_frame);
    let mut since_first: Vec<&[u8]> = Vec::new();
    for f in frames_of(&data[2..]) {
        if f.first().is_some_and(|b| b & 0x80 != 0) {
            since_first.clear();
        }
        since_first.push(f);
        match r.push(f) {
            Ok(Some(message)) => {
                assert!(!message.is_empty() && message.len() <= max_len);
                let id = since_first[0][1];
                let mut cuts = Vec::new();
                let mut at = 0;
                for piece in &since_first[..since_first.len() - 1] {
                    at += piece.len() - frame::HEADER_LEN;
                    cuts.push(at);
                }
                let again = split_at(kind, id, &message, &cuts).expect("a reassembled message can be framed");
                let given: Vec<Vec<u8>> = since_first.iter().map(|f| f.to_vec()).collect();
                assert_eq!(again, given, "reassembly is the inverse of framing");
                assert_eq!(r.buffered(), 0);
                since_first.clear();
            }
            Ok(None) => assert!(r.buffered() <= max_len.max(max_frame)),
            Err(_) => {
                assert_eq!(r.buffered(), 0, "a failed message is dropped");
                since_first.clear();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Messages and credentials

fn genuine(set: &[Vec<u8>], data: &[u8], what: &str) {
    assert!(set.iter().any(|g| g == data), "a {what} that is not one the fixture signed verified");
}

pub fn challenge(data: &[u8]) {
    let Ok(c) = DoorChallenge::from_bytes(data) else { return };
    assert_eq!(c.to_bytes(), data, "challenge re-encodes to its bytes");
    if c.offer.verify_signature(&Fixture::get().door_key.public()).is_ok() {
        genuine(std::slice::from_ref(&Genuine::get().offer), &c.offer.to_bytes(), "door offer");
    }
}

/// A request: decodes canonically, and the fixture door grants it (answering the fixture's
/// challenge) only if it is a genuine request of a holder it may admit.
pub fn request(data: &[u8]) {
    let Ok(r) = UnlockRequest::from_bytes(data) else { return };
    assert_eq!(r.to_bytes(), data, "request re-encodes to its bytes");
    let f = Fixture::get();
    let mut door = f.door.clone();
    let mut session = DoorSession::new(&mut door, NOW, DOOR_NONCE);
    let Ok(frames) = frame::split(MessageKind::Request, 0, data, frame::MAX_MTU) else { return };
    for fr in frames {
        let Ok(fed) = crate::door::feed(&mut session, &mut door, &fr, NOW) else { return };
        if let Some(entry) = fed.decided
            && entry.access.is_granted()
        {
            let ok = Genuine::get().requests.iter().any(|(g, admit, _)| g == data && *admit);
            assert!(ok, "the door granted a request the fixture did not make for an admissible holder");
        }
    }
}

/// A repeat unlock: decodes canonically, and the door holding the first holder's ticket grants
/// it only if it is that holder's genuine resume request; anything else leaves the ticket in
/// place or refuses.
pub fn resume(data: &[u8]) {
    let Ok(r) = ResumeRequest::from_bytes(data) else { return };
    assert_eq!(r.to_bytes(), data, "resume request re-encodes to its bytes");
    let g = Genuine::get();
    let mut door = g.resumable_door.clone();
    let tickets = door.resume_tickets().len();
    let mut session = DoorSession::new(&mut door, NOW, RESUME_NONCE);
    let Ok(frames) = frame::split(MessageKind::Resume, 0, data, frame::MAX_MTU) else { return };
    for fr in frames {
        let Ok(fed) = crate::door::feed(&mut session, &mut door, &fr, NOW) else { return };
        if let Some(entry) = fed.decided {
            if entry.access.is_granted() {
                assert_eq!(
                    data,
                    g.resume_request.as_slice(),
                    "the door granted a resume request the holder did not make"
                );
            }
            return;
        }
    }
    assert_eq!(door.resume_tickets().len(), tickets, "a refused ticket stays with its holder");
}

/// A result (the plaintext a door seals): decodes canonically; a receipt in it that verifies
/// is one the fixture door signed.
pub fn result(data: &[u8]) {
    let Ok(r) = DoorResult::from_bytes(data) else { return };
    assert_eq!(r.to_bytes(), data, "result re-encodes to its bytes");
    if let Some(receipt) = &r.receipt
        && receipt.verify_signature(&Fixture::get().door_key.public()).is_ok()
    {
        genuine(&Genuine::get().receipts, &receipt.to_bytes(), "receipt in a result");
    }
}

pub fn receipt(data: &[u8]) {
    let Ok(r) = Receipt::from_bytes(data) else { return };
    assert_eq!(r.to_bytes(), data, "receipt re-encodes to its bytes");
    if r.verify_signature(&Fixture::get().door_key.public()).is_ok() {
        genuine(&Genuine::get().receipts, data, "receipt");
    }
}

pub fn key_chain(data: &[u8]) {
    let Ok(chain) = KeyChain::from_bytes(data) else { return };
    assert_eq!(chain.to_bytes(), data, "chain re-encodes to its bytes");
    let f = Fixture::get();
    let structure = chain.verify_structure(&f.anchors);
    let at_door = chain.verify_for_door(&f.anchors, DOOR, NOW, &NoRevocations);
    if structure.is_ok() || at_door.is_ok() {
        genuine(&Genuine::get().chains, data, "key chain");
    }
    if at_door.is_ok() {
        assert!(structure.is_ok(), "a chain a door accepts is well-formed");
    }
}

/// A batch: decodes canonically; applying it to the fixture door changes the door's seq only
/// when it is a genuinely signed batch, and then never past its last seq.
pub fn batch(data: &[u8]) {
    let f = Fixture::get();
    let decoded = UpdateBatch::from_bytes(data);
    if let Ok(b) = &decoded {
        assert_eq!(b.to_bytes(), data, "batch re-encodes to its bytes");
        if b.verify_for(&f.anchors, DOOR).is_ok() {
            genuine(&Genuine::get().batches, data, "update batch");
        }
    }
    let mut door = f.door.clone();
    let before = door.update_seq();
    let report = door.apply_batch_bytes(data, NOW);
    assert_eq!(report.seq_before, before);
    assert_eq!(report.seq_after, door.update_seq());
    if door.update_seq() != before {
        genuine(&Genuine::get().batches, data, "applied batch");
        let last = decoded.as_ref().map(|b| b.body.last_seq()).unwrap_or(0);
        assert!(door.update_seq() > before && door.update_seq() <= last);
    }
    assert!(door.state().check(&keyway_protocol::door::DoorLimits::STANDARD).is_ok());
}

/// Share payloads (text a QR code or message carries): whatever parses prints back as the
/// same text, and an offer verifies for a device only if it names that device.
pub fn share_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(r) = ShareRequest::from_text(text) {
        assert_eq!(r.to_text(), text.trim(), "share request text is canonical");
        assert!(r.verify_signature(&r.body.guest_device).is_ok());
    }
    if let Ok(offer) = GuestKeyOffer::from_text(text) {
        assert_eq!(offer.to_text(), text.trim(), "guest key offer text is canonical");
        let f = Fixture::get();
        if offer.verify_for(&f.guest_device.public()).is_ok() {
            let holder = offer.chain.guest_link().map(|g| g.body.holder);
            assert_eq!(holder, Some(f.guest_device.public()));
        }
    }
}

/// The backend's JSON as the wallet parses it. `[selector, json...]`: 0 a sync answer (then
/// checked by `verify_sync` as the wallet does), 1 an invite acceptance, 2 a receipt upload
/// answer. Whatever parses survives a JSON round trip; what `verify_sync` accepts holds only
/// keys for this device and verified signatures.
pub fn sync_json(data: &[u8]) {
    let Some((&sel, json)) = data.split_first() else { return };
    let f = Fixture::get();
    let device = f.holders[0].device.public();
    let check_sync = |resp: &SyncResponse| {
        let again: SyncResponse =
            serde_json::from_slice(&serde_json::to_vec(resp).expect("serializes")).expect("round trip");
        assert_eq!(&again, resp, "sync answer survives a JSON round trip");
        for trusted in [TrustAnchors::default(), f.anchors.clone()] {
            if let Ok(changes) = verify_sync(resp, &device, &trusted, &[]) {
                let anchors = changes.anchors.clone().expect("anchors in every accepted sync");
                for chain in &changes.keys {
                    assert_eq!(chain.root().body.holder, device, "a key for another device was accepted");
                    assert!(chain.verify_structure(&anchors).is_ok());
                }
                for (door, batch) in &changes.pending {
                    if let Some(b) = batch {
                        assert!(b.verify_for(&anchors, *door).is_ok(), "an unverified batch was accepted");
                    }
                }
                for (_, cert) in &changes.door_certs {
                    assert!(cert.verify(&anchors).is_ok());
                }
            }
        }
    };
    match sel % 3 {
        0 => {
            if let Ok(resp) = serde_json::from_slice::<SyncResponse>(json) {
                check_sync(&resp);
            }
        }
        1 => {
            if let Ok(resp) = serde_json::from_slice::<AcceptInviteResponse>(json) {
                check_sync(&resp.sync);
            }
        }
        _ => {
            if let Ok(resp) = serde_json::from_slice::<UploadReceiptsResponse>(json) {
                let again: UploadReceiptsResponse =
                    serde_json::from_slice(&serde_json::to_vec(&resp).expect("serializes")).expect("round trip");
                assert_eq!(again, resp);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions

/// Arbitrary frames into a `DoorSession` on the provisioned fixture door. The door grants only
/// to a genuine request of a holder it may admit, changes its seq only for a genuine batch the
/// request announced, keeps its buffers bounded and its state consistent, and whatever result it
/// produces carries a receipt that verifies and states the door's seq.
pub fn door_session(data: &[u8]) {
    let f = Fixture::get();
    let g = Genuine::get();
    let mut door = f.door.clone();
    let before = door.state().clone();
    let mut session = DoorSession::new(&mut door, NOW, DOOR_NONCE);
    let mut shadow = Reassembler::new(MessageKind::Request, UnlockRequest::MAX_LEN, MAX_FRAME);
    let (mut request, mut carried) = (None::<Vec<u8>>, None::<Vec<u8>>);
    let mut result = None;
    for fr in frames_of(data) {
        let shadowed = shadow.push(fr);
        let handled = crate::door::feed(&mut session, &mut door, fr, NOW);
        assert!(session.buffered() <= MAX_BATCH_BYTES.max(UnlockRequest::MAX_LEN));
        if let Ok(Some(message)) = shadowed {
            if request.is_none() {
                request = Some(message);
                shadow = Reassembler::new(MessageKind::Batch, MAX_BATCH_BYTES, MAX_FRAME);
            } else {
                carried = Some(message);
            }
        }
        let Ok(fed) = handled else { break };
        if let Some(entry) = fed.decided {
            let req = request.as_deref().expect("a decision follows a complete request");
            if entry.access.is_granted() {
                let ok = g.requests.iter().any(|(r, admit, _)| r == req && *admit);
                assert!(ok, "the door granted a request the fixture did not sign for an admissible holder");
            }
        }
        if fed.result.is_some() {
            result = fed.result;
            break;
        }
    }
    let after = door.state();
    assert!(after.check(&keyway_protocol::door::DoorLimits::STANDARD).is_ok(), "door state consistent");
    assert_eq!(&DoorState::from_bytes(&after.to_bytes()).expect("persisted state reloads"), after);
    assert!(after.activity.head() <= before.activity.head() + 2, "one session logs at most a decision and a rejection");
    if door.update_seq() != before.update_seq {
        let batch = carried.as_deref().expect("the seq moved without a batch");
        assert!(
            g.requests.iter().any(|(_, _, b)| b.as_deref() == Some(batch)),
            "the door applied a batch that is not a genuine session's"
        );
        let named =
            g.requests.iter().any(|(r, _, b)| Some(r.as_slice()) == request.as_deref() && b.as_deref() == Some(batch));
        assert!(named, "the door applied a batch its genuine request did not name");
    } else {
        assert_eq!(after.revocations, before.revocations, "revocations changed without an update");
        assert_eq!(after.doorcodes, before.doorcodes);
        assert_eq!(after.keycards, before.keycards);
    }
    if let Some(result) = result {
        let bytes = result.to_bytes();
        assert_eq!(DoorResult::from_bytes(&bytes).expect("the door's own result decodes"), result);
        if let Some(receipt) = &result.receipt {
            assert!(receipt.verify_signature(&f.door_key.public()).is_ok());
            assert_eq!(receipt.body.applied_seq, door.update_seq());
        }
        assert!(result.receipt.is_some() || !result.access.is_granted(), "a grant comes with its receipt");
        assert_eq!(result.updates.seq_after, door.update_seq());
        while session.poll_transmit(frame::MIN_MTU).is_some() {}
        assert!(session.is_done());
        assert!(
            session.handle_frame(&mut door, &[0x82, 0, 0, 0, 1, 1], NOW).is_err(),
            "a finished session takes nothing more"
        );
    }
}

/// `[holder selector, batch selector, frame stream]`: a hostile door's frames into a phone. An
/// outcome comes only with a receipt the fixture door signed for this phone's nonce.
pub fn phone_session(data: &[u8]) {
    let (Some(&h), Some(&b)) = (data.first(), data.get(1)) else { return };
    let f = Fixture::get();
    let holder = &f.holders[usize::from(h) % f.holders.len()];
    let batch = match b % 3 {
        0 => None,
        i => Some(f.batches()[usize::from(i) - 1]),
    };
    let mut phone = PhoneSession::new(f.params(holder, batch)).expect("fixture door certificate");
    for fr in frames_of(&data[2..]) {
        match phone.handle_frame(fr) {
            Ok(Some(outcome)) => {
                if let Some(receipt) = &outcome.receipt {
                    assert!(receipt.verify_signature(&f.door_key.public()).is_ok());
                    assert_eq!(receipt.body.phone_nonce, PHONE_NONCE);
                    genuine(&Genuine::get().receipts, &receipt.to_bytes(), "receipt accepted by the phone");
                }
                assert!(outcome.receipt.is_some() || !outcome.granted, "a grant comes with its receipt");
                assert!(phone.is_done());
                return;
            }
            Ok(None) => while phone.poll_transmit(frame::MAX_MTU).is_some() {},
            Err(_) => return,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds

/// Every fuzz target with its check.
/// An oracle: checks one fuzz input, panicking on a violated property.
pub type Oracle = fn(&[u8]);

pub const TARGETS: &[(&str, Oracle)] = &[
    ("frames", frames),
    ("challenge", challenge),
    ("request", request),
    ("result", result),
    ("receipt", receipt),
    ("key_chain", key_chain),
    ("batch", batch),
    ("share_text", share_text),
    ("sync_json", sync_json),
    ("door_session", door_session),
    ("resume", resume),
    ("phone_session", phone_session),
];

fn sync_response(f: &Fixture) -> SyncResponse {
    let h = &f.holders[0];
    let root = h.chain.root();
    SyncResponse {
        cursor: "c1".into(),
        full: true,
        server_time: NOW,
        person_id: root.body.person_id,
        access: AccessKind::AppKey,
        person_deleted: false,
        trust_anchors: vec![B64(f.authority.public())],
        keys: vec![KeyEntry {
            key_id: root.body.key_id,
            status: KeyStatus::Active,
            doors: root.body.doors.doors().to_vec(),
            validity: root.body.validity,
            flags: root.body.flags,
            certificate: Some(B64(root.clone())),
            replaced_by: None,
        }],
        guest_keys: vec![],
        revocations: vec![Revocation { key_id: KeyId(REVOKED_KEY), until: NOW.saturating_add_secs(DAY) }],
        doors: vec![DoorEntry {
            door_id: DOOR,
            name: "Back door".into(),
            online: false,
            certificate: B64(f.door_cert.clone()),
            pending_updates: Some(B64(f.next_batch.clone())),
            known_activity_head: 4,
            delivered_seq: 3,
        }],
        time: Some(B64(TimeStatement::sign(
            TimeStatementBody::unbound(NOW, AuthorityKeyId::of(&f.authority.public().0)),
            &f.authority,
        ))),
        rotations: Vec::new(),
    }
}

/// Seed inputs per target, from real encodings: (target, file name, bytes).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let f = Fixture::get();
    let g = Genuine::get();
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let mut add = |t: &'static str, name: &str, bytes: Vec<u8>| out.push((t, name.to_string(), bytes));
    add("challenge", "genuine", g.challenge.clone());
    add("resume", "genuine", g.resume_request.clone());
    // The batches the requests carried are on the air sealed; the plaintext ones are below.
    for (i, (r, _, _)) in g.requests.iter().enumerate().step_by(2) {
        add("request", &format!("request-{i}"), r.clone());
    }
    for (i, b) in g.batches.iter().enumerate() {
        add("batch", &format!("batch-{i}"), b.clone());
    }
    for (i, r) in g.results.iter().enumerate().step_by(3) {
        add("result", &format!("result-{i}"), r.clone());
        // A refused presenter's result carries no receipt.
        if let Some(receipt) = DoorResult::from_bytes(r).expect("the door's own result decodes").receipt {
            add("receipt", &format!("receipt-{i}"), receipt.to_bytes());
        }
    }
    for (i, c) in g.chains.iter().enumerate() {
        add("key_chain", &format!("chain-{i}"), c.clone());
    }
    for (i, session) in g.door_inputs.iter().enumerate().step_by(2) {
        add("door_session", &format!("session-{i}"), frame_stream(session));
        let mut framed = vec![1u8, 200];
        framed.extend(frame_stream(session));
        add("frames", &format!("request-frames-{i}"), framed);
    }
    for (i, (h, b, frames)) in g.phone_inputs.iter().enumerate().step_by(2) {
        let mut input = vec![*h as u8, b.map_or(0, |b| b as u8 + 1)];
        input.extend(frame_stream(frames));
        add("phone_session", &format!("session-{i}"), input.clone());
        let mut framed = vec![0u8, 255];
        framed.extend(frame_stream(&frames[..1]));
        add("frames", &format!("challenge-frames-{i}"), framed);
    }
    add("share_text", "request", f.share_request.to_text().into_bytes());
    let offer = GuestKeyOffer::new(f.holders[1].chain.clone(), &f.anchors, vec![f.door_cert.clone()]);
    add("share_text", "offer", offer.to_text().into_bytes());
    let sync = sync_response(f);
    let mut json = vec![0u8];
    json.extend(serde_json::to_vec_pretty(&sync).expect("serializes"));
    add("sync_json", "sync", json);
    let mut incremental = sync.clone();
    incremental.full = false;
    incremental.doors[0].pending_updates = None;
    let mut json = vec![3u8];
    json.extend(serde_json::to_vec(&incremental).expect("serializes"));
    add("sync_json", "incremental", json);
    let upload = UploadReceiptsResponse { results: vec![] };
    let mut json = vec![2u8];
    json.extend(serde_json::to_vec(&upload).expect("serializes"));
    add("sync_json", "upload", json);
    out
}
