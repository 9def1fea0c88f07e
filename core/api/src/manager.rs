//! What the manager's console sends and receives: provisioning, managers and permissions,
//! people and their keys, door-update tasks, activity and the outbox of welcome messages.
//!
//! Every manager request carries `Authorization: Bearer <manager token>`; the property is the
//! manager's own. Ids of another property answer 404 as if they did not exist.

use super::phone::{AccessKind, KeyStatus};
use super::wire::{B64, Expiry};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{
    ActivityEvent, CardKey, CardKind, DeviceId, DoorId, DoorOp, KeyId, PersonId, PublicKey, Validity,
};
use serde::{Deserialize, Serialize};

// ---- provisioning -------------------------------------------------------------------------

/// `POST /v1/properties` (the operator token, unless the server leaves creation open: creating a
/// property is how a portfolio starts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreatePropertyRequest {
    pub name: String,
    /// Minutes east of UTC; decides which calendar day a daily doorcode belongs to.
    #[serde(default)]
    pub utc_offset_minutes: i16,
    /// Name of the first manager, a Portfolio Manager with Key Management.
    pub manager_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatePropertyResponse {
    pub property_id: u64,
    /// The authority's public key: the trust anchor doors and phones are provisioned with.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub authority_key: B64<PublicKey>,
    pub manager: ManagerCredentials,
}

/// `POST /v1/doors` (Portfolio Manager).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateDoorRequest {
    pub name: String,
    /// Internet-connected doors are managed directly and get no door-update tasks.
    pub online: bool,
}

// `ProvisionedDoor`, the answer, is in `crate::door`: a door (and the door SDK) reads it too.

/// `GET /v1/doors`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoorInfo {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DoorId))]
    pub door_id: DoorId,
    pub name: String,
    pub online: bool,
    /// Seq of the newest update in the door's log (0: none).
    pub log_head: u64,
    /// Highest seq a verified receipt shows the door applied.
    pub delivered_seq: u64,
    /// Highest activity seq held with no gap below it.
    pub activity_head: u64,
    /// Highest update seq the door itself has shown (a verified receipt or its signed feed
    /// hello); above `log_head` when the log was restored from an older backup.
    #[serde(default)]
    pub reported_seq: u64,
    /// When the door was found ahead of its log (see `reported_seq`); what it should hold was
    /// queued again.
    #[serde(default, with = "crate::format::time_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Time>))]
    pub diverged_at: Option<UnixTime>,
    /// The door feed's last contact (internet-connected doors).
    #[serde(default, with = "crate::format::time_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Time>))]
    pub feed_seen_at: Option<UnixTime>,
    /// The door's clock minus Mission Control's, as the door last stated it over its feed
    /// (seconds; internet-connected doors).
    #[serde(default)]
    pub clock_offset_secs: Option<i64>,
    /// The last time signed time corrected the door's clock by 30 s or more, from the door's
    /// own signed activity (carried by phones or the feed).
    #[serde(default)]
    pub clock_set: Option<ClockSet>,
}

/// A correction of a door's clock by signed time, as the door logged it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockSet {
    /// The corrected time (the signed time the door took).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub at: UnixTime,
    /// How far the clock moved: positive when the door was behind (its measured drift).
    pub by_secs: i64,
}

/// `PATCH /v1/property` (Portfolio Manager): changes the settings named; the others stay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PropertySettingsRequest {
    /// Minutes east of UTC, at most ±840. A change reaches every door as a `SetUtcOffset`
    /// update (it decides the local day of doorcodes).
    #[serde(default)]
    pub utc_offset_minutes: Option<i16>,
    /// The revalidation window in days, 1 to 90: a phone that has not synced for this long
    /// no longer opens offline doors with its keys. Takes effect at each phone's next sync
    /// (certificates already issued keep the freshness they were issued with).
    #[serde(default)]
    pub revalidation_days: Option<u32>,
}

/// `GET /v1/property` and the answer to [`PropertySettingsRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PropertySettings {
    pub property_id: u64,
    pub name: String,
    pub utc_offset_minutes: i16,
    /// The revalidation window, in days (default 7).
    pub revalidation_days: u32,
    /// Doors a `SetUtcOffset` update was queued for by this request (0 when unchanged).
    #[serde(default)]
    pub doors_updated: u32,
}

// ---- the authority key and its rotation ---------------------------------------------------

