//! Door receipts uploaded by phones: each verified against the door certificate on its own
//! (a refused one gets its reason and holds back nothing else), then door-update tasks are
//! marked delivered and the activity merged (de-duplicated by door and activity seq). A record
//! naming a person who is not of the door's property keeps no link to anyone.

use crate::auth::Device;
use crate::error::{AppError, AppResult};
use crate::property::Authority;
use crate::provisioning;
use keyway_api::{
    MAX_RECEIPTS_PER_UPLOAD, ReceiptResult, ReceiptVerdict, UploadReceiptsRequest, UploadReceiptsResponse,
};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{ActivityEvent, DenialReason, DoorId, PersonId, Receipt, TrustAnchors};
use rusqlite::{OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

/// Who uploads: a phone carrying receipts from any door of its property, or an
/// internet-connected door posting its own over the feed.
#[derive(Clone, Copy, Debug)]
pub enum Uploader {
    Device { property_id: i64, device_id: i64 },
    Door { property_id: i64, door: DoorId },
}

impl Uploader {
    pub fn of_device(device: &Device) -> Self {
        Uploader::Device { property_id: device.property_id, device_id: device.id }
    }

    pub fn property_id(self) -> i64 {
        match self {
            Uploader::Device { property_id, .. } | Uploader::Door { property_id, .. } => property_id,
        }
    }
}

pub fn upload(
    tx: &Transaction,
    from: Uploader,
    req: UploadReceiptsRequest,
    now: UnixTime,
) -> AppResult<UploadReceiptsResponse> {
    if req.receipts.len() > MAX_RECEIPTS_PER_UPLOAD {
        return Err(AppError::bad_request(format!("at most {MAX_RECEIPTS_PER_UPLOAD} receipts per upload")));
    }
    let anchors = Authority::load(tx, from.property_id())?.anchors();
    let mut results = Vec::with_capacity(req.receipts.len());
    for receipt in &req.receipts {
        let result = match check(tx, from, &anchors, receipt)? {
            Ok(()) => apply(tx, from, receipt, now)?,
            Err(reason) => refused(receipt, reason),
        };
        results.push(result);
    }
    Ok(UploadReceiptsResponse { results })
}

/// Whether `receipt` may be applied: `Err(reason)` when it can never be (uploading it again
/// gives the same answer), `AppResult::Err` only for the backend's own failures.
fn check(tx: &Transaction, from: Uploader, anchors: &TrustAnchors, receipt: &Receipt) -> AppResult<Result<(), String>> {
    let body = &receipt.body;
    if let Uploader::Door { door, .. } = from
        && door != body.door_id
    {
        return Ok(Err(format!("{door} may post only its own receipts, not those of {}", body.door_id)));
    }
    let Some(door) = provisioning::door(tx, from.property_id(), body.door_id)? else {
        return Ok(Err(format!("{} is not a door of this property", body.door_id)));
    };
    if let Err(e) = receipt.verify_signature(&door.door_key(anchors)?) {
        return Ok(Err(format!("not signed by the door's certified key: {e}")));
    }
    // SQLite integers are signed 64-bit: larger values cannot come from a working door.
    let too_large = |v: u64| v > i64::MAX as u64;
    if too_large(body.applied_seq)
        || too_large(body.activity_head)
        || too_large(body.door_time.0)
        || body.activity.iter().any(|a| too_large(a.time.0))
    {
        return Ok(Err("a seq or time is out of range".into()));
    }
    if let Some(bad) = body.activity.iter().find(|a| a.seq == 0 || a.seq > body.activity_head) {
        return Ok(Err(format!("activity seq {} outside 1..={}", bad.seq, body.activity_head)));
    }
    Ok(Ok(()))
}

fn refused(receipt: &Receipt, reason: String) -> ReceiptResult {
    ReceiptResult {
        verdict: ReceiptVerdict::Refused { reason },
        door_id: receipt.body.door_id,
        applied_seq: receipt.body.applied_seq,
        duplicate: false,
        new_activity: 0,
        newly_delivered: Vec::new(),
    }
}

fn person_of(event: &ActivityEvent) -> Option<PersonId> {
    match event {
        ActivityEvent::AppUnlock { person, .. } => Some(*person),
        ActivityEvent::AppDenied { person, .. } => *person,
        ActivityEvent::DoorcodeEntry { person, .. } => Some(*person),
        ActivityEvent::KeycardEntry { person, .. } | ActivityEvent::SecureKeycardEntry { person, .. } => Some(*person),
        ActivityEvent::DoorcodeDenied { .. }
        | ActivityEvent::KeycardDenied { .. }
        | ActivityEvent::UpdateRejected { .. }
        | ActivityEvent::ClockSet { .. }
        | ActivityEvent::DeniedRepeatedly { .. }
        | ActivityEvent::RecordsDropped { .. } => None,
    }
}

fn apply(tx: &Transaction, from: Uploader, receipt: &Receipt, now: UnixTime) -> AppResult<ReceiptResult> {
    let body = &receipt.body;
    let door = body.door_id;
    let digest = Sha256::digest(receipt.to_bytes()).to_vec();
    let (device_id, via_feed) = match from {
        Uploader::Device { device_id, .. } => (Some(device_id), false),
        Uploader::Door { .. } => (None, true),
    };
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO receipts (digest, door_id, applied_seq, door_time, device_id, via_feed, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![digest, door.0, body.applied_seq as i64, body.door_time.0 as i64, device_id, via_feed, now.0],
    )?;
    // The door's clock tells its drift only when the receipt comes straight from the door: a
    // phone may upload hours after the unlock (its ClockSet records tell corrections instead).
    door_reported(tx, door, body.applied_seq, via_feed.then_some(body.door_time), now)?;
    // Updates the door refused on their own are marked first: they are not delivered.
    for record in body.activity.iter() {
        if let ActivityEvent::UpdateRejected { seq, reason } = &record.event
            && let Some(text) = mark_rejected(tx, door, *seq, *reason)?
        {
            let event = serde_json::json!({ "door_id": door, "seq": seq, "reason": text });
            crate::webhooks::emit(tx, from.property_id(), crate::webhooks::DOOR_UPDATE_REJECTED, event, now)?;
        }
    }
    // A door never applies beyond its log; a larger applied_seq (a backend restored from an
    // old backup) marks only what exists.
    let mut stmt = tx.prepare(
        "UPDATE door_updates SET delivered_at = ?1, receipt_door_time = ?2
         WHERE door_id = ?3 AND seq <= ?4 AND delivered_at IS NULL AND rejected IS NULL RETURNING seq",
    )?;
    let mut newly_delivered = stmt
        .query_map(params![now.0, body.door_time.0 as i64, door.0, body.applied_seq as i64], |r| r.get::<_, u64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    newly_delivered.sort_unstable();
    if !newly_delivered.is_empty() {
        let event = serde_json::json!({
            "door_id": door, "seqs": newly_delivered, "receipt_door_time": body.door_time, "via_feed": via_feed,
        });
        crate::webhooks::emit(tx, from.property_id(), crate::webhooks::DOOR_UPDATE_DELIVERED, event, now)?;
    }
    tx.execute(
        "UPDATE doors SET delivered_seq = MAX(delivered_seq, MIN(?1, log_head)) WHERE id = ?2",
        params![body.applied_seq as i64, door.0],
    )?;
    let mut new_activity = 0u32;
    for record in body.activity.iter() {
        let event = serde_json::to_string(&record.event).map_err(|_| AppError::internal("cannot store activity"))?;
        let person = match person_of(&record.event) {
            Some(p) => person_in_property(tx, from.property_id(), p)?,
            None => None,
        };
        new_activity += tx.execute(
            "INSERT OR IGNORE INTO activity (door_id, seq, time, event, person_id, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![door.0, record.seq as i64, record.time.0 as i64, event, person, now.0],
        )? as u32;
    }
    advance_activity_head(tx, door.0)?;
    Ok(ReceiptResult {
        verdict: ReceiptVerdict::Accepted,
        door_id: door,
        applied_seq: body.applied_seq,
        duplicate: inserted == 0,
        new_activity,
        newly_delivered,
    })
}

/// The row id of `person` if they are a person of `property`: a door-signed record can name
/// any number, and a number another property uses must not link this property's activity to
/// that property's people.
fn person_in_property(tx: &Transaction, property: i64, person: PersonId) -> AppResult<Option<i64>> {
    let Ok(id) = i64::try_from(person.0) else { return Ok(None) };
    Ok(tx
        .query_row("SELECT id FROM people WHERE id = ?1 AND property_id = ?2", params![id, property], |r| r.get(0))
        .optional()?)
}

/// Records what the door itself states (in a verified receipt, or its signed feed hello): its
/// update seq, even beyond the log (new updates are numbered above it), and, when it comes
/// straight from the door, its clock at `now`.
pub fn door_reported(
    tx: &Transaction,
    door: DoorId,
    seq: u64,
    door_time: Option<UnixTime>,
    now: UnixTime,
) -> AppResult<()> {
    tx.execute(
        "UPDATE doors SET reported_seq = MAX(reported_seq, ?1) WHERE id = ?2",
        params![seq.min(i64::MAX as u64) as i64, door.0],
    )?;
    if let Some(door_time) = door_time {
        tx.execute(
            "UPDATE doors SET
                 door_time = CASE WHEN door_time_seen_at IS NULL OR ?2 >= door_time_seen_at THEN ?1 ELSE door_time END,
                 door_time_seen_at = MAX(COALESCE(door_time_seen_at, 0), ?2)
             WHERE id = ?3",
            params![door_time.0.min(i64::MAX as u64) as i64, now.0 as i64, door.0],
        )?;
    }
    crate::resync::door_ahead(tx, door, seq, now)
}

/// A door-signed record says the door refused update `seq` and used up its seq (the reasons an
/// update is refused on its own; a batch refused whole consumed nothing and stays pending): its
/// task is rejected, with the reason in words.
/// Marks the update rejected; its rejection text if this changed it.
fn mark_rejected(tx: &Transaction, door: DoorId, seq: u64, reason: DenialReason) -> AppResult<Option<&'static str>> {
    let Some(text) = rejection_text(reason) else { return Ok(None) };
    let Ok(seq) = i64::try_from(seq) else { return Ok(None) };
    let changed = tx.execute(
        "UPDATE door_updates SET rejected = ?1 WHERE door_id = ?2 AND seq = ?3 AND rejected IS NULL",
        params![text, door.0, seq],
    )?;
    Ok((changed > 0).then_some(text))
}

/// What the manager reads for an update the door refused on its own.
fn rejection_text(reason: DenialReason) -> Option<&'static str> {
    match reason {
        DenialReason::StoreFull => Some("rejected: the door's revocation, doorcode or keycard table is full"),
        DenialReason::InvalidOperation => Some("rejected: the door could not use an operation in it"),
        DenialReason::ClockBackwards => Some("rejected: it would have moved the door's clock backwards"),
        _ => None,
    }
}

