//! What the app displays, as plain records; conversions from the core's types.

use crate::error::KeywayError;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{
    ActivityEvent, ActivityRecord, DenialReason, DoorId, DoorSet, EntryChannel, KeyId, Validity,
};
use keyway_wallet::DeliveryReport;
use keyway_wallet::key_state::{KeyState as CoreKeyState, KeyView};
use keyway_wallet::store::{PendingBatch, StoredReceipt};
use keyway_wallet::unlock::UnlockReport;
use keyway_wallet::{Property, PropertyId};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Latest instant exchanged with apps (year 9999): every platform's date type holds it.
const MAX_SECONDS: u64 = 253_402_300_799;

pub fn to_system_time(t: UnixTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t.0.min(MAX_SECONDS))
}

pub fn to_unix_time(t: SystemTime, what: &str) -> Result<UnixTime, KeywayError> {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| KeywayError::InvalidInput { reason: format!("{what} is before 1970") })?
        .as_secs();
    Ok(UnixTime(secs.min(MAX_SECONDS)))
}

pub fn door_set(doors: &[u32]) -> Result<DoorSet, KeywayError> {
    DoorSet::new(doors.iter().map(|d| DoorId(*d)).collect()).ok_or_else(|| KeywayError::InvalidInput {
        reason: format!(
            "a key opens between 1 and {} doors; {} given",
            keyway_protocol::credential::ids::MAX_DOORS_PER_KEY,
            doors.len()
        ),
    })
}

