//! `DoorLimits`: the embedder's capacities hold whatever the authority's updates and the
//! door's users do, and the small-MCU preset's whole state, full to every limit, fits in
//! 64 KiB. Every heap allocation of this test binary is counted, so the figure is the state's
//! real footprint, not an estimate.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::{CardId, CardKind, DoorOp, KeyId, PersonId};
use keyway_protocol::door::{DoorEngine, DoorLimits, DoorState};
use keyway_protocol::unlock::UpdateRejection;
use keyway_test_kit::door::hold_card;
use keyway_test_kit::fixture::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Bytes currently allocated by the whole test binary.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call is forwarded to the system allocator unchanged; the counter only observes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: same layout, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: same pointer and layout the system allocator handed out.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::SeqCst);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const LATER: UnixTime = UnixTime(NOW.0 + 365 * DAY);

fn card(i: u32) -> CardId {
    // The longest card id a door accepts (16 bytes), distinct per i.
    let mut bytes = [0xC0u8; 16];
    bytes[..4].copy_from_slice(&i.to_be_bytes());
    CardId::new(bytes.to_vec()).expect("16-byte card id")
}

/// Fills `door` to every limit with authority-signed updates, one batch per table, and the
/// activity ring with the largest records (keycard entries carry the 16-byte card id).
fn fill(p: &Property, door: &mut DoorEngine, limits: &DoorLimits) {
    let mut seq = door.update_seq() + 1;
    let mut apply = |door: &mut DoorEngine, ops: Vec<DoorOp>| {
        let n = ops.len() as u64;
        let updates: Vec<Vec<DoorOp>> = ops.chunks(200).map(<[DoorOp]>::to_vec).collect();
        let count = updates.len() as u64;
        let report = door.apply_batch(&p.batch(DOOR_A, seq, updates), NOW);
        assert_eq!(report.batch_rejected, None);
        assert!(report.rejected_updates.is_empty(), "{:?}", report.rejected_updates);
        seq += count;
        n
    };
    let revocations =
        (0..limits.revocations as u64).map(|k| DoorOp::RevokeKey { key: KeyId(1_000_000 + k), until: LATER }).collect();
    apply(door, revocations);
    let slots = (0..limits.doorcode_slots as u32)
        .map(|s| DoorOp::AddDoorcode {
            slot: s + 1,
            person: PersonId(5_000 + u64::from(s)),
            validity: window(NOW, LATER),
        })
        .collect();
    apply(door, slots);
    let cards = (0..limits.keycards as u32)
        .map(|c| DoorOp::AddKeycard {
            card: card_tag(card(c).as_slice()),
            person: PersonId(9_000 + u64::from(c)),
            validity: window(NOW, LATER),
            kind: CardKind::UidOnly,
        })
        .collect();
    apply(door, cards);
    // A resume ticket per key that unlocked recently (kept in memory), as many as the door holds.
    for k in 0..limits.resume_tickets as u64 {
        let holder = p.resident(1 + k, 1 + k);
        assert!(p.unlock(door, &holder, None).outcome.unwrap().granted);
    }
    assert_eq!(door.resume_tickets().len(), limits.resume_tickets);
    for c in 0..limits.activity as u32 * 2 {
        assert!(hold_card(door, card(c % limits.keycards as u32).as_slice(), None, NOW).access.is_granted());
    }
}

#[test]
fn the_small_mcu_preset_fits_in_64_kib_full_to_every_limit() {
    let limits = DoorLimits::SMALL_MCU;
    let p = Property::new();
    let mut door = p.door(DOOR_A).with_limits(limits).expect("a new door fits any limits");
    fill(&p, &mut door, &limits);
    let s = door.state();
    assert_eq!(s.revocations.len(), limits.revocations);
    assert_eq!(s.doorcodes.len(), limits.doorcode_slots);
    assert_eq!(s.keycards.len(), limits.keycards);
    assert_eq!(door.activity().len(), limits.activity);

    // Every byte the door's state holds on the heap is freed when it is dropped.
    let before = LIVE.load(Ordering::SeqCst);
    drop(door);
    let heap = before - LIVE.load(Ordering::SeqCst);
    let total = heap as usize + size_of::<DoorEngine>();
    println!("SMALL_MCU door, full: {heap} B heap + {} B inline = {total} B", size_of::<DoorEngine>());
    assert!(total <= 64 * 1024, "the full small-MCU door takes {total} bytes");

    // Its saved form fits too (what the lock writes to flash).
    let mut door = p.door(DOOR_A).with_limits(limits).unwrap();
    fill(&p, &mut door, &limits);
    let saved = door.state().to_bytes();
    println!("SMALL_MCU door, full: {} B saved", saved.len());
    assert!(saved.len() <= 64 * 1024, "saved state is {} bytes", saved.len());
}