/// `GET /v1/property/authority`, and the answer to `POST /v1/property/authority/rotation`
/// (Portfolio Manager): the key Mission Control signs with, and the latest rotation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthorityInfo {
    /// The authority key that signs certificates, batches and time now.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub key: B64<PublicKey>,
    /// The latest rotation, finished or not (`None`: the property never rotated).
    pub rotation: Option<RotationInfo>,
}

/// Where an authority rotation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RotationPhase {
    /// Every door is being told to trust the new key (a `TrustAuthority` update); Mission
    /// Control still signs with the old one, and phones learn the new one at their next sync.
    Introducing,
    /// Every door trusts the new key: Mission Control signs with it (and re-issued every door
    /// and key certificate at the switch); doors are being told to drop the old key.
    Retiring,
    /// Every door dropped the old key: what it signs is refused everywhere.
    Complete,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotationInfo {
    pub rotation_id: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub old_key: B64<PublicKey>,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub new_key: B64<PublicKey>,
    pub phase: RotationPhase,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub started_at: UnixTime,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Time>))]
    #[serde(default, with = "crate::format::time_opt")]
    pub switched_at: Option<UnixTime>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Time>))]
    #[serde(default, with = "crate::format::time_opt")]
    pub completed_at: Option<UnixTime>,
    /// Doors that have not applied this phase's update yet (the rotation waits for them).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::DoorId>))]
    pub doors_pending: Vec<DoorId>,
    /// Doors that refused this phase's update (the rotation cannot go on until they are
    /// fixed: a door refuses a fifth authority key as a full store).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::DoorId>))]
    pub doors_rejected: Vec<DoorId>,
}

// ---- managers and permissions -------------------------------------------------------------

/// `POST /v1/managers` (Portfolio Manager).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateManagerRequest {
    pub name: String,
    #[serde(default)]
    pub portfolio_manager: bool,
    #[serde(default)]
    pub key_management: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManagerCredentials {
    pub manager_id: u64,
    /// Bearer token; shown once.
    pub token: String,
    /// When the token stops working (401 "manager token expired"): the server's token lifetime
    /// (90 days unless its operator set another) after it was issued. Rotate before then
    /// (`POST /v1/managers/me/rotate-token`) for a fresh lifetime, or ask a Portfolio Manager for
    /// a new one (`POST /v1/managers/{id}/token`).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub expires_at: UnixTime,
}

/// `PUT /v1/managers/{id}/key-management` (Portfolio Manager).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetKeyManagementRequest {
    pub enabled: bool,
}

/// `GET /v1/managers`, `GET /v1/managers/me`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManagerInfo {
    pub manager_id: u64,
    pub name: String,
    pub portfolio_manager: bool,
    pub key_management: bool,
    /// When the manager's current token stops working.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub token_expires_at: UnixTime,
}

// ---- people and keys ----------------------------------------------------------------------

/// One key to grant: the doors and the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyGrant {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::DoorId>))]
    pub doors: Vec<DoorId>,
    /// Defaults to now; may lie in the future (the welcome goes out today, access starts later).
    #[serde(default, with = "crate::format::time_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Time>))]
    pub start: Option<UnixTime>,
    /// Required: a time, or `"never"` for a key without an end ([`Expiry`]). A request without
    /// it is refused (400 naming the field).
    pub expiry: Expiry,
}

