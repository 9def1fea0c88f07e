//! Door updates: what an offline door cannot work out by itself (revocations before expiry,
//! doorcode slots, keycards, its clock), signed by the authority and carried by phones.
//!
//! Each manager action becomes one [`DoorUpdate`] with the next sequence number in that door's
//! log, and its content never changes once assigned. The backend signs a fresh
//! [`UpdateBatch`] of the pending tail whenever a phone syncs: one signature covers many
//! updates, and a door applies exactly those after its own seq. Because the content of each seq
//! is fixed, two phones carrying overlapping batches can never disagree.

use crate::prelude::*;

use super::card::CardKind;
use super::chain::TrustAnchors;
use super::error::ChainError;
use super::ids::{AuthorityKeyId, CardId, DoorId, KeyId, PersonId};
use super::key_cert::Validity;
use super::keys::PublicKey;
use super::label;
use super::signed::{Signed, SignedBody};
use crate::UnixTime;
use crate::codec::BoundedVec;
use serde::{Deserialize, Serialize};

/// One change to a door's state; a [`DoorUpdate`] applies its operations all or none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DoorOp {
    /// Refuse this key (and every guest key under it) until `until`, the key's own expiry,
    /// after which the entry may be pruned.
    RevokeKey {
        /// The revoked key (an authority-issued or a guest key id).
        key: KeyId,
        /// When the entry lapses: the revoked key's expiry.
        until: UnixTime,
    },
    /// Refuse every key of this person (and their guests) until `until`.
    RevokePerson {
        /// The revoked person.
        person: PersonId,
        /// When the entry lapses: the latest expiry among the person's keys.
        until: UnixTime,
    },
    /// Give `person` a daily doorcode in `slot` (replacing whatever held the slot). The code
    /// itself never travels: the door derives it from its secret.
    AddDoorcode {
        /// Slot number the code is derived from (see [`super::doorcode`]).
        slot: u32,
        /// Who the slot belongs to (logged on entry; a revoked person's code is refused).
        person: PersonId,
        /// When the code opens; an empty window rejects the update.
        validity: Validity,
    },
    /// Remove a doorcode slot (no-op if the slot is empty).
    RemoveDoorcode {
        /// The slot to remove.
        slot: u32,
    },
    /// Admit a UID-only keycard for `person`: the update as it was written before keycards
    /// had a kind, kept at this place of the enum so that logs and batches written then still
    /// read (and mean what they meant). The backend now writes [`DoorOp::AddKeycard`].
    AddKeycardV1 {
        /// The card's keyed tag at this door ([`super::DoorcodeSecret::card_tag`]), never the
        /// card's UID: whoever carries or reads the update learns nothing that opens a door.
        /// Fewer than 4 bytes rejects the update.
        card: CardId,
        /// Who the card belongs to (logged on entry; a revoked person's card is refused).
        person: PersonId,
        /// When the card opens; an empty window rejects the update.
        validity: Validity,
    },
    /// Stop admitting a keycard (no-op if unknown).
    RemoveKeycard {
        /// The keyed tag of the card to remove.
        card: CardId,
    },
    /// Move the door's clock forward (never backwards).
    SetClock {
        /// The new time; earlier than the door's clock rejects the whole update.
        now: UnixTime,
    },
    /// Drop revocation entries whose `until` lies before `before`.
    PruneRevocations {
        /// Entries with `until < before` are dropped.
        before: UnixTime,
    },
    /// Minutes east of UTC used to decide which calendar day a doorcode belongs to.
    SetUtcOffset {
        /// Offset in minutes, negative west of UTC; the door refuses more than ±14 hours.
        minutes: i16,
    },
    /// Admit a keycard of `kind` for `person` (replacing an existing entry for the same card).
    /// A secure card at a door provisioned without the property's card key rejects the update.
    AddKeycard {
        /// The card's keyed tag at this door ([`super::DoorcodeSecret::card_tag`]), never the
        /// card's UID: whoever carries or reads the update learns nothing that opens a door.
        /// Fewer than 4 bytes rejects the update.
        card: CardId,
        /// Who the card belongs to (logged on entry; a revoked person's card is refused).
        person: PersonId,
        /// When the card opens; an empty window rejects the update.
        validity: Validity,
        /// Whether the UID alone admits the card or it must answer the door's challenge (see
        /// [`super::card`]).
        kind: CardKind,
    },
    /// Refuse every key certified for `device` and every guest key it signed (a lost phone),
    /// until `until`: the latest freshness of any certificate issued for that device.
    RevokeDevice {
        /// The removed device ([`super::DeviceId::of`] its public key).
        device: super::DeviceId,
        /// When the entry may be pruned.
        until: UnixTime,
    },
    /// Trust another authority key beside the door's current ones (the first step of an
    /// authority rotation; see [`super::rotation`]). More than [`MAX_DOOR_ANCHORS`] keys, or a
    /// key that is not usable, rejects the update; a key already trusted is a no-op.
    TrustAuthority {
        /// The new authority key.
        key: PublicKey,
    },
    /// Stop trusting an authority key (the last step of a rotation): its key certificates,
    /// batches and time statements are refused from then on. Retiring the door's last key
    /// rejects the update; an unknown key is a no-op.
    RetireAuthority {
        /// The retired key.
        key: AuthorityKeyId,
    },
}

/// Most authority keys a door trusts at once (a rotation needs two).
pub const MAX_DOOR_ANCHORS: usize = 4;

/// Most operations in one update (one manager action, e.g. Revoke All Keys of one person).
pub const MAX_OPS_PER_UPDATE: usize = 256;
/// Most updates one signed batch carries.
pub const MAX_UPDATES_PER_BATCH: usize = 4096;

