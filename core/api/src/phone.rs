//! What a phone sends and receives. Every request but invite acceptance carries
//! `Authorization: Bearer <device token>`; a doorcode holder uses the token of their welcome
//! message instead. Every phone request can be retried: repeating one changes nothing more.

use super::wire::B64;
use keyway_protocol::UnixTime;
use keyway_protocol::codec::Bytes64;
use keyway_protocol::credential::{
    AuthorityRotation, DoorCertificate, DoorId, KeyCertificate, KeyChain, KeyFlags, KeyId, KeyPair, PersonId,
    PublicKey, Receipt, TimeStatement, UpdateBatch, Validity, label,
};
use serde::{Deserialize, Serialize};

/// `POST /v1/phone/accept`.
///
/// The invite token is good for one device. Repeating the request with the same device key
/// soon after (a retry after a lost answer, within ten minutes) issues a fresh device token
/// and voids the previous one; later the token is spent (410); a different device key is
/// refused with 409. Every request proves possession of the device key: a public key alone
/// (it is in every certificate a door sees) enrols nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcceptInviteRequest {
    pub invite_token: String,
    /// The phone's device public key; weak or small-order keys are refused.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub device_key: B64<PublicKey>,
    /// Ed25519 signature by the device key over [`AcceptInviteRequest::proof_message`].
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub proof: B64<Bytes64>,
}

impl AcceptInviteRequest {
    /// The request for `invite_token`, signed by `device`.
    pub fn signed(invite_token: &str, device: &KeyPair) -> Self {
        let message = Self::proof_message(invite_token, &device.public());
        let proof = device.sign(label::ACCEPT_PROOF, &message);
        AcceptInviteRequest {
            invite_token: invite_token.to_string(),
            device_key: B64(device.public()),
            proof: B64(proof),
        }
    }

    /// What the proof signs (after the label `keyway/accept-proof/v1`): the invite token as
    /// sent (trimmed), then the device public key.
    pub fn proof_message(invite_token: &str, device_key: &PublicKey) -> Vec<u8> {
        let token = invite_token.trim().as_bytes();
        let mut m = Vec::with_capacity(token.len() + 32);
        m.extend_from_slice(token);
        m.extend_from_slice(&device_key.0);
        m
    }

    /// Whether the proof verifies (strictly) for this token and device key.
    pub fn proof_verifies(&self) -> bool {
        let message = Self::proof_message(&self.invite_token, &self.device_key.0);
        keyway_protocol::credential::verify(&self.device_key.0, label::ACCEPT_PROOF, &message, &self.proof.0)
    }
}

/// `POST /v1/guest-keys/refresh`: a guest's phone revalidates. A guest chain opens doors only
/// while its host's certificate is fresh; the guest asks for the host's current one (its
/// freshness follows the host's own syncs, so a guest keeps working as long as its host keeps
/// revalidating, and lapses with a host that stops). Needs no account: the guest key must be
/// registered by the host's upload and not revoked, and the proof shows the caller holds the
/// guest's device key. The request is good for [`GuestRefreshRequest::MAX_AGE_SECS`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GuestRefreshRequest {
    /// The guest chain as the guest holds it (host certificate and guest key).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub chain: B64<KeyChain>,
    /// The guest phone's clock when it signed.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub time: UnixTime,
    /// Ed25519 signature by the guest key's holder over [`GuestRefreshRequest::proof_message`].
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub proof: B64<Bytes64>,
}

impl GuestRefreshRequest {
    /// How far the request's time may be from the backend's, either way.
    pub const MAX_AGE_SECS: u64 = 300;

    /// The request for `chain`, signed by the guest's device key at `now`.
    pub fn signed(chain: &KeyChain, guest_device: &KeyPair, now: UnixTime) -> Self {
        let message = Self::proof_message(chain, now);
        GuestRefreshRequest {
            chain: B64(chain.clone()),
            time: now,
            proof: B64(guest_device.sign(label::GUEST_REFRESH, &message)),
        }
    }