/// `POST /v1/invites` (Key Management).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub name: String,
    /// Where the welcome message goes (email address or phone number).
    pub contact: String,
    pub access: AccessKind,
    pub keys: Vec<KeyGrant>,
    #[serde(default)]
    pub resident: bool,
    #[serde(default)]
    pub may_share: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteResponse {
    pub person: PersonInfo,
    pub welcome_message_id: u64,
    /// Door updates the invite queued (doorcode slots at offline doors; none for app keys).
    pub updates: Vec<QueuedUpdate>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyInfo {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::KeyId))]
    #[serde(with = "crate::format::id")]
    pub key_id: KeyId,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::PersonId))]
    #[serde(with = "crate::format::id")]
    pub person_id: PersonId,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::DoorId>))]
    pub doors: Vec<DoorId>,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Validity))]
    #[serde(with = "crate::format::validity")]
    pub validity: Validity,
    pub resident: bool,
    pub may_share: bool,
    pub status: KeyStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Time>))]
    #[serde(default, with = "crate::format::time_opt")]
    pub revoked_at: Option<UnixTime>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::KeyId>))]
    #[serde(default, with = "crate::format::id_opt")]
    pub replaced_by: Option<KeyId>,
    /// Guest keys the holder shared from this key and registered.
    pub guests: Vec<GuestKeyInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuestKeyInfo {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::KeyId))]
    #[serde(with = "crate::format::id")]
    pub key_id: KeyId,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::KeyId))]
    #[serde(with = "crate::format::id")]
    pub parent_key_id: KeyId,
    pub label: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::DoorId>))]
    pub doors: Vec<DoorId>,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Validity))]
    #[serde(with = "crate::format::validity")]
    pub validity: Validity,
    pub status: KeyStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub registered_at: UnixTime,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeycardInfo {
    /// Card id as lowercase hex.
    pub card: String,
    /// How the doors check the card.
    pub kind: KeycardKind,
    /// Set when the card is weaker than a secure card: what the console shows next to it
    /// (`"uid-only: …"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weaker: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::DoorId>))]
    pub doors: Vec<DoorId>,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Validity))]
    #[serde(with = "crate::format::validity")]
    pub validity: Validity,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Time>))]
    #[serde(default, with = "crate::format::time_opt")]
    pub removed_at: Option<UnixTime>,
}

/// How the doors check a keycard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeycardKind {
    /// The card answers the door's AES-128 challenge under its own key, derived from the
    /// property's card key and its UID: a copy of the UID opens nothing. The default.
    #[default]
    Secure,
    /// The door checks the UID alone (legacy cards that hold no key): weaker, since a blank
    /// card written with a copy of the UID opens too. Only on explicit request.
    UidOnly,
}

impl KeycardKind {
    /// The marking the console shows next to a card of this kind, `None` for a secure card.
    pub fn weaker(self) -> Option<String> {
        match self {
            KeycardKind::Secure => None,
            KeycardKind::UidOnly => Some(
                "uid-only: the doors check the card's UID alone, so a copy of the UID opens too; reissue it as a secure card"
                    .into(),
            ),
        }
    }
}

impl From<KeycardKind> for CardKind {
    fn from(kind: KeycardKind) -> Self {
        match kind {
            KeycardKind::Secure => CardKind::Secure,
            KeycardKind::UidOnly => CardKind::UidOnly,
        }
    }
}

impl From<CardKind> for KeycardKind {
    fn from(kind: CardKind) -> Self {
        match kind {
            CardKind::Secure => KeycardKind::Secure,
            CardKind::UidOnly => KeycardKind::UidOnly,
        }
    }
}

/// A keycard as it is encoded onto the card, and as `lock-sim card --card-file` reads it: JSON
/// `{"uid": "04a1b2c3d4e5f6", "key": "<32 hex digits>"}`, or the UID alone for a card that holds
/// no key. Mission Control hands it out once, when it issues a secure card; the key is the
/// card's own (bound to its UID), never the property's card key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CardFile {
    /// The card's UID as hex, as the reader sees it (4 to 16 bytes).
    pub uid: String,
    /// The card's AES-128 key as hex (16 bytes); absent for a card without one.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "card_key_hex")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub key: Option<CardKey>,
}

impl std::fmt::Debug for CardFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardFile").field("uid", &self.uid).field("key", &self.key.as_ref().map(|_| "…")).finish()
    }
}

