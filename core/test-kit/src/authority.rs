//! Fixtures shared by the credential integration tests: a property authority, realistic ids and
//! times, and a revocation set.
#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{
    AuthorityKeyId, DoorId, DoorSet, GuestKey, GuestKeyBody, KeyCertBody, KeyCertificate, KeyFlags, KeyId, KeyPair,
    PersonId, PublicKey, RevocationCheck, TrustAnchors, Validity,
};

/// Midnight UTC on the given date.
pub fn day(y: i32, m: u32, d: u32) -> UnixTime {
    UnixTime(Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).single().expect("a real date").timestamp() as u64)
}

pub fn window(start: UnixTime, expiry: UnixTime) -> Validity {
    Validity::new(start, expiry).expect("start before expiry")
}

pub fn doors(ids: &[u32]) -> DoorSet {
    DoorSet::new(ids.iter().copied().map(DoorId).collect()).expect("1 to 32 doors")
}

pub const RESIDENT_SHARING: KeyFlags = KeyFlags { resident: true, may_share: true };
pub const RESIDENT_NO_SHARING: KeyFlags = KeyFlags { resident: true, may_share: false };

/// A small-order point (the identity), which every check must refuse as a key.
pub const WEAK_KEY: PublicKey = PublicKey({
    let mut b = [0u8; 32];
    b[0] = 1;
    b
});

pub struct Authority {
    pub key: KeyPair,
}

impl Authority {
    pub fn from_seed(seed: u8) -> Self {
        Authority { key: KeyPair::from_secret(&[seed; 32]) }
    }

    pub fn id(&self) -> AuthorityKeyId {
        AuthorityKeyId::of(&self.key.public().0)
    }

    pub fn anchors(&self) -> TrustAnchors {
        TrustAnchors::new([self.key.public()])
    }

    pub fn issue(
        &self,
        key_id: u64,
        person: u64,
        holder: PublicKey,
        doors: DoorSet,
        validity: Validity,
        flags: KeyFlags,
    ) -> KeyCertificate {
        KeyCertificate::sign(
            KeyCertBody::new(KeyId(key_id), PersonId(person), holder, doors, validity, flags, self.id()),
            &self.key,
        )
    }
}

/// A guest key made by the holder of `parent`.
pub fn share(
    parent_holder: &KeyPair,
    parent: &KeyCertificate,
    guest_id: KeyId,
    guest_holder: PublicKey,
    doors: DoorSet,
    validity: Validity,
) -> GuestKey {
    GuestKey::sign(GuestKeyBody::new(guest_id, parent.body.key_id, guest_holder, doors, validity), parent_holder)
}

/// A door's revocation set.
#[derive(Default)]
pub struct Revoked {
    pub keys: Vec<KeyId>,
    pub persons: Vec<PersonId>,
}

impl RevocationCheck for Revoked {
    fn key_revoked(&self, key: KeyId) -> bool {
        self.keys.contains(&key)
    }
    fn person_revoked(&self, person: PersonId) -> bool {
        self.persons.contains(&person)
    }
}