    /// What the proof signs (after the label `keyway/guest-refresh/v1`): the chain's digest,
    /// then the time as 8 bytes big-endian.
    pub fn proof_message(chain: &KeyChain, time: UnixTime) -> Vec<u8> {
        let mut m = chain.digest().to_vec();
        m.extend_from_slice(&time.0.to_be_bytes());
        m
    }

    /// Whether the proof verifies (strictly) for the chain's guest key holder.
    pub fn proof_verifies(&self) -> bool {
        let Some(guest) = self.chain.guest_link() else { return false };
        let message = Self::proof_message(&self.chain, self.time);
        keyway_protocol::credential::verify(&guest.body.holder, label::GUEST_REFRESH, &message, &self.proof.0)
    }
}

/// The answer to [`GuestRefreshRequest`]: the host key's current certificate, to put in place
/// of the one in the guest's chain (same key id and holder).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuestRefreshResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub root: B64<KeyCertificate>,
}

/// `POST /v1/phone/invite-preview`: what an invite token (or device code) is for, before a
/// phone binds it: the phone checks it against the property it already belongs to and does not
/// spend an invite meant for another wallet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InvitePreviewRequest {
    pub invite_token: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitePreview {
    pub property_id: u64,
    pub property_name: String,
    /// The property's authority keys (what the phone will trust).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::Base64>))]
    pub trust_anchors: Vec<B64<PublicKey>>,
}

/// A one-time code that enrols another device of a person: the new phone redeems it as it
/// would an invite token (`POST /v1/phone/accept`, proving its device key). Only its hash is
/// stored; it works once, within 15 minutes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceCode {
    pub code: String,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub expires_at: UnixTime,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptInviteResponse {
    pub credentials: DeviceCredentials,
    /// A full sync: the person's key certificates, trust anchors, door certificates.
    pub sync: SyncResponse,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceCredentials {
    pub property_id: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::PersonId))]
    #[serde(with = "crate::format::id")]
    pub person_id: PersonId,
    #[serde(with = "crate::format::id")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub device_id: u64,
    /// Bearer token for the phone's later requests; keep it in secure storage.
    pub device_token: String,
}

/// `POST /v1/phone/sync`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// The cursor of the last sync applied; `None`, an unknown or a rolled-back cursor gives a
    /// full sync.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// What changed for this device since the cursor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncResponse {
    /// Pass back in the next [`SyncRequest`].
    pub cursor: String,
    /// True when `keys` and `guest_keys` list everything rather than the changes.
    pub full: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub server_time: UnixTime,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::PersonId))]
    #[serde(with = "crate::format::id")]
    pub person_id: PersonId,
    pub access: AccessKind,
    /// Delete Person happened: every key is gone for good.
    pub person_deleted: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::Base64>))]
    pub trust_anchors: Vec<B64<PublicKey>>,
    /// The person's keys that changed (all of them on a full sync), with certificates.
    pub keys: Vec<KeyEntry>,
    /// Guest keys this person shared and registered, that changed (all on a full sync).
    pub guest_keys: Vec<GuestKeyEntry>,
    /// Keys among the above that were revoked before expiry; the phone drops them.
    pub revocations: Vec<Revocation>,
    /// Every door the device can open now or later, always complete.
    pub doors: Vec<DoorEntry>,
    /// The authority's forward-only signed time at `server_time`: an unlock carries it to a
    /// door whose clock lags behind it (absent from a backend that does not sign time).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Base64>))]
    pub time: Option<B64<TimeStatement>>,
    /// The property's authority rotations, oldest first (at most
    /// [`keyway_protocol::credential::MAX_ROTATIONS`]): the only way an answer may name an
    /// authority key the phone does not trust yet is a statement signed by one it does.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::Base64>))]
    pub rotations: Vec<B64<AuthorityRotation>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyEntry {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::KeyId))]
    #[serde(with = "crate::format::id")]
    pub key_id: KeyId,
    pub status: KeyStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::DoorId>))]
    pub doors: Vec<DoorId>,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Validity))]
    #[serde(with = "crate::format::validity")]
    pub validity: Validity,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::KeyFlags))]
    pub flags: KeyFlags,
    /// Present for keys of an accepted app-key person.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Base64>))]
    pub certificate: Option<B64<KeyCertificate>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::KeyId>))]
    #[serde(default, with = "crate::format::id_opt")]
    pub replaced_by: Option<KeyId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuestKeyEntry {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::KeyId))]
    #[serde(with = "crate::format::id")]
    pub key_id: KeyId,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::KeyId))]
    #[serde(with = "crate::format::id")]
    pub parent_key_id: KeyId,
    pub status: KeyStatus,
    pub label: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revocation {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::KeyId))]
    #[serde(with = "crate::format::id")]
    pub key_id: KeyId,
    /// The key's own expiry: after it the revocation no longer matters.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub until: UnixTime,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoorEntry {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DoorId))]
    pub door_id: DoorId,
    pub name: String,
    pub online: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub certificate: B64<DoorCertificate>,
    /// Offline doors: a freshly signed batch of every update not yet known delivered
    /// (`None` when nothing is pending). Hand it over at the next unlock.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Base64>))]
    pub pending_updates: Option<B64<UpdateBatch>>,
    /// Highest door activity seq the backend already holds with no gap below it.
    pub known_activity_head: u64,
    /// Highest update seq a verified receipt showed the door applied.
    pub delivered_seq: u64,
}