/// A card key as 32 hex digits in JSON.
mod card_key_hex {
    use keyway_protocol::credential::CardKey;
    use keyway_protocol::credential::card::CARD_KEY_LEN;
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub(super) fn serialize<S: Serializer>(key: &Option<CardKey>, serializer: S) -> Result<S::Ok, S::Error> {
        match key {
            Some(key) => serializer.serialize_str(&Zeroizing::new(hex::encode(key.as_bytes()))),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<CardKey>, D::Error> {
        use serde::de::Error;
        let Some(text) = Option::<String>::deserialize(deserializer)?.map(Zeroizing::new) else { return Ok(None) };
        let mut bytes = Zeroizing::new([0u8; CARD_KEY_LEN]);
        hex::decode_to_slice(text.trim(), bytes.as_mut_slice())
            .map_err(|_| D::Error::custom(format!("card key: expected {} hex digits", 2 * CARD_KEY_LEN)))?;
        Ok(Some(CardKey::new(*bytes)))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PersonStatus {
    /// Has a key that is active now.
    Active,
    /// Has only keys that start later.
    Upcoming,
    /// No key left that is active or upcoming ("show expired users").
    Expired,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonInfo {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::PersonId))]
    #[serde(with = "crate::format::id")]
    pub person_id: PersonId,
    pub name: String,
    pub contact: String,
    pub access: AccessKind,
    pub resident: bool,
    pub may_share: bool,
    pub status: PersonStatus,
    /// An app-key person whose phone accepted the invite.
    pub accepted: bool,
    pub keys: Vec<KeyInfo>,
    pub keycards: Vec<KeycardInfo>,
}

/// `GET /v1/people?show_expired=true` lists people with no active or upcoming key too.
/// `q` narrows the list to names or contacts containing it (case-insensitive); `page` and
/// `per_page` (1 to 200, default 50) give one page of it, sorted by name. Without any of the
/// three the whole list comes back, in the order people were invited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct PeopleQuery {
    #[serde(default)]
    pub show_expired: bool,
    #[serde(default)]
    pub q: Option<String>,
    /// From 1.
    #[serde(default)]
    pub page: Option<u32>,
    #[serde(default)]
    pub per_page: Option<u32>,
}

/// `POST /v1/people/{person_id}/keys` (Key Management): grants one more key (also how a
/// person is granted access again after Revoke All Keys).
pub type AddKeyRequest = KeyGrant;

/// `PATCH /v1/keys/{key_id}` (Key Management).
///
/// A later expiry re-issues the same key id. An **earlier** expiry cannot be imposed on a
/// certificate the phone already holds, so the old key id is revoked at its offline doors
/// (`RevokeKey` until the old expiry) and a new key id with the new window is issued; guest
/// keys shared from the old key fall with it and must be shared again. Before the invite is
/// accepted no certificate exists, and the window simply changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangeExpiryRequest {
    /// The new expiry: a time or `"never"` ([`Expiry`]); required.
    pub expiry: Expiry,
}

/// The result of an edit: the key as it now stands and the door updates it queued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyChangeResponse {
    pub key: KeyInfo,
    pub updates: Vec<QueuedUpdate>,
}

/// `DELETE /v1/keys/{key_id}?parent_key_id=`. A guest key id is chosen by the phone that
/// shared it and is unique only under its parent key: when several keys of the property hold a
/// guest key of that id, `parent_key_id` names the one meant (without it the request is refused
/// with 409).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DeleteKeyQuery {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<crate::openapi::KeyId>))]
    pub parent_key_id: Option<KeyId>,
}

/// Revoke All Keys, Delete Person, delete a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevocationResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::PersonId))]
    #[serde(with = "crate::format::id")]
    pub person_id: PersonId,
    /// Keys that ended (the person's own; guest keys fall with their parent at the doors).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::KeyId>))]
    #[serde(with = "crate::format::id_vec")]
    pub revoked_keys: Vec<KeyId>,
    pub updates: Vec<QueuedUpdate>,
}

/// One of a person's devices (`GET /v1/people/{person_id}/devices`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceInfo {
    #[serde(with = "crate::format::id")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub device_id: u64,
    /// What the doors call it ([`DeviceId::of`] its public key): a removed device is refused
    /// by this id.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DeviceId))]
    pub device: DeviceId,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub enrolled_at: UnixTime,
    /// When a manager removed it (a lost phone); its token stopped working then.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Time>))]
    #[serde(default, with = "crate::format::time_opt")]
    pub removed_at: Option<UnixTime>,
}

/// `POST /v1/people/{person_id}/keycards` (Key Management).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddKeycardRequest {
    /// 4 to 16 bytes as hex.
    pub card: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::DoorId>))]
    pub doors: Vec<DoorId>,
    #[serde(default, with = "crate::format::time_opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Time>))]
    pub start: Option<UnixTime>,
    /// Required, as for a key: a time or `"never"` ([`Expiry`]).
    pub expiry: Expiry,
    /// `"secure"` (the default) or `"uid_only"` for a legacy card that holds no key.
    #[serde(default)]
    pub kind: KeycardKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeycardChangeResponse {
    pub keycard: KeycardInfo,
    pub updates: Vec<QueuedUpdate>,
    /// For a secure card just issued: what to encode onto the card (its UID and its own key).
    /// Shown in this answer only; Mission Control keeps no copy of the card's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_file: Option<CardFile>,
}

