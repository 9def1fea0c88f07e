//! A small property for protocol and door tests: one authority, doors with certificates,
//! residents and guests with deterministic keys, and helpers to sign door update batches.
#![allow(dead_code)]

use crate::sim::{SimConfig, SimPair, SimRun};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::door_update::UpdateBatchBody;
use keyway_protocol::credential::{
    AuthorityKeyId, DoorCertBody, DoorCertificate, DoorId, DoorOp, DoorSet, DoorUpdate, DoorcodeSecret, GuestKey,
    GuestKeyBody, KeyCertBody, KeyCertificate, KeyChain, KeyFlags, KeyId, KeyPair, PersonId, Signed, TrustAnchors,
    UpdateBatch, Validity,
};
use keyway_protocol::door::{DoorEngine, DoorProvisioning};
use keyway_protocol::unlock::{PhoneSession, UnlockParams};

/// 2026-12-01T08:00:00Z.
pub const NOW: UnixTime = UnixTime(1_796_112_000);
pub const DAY: u64 = 86_400;
pub const DOOR_A: DoorId = DoorId(7);
pub const DOOR_B: DoorId = DoorId(8);
pub const DOORCODE_SECRET: [u8; 32] = [0x5c; 32];
/// The property card key the fixture's doors are provisioned with (secure keycards).
pub const CARD_KEY: [u8; 16] = [0x3e; 16];

pub fn key(seed: u8) -> KeyPair {
    KeyPair::from_secret(&[seed; 32])
}

pub fn doors(ids: &[DoorId]) -> DoorSet {
    DoorSet::new(ids.to_vec()).unwrap()
}

pub fn window(start: UnixTime, expiry: UnixTime) -> Validity {
    Validity::new(start, expiry).unwrap()
}

/// The keyed tag by which the fixture's doors (all provisioned with [`DOORCODE_SECRET`]) know
/// the card `uid`: what an `AddKeycard` update names.
pub fn card_tag(uid: &[u8]) -> keyway_protocol::credential::CardId {
    DoorcodeSecret::new(DOORCODE_SECRET).card_tag(uid)
}

/// The own key of the secure card `uid` for the fixture's doors (diversified from
/// [`CARD_KEY`]): what the card's file holds.
pub fn card_key(uid: &[u8]) -> keyway_protocol::credential::CardKey {
    keyway_protocol::credential::PropertyCardKey::new(CARD_KEY).card_key(uid).expect("a card UID of 4 to 16 bytes")
}

/// A key valid from a day ago for thirty days.
pub fn current() -> Validity {
    window(NOW.saturating_sub_secs(DAY), NOW.saturating_add_secs(30 * DAY))
}

pub struct Holder {
    pub chain: KeyChain,
    pub device: KeyPair,
}

pub struct Property {
    pub authority: KeyPair,
    pub anchors: TrustAnchors,
}

impl Default for Property {
    fn default() -> Self {
        Self::new()
    }
}

impl Property {
    pub fn new() -> Self {
        let authority = key(1);
        let anchors = TrustAnchors::new([authority.public()]);
        Property { authority, anchors }
    }

    pub fn issuer(&self) -> AuthorityKeyId {
        AuthorityKeyId::of(&self.authority.public().0)
    }

    pub fn door_key(door: DoorId) -> KeyPair {
        key(100 + door.0 as u8)
    }

    pub fn door_cert(&self, door: DoorId) -> DoorCertificate {
        Signed::sign(DoorCertBody::new(door, Self::door_key(door).public(), self.issuer()), &self.authority)
    }

    pub fn door(&self, door: DoorId) -> DoorEngine {
        DoorEngine::new(DoorProvisioning {
            door_id: door,
            door_key: Self::door_key(door),
            anchors: self.anchors.clone(),
            doorcode_secret: DoorcodeSecret::new(DOORCODE_SECRET),
            card_key: Some(keyway_protocol::credential::PropertyCardKey::new(CARD_KEY)),
            utc_offset_minutes: 60,
            clock: NOW.saturating_sub_secs(3600),
        })
    }

    pub fn key_cert(
        &self,
        key_id: u64,
        person: u64,
        device: &KeyPair,
        doors: DoorSet,
        validity: Validity,
        may_share: bool,
    ) -> KeyCertificate {
        let body = KeyCertBody::new(
            KeyId(key_id),
            PersonId(person),
            device.public(),
            doors,
            validity,
            KeyFlags { resident: true, may_share },
            self.issuer(),
        );
        Signed::sign(body, &self.authority)
    }

    /// A resident of both doors with a sharable key, device key seeded by `person`.
    pub fn resident(&self, key_id: u64, person: u64) -> Holder {
        self.resident_with(key_id, person, doors(&[DOOR_A, DOOR_B]), current(), true)
    }

    pub fn resident_with(
        &self,
        key_id: u64,
        person: u64,
        doors: DoorSet,
        validity: Validity,
        may_share: bool,
    ) -> Holder {
        let device = key(10 + person as u8);
        let cert = self.key_cert(key_id, person, &device, doors, validity, may_share);
        Holder { chain: KeyChain::resident(cert), device }
    }

    /// A guest of `parent` with the given scope, device key seeded by `seed`.
    pub fn guest_of(parent: &Holder, guest_id: u64, seed: u8, doors: DoorSet, validity: Validity) -> Holder {
        let device = key(seed);
        let body = GuestKeyBody::new(
            KeyId(guest_id | KeyId::GUEST_BIT),
            parent.chain.root().body.key_id,
            device.public(),
            doors,
            validity,
        );
        let guest: GuestKey = Signed::sign(body, &parent.device);
        Holder { chain: KeyChain::guest(parent.chain.root().clone(), guest), device }
    }

    pub fn batch(&self, door: DoorId, first_seq: u64, updates: Vec<Vec<DoorOp>>) -> UpdateBatch {
        let updates = updates.into_iter().map(|ops| DoorUpdate::new(ops).unwrap()).collect();
        let body = UpdateBatchBody::new(door, first_seq, NOW, self.issuer(), updates).unwrap();
        Signed::sign(body, &self.authority)
    }

    pub fn params(
        &self,
        holder: &Holder,
        door: DoorId,
        batch: Option<UpdateBatch>,
        activity_after: u64,
        nonce: u8,
    ) -> UnlockParams {
        UnlockParams {
            chain: holder.chain.clone(),
            device_key: holder.device.clone(),
            door_cert: self.door_cert(door),
            anchors: self.anchors.clone(),
            batch,
            activity_after,
            time: None,
            nonce: [nonce; 16],
            now: NOW,
            resume: None,
        }
    }

    pub fn phone(&self, holder: &Holder, door: DoorId, batch: Option<UpdateBatch>) -> PhoneSession {
        PhoneSession::new(self.params(holder, door, batch, 0, 0xA1)).unwrap()
    }

    /// One unlock over the default simulated connection.
    pub fn unlock(&self, engine: &mut DoorEngine, holder: &Holder, batch: Option<UpdateBatch>) -> SimRun {
        let phone = self.phone(holder, engine.door_id(), batch);
        SimPair::new(SimConfig::default()).run(phone, engine, NOW, [0xD0; 16])
    }
}

pub fn revoke_key(key_id: u64) -> DoorOp {
    DoorOp::RevokeKey { key: KeyId(key_id), until: NOW.saturating_add_secs(30 * DAY) }
}