pub fn validity(start: SystemTime, expiry: SystemTime) -> Result<Validity, KeywayError> {
    Validity::new(to_unix_time(start, "start")?, to_unix_time(expiry, "expiry")?)
        .ok_or_else(|| KeywayError::InvalidInput { reason: "expiry must be after start".into() })
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum KeyState {
    Active,
    /// Delivered ahead of its start; works from `start`.
    Upcoming {
        start: SystemTime,
    },
    Expired {
        at: SystemTime,
    },
    /// Ended early by the property manager.
    Revoked,
    /// Shortened by the property manager: the key `replaced_by` (a new key id, ending
    /// earlier) took its place. Not "revoked": the person still has access, on the new key.
    Replaced {
        replaced_by: u64,
    },
    /// Within its window, but the phone has not synced within the property's revalidation
    /// window (for a guest key: its host's phone): doors refuse it until a sync.
    NeedsSync {
        since: SystemTime,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct KeyInfo {
    pub key_id: u64,
    /// Short printable id (`k12` for a manager-issued key, `g…` for a guest key).
    pub label: String,
    pub is_guest: bool,
    pub resident: bool,
    pub may_share: bool,
    pub doors: Vec<u32>,
    pub start: SystemTime,
    pub expiry: SystemTime,
    /// Sync before this time to keep opening offline doors ("sync needed by").
    pub sync_needed_by: SystemTime,
    pub state: KeyState,
    /// The property whose key it is (null/nil/None: a guest key that came in an offer). Key
    /// ids are unique per property only: two properties may both have a key 5.
    pub property: Option<Property>,
}

impl From<&KeyView> for KeyInfo {
    fn from(v: &KeyView) -> Self {
        KeyInfo {
            key_id: v.key_id.0,
            label: v.key_id.to_string(),
            is_guest: v.is_guest,
            resident: v.resident,
            may_share: v.may_share,
            doors: v.doors.doors().iter().map(|d| d.0).collect(),
            start: to_system_time(v.validity.start),
            expiry: to_system_time(v.validity.expiry),
            sync_needed_by: to_system_time(v.fresh_until),
            state: match v.state {
                CoreKeyState::Active => KeyState::Active,
                CoreKeyState::Upcoming { start } => KeyState::Upcoming { start: to_system_time(start) },
                CoreKeyState::Expired { at } => KeyState::Expired { at: to_system_time(at) },
                CoreKeyState::Revoked => KeyState::Revoked,
                CoreKeyState::Replaced { by } => KeyState::Replaced { replaced_by: by.0 },
                CoreKeyState::NeedsSync { since } => KeyState::NeedsSync { since: to_system_time(since) },
            },
            property: v.property.clone(),
        }
    }
}

/// A door this wallet knows. A door is its property and its door id: two properties may both
/// have a door 1.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DoorInfo {
    pub door_id: u32,
    pub name: String,
    /// The door's property (null/nil/None: known only from a guest-key offer).
    pub property: Option<Property>,
}

impl From<keyway_wallet::DoorEntry> for DoorInfo {
    fn from(d: keyway_wallet::DoorEntry) -> Self {
        DoorInfo { door_id: d.door_id.0, name: d.name, property: d.property }
    }
}

/// Door updates this phone carries to a door at its next unlock there.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PendingUpdates {
    /// The local id of the property whose door it is (`Property.id`).
    pub property_id: u32,
    pub door_id: u32,
    pub first_seq: u64,
    pub last_seq: u64,
    pub count: u32,
    pub issued_at: SystemTime,
}

impl From<&PendingBatch> for PendingUpdates {
    fn from(p: &PendingBatch) -> Self {
        let b = &p.batch.body;
        PendingUpdates {
            property_id: p.property.0,
            door_id: p.door_id.0,
            first_seq: b.first_seq,
            last_seq: b.last_seq(),
            count: u32::try_from(b.updates.len()).unwrap_or(u32::MAX),
            issued_at: to_system_time(b.issued_at),
        }
    }
}

// The core's own types cross the FFI as they are: uniffi's remote declarations below are
// checked by the compiler against the real definitions (a variant or field added in the core
// and not here fails the build), and no conversion code sits in between.

uniffi::custom_type!(DoorId, u32, { remote, lower: |d| d.0, try_lift: |v| Ok(DoorId(v)) });
uniffi::custom_type!(KeyId, u64, { remote, lower: |k| k.0, try_lift: |v| Ok(KeyId(v)) });
uniffi::custom_type!(PropertyId, u32, { remote, lower: |p| p.0, try_lift: |v| Ok(PropertyId(v)) });

/// A property this wallet joined (`keyway_wallet::Property`): one backend and its authority
/// keys. `id` is the wallet's own number for it (1, 2, …), not the backend's `remote_id`.
#[uniffi::remote(Record)]
pub struct Property {
    pub id: PropertyId,
    pub backend_url: String,
    pub remote_id: Option<u64>,
    pub name: Option<String>,
}

/// Where an entry was attempted (`keyway_protocol::credential::EntryChannel`).
#[uniffi::remote(Enum)]
pub enum EntryChannel {
    App,
    Doorcode,
    Keycard,
}

/// Why a door refused (`keyway_protocol::credential::DenialReason`).
#[uniffi::remote(Enum)]
pub enum DenialReason {
    BadSignature,
    UnknownIssuer,
    WrongDoor,
    NotYetValid,
    Expired,
    RevokedKey,
    RevokedPerson,
    SharingNotAllowed,
    GuestScopeWider,
    ReSharingByGuest,
    BadProof,
    StaleChallenge,
    Malformed,
    UnsupportedVersion,
    WeakKey,
    RateLimited,
    UnknownCredential,
    StoreFull,
    InvalidOperation,
    ClockBackwards,
    SeqGap,
    NotRevalidated,
    RevokedDevice,
}

/// What an unlock did, from the door's verified receipt (`keyway_wallet::unlock::UnlockReport`).
#[uniffi::remote(Record)]
pub struct UnlockReport {
    pub door_id: DoorId,
    pub door_name: String,
    pub key_id: KeyId,
    pub is_guest: bool,
    pub granted: bool,
    pub denial: Option<DenialReason>,
    pub seq_before: u64,
    pub seq_after: u64,
    pub updates_carried: bool,
    pub time_carried: bool,
    pub activity_records: u32,
    pub property: Option<Property>,
    pub resumed: bool,
}

/// What a delivery session did (`keyway_wallet::DeliveryReport`): the door applied the
/// carried updates and answered with its activity only if it admitted the holder; it never
/// opened.
#[uniffi::remote(Record)]
pub struct DeliveryReport {
    pub door_id: DoorId,
    pub door_name: String,
    pub property: Property,
    pub admitted: bool,
    pub denial: Option<DenialReason>,
    pub seq_before: u64,
    pub seq_after: u64,
    pub updates_applied: bool,
    pub activity_records: u32,
}

/// Something a door logged.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Activity {
    AppUnlock {
        key_id: u64,
        person_id: u64,
        guest: bool,
    },
    AppDenied {
        key_id: Option<u64>,
        person_id: Option<u64>,
        reason: DenialReason,
    },
    DoorcodeEntry {
        slot: u32,
        person_id: u64,
    },
    DoorcodeDenied {
        reason: DenialReason,
    },
    KeycardEntry {
        card: Vec<u8>,
        person_id: u64,
    },
    KeycardDenied {
        card: Vec<u8>,
        reason: DenialReason,
    },
    UpdateRejected {
        seq: u64,
        reason: DenialReason,
    },
    /// Signed time moved the door's clock (by 30 s or more).
    ClockSet {
        before: SystemTime,
        after: SystemTime,
    },
    /// A secure keycard that answered the door's challenge (`KeycardEntry` is a UID-only card).
    SecureKeycardEntry {
        card: Vec<u8>,
        person_id: u64,
    },
    /// The same refusal of a credential the door could not attribute, `count` times (the
    /// record's time is the last; `first` the first): a flood takes one record.
    DeniedRepeatedly {
        channel: EntryChannel,
        reason: DenialReason,
        count: u32,
        first: SystemTime,
    },
    /// The door dropped `count` records before any receipt carried them (the gap before this
    /// record, in the door's signed word).
    RecordsDropped {
        count: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ActivityEntry {
    /// The door's own activity sequence (from 1, ascending; a gap is explained by a
    /// `RecordsDropped` record).
    pub seq: u64,
    pub time: SystemTime,
    pub event: Activity,
}

impl From<&ActivityRecord> for ActivityEntry {
    fn from(r: &ActivityRecord) -> Self {
        use ActivityEvent as E;
        let event = match &r.event {
            E::AppUnlock { key, person, guest } => {
                Activity::AppUnlock { key_id: key.0, person_id: person.0, guest: *guest }
            }
            E::AppDenied { key, person, reason } => {
                Activity::AppDenied { key_id: key.map(|k| k.0), person_id: person.map(|p| p.0), reason: *reason }
            }
            E::DoorcodeEntry { slot, person } => Activity::DoorcodeEntry { slot: *slot, person_id: person.0 },
            E::DoorcodeDenied { reason } => Activity::DoorcodeDenied { reason: *reason },
            E::KeycardEntry { card, person } => {
                Activity::KeycardEntry { card: card.as_slice().to_vec(), person_id: person.0 }
            }
            E::KeycardDenied { card, reason } => {
                Activity::KeycardDenied { card: card.as_slice().to_vec(), reason: *reason }
            }
            E::UpdateRejected { seq, reason } => Activity::UpdateRejected { seq: *seq, reason: *reason },
            E::ClockSet { before, after } => {
                Activity::ClockSet { before: to_system_time(*before), after: to_system_time(*after) }
            }
            E::SecureKeycardEntry { card, person } => {
                Activity::SecureKeycardEntry { card: card.as_slice().to_vec(), person_id: person.0 }
            }
            E::DeniedRepeatedly { channel, reason, count, first } => Activity::DeniedRepeatedly {
                channel: *channel,
                reason: *reason,
                count: *count,
                first: to_system_time(*first),
            },
            E::RecordsDropped { count } => Activity::RecordsDropped { count: *count },
        };
        ActivityEntry { seq: r.seq, time: to_system_time(r.time), event }
    }
}

/// A door's signed receipt of an unlock, with the activity it brought back.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceiptInfo {
    /// The local id of the property whose door signed it (null/nil/None: a door known only from
    /// a guest-key offer).
    pub property_id: Option<u32>,
    pub door_id: u32,
    pub door_time: SystemTime,
    /// Highest door update seq the door has applied.
    pub applied_seq: u64,
    pub activity: Vec<ActivityEntry>,
    pub created_at: SystemTime,
    /// Whether the backend has acknowledged it.
    pub uploaded: bool,
    /// Why the backend refused it, if it did (it is not sent again).
    pub refused: Option<String>,
    /// Whether it came from a door known only from a guest-key offer (never uploaded).
    pub from_guest_offer: bool,
}

impl From<&StoredReceipt> for ReceiptInfo {
    fn from(r: &StoredReceipt) -> Self {
        let b = &r.receipt.body;
        ReceiptInfo {
            property_id: r.property.map(|p| p.0),
            door_id: r.door_id.0,
            door_time: to_system_time(b.door_time),
            applied_seq: b.applied_seq,
            activity: b.activity.iter().map(ActivityEntry::from).collect(),
            created_at: to_system_time(r.created_at),
            uploaded: r.uploaded_at.is_some(),
            refused: r.set_aside.clone(),
            from_guest_offer: r.scope == keyway_wallet::store::ReceiptScope::Offer,
        }
    }
}

/// What a sync (or accepting an invite) changed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncSummary {
    pub keys_received: u32,
    pub keys_revoked: u32,
    pub doors: u32,
    /// Doors for which this phone now carries pending door updates.
    pub doors_with_updates: u32,
    pub server_time: SystemTime,
}