/// Moves the door's known activity head over every record now held with no gap below it.
fn advance_activity_head(tx: &Transaction, door: u32) -> AppResult<()> {
    let mut head: i64 = tx.query_row("SELECT activity_head FROM doors WHERE id = ?1", params![door], |r| r.get(0))?;
    let mut stmt = tx.prepare("SELECT seq, event FROM activity WHERE door_id = ?1 AND seq > ?2 ORDER BY seq")?;
    let rows = stmt
        .query_map(params![door, head], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    // A gap is crossed only where the door accounted for it: its signed `RecordsDropped`
    // marker, logged at its next receipt, counts the records it dropped before it. Any other gap
    // is a record still on its way (another phone's receipt) and holds the head.
    let dropped = |event: &str| match serde_json::from_str::<ActivityEvent>(event) {
        Ok(ActivityEvent::RecordsDropped { count }) => Some(count),
        _ => None,
    };
    let mut missing = 0u64;
    let mut i = 0;
    while i < rows.len() {
        let (seq, _) = &rows[i];
        if *seq == head + 1 {
            head = *seq;
            i += 1;
            continue;
        }
        let gap = (*seq - head - 1) as u64;
        let covered = rows[i..].iter().find_map(|(_, e)| dropped(e)).is_some_and(|count| missing + gap <= count);
        if !covered {
            break;
        }
        missing += gap;
        head = *seq;
        if dropped(&rows[i].1).is_some() {
            missing = 0;
        }
        i += 1;
    }
    tx.execute("UPDATE doors SET activity_head = ?1 WHERE id = ?2", params![head, door])?;
    Ok(())
}
