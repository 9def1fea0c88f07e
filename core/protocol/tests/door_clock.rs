//! Time a door can trust, end to end through the unlock sessions: a phone's signed time brings a
//! lagging door forward in the unlock itself, corrects its RTC for good, never moves a clock
//! back unless bound to the door's own fresh nonce, and costs nothing when the door is right.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::{ActivityEvent, DenialReason, DoorOp, SignedBody, TimeStatement, TimeStatementBody};
use keyway_protocol::door::{CLOCK_RECORD_SECS, ClockChange, DoorEngine, DoorLimits, DoorState};
use keyway_protocol::unlock::{PhoneSession, UnlockOutcome};
use keyway_test_kit::fixture::*;
use keyway_test_kit::sim::{SimConfig, SimPair, SimRun};

/// Ten minutes, the lag of the door in the story.
const LAG: u64 = 600;

fn signed_time(p: &Property, time: UnixTime) -> TimeStatement {
    TimeStatement::sign(TimeStatementBody::unbound(time, p.issuer()), &p.authority)
}

/// A key that starts at `NOW` (granted "now" and synced at once).
fn starts_now(p: &Property) -> Holder {
    p.resident_with(5, 5, doors(&[DOOR_A]), window(NOW, NOW.saturating_add_secs(30 * DAY)), false)
}

/// One unlock at a door whose RTC reads `rtc`, the phone carrying `time`.
fn unlock_at(p: &Property, door: &mut DoorEngine, h: &Holder, time: Option<TimeStatement>, rtc: UnixTime) -> SimRun {
    let mut params = p.params(h, door.door_id(), None, 0, 0xA1);
    params.time = time;
    let phone = PhoneSession::new(params).unwrap();
    SimPair::new(SimConfig::default()).run(phone, door, rtc, [0xD0; 16])
}

fn outcome(run: SimRun) -> UnlockOutcome {
    run.outcome.expect("the exchange completes")
}

/// The story: a door ten minutes slow refuses a key that starts now, until one unlock
/// carries the signed time the phone got at sync; that same unlock opens the door, and the
/// door runs on the corrected time afterwards (its RTC still ten minutes slow).
#[test]
fn a_door_ten_minutes_slow_admits_a_key_that_starts_now_after_one_unlock_carrying_signed_time() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let h = starts_now(&p);
    let rtc = NOW.saturating_sub_secs(LAG);

    let without = outcome(unlock_at(&p, &mut door, &h, None, rtc));
    assert_eq!(without.denial, Some(DenialReason::NotYetValid), "today's behaviour: refused for the lag");
    assert!(!without.time_carried);

    let with = outcome(unlock_at(&p, &mut door, &h, Some(signed_time(&p, NOW)), rtc.saturating_add_secs(5)));
    assert!(with.granted, "{:?}", with.denial);
    assert!(with.time_carried);
    assert_eq!(with.receipt.as_ref().unwrap().body.door_time, NOW, "the receipt states the corrected clock");
    let set = with.receipt.as_ref().unwrap().body.activity.iter().find_map(|r| match r.event {
        ActivityEvent::ClockSet { before, after } => Some((before, after)),
        _ => None,
    });
    assert_eq!(set, Some((rtc.saturating_add_secs(5), NOW)), "the receipt tells the backend how far off it was");

    // The RTC is corrected, not the clock frozen: a minute later by the RTC is a minute later.
    assert_eq!(door.observe_time(rtc.saturating_add_secs(65)), NOW.saturating_add_secs(60));
    // The next unlock needs no signed time and carries none (an old statement is behind).
    let next = outcome(unlock_at(&p, &mut door, &h, Some(signed_time(&p, NOW)), rtc.saturating_add_secs(70)));
    assert!(next.granted && !next.time_carried);
}

/// A door whose clock is right gets no statement: the request stays one frame at MTU 247 and
/// the exchange is byte for byte what it was without signed time.
#[test]
fn a_door_whose_clock_is_right_is_sent_no_time_and_the_request_stays_one_frame() {
    let p = Property::new();
    let alice = p.resident(1, 1);
    let mut a = p.door(DOOR_A);
    let mut b = p.door(DOOR_A);
    let plain = unlock_at(&p, &mut a, &alice, None, NOW);
    let synced = unlock_at(&p, &mut b, &alice, Some(signed_time(&p, NOW.saturating_sub_secs(120))), NOW);
    assert_eq!(plain.stats.frames_phone_to_door, 1);
    assert_eq!(synced.stats.frames_phone_to_door, 1);
    assert_eq!(plain.stats.bytes_phone_to_door, synced.stats.bytes_phone_to_door);
    assert!(!outcome(synced).time_carried);
}