/// One property's part of a sync (`syncEach`): its summary, or why it failed (the other
/// properties synced all the same).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PropertySyncResult {
    pub property: Property,
    pub summary: Option<SyncSummary>,
    /// The failure's message, when it failed.
    pub error: Option<String>,
}

impl From<keyway_wallet::PropertySync> for PropertySyncResult {
    fn from(r: keyway_wallet::PropertySync) -> Self {
        let (summary, error) = match r.result {
            Ok(s) => (Some(s.into()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        PropertySyncResult { property: r.property, summary, error }
    }
}

/// A one-time code that enrols another phone of the person (`device_code`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceCode {
    pub code: String,
    pub expires_at: SystemTime,
}

/// What a guest's revalidation did (`refresh_guest_keys`), per offered key.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GuestRefreshSummary {
    /// Guest keys whose host certificate was renewed: fresh for longer now.
    pub renewed: Vec<u64>,
    /// Guest keys whose host had not revalidated since: nothing newer yet.
    pub unchanged: Vec<u64>,
    /// Guest keys the host's backend would not revalidate (revoked, host key ended, not
    /// registered yet, network), with the reason.
    pub failed: Vec<GuestRefreshFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GuestRefreshFailure {
    pub key_id: u64,
    pub reason: String,
}

impl From<keyway_wallet::guest_refresh::GuestRefreshSummary> for GuestRefreshSummary {
    fn from(s: keyway_wallet::guest_refresh::GuestRefreshSummary) -> Self {
        GuestRefreshSummary {
            renewed: s.renewed.iter().map(|k| k.0).collect(),
            unchanged: s.unchanged.iter().map(|k| k.0).collect(),
            failed: s.failed.into_iter().map(|(k, reason)| GuestRefreshFailure { key_id: k.0, reason }).collect(),
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<keyway_wallet::online::SyncSummary> for SyncSummary {
    fn from(s: keyway_wallet::online::SyncSummary) -> Self {
        SyncSummary {
            keys_received: count(s.keys_received),
            keys_revoked: count(s.keys_revoked),
            doors: count(s.doors),
            doors_with_updates: count(s.doors_with_updates),
            server_time: to_system_time(s.server_time),
        }
    }
}

/// What an upload achieved.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadSummary {
    pub receipts_uploaded: u32,
    /// Receipts the backend refused: kept on the phone with the reason, never sent again.
    pub receipts_refused: u32,
    /// Door activity records the backend had not seen before.
    pub new_activity: u32,
    /// Door updates the backend now knows were delivered.
    pub updates_confirmed: u32,
}

impl From<keyway_wallet::online::UploadSummary> for UploadSummary {
    fn from(s: keyway_wallet::online::UploadSummary) -> Self {
        UploadSummary {
            receipts_uploaded: count(s.receipts_uploaded),
            receipts_refused: count(s.receipts_refused),
            new_activity: s.new_activity,
            updates_confirmed: count(s.updates_confirmed),
        }
    }
}

/// What a guest's share request says, for the resident to confirm before sharing.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ShareRequestInfo {
    pub name: String,
    /// The guest device's public key, hex.
    pub device_key: String,
    pub created_at: SystemTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_bad_windows_are_refused() {
        let t = UnixTime(1_900_000_000);
        assert_eq!(to_unix_time(to_system_time(t), "t").unwrap(), t);
        assert_eq!(to_system_time(UnixTime(u64::MAX)), UNIX_EPOCH + Duration::from_secs(MAX_SECONDS));
        assert!(matches!(
            to_unix_time(UNIX_EPOCH - Duration::from_secs(1), "start"),
            Err(KeywayError::InvalidInput { .. })
        ));
        let a = to_system_time(UnixTime(100));
        let b = to_system_time(UnixTime(200));
        assert!(validity(a, b).is_ok());
        assert!(matches!(validity(b, a), Err(KeywayError::InvalidInput { .. })));
        assert!(matches!(door_set(&[]), Err(KeywayError::InvalidInput { .. })));
        assert_eq!(door_set(&[3, 1, 3]).unwrap().doors(), &[DoorId(1), DoorId(3)]);
    }
}
