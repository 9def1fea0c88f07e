//! The property every protocol in the report unlocks: one authority, one door, a resident with a
//! two-door key and backend-sized ids, and a guest of that resident. Keys are derived from fixed
//! seeds so every run of the report measures the same bytes.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::{
    AuthorityKeyId, DoorCertBody, DoorCertificate, DoorId, DoorOp, DoorSet, DoorUpdate, DoorcodeSecret, GuestKey,
    GuestKeyBody, KeyCertBody, KeyChain, KeyFlags, KeyId, KeyPair, PersonId, Signed, TrustAnchors, UpdateBatch,
    UpdateBatchBody, Validity,
};
use keyway_protocol::door::{DoorEngine, DoorProvisioning};

/// 2026-12-01T08:00:00Z.
pub const NOW: UnixTime = UnixTime(1_796_112_000);
const DAY: u64 = 86_400;
pub const DOOR: DoorId = DoorId(7);
const OTHER_DOOR: DoorId = DoorId(8);

/// Who is unlocking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HolderKind {
    Resident,
    Guest,
}

/// A key chain and the device key its leaf certifies.
#[derive(Clone)]
pub struct Holder {
    pub chain: KeyChain,
    pub device: KeyPair,
}

pub struct Property {
    pub authority: KeyPair,
    pub anchors: TrustAnchors,
    pub door_key: KeyPair,
    pub door_cert: DoorCertificate,
    pub resident: Holder,
    pub guest: Holder,
    /// The door as installed (each run unlocks a fresh copy).
    pub door: DoorEngine,
}

fn seeded(seed: u8) -> KeyPair {
    KeyPair::from_secret(&[seed; 32])
}

impl Default for Property {
    fn default() -> Self {
        Self::new()
    }
}

impl Property {
    pub fn new() -> Self {
        let authority = seeded(1);
        let anchors = TrustAnchors::new([authority.public()]);
        let issuer = AuthorityKeyId::of(&authority.public().0);
        let door_key = seeded(107);
        let door_cert = Signed::sign(DoorCertBody::new(DOOR, door_key.public(), issuer), &authority);
        let validity =
            Validity::new(NOW.saturating_sub_secs(DAY), NOW.saturating_add_secs(30 * DAY)).expect("valid window");
        let both = DoorSet::new(vec![DOOR, OTHER_DOOR]).expect("two doors");
        let resident_device = seeded(11);
        let cert_body = KeyCertBody::new(
            KeyId(4_000_123),
            PersonId(1_000_456),
            resident_device.public(),
            both,
            validity,
            KeyFlags { resident: true, may_share: true },
            issuer,
        );
        let root = Signed::sign(cert_body, &authority);
        let resident = Holder { chain: KeyChain::resident(root.clone()), device: resident_device };
        let guest_device = seeded(52);
        let guest_body = GuestKeyBody::new(
            KeyId(0x1234_5678_9abc | KeyId::GUEST_BIT),
            KeyId(4_000_123),
            guest_device.public(),
            DoorSet::new(vec![DOOR]).expect("one door"),
            validity,
        );
        let guest_key: GuestKey = Signed::sign(guest_body, &resident.device);
        let guest = Holder { chain: KeyChain::guest(root, guest_key), device: guest_device };
        let door = DoorEngine::new(DoorProvisioning {
            door_id: DOOR,
            door_key: door_key.clone(),
            anchors: anchors.clone(),
            doorcode_secret: DoorcodeSecret::new([0x5c; 32]),
            card_key: None,
            utc_offset_minutes: 60,
            clock: NOW.saturating_sub_secs(3600),
        });
        Property { authority, anchors, door_key, door_cert, resident, guest, door }
    }

    pub fn holder(&self, kind: HolderKind) -> &Holder {
        match kind {
            HolderKind::Resident => &self.resident,
            HolderKind::Guest => &self.guest,
        }
    }

    /// `n` revocations pending for the door, one manager action (one update) each, with key ids
    /// in the millions like the backend's.
    pub fn revocations(&self, n: u64) -> UpdateBatch {
        let until = NOW.saturating_add_secs(30 * DAY);
        let updates = (0..n)
            .map(|i| DoorUpdate::new(vec![DoorOp::RevokeKey { key: KeyId(5_000_000 + i), until }]).expect("one op"))
            .collect();
        let issuer = AuthorityKeyId::of(&self.authority.public().0);
        let body = UpdateBatchBody::new(DOOR, 1, NOW, issuer, updates).expect("batch within bounds");
        Signed::sign(body, &self.authority)
    }
}