/// Signed time never helps an attacker: a statement behind the door's clock (an old one
/// replayed) changes nothing, a forged one ahead changes nothing, and neither breaks the
/// unlock it rides in.
#[test]
fn old_and_forged_statements_never_move_the_clock() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let h = starts_now(&p);
    door.observe_time(NOW);

    let old = signed_time(&p, NOW.saturating_sub_secs(3600));
    assert_eq!(door.handle_time(&old, None, NOW), Ok(None));
    assert_eq!(door.clock(), NOW);

    let stranger = Property { authority: key(77), anchors: p.anchors.clone() };
    let forged = TimeStatement::sign(TimeStatementBody::unbound(NOW.saturating_add_secs(DAY), p.issuer()), &key(77));
    assert!(door.handle_time(&forged, None, NOW).is_err());
    let unknown_issuer = signed_time(&stranger, NOW.saturating_add_secs(DAY));
    assert!(door.handle_time(&unknown_issuer, None, NOW).is_err());
    assert_eq!(door.clock(), NOW);

    // The same forged statement inside an unlock at a lagging door: refused, the unlock goes on.
    let mut lagging = p.door(DOOR_A);
    let rtc = NOW.saturating_sub_secs(LAG);
    let o = outcome(unlock_at(&p, &mut lagging, &h, Some(forged), rtc));
    assert!(o.time_carried, "the phone sent it");
    assert_eq!(o.denial, Some(DenialReason::NotYetValid), "the door kept its own clock");
    assert_eq!(lagging.clock(), rtc);
}

/// Only a statement bound to this door and its own fresh nonce moves the clock back; the same
/// statement replayed into another session, or one for another door, is refused.
#[test]
fn only_a_statement_bound_to_the_sessions_nonce_moves_the_clock_back() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let ahead = NOW.saturating_add_secs(365 * DAY);
    door.observe_time(ahead);
    let nonce = [0x42; 16];
    let bound = TimeStatement::sign(TimeStatementBody::bound(NOW, p.issuer(), DOOR_A, nonce), &p.authority);
    let unbound_back = signed_time(&p, NOW);

    assert_eq!(door.handle_time(&unbound_back, Some(&nonce), ahead), Ok(None), "unbound: forward only");
    assert!(door.handle_time(&bound, Some(&[0x43; 16]), ahead).is_err(), "replayed into another exchange");
    assert!(door.handle_time(&bound, None, ahead).is_err(), "outside any exchange");
    let other = TimeStatement::sign(TimeStatementBody::bound(NOW, p.issuer(), DOOR_B, nonce), &p.authority);
    assert!(door.handle_time(&other, Some(&nonce), ahead).is_err(), "another door's");
    assert_eq!(door.clock(), ahead);

    // The RTC itself runs a year ahead: the correction holds as it keeps ticking.
    let change = door.handle_time(&bound, Some(&nonce), ahead).unwrap();
    assert_eq!(change, Some(ClockChange { before: ahead, after: NOW }));
    assert_eq!(door.observe_time(ahead.saturating_add_secs(30)), NOW.saturating_add_secs(30));
    // A replay of the same statement later changes nothing (the nonce is spent with its exchange).
    assert!(door.handle_time(&bound, Some(&[0x44; 16]), ahead.saturating_add_secs(40)).is_err());
}

/// The correction is part of the saved state: a door that restarts keeps running on the
/// corrected time.
#[test]
fn the_correction_survives_a_restart() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let rtc = NOW.saturating_sub_secs(LAG);
    let change = door.handle_time(&signed_time(&p, NOW), None, rtc).unwrap().unwrap();
    assert_eq!(change.delta_secs(), LAG as i64);
    assert!(change.delta_secs().unsigned_abs() >= CLOCK_RECORD_SECS);
    let saved = door.state().to_bytes();
    let mut again = DoorEngine::from_state(DoorState::from_bytes(&saved).unwrap(), DoorLimits::STANDARD).unwrap();
    assert_eq!(again.state().clock_correction, LAG as i64);
    assert_eq!(again.observe_time(rtc.saturating_add_secs(10)), NOW.saturating_add_secs(10));
}

/// A `SetClock` door update also corrects the RTC instead of freezing the clock until the RTC
/// catches up.
#[test]
fn a_set_clock_update_corrects_the_rtc_too() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let rtc = NOW.saturating_sub_secs(LAG);
    let report = door.apply_batch(&p.batch(DOOR_A, 1, vec![vec![DoorOp::SetClock { now: NOW }]]), rtc);
    assert_eq!(report.seq_after, 1);
    assert_eq!(door.clock(), NOW);
    assert_eq!(door.observe_time(rtc.saturating_add_secs(20)), NOW.saturating_add_secs(20));
}

/// Both forms are small and decode within their bound.
#[test]
fn statements_are_small_and_bounded() {
    let p = Property::new();
    let unbound = signed_time(&p, NOW);
    let bound = TimeStatement::sign(TimeStatementBody::bound(NOW, p.issuer(), DOOR_A, [1; 16]), &p.authority);
    assert!(unbound.to_bytes().len() <= 80, "{}", unbound.to_bytes().len());
    assert!(bound.to_bytes().len() <= TimeStatementBody::MAX_LEN);
    assert_eq!(TimeStatement::from_bytes(&bound.to_bytes()).unwrap(), bound);
}