/// One manager action's effect on one door.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorUpdate {
    /// The operations, applied in order, all or none.
    pub ops: BoundedVec<DoorOp, MAX_OPS_PER_UPDATE>,
}

impl DoorUpdate {
    /// `None` past [`MAX_OPS_PER_UPDATE`] operations.
    pub fn new(ops: Vec<DoorOp>) -> Option<Self> {
        Some(DoorUpdate { ops: BoundedVec::new(ops)? })
    }
}

/// What the authority signs in an [`UpdateBatch`]: consecutive updates of one door's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateBatchBody {
    /// Body format version ([`SignedBody::VERSION`], currently 1).
    pub version: u8,
    /// The only door that may apply this batch.
    pub door_id: DoorId,
    /// Seq of `updates[0]`; `updates[i]` has seq `first_seq + i`. Seqs start at 1.
    pub first_seq: u64,
    /// When the backend signed this batch.
    pub issued_at: UnixTime,
    /// The authority key that signs this batch.
    pub issuer: AuthorityKeyId,
    /// The updates, in seq order (at most [`MAX_UPDATES_PER_BATCH`]).
    pub updates: BoundedVec<DoorUpdate, MAX_UPDATES_PER_BATCH>,
}

impl SignedBody for UpdateBatchBody {
    const LABEL: &'static [u8] = label::UPDATE_BATCH;
    const WHAT: &'static str = "door update batch";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 128 * 1024;
}

/// An authority-signed batch of door updates, carried to the door by any phone.
pub type UpdateBatch = Signed<UpdateBatchBody>;

impl UpdateBatchBody {
    /// `None` past [`MAX_UPDATES_PER_BATCH`] updates, or when the signed batch would exceed
    /// the [`SignedBody::MAX_LEN`] a door decodes (the backend then splits the tail across
    /// batches; [`Self::fits_updates`] tells how many of a tail fit).
    pub fn new(
        door_id: DoorId,
        first_seq: u64,
        issued_at: UnixTime,
        issuer: AuthorityKeyId,
        updates: Vec<DoorUpdate>,
    ) -> Option<Self> {
        let body = UpdateBatchBody {
            version: Self::VERSION,
            door_id,
            first_seq,
            issued_at,
            issuer,
            updates: BoundedVec::new(updates)?,
        };
        (body.signed_len() <= Self::MAX_LEN).then_some(body)
    }

    /// Length of the signed batch's encoding (body and signature).
    pub fn signed_len(&self) -> usize {
        crate::codec::encode(self).len() + 64
    }

    /// How many of `updates`, taken from the front, fit in one batch with this header.
    pub fn fits_updates(
        door_id: DoorId,
        first_seq: u64,
        issued_at: UnixTime,
        issuer: AuthorityKeyId,
        updates: &[DoorUpdate],
    ) -> usize {
        let header = UpdateBatchBody {
            version: Self::VERSION,
            door_id,
            first_seq,
            issued_at,
            issuer,
            updates: BoundedVec::empty(),
        };
        // The header as encoded with an empty list, less its one-byte length prefix.
        let mut len = header.signed_len() - 1;
        let mut count = 0;
        for update in updates.iter().take(MAX_UPDATES_PER_BATCH) {
            let with_this = len + crate::codec::encode(update).len();
            if with_this + varint_len(count as u64 + 1) > Self::MAX_LEN {
                break;
            }
            len = with_this;
            count += 1;
        }
        count
    }

    /// Seq of the last update carried; `first_seq - 1` for an empty batch. Saturates for a
    /// batch whose seqs would run past `u64::MAX` (such a batch fails [`UpdateBatch::verify_for`]).
    pub fn last_seq(&self) -> u64 {
        self.first_seq.saturating_add(self.updates.len() as u64).saturating_sub(1)
    }

    /// The updates with their seqs (saturating, see [`Self::last_seq`]).
    pub fn numbered(&self) -> impl Iterator<Item = (u64, &DoorUpdate)> {
        self.updates.iter().enumerate().map(move |(i, u)| (self.first_seq.saturating_add(i as u64), u))
    }
}

impl UpdateBatch {
    /// Checks the version, that the issuer is among `anchors`, the authority signature, that
    /// the batch is for `door`, and that its seqs start at 1 or later and stay in range.
    pub fn verify_for(&self, anchors: &TrustAnchors, door: DoorId) -> Result<(), ChainError> {
        if self.body.version != UpdateBatchBody::VERSION {
            return Err(ChainError::UnsupportedVersion { what: UpdateBatchBody::WHAT, found: self.body.version });
        }
        let authority =
            anchors.get(self.body.issuer).ok_or(ChainError::UnknownIssuer { what: UpdateBatchBody::WHAT })?;
        self.verify_signature(&authority)?;
        if self.body.door_id != door {
            return Err(ChainError::Malformed {
                what: UpdateBatchBody::WHAT,
                detail: format!("batch is for {}, not {door}", self.body.door_id),
            });
        }
        if self.body.first_seq == 0 {
            return Err(ChainError::Malformed { what: UpdateBatchBody::WHAT, detail: "seqs start at 1".into() });
        }
        if self.body.first_seq.checked_add(self.body.updates.len() as u64).is_none() {
            return Err(ChainError::Malformed { what: UpdateBatchBody::WHAT, detail: "seqs run out of range".into() });
        }
        Ok(())
    }
}

/// Bytes postcard uses for `n` as a varint.
fn varint_len(n: u64) -> usize {
    (64 - n.max(1).leading_zeros() as usize).div_ceil(7)
}