/// `POST /v1/phone/receipts`. All receipts are checked before any is applied: one bad
/// signature refuses the whole upload (400) and nothing is recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UploadReceiptsRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::Base64>))]
    pub receipts: Vec<B64<Receipt>>,
}

/// Most receipts one upload may carry.
pub const MAX_RECEIPTS_PER_UPLOAD: usize = 256;

/// One result per uploaded receipt, in the order sent: each receipt has its own verdict, so one
/// the backend cannot verify (a re-keyed door, an impostor) never holds back the others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadReceiptsResponse {
    pub results: Vec<ReceiptResult>,
}

/// The backend's verdict on one receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum ReceiptVerdict {
    /// Verified against the door's certificate and applied (or seen before).
    Accepted,
    /// Not applied, and uploading it again cannot change that: the phone sets it aside.
    Refused {
        /// Why, for the app's diagnostics and the manager (e.g. "not signed by the door's key").
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptResult {
    #[serde(flatten)]
    pub verdict: ReceiptVerdict,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DoorId))]
    pub door_id: DoorId,
    pub applied_seq: u64,
    /// This exact receipt had been uploaded before (nothing changed).
    pub duplicate: bool,
    /// Activity records not seen before.
    pub new_activity: u32,
    /// Door-update seqs this receipt moved from pending to delivered.
    pub newly_delivered: Vec<u64>,
}

/// `POST /v1/phone/guest-keys`: a resident registers a guest key they shared, so the manager
/// sees it under them and can revoke it. Registering the same guest key again is a no-op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterGuestKeyRequest {
    /// The guest's full chain: the resident's key certificate and the guest key.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub chain: B64<KeyChain>,
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterGuestKeyResponse {
    pub guest: GuestKeyEntry,
    /// The request had been made before.
    pub already_registered: bool,
}

/// `GET /v1/doorcodes` with the doorcode holder's token: today's code at each door.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoorcodesResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::PersonId))]
    #[serde(with = "crate::format::id")]
    pub person_id: PersonId,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub server_time: UnixTime,
    /// The property's local calendar day (days since 1970-01-01).
    pub day: i64,
    pub codes: Vec<DoorcodeEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoorcodeEntry {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DoorId))]
    pub door_id: DoorId,
    pub door_name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::KeyId))]
    #[serde(with = "crate::format::id")]
    pub key_id: KeyId,
    /// 10 digits, leading zeros kept.
    pub code: String,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Validity))]
    #[serde(with = "crate::format::validity")]
    pub validity: Validity,
}

/// How a person gets in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccessKind {
    /// The Keyway app: the person's phone holds signed keys.
    AppKey,
    /// A daily doorcode typed at the keypad; no phone needed.
    DailyDoorcode,
}

/// Where a key stands at the server's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Upcoming,
    Active,
    Expired,
    /// Revoked before its expiry (deleted, Revoke All Keys, Delete Person, or its parent was).
    Revoked,
    /// Superseded by a key with an earlier expiry (`replaced_by`); revoked at the doors.
    Replaced,
}