#[test]
fn a_door_refuses_updates_beyond_its_limits_and_keeps_its_ring_at_capacity() {
    let limits = DoorLimits { revocations: 3, activity: 4, doorcode_slots: 1, keycards: 1, resume_tickets: 1 };
    let p = Property::new();
    let mut door = p.door(DOOR_A).with_limits(limits).unwrap();
    let revoke = |k: u64| DoorOp::RevokeKey { key: KeyId(k), until: LATER };
    let report =
        door.apply_batch(&p.batch(DOOR_A, 1, vec![vec![revoke(1), revoke(2), revoke(3)], vec![revoke(4)]]), NOW);
    assert_eq!(report.seq_after, 2);
    assert_eq!(
        report.rejected_updates.iter().map(|r| (r.seq, r.reason.clone())).collect::<Vec<_>>(),
        [(2, UpdateRejection::StoreFull)]
    );
    assert_eq!(door.revocations().len(), 3);
    let enrol = DoorOp::AddKeycard {
        card: card_tag(card(1).as_slice()),
        person: PersonId(7),
        validity: window(NOW, LATER),
        kind: CardKind::UidOnly,
    };
    assert!(door.apply_batch(&p.batch(DOOR_A, 3, vec![vec![enrol]]), NOW).rejected_updates.is_empty());
    for _ in 0..10 {
        assert!(hold_card(&mut door, card(1).as_slice(), None, NOW).access.is_granted());
    }
    assert_eq!(door.activity().len(), 4, "the ring drops its oldest records");
    // Refusals hold at most a quarter of the ring: they never push the entries out.
    for i in 0..10u64 {
        let _ = door.enter_doorcode("0000000000", NOW.saturating_add_secs(3_600 * (i + 1)));
    }
    assert_eq!(door.activity().len(), 4);
    assert_eq!(door.activity().records().filter(|r| r.event.is_denial()).count(), 1);
    assert!(door.state().check(&limits).is_ok());
}

#[test]
fn a_saved_state_larger_than_the_firmware_limits_is_refused_not_truncated() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let ops = (0..10).map(|k| DoorOp::RevokeKey { key: KeyId(k + 1), until: LATER }).collect();
    assert!(door.apply_batch(&p.batch(DOOR_A, 1, vec![ops]), NOW).rejected_updates.is_empty());
    let state = DoorState::from_bytes(&door.state().to_bytes()).unwrap();
    let small = DoorLimits { revocations: 5, ..DoorLimits::SMALL_MCU };
    assert!(DoorEngine::from_state(state.clone(), small).is_err());
    assert!(door.clone().with_limits(small).is_err());
    let restored = DoorEngine::from_state(state, DoorLimits::SMALL_MCU).unwrap();
    assert_eq!(restored.revocations().len(), 10);
}

/// The capacity check counts what an update really stores. Each case here was refused as
/// `StoreFull` by a count that added every op: a door near its limit then burnt the update's
/// seq on a refusal although it had room.
#[test]
fn a_door_near_its_limits_takes_updates_that_store_nothing_new() {
    let limits = DoorLimits { revocations: 2, activity: 16, doorcode_slots: 1, keycards: 1, resume_tickets: 1 };
    let p = Property::new();
    let mut door = p.door(DOOR_A).with_limits(limits).unwrap();
    let revoke = |k: u64, until: UnixTime| DoorOp::RevokeKey { key: KeyId(k), until };
    let slot = |s: u32| DoorOp::AddDoorcode { slot: s, person: PersonId(s.into()), validity: window(NOW, LATER) };
    let add_card = |c: u32| DoorOp::AddKeycard {
        card: card(c),
        person: PersonId(c.into()),
        validity: window(NOW, LATER),
        kind: CardKind::UidOnly,
    };
    let setup = vec![vec![revoke(1, LATER)], vec![slot(1)], vec![add_card(1)]];
    assert!(door.apply_batch(&p.batch(DOOR_A, 1, setup), NOW).rejected_updates.is_empty());
    let updates = vec![
        // One new revocation named twice: one entry.
        vec![revoke(2, LATER), revoke(2, LATER.saturating_add_secs(DAY))],
        // A revocation whose key expired already stores nothing, even with the table full.
        vec![revoke(3, NOW.saturating_sub_secs(DAY))],
        // Replacing the only slot and the only card in one update.
        vec![DoorOp::RemoveDoorcode { slot: 1 }, slot(2)],
        vec![DoorOp::RemoveKeycard { card: card(1) }, add_card(2)],
    ];
    let report = door.apply_batch(&p.batch(DOOR_A, 4, updates), NOW);
    assert_eq!(report.batch_rejected, None);
    assert!(report.rejected_updates.is_empty(), "{:?}", report.rejected_updates);
    assert_eq!(door.update_seq(), 7);
    assert_eq!(door.revocations().len(), 2);
    assert!(door.state().doorcodes.contains_key(&2) && door.state().keycards[0].card == card(2));
    // And a real overflow is still refused, changing nothing.
    let report = door.apply_batch(&p.batch(DOOR_A, 8, vec![vec![revoke(4, LATER)], vec![slot(3)]]), NOW);
    let reasons: Vec<_> = report.rejected_updates.iter().map(|r| (r.seq, r.reason.clone())).collect();
    assert_eq!(reasons, [(8, UpdateRejection::StoreFull), (9, UpdateRejection::StoreFull)]);
    assert_eq!(door.revocations().len(), 2);
}

#[test]
fn a_door_configured_to_keep_no_activity_keeps_none_and_reloads() {
    let limits = DoorLimits { activity: 0, ..DoorLimits::SMALL_MCU };
    let p = Property::new();
    let mut door = p.door(DOOR_A).with_limits(limits).unwrap();
    let _ = door.enter_doorcode("0000000000", NOW);
    assert_eq!(door.activity().len(), 0);
    assert_eq!(door.activity().head(), 1, "the seq still counts, so a backend sees the gap");
    assert!(DoorEngine::from_state(door.state().clone(), limits).is_ok());
}