/// One door update a manager action appended to an offline door's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueuedUpdate {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DoorId))]
    pub door_id: DoorId,
    pub seq: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::DoorOp>))]
    #[serde(with = "crate::format::door_ops")]
    pub ops: Vec<DoorOp>,
}

// ---- door-update tasks, activity, outbox ---------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// No verified receipt shows the door applied it yet.
    Pending,
    Delivered,
    /// The door refused it (its seq is used up): see the task's `rejection`. The door needs
    /// attention (e.g. its revocation table is full).
    Rejected,
}

/// `GET /v1/door-updates?door_id=&state=`: one per update in an offline door's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoorUpdateTask {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DoorId))]
    pub door_id: DoorId,
    pub door_name: String,
    pub seq: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::DoorOp>))]
    #[serde(with = "crate::format::door_ops")]
    pub ops: Vec<DoorOp>,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub created_at: UnixTime,
    pub state: TaskState,
    /// When the backend received the receipt that showed it applied.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Time>))]
    #[serde(default, with = "crate::format::time_opt")]
    pub delivered_at: Option<UnixTime>,
    /// The door's own clock in that receipt.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Time>))]
    #[serde(default, with = "crate::format::time_opt")]
    pub receipt_door_time: Option<UnixTime>,
    /// Why the door refused it, as its signed activity record says (e.g. "revocation table
    /// full"), when the state is `Rejected`.
    #[serde(default)]
    pub rejection: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DoorUpdateQuery {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<crate::openapi::DoorId>))]
    pub door_id: Option<DoorId>,
    #[serde(default)]
    pub state: Option<TaskState>,
}

/// `GET /v1/activity?door_id=&person_id=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<crate::openapi::DoorId>))]
    pub door_id: Option<DoorId>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<crate::openapi::PersonId>))]
    pub person_id: Option<PersonId>,
}

/// Who an activity record is about, in words (`ActivityEntry::who`): `"Gus (Ann's guest)"` for
/// a guest named `Gus` of `Ann`, `"a guest of Ann"` for a guest key that names no one, else the
/// person's name.
pub fn activity_who(person_name: Option<&str>, guest: bool, guest_label: Option<&str>) -> Option<String> {
    match (person_name, guest, guest_label) {
        (Some(host), true, Some(label)) => Some(format!("{label} ({host}'s guest)")),
        (None, true, Some(label)) => Some(format!("{label} (a guest)")),
        (Some(host), true, None) => Some(format!("a guest of {host}")),
        (name, _, _) => name.map(str::to_string),
    }
}

/// One door activity record as reported in a verified receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityEntry {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DoorId))]
    pub door_id: DoorId,
    pub door_name: String,
    /// The door's own activity seq.
    pub seq: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub time: UnixTime,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::PersonId>))]
    #[serde(default, with = "crate::format::id_opt")]
    pub person_id: Option<PersonId>,
    /// The person of the key presented: for a guest, their host (whose key the guest key was
    /// shared from).
    pub person_name: Option<String>,
    /// A guest's unlock or refusal: the guest's name, as their host's phone registered the
    /// guest key (`None` for anyone else, or a guest key registered without a name or not at
    /// all).
    #[serde(default)]
    pub guest_label: Option<String>,
    /// Who, in words: `"Gus (Ann's guest)"`, `"a guest of Ann"` when the guest key names no
    /// one, or the person's name.
    #[serde(default)]
    pub who: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::ActivityEvent))]
    #[serde(with = "crate::format::activity_event")]
    pub event: ActivityEvent,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub received_at: UnixTime,
}

/// `GET /v1/outbox` (Key Management): the welcome messages that would be emailed or texted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboxMessage {
    pub message_id: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::PersonId))]
    #[serde(with = "crate::format::id")]
    pub person_id: PersonId,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// App keys: the one-use invite token for `POST /v1/phone/accept`. Doorcodes: the token
    /// for `GET /v1/doorcodes`. Empty (and gone from `body`) once the invite was accepted, the
    /// doorcode first looked up, or the person deleted. Only Key Management reads the outbox.
    pub token: String,
    pub access: AccessKind,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub created_at: UnixTime,
}
