//! The door engine on its own: doorcodes, keycards, the keypad rate limit, revocation pruning,
//! persistence, and bounded memory under a flood of bad sessions.

use keyway_protocol::codec::BoundedVec;
use keyway_protocol::credential::doorcode::DIGITS;
use keyway_protocol::credential::{
    ActivityEvent, CardKind, DenialReason, DoorOp, DoorcodeSecret, KeyId, PersonId, PropertyCardKey, RevocationCheck,
};
use keyway_protocol::door::{
    CARD_ANSWER_SECS, CardStep, ClockChange, DoorEngine, DoorLimits, DoorState, FREE_ATTEMPTS, MAX_CHECKED_PER_DAY,
    MAX_LOCKOUT_SECS,
};
const ACTIVITY_CAPACITY: usize = DoorLimits::STANDARD.activity;
use keyway_protocol::door::DoorSession;
use keyway_protocol::unlock::frame::{MessageKind, split};
use keyway_protocol::unlock::{Access, UpdateRejection};
use keyway_test_kit::door::*;
use keyway_test_kit::fixture::*;

fn code(slot: u32, t: keyway_protocol::UnixTime) -> String {
    DoorcodeSecret::new(DOORCODE_SECRET).code_at(slot, t, 60).to_string()
}

fn with_slot(p: &Property, slot: u32, person: u64, validity: keyway_protocol::credential::Validity) -> DoorEngine {
    let mut door = p.door(DOOR_A);
    let r = door.apply_batch(
        &p.batch(DOOR_A, 1, vec![vec![DoorOp::AddDoorcode { slot, person: PersonId(person), validity }]]),
        NOW,
    );
    assert_eq!(r.seq_after, 1);
    door
}

#[test]
fn todays_doorcode_opens_and_is_logged() {
    let p = Property::new();
    let mut door = with_slot(&p, 3, 30, current());
    let entry = door.enter_doorcode(&code(3, NOW), NOW);
    assert_eq!(entry.access, Access::Granted);
    assert_eq!(entry.record.event, ActivityEvent::DoorcodeEntry { slot: 3, person: PersonId(30) });
    assert_eq!(door.activity().head(), entry.record.seq);
    // Yesterday's and another slot's code do not.
    let yesterday = code(3, NOW.saturating_sub_secs(DAY));
    assert_eq!(door.enter_doorcode(&yesterday, NOW).access, Access::Denied(DenialReason::UnknownCredential));
    assert_eq!(door.enter_doorcode(&code(4, NOW), NOW).access, Access::Denied(DenialReason::UnknownCredential));
    assert_eq!(door.enter_doorcode("12ab", NOW).access, Access::Denied(DenialReason::Malformed));
}

#[test]
fn doorcode_slot_validity_and_person_revocation_apply() {
    let p = Property::new();
    let later = window(NOW.saturating_add_secs(DAY), NOW.saturating_add_secs(9 * DAY));
    let mut door = with_slot(&p, 1, 10, later);
    assert_eq!(door.enter_doorcode(&code(1, NOW), NOW).access, Access::Denied(DenialReason::NotYetValid));
    let over = window(NOW.saturating_sub_secs(9 * DAY), NOW.saturating_sub_secs(DAY));
    let mut door = with_slot(&p, 1, 10, over);
    assert_eq!(door.enter_doorcode(&code(1, NOW), NOW).access, Access::Denied(DenialReason::Expired));
    let mut door = with_slot(&p, 1, 10, current());
    door.apply_batch(
        &p.batch(
            DOOR_A,
            2,
            vec![vec![DoorOp::RevokePerson { person: PersonId(10), until: NOW.saturating_add_secs(DAY) }]],
        ),
        NOW,
    );
    assert_eq!(door.enter_doorcode(&code(1, NOW), NOW).access, Access::Denied(DenialReason::RevokedPerson));
    door.apply_batch(&p.batch(DOOR_A, 3, vec![vec![DoorOp::RemoveDoorcode { slot: 1 }]]), NOW);
    assert_eq!(door.enter_doorcode(&code(1, NOW), NOW).access, Access::Denied(DenialReason::UnknownCredential));
}

/// A well-formed code that is not `good`.
fn wrong_code(good: &str) -> &'static str {
    if good == "0000000000" { "0000000001" } else { "0000000000" }
}

#[test]
fn the_keypad_locks_after_five_wrong_codes() {
    let p = Property::new();
    let mut door = with_slot(&p, 1, 10, current());
    let good = code(1, NOW);
    let wrong = wrong_code(&good);
    for i in 0..FREE_ATTEMPTS as u64 {
        assert_eq!(
            door.enter_doorcode(wrong, NOW.saturating_add_secs(i)).access,
            Access::Denied(DenialReason::UnknownCredential)
        );
    }
    // Even the right code is refused, unchecked, while locked.
    let limited = door.enter_doorcode(&good, NOW.saturating_add_secs(10));
    assert_eq!(limited.access, Access::Denied(DenialReason::RateLimited));
    assert_eq!(limited.record.event, ActivityEvent::DoorcodeDenied { reason: DenialReason::RateLimited });
    // A minute after the fifth wrong code the keypad takes codes again.
    assert_eq!(door.enter_doorcode(&good, NOW.saturating_add_secs(64)).access, Access::Granted);
    // The limiter survives a restart.
    for _ in 0..FREE_ATTEMPTS {
        door.enter_doorcode(wrong, NOW.saturating_add_secs(100));
    }
    let mut restored =
        DoorEngine::from_state(DoorState::from_bytes(&door.state().to_bytes()).unwrap(), DoorLimits::STANDARD).unwrap();
    assert_eq!(
        restored.enter_doorcode(&good, NOW.saturating_add_secs(101)).access,
        Access::Denied(DenialReason::RateLimited)
    );
}

/// An attacker at the keypad who types a wrong code whenever the keypad takes one, for a year,
/// either without pause or pausing a quiet day whenever the lockouts have grown: the attempts
/// the door checks stay within the documented bound, and with 1,024 slots a year of guessing
/// succeeds with probability below 1 %. (With the former 5-a-minute window the first day alone
/// checked 7,200.)
#[test]
fn a_year_of_guessing_at_the_keypad_stays_within_the_documented_bound() {
    let p = Property::new();
    for pause_when_slow in [false, true] {
        let mut door = with_slot(&p, 1, 10, window(NOW, NOW.saturating_add_secs(400 * DAY)));
        let wrong = wrong_code(&code(1, NOW));
        let end = NOW.saturating_add_secs(365 * DAY);
        let (mut t, mut checked, mut longest_lockout) = (NOW, 0u64, 0u64);
        while t < end {
            let entry = door.enter_doorcode(wrong, t);
            assert_ne!(entry.access, Access::Granted);
            if entry.access == Access::Denied(DenialReason::RateLimited) {
                let until = door.state().keypad.locked_until();
                longest_lockout = longest_lockout.max(until.0 - t.0);
                t = until;
                continue;
            }
            checked += 1;
            let days = (t.0 - NOW.0) / DAY + 1;
            assert!(checked <= MAX_CHECKED_PER_DAY * days, "{checked} attempts checked in {days} days");
            let until = door.state().keypad.locked_until();
            t = if pause_when_slow && until.0.saturating_sub(t.0) >= MAX_LOCKOUT_SECS {
                t.saturating_add_secs(DAY)
            } else {
                t.saturating_add_secs(1).max(until)
            };
        }
        let odds = checked as f64 * 1_024.0 / 10f64.powi(DIGITS as i32);
        eprintln!(
            "pause {pause_when_slow}: {checked} attempts checked in a year, {:.3} % at 1,024 slots",
            odds * 100.0
        );
        assert!(checked <= MAX_CHECKED_PER_DAY * 365);
        assert!(odds < 0.01, "{odds}");
        assert!(longest_lockout <= MAX_LOCKOUT_SECS, "a lockout of {longest_lockout} s");
    }
}

#[test]
fn wrong_cards_do_not_lock_the_keypad_nor_wrong_codes_the_card_reader() {
    let p = Property::new();
    let mut door = with_slot(&p, 1, 10, current());
    let card = [9u8, 9, 9, 9];
    door.apply_batch(
        &p.batch(
            DOOR_A,
            2,
            vec![vec![DoorOp::AddKeycard {
                card: card_tag(&card),
                person: PersonId(10),
                validity: current(),
                kind: CardKind::UidOnly,
            }]],
        ),
        NOW,
    );
    for _ in 0..3 * FREE_ATTEMPTS {
        hold_card(&mut door, &[1, 2, 3, 4], None, NOW);
    }
    assert_eq!(hold_card(&mut door, &card, None, NOW).access, Access::Denied(DenialReason::RateLimited));
    assert_eq!(door.enter_doorcode(&code(1, NOW), NOW).access, Access::Granted, "the keypad is not locked by cards");
    for _ in 0..3 * FREE_ATTEMPTS {
        door.enter_doorcode(wrong_code(&code(1, NOW)), NOW.saturating_add_secs(7_200));
    }
    let later = NOW.saturating_add_secs(7_201);
    assert_eq!(door.enter_doorcode(&code(1, later), later).access, Access::Denied(DenialReason::RateLimited));
    assert_eq!(hold_card(&mut door, &card, None, later).access, Access::Granted, "the reader is not locked by codes");
}

#[test]
fn a_code_of_a_slot_not_valid_now_counts_as_a_wrong_guess() {
    let p = Property::new();
    let over = window(NOW.saturating_sub_secs(9 * DAY), NOW.saturating_sub_secs(DAY));
    let mut door = with_slot(&p, 1, 10, over);
    let expired = code(1, NOW);
    for _ in 0..FREE_ATTEMPTS {
        assert_eq!(door.enter_doorcode(&expired, NOW).access, Access::Denied(DenialReason::Expired));
    }
    assert_eq!(door.enter_doorcode(&expired, NOW).access, Access::Denied(DenialReason::RateLimited));
}

#[test]
fn two_slots_sharing_a_days_code_admit_the_one_valid_now() {
    // With this door's secret, slots 72,442 and 82,520 have the same code on NOW's local day.
    let (low, high) = (72_442, 82_520);
    assert_eq!(code(low, NOW), code(high, NOW), "the fixture's collision");
    let p = Property::new();
    let over = window(NOW.saturating_sub_secs(9 * DAY), NOW.saturating_sub_secs(DAY));
    let mut door = p.door(DOOR_A);
    let add = |slot, person, validity| DoorOp::AddDoorcode { slot, person: PersonId(person), validity };
    let r = door.apply_batch(&p.batch(DOOR_A, 1, vec![vec![add(low, 1, over), add(high, 2, current())]]), NOW);
    assert_eq!(r.seq_after, 1);
    let entry = door.enter_doorcode(&code(high, NOW), NOW);
    assert_eq!(entry.access, Access::Granted, "the expired slot must not shadow the valid one");
    assert_eq!(entry.record.event, ActivityEvent::DoorcodeEntry { slot: high, person: PersonId(2) });
}

#[test]
fn keycards_are_added_checked_and_removed_by_updates() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let uid = [0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3];
    let tag = card_tag(&uid);
    door.apply_batch(
        &p.batch(
            DOOR_A,
            1,
            vec![vec![DoorOp::AddKeycard {
                card: tag.clone(),
                person: PersonId(5),
                validity: current(),
                kind: CardKind::UidOnly,
            }]],
        ),
        NOW,
    );
    let entry = hold_card(&mut door, &uid, None, NOW);
    assert_eq!(entry.access, Access::Granted);
    assert_eq!(entry.record.event, ActivityEvent::KeycardEntry { card: tag.clone(), person: PersonId(5) });
    assert_eq!(hold_card(&mut door, &[1, 2, 3, 4], None, NOW).access, Access::Denied(DenialReason::UnknownCredential));
    assert_eq!(hold_card(&mut door, &[1; 17], None, NOW).access, Access::Denied(DenialReason::Malformed));
    // Too-short card tags are refused as an update operation, atomically.
    let bad = BoundedVec::new(vec![1, 2]).unwrap();
    let r = door.apply_batch(
        &p.batch(
            DOOR_A,
            2,
            vec![vec![
                DoorOp::RemoveKeycard { card: tag.clone() },
                DoorOp::AddKeycard { card: bad, person: PersonId(5), validity: current(), kind: CardKind::UidOnly },
            ]],
        ),
        NOW,
    );
    assert_eq!(r.rejected_updates[0].reason, UpdateRejection::InvalidOperation);
    assert_eq!(hold_card(&mut door, &uid, None, NOW).access, Access::Granted, "the rejected update removed nothing");
    door.apply_batch(&p.batch(DOOR_A, 3, vec![vec![DoorOp::RemoveKeycard { card: tag.clone() }]]), NOW);
    assert_eq!(hold_card(&mut door, &uid, None, NOW).access, Access::Denied(DenialReason::UnknownCredential));
}

/// What phones carry (the update) and what receipts carry (the log) is the card's tag: written
/// to a blank card, it opens nothing. (When updates and logs carried the UID itself, a resident
/// who had carried an AddKeycard update, or read a receipt, could clone the card.)
#[test]
fn a_card_tag_read_from_an_update_or_the_log_is_not_a_card() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let uid = [0x04, 0xA1, 0xB2, 0xC3, 0x5D, 0x80];
    let batch = p.batch(
        DOOR_A,
        1,
        vec![vec![DoorOp::AddKeycard {
            card: card_tag(&uid),
            person: PersonId(5),
            validity: current(),
            kind: CardKind::UidOnly,
        }]],
    );
    assert!(!batch.to_bytes().windows(uid.len()).any(|w| w == uid), "the carried update holds no UID");
    door.apply_batch(&batch, NOW);
    let entry = hold_card(&mut door, &uid, None, NOW);
    assert!(entry.access.is_granted());
    let ActivityEvent::KeycardEntry { card: logged, .. } = entry.record.event else { panic!("not a card entry") };
    assert!(!logged.as_slice().windows(uid.len()).any(|w| w == uid), "the log holds no UID");
    let cloned = hold_card(&mut door, logged.as_slice(), None, NOW);
    assert_eq!(cloned.access, Access::Denied(DenialReason::UnknownCredential), "a blank card with the tag is refused");
    let from_update = card_tag(&uid);
    assert_eq!(
        hold_card(&mut door, from_update.as_slice(), None, NOW).access,
        Access::Denied(DenialReason::UnknownCredential)
    );
}

/// A door with the card `uid` enrolled as `kind` for person 5.
fn with_card(p: &Property, uid: &[u8], kind: CardKind) -> DoorEngine {
    let mut door = p.door(DOOR_A);
    let add = DoorOp::AddKeycard { card: card_tag(uid), person: PersonId(5), validity: current(), kind };
    let r = door.apply_batch(&p.batch(DOOR_A, 1, vec![vec![add]]), NOW);
    assert!(r.rejected_updates.is_empty() && r.seq_after == 1, "{r:?}");
    door
}

const DESFIRE_UID: [u8; 7] = [0x04, 0x5A, 0x21, 0x92, 0xC1, 0x6E, 0x80];

/// A secure card answers the door's fresh challenge under its own key (diversified from the
/// property card key and its UID); the door checks the answer and logs a secure entry.
#[test]
fn a_secure_card_that_answers_the_challenge_opens() {
    let p = Property::new();
    let mut door = with_card(&p, &DESFIRE_UID, CardKind::Secure);
    let CardStep::Challenge(challenge) = door.present_keycard(&DESFIRE_UID, [7; 16], NOW) else {
        panic!("a secure card is challenged")
    };
    assert_eq!(challenge.bytes(), &[7; 16], "the challenge is the caller's randomness");
    let answer = card_key(&DESFIRE_UID).answer(challenge.bytes(), &DESFIRE_UID);
    let entry = door.answer_card_challenge(challenge, Some(&answer), NOW);
    assert_eq!(entry.access, Access::Granted);
    assert_eq!(
        entry.record.event,
        ActivityEvent::SecureKeycardEntry { card: card_tag(&DESFIRE_UID), person: PersonId(5) }
    );
    assert_eq!(door.state().card_reader.failures(), 0);
    // Card after card, each with a challenge of its own.
    for i in 0..3u64 {
        assert!(
            hold_card(&mut door, &DESFIRE_UID, Some(&card_key(&DESFIRE_UID)), NOW.saturating_add_secs(i))
                .access
                .is_granted()
        );
    }
}

/// The attack of the issue: a blank card written with a copied UID. Enrolled as secure, the
/// card must answer the challenge, and a copy of the UID cannot: refused, and so is a card
/// whose key belongs to another UID or another property. (Before card kinds every card was
/// admitted by its UID, so this test fails on that code.)
#[test]
fn a_copied_uid_does_not_open_a_secure_card() {
    let p = Property::new();
    let mut door = with_card(&p, &DESFIRE_UID, CardKind::Secure);
    let copy = hold_card(&mut door, &DESFIRE_UID, None, NOW);
    assert_eq!(copy.access, Access::Denied(DenialReason::BadProof));
    assert_eq!(
        copy.record.event,
        ActivityEvent::KeycardDenied { card: card_tag(&DESFIRE_UID), reason: DenialReason::BadProof }
    );
    let other_card = card_key(&[0x04, 0x5A, 0x21, 0x92, 0xC1, 0x6E, 0x81]);
    assert_eq!(
        hold_card(&mut door, &DESFIRE_UID, Some(&other_card), NOW).access,
        Access::Denied(DenialReason::BadProof)
    );
    let other_property = PropertyCardKey::new([0x3f; 16]).card_key(&DESFIRE_UID).unwrap();
    assert_eq!(
        hold_card(&mut door, &DESFIRE_UID, Some(&other_property), NOW).access,
        Access::Denied(DenialReason::BadProof)
    );
    // Answers of the wrong length are wrong answers, not errors.
    for answer in [&[][..], &[0u8; 15], &[0u8; 17]] {
        // (Past any lockout the failures so far brought.)
        let t = door.state().card_reader.locked_until().max(NOW);
        let CardStep::Challenge(c) = door.present_keycard(&DESFIRE_UID, [1; 16], t) else { panic!() };
        assert_eq!(door.answer_card_challenge(c, Some(answer), t).access, Access::Denied(DenialReason::BadProof));
    }
    let t = door.state().card_reader.locked_until();
    assert!(hold_card(&mut door, &DESFIRE_UID, Some(&card_key(&DESFIRE_UID)), t).access.is_granted());
}

/// Wrong and missing answers are guesses: they count towards the card reader's limit (and not
/// the keypad's), so the reader locks after five, even for the genuine card.
#[test]
fn wrong_card_answers_count_towards_the_card_readers_limit() {
    let p = Property::new();
    let mut door = with_card(&p, &DESFIRE_UID, CardKind::Secure);
    for i in 0..FREE_ATTEMPTS {
        let CardStep::Challenge(c) = door.present_keycard(&DESFIRE_UID, [i as u8; 16], NOW) else { panic!() };
        let guess = [0xA5u8 ^ i as u8; 16];
        assert_eq!(door.answer_card_challenge(c, Some(&guess), NOW).access, Access::Denied(DenialReason::BadProof));
    }
    assert_eq!(door.state().card_reader.failures(), FREE_ATTEMPTS);
    let genuine = card_key(&DESFIRE_UID);
    assert_eq!(
        hold_card(&mut door, &DESFIRE_UID, Some(&genuine), NOW).access,
        Access::Denied(DenialReason::RateLimited)
    );
    assert_eq!(door.state().keypad.failures(), 0, "the keypad is not locked by cards");
    let later = door.state().card_reader.locked_until();
    assert!(hold_card(&mut door, &DESFIRE_UID, Some(&genuine), later).access.is_granted());
    // A challenged card that never answers counts too, when the next card is presented.
    let CardStep::Challenge(_unanswered) = door.present_keycard(&DESFIRE_UID, [9; 16], later) else { panic!() };
    let failures = door.state().card_reader.failures();
    let next = door.present_keycard(&DESFIRE_UID, [10; 16], later);
    assert_eq!(door.state().card_reader.failures(), failures + 1);
    assert!(matches!(next, CardStep::Challenge(_)));
}

/// An answer is good for its own challenge, on time, at this door: a recorded answer replayed
/// to a fresh challenge, an answer after [`CARD_ANSWER_SECS`], an answer to an earlier
/// challenge than the pending one, and a challenge of another door are all refused.
#[test]
fn a_card_answer_from_another_challenge_or_time_is_refused() {
    let p = Property::new();
    let mut door = with_card(&p, &DESFIRE_UID, CardKind::Secure);
    let key = card_key(&DESFIRE_UID);
    // Recorded from a genuine exchange (or by a rogue reader)…
    let CardStep::Challenge(first) = door.present_keycard(&DESFIRE_UID, [1; 16], NOW) else { panic!() };
    let recorded = key.answer(first.bytes(), &DESFIRE_UID);
    assert!(door.answer_card_challenge(first, Some(&recorded), NOW).access.is_granted());
    // …and replayed to the next, fresh challenge.
    let CardStep::Challenge(second) = door.present_keycard(&DESFIRE_UID, [2; 16], NOW) else { panic!() };
    assert_eq!(door.answer_card_challenge(second, Some(&recorded), NOW).access, Access::Denied(DenialReason::BadProof));
    // The right answer, too late.
    let CardStep::Challenge(slow) = door.present_keycard(&DESFIRE_UID, [3; 16], NOW) else { panic!() };
    let answer = key.answer(slow.bytes(), &DESFIRE_UID);
    let late = NOW.saturating_add_secs(CARD_ANSWER_SECS);
    assert_eq!(
        door.answer_card_challenge(slow, Some(&answer), late).access,
        Access::Denied(DenialReason::StaleChallenge)
    );
    // An earlier presentation's challenge, answered correctly, while a newer one is pending.
    let CardStep::Challenge(old) = door.present_keycard(&DESFIRE_UID, [4; 16], late) else { panic!() };
    let old_answer = key.answer(old.bytes(), &DESFIRE_UID);
    let CardStep::Challenge(_newer) = door.present_keycard(&DESFIRE_UID, [5; 16], late) else { panic!() };
    assert_eq!(
        door.answer_card_challenge(old, Some(&old_answer), late).access,
        Access::Denied(DenialReason::StaleChallenge)
    );
    // A challenge another door issued: this door has none pending.
    let mut other = with_card(&p, &DESFIRE_UID, CardKind::Secure);
    let CardStep::Challenge(foreign) = other.present_keycard(&DESFIRE_UID, [6; 16], late) else { panic!() };
    let foreign_answer = key.answer(foreign.bytes(), &DESFIRE_UID);
    assert_eq!(
        door.answer_card_challenge(foreign, Some(&foreign_answer), late).access,
        Access::Denied(DenialReason::StaleChallenge)
    );
    // Each refusal was a counted guess.
    assert_eq!(door.state().card_reader.failures(), 5);
}

/// A UID-only card (a legacy card that holds no key) still opens by its UID, at once, and the
/// door records the entry as UID-only; its window and holder are checked as for any card.
#[test]
fn a_uid_only_card_still_opens_and_is_recorded_as_uid_only() {
    let p = Property::new();
    let mut door = with_card(&p, &DESFIRE_UID, CardKind::UidOnly);
    let CardStep::Decided(entry) = door.present_keycard(&DESFIRE_UID, [0; 16], NOW) else {
        panic!("a UID-only card is decided without a challenge")
    };
    assert_eq!(entry.access, Access::Granted);
    assert_eq!(entry.record.event, ActivityEvent::KeycardEntry { card: card_tag(&DESFIRE_UID), person: PersonId(5) });
    assert_eq!(door.state().keycards[0].kind, CardKind::UidOnly);
    let after_expiry = current().expiry;
    assert_eq!(hold_card(&mut door, &DESFIRE_UID, None, after_expiry).access, Access::Denied(DenialReason::Expired));
}

/// A door provisioned without the card key could never check a secure card: enrolling one is
/// refused (and logged) rather than admitting the card by its UID; a UID-only card, and the
/// update form written before card kinds, enrol UID-only.
#[test]
fn a_door_without_the_card_key_refuses_to_enrol_a_secure_card() {
    let p = Property::new();
    let mut door = DoorEngine::new(keyway_protocol::door::DoorProvisioning {
        door_id: DOOR_A,
        door_key: Property::door_key(DOOR_A),
        anchors: p.anchors.clone(),
        doorcode_secret: DoorcodeSecret::new(DOORCODE_SECRET),
        card_key: None,
        utc_offset_minutes: 60,
        clock: NOW,
    });
    assert!(!door.reads_secure_cards() && p.door(DOOR_A).reads_secure_cards());
    let add =
        |uid: &[u8], kind| DoorOp::AddKeycard { card: card_tag(uid), person: PersonId(5), validity: current(), kind };
    let v1 = DoorOp::AddKeycardV1 { card: card_tag(&[9, 9, 9, 9]), person: PersonId(6), validity: current() };
    let r = door.apply_batch(
        &p.batch(
            DOOR_A,
            1,
            vec![vec![add(&DESFIRE_UID, CardKind::Secure)], vec![add(&[8, 8, 8, 8], CardKind::UidOnly)], vec![v1]],
        ),
        NOW,
    );
    assert_eq!(r.seq_after, 3);
    assert_eq!(r.rejected_updates.len(), 1);
    assert_eq!((r.rejected_updates[0].seq, &r.rejected_updates[0].reason), (1, &UpdateRejection::InvalidOperation));
    assert_eq!(hold_card(&mut door, &DESFIRE_UID, None, NOW).access, Access::Denied(DenialReason::UnknownCredential));
    assert!(hold_card(&mut door, &[8, 8, 8, 8], None, NOW).access.is_granted());
    assert!(hold_card(&mut door, &[9, 9, 9, 9], None, NOW).access.is_granted());
    assert!(door.state().keycards.iter().all(|k| k.kind == CardKind::UidOnly));
}

#[test]
fn revocations_are_pruned_once_they_lapse() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let soon = NOW.saturating_add_secs(DAY);
    door.apply_batch(
        &p.batch(
            DOOR_A,
            1,
            vec![vec![
                DoorOp::RevokeKey { key: KeyId(1), until: soon },
                DoorOp::RevokeKey { key: KeyId(2), until: NOW.saturating_add_secs(10 * DAY) },
                DoorOp::RevokePerson { person: PersonId(3), until: soon },
                // Already lapsed: not stored at all.
                DoorOp::RevokeKey { key: KeyId(4), until: NOW.saturating_sub_secs(7200) },
            ]],
        ),
        NOW,
    );
    assert_eq!(door.revocations().len(), 3);
    door.observe_time(soon);
    assert_eq!(door.revocations().len(), 3, "kept while until == clock");
    door.observe_time(soon.saturating_add_secs(1));
    assert_eq!(door.revocations().len(), 1);
    assert!(door.revocations().key_revoked(KeyId(2)));
    door.apply_batch(
        &p.batch(DOOR_A, 2, vec![vec![DoorOp::PruneRevocations { before: NOW.saturating_add_secs(11 * DAY) }]]),
        NOW,
    );
    assert!(door.revocations().is_empty());
}

#[test]
fn a_utc_offset_out_of_range_is_refused() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let r = door.apply_batch(
        &p.batch(
            DOOR_A,
            1,
            vec![vec![DoorOp::SetUtcOffset { minutes: 15 * 60 }], vec![DoorOp::SetUtcOffset { minutes: -300 }]],
        ),
        NOW,
    );
    assert_eq!(r.rejected_updates.len(), 1);
    assert_eq!(door.utc_offset_minutes(), -300);
    assert_eq!(door.update_seq(), 2);
}

#[test]
fn door_state_persists_seq_revocations_activity_and_key() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let bob = p.resident(2, 2);
    let batch =
        p.batch(DOOR_A, 1, vec![vec![revoke_key(2)], vec![DoorOp::SetClock { now: NOW.saturating_add_secs(60) }]]);
    assert!(p.unlock(&mut door, &alice, Some(batch.clone())).outcome.unwrap().granted);
    let bytes = door.state().to_bytes();
    let json = serde_json::to_string(door.state()).unwrap();
    for state in [DoorState::from_bytes(&bytes).unwrap(), serde_json::from_str::<DoorState>(&json).unwrap()] {
        let mut restored = DoorEngine::from_state(state, keyway_protocol::door::DoorLimits::STANDARD).unwrap();
        assert_eq!(restored.state(), door.state());
        assert_eq!(restored.update_seq(), 2);
        assert_eq!(restored.clock(), NOW.saturating_add_secs(60));
        assert!(restored.revocations().key_revoked(KeyId(2)));
        assert_eq!(restored.door_public_key(), Property::door_key(DOOR_A).public());
        assert_eq!(p.unlock(&mut restored, &bob, None).outcome.unwrap().denial, Some(DenialReason::RevokedKey));
        // The same batch again is a no-op after the restart.
        let o = p.unlock(&mut restored, &alice, Some(batch.clone())).outcome.unwrap();
        assert!(!o.batch_carried && o.granted);
        assert_eq!(o.receipt.as_ref().unwrap().body.applied_seq, 2);
        assert_eq!(restored.activity().head(), door.activity().head() + 2);
    }
    // Corrupt or foreign state is refused with an error.
    assert!(DoorState::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    let mut wrong_version = bytes.clone();
    wrong_version[0] = 9;
    assert!(DoorState::from_bytes(&wrong_version).is_err());
    // Secrets never appear in debug output (the doorcode secret is 0x5c = 92 repeated).
    let debug = format!("{:?}", door.state());
    assert!(debug.contains("Secret32(…)") && !debug.contains("92, 92, 92"));
}

#[test]
fn a_flood_of_bad_sessions_leaves_memory_bounded_and_the_door_working() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let mut thief = p.resident(1, 1);
    thief.device = key(77);
    let baseline = door.state().to_bytes().len();
    for i in 0..4500u32 {
        let nonce = [(i % 251) as u8; 16];
        let mut s = DoorSession::new(&mut door, NOW, nonce);
        match i % 3 {
            // A request announcing a batch, then a claimed 100 KiB batch abandoned after a few
            // frames: memory follows the bytes received, not the length claimed.
            0 => {
                let challenge = s.challenge().to_bytes();
                let mut phone = p.phone(&thief, DOOR_A, Some(p.batch(DOOR_A, 1, vec![vec![revoke_key(5)]])));
                let req = phone.handle_challenge(&challenge).unwrap();
                for f in split(MessageKind::Request, 0, &req, 247).unwrap() {
                    let _ = s.handle_frame(&mut door, &f, NOW);
                }
                let junk = vec![0u8; 100 * 1024];
                for f in split(MessageKind::Batch, 1, &junk, 247).unwrap().iter().take(20) {
                    let _ = feed(&mut s, &mut door, f, NOW).unwrap();
                }
                assert!(s.buffered() > 0 && s.buffered() <= 2 * 20 * 247, "{}", s.buffered());
            }
            // Garbage frames.
            1 => {
                let _ = s.handle_frame(&mut door, &[0x82, 0, 0, 0, 3, 1, 2, 3], NOW);
            }
            // Well-formed requests with a wrong device key: denied and logged.
            _ => {
                let challenge = s.challenge().to_bytes();
                let req = p.phone(&thief, DOOR_A, None).handle_challenge(&challenge).unwrap();
                let fed = feed_message(&mut s, &mut door, MessageKind::Request, &req, NOW).unwrap();
                assert_eq!(fed.decided.unwrap().access, Access::Denied(DenialReason::BadProof));
                assert!(fed.result.is_some());
            }
        }
    }
    // The 3000 refusals name no one and are the same: one record stands for all of them, so
    // the flood pushes nothing else out of the log.
    assert_eq!(door.activity().len(), 1);
    assert_eq!(door.activity().head(), 1);
    assert!(matches!(
        door.activity().records().last().unwrap().event,
        ActivityEvent::DeniedRepeatedly { reason: DenialReason::BadProof, count: 3000, .. }
    ));
    let after = door.state().to_bytes().len();
    assert!(after < baseline + ACTIVITY_CAPACITY * 40, "state grew to {after} bytes");
    let o = p.unlock(&mut door, &alice, None).outcome.unwrap();
    assert!(o.granted);
    assert_eq!(o.receipt.as_ref().unwrap().body.activity_head, 2);
}

fn time_statement(
    p: &Property,
    door: keyway_protocol::credential::DoorId,
    nonce: [u8; 16],
    time: keyway_protocol::UnixTime,
) -> keyway_protocol::credential::TimeStatement {
    use keyway_protocol::credential::{TimeStatement, TimeStatementBody};
    let body = TimeStatementBody::bound(time, p.issuer(), door, nonce);
    TimeStatement::sign(body, &p.authority)
}

/// A door whose clock jumped a year ahead refuses every current key; only an authority-signed
/// time bound to the nonce it just chose brings the clock back. A replayed statement (another
/// nonce), one for another door, or one signed by a stranger changes nothing.
#[test]
fn only_a_signed_time_bound_to_the_doors_own_nonce_moves_its_clock_back() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let ahead = NOW.saturating_add_secs(365 * DAY);
    door.observe_time(ahead);
    assert_eq!(door.clock(), ahead);
    let hello = door.feed_hello([1; 32], [7u8; 16], NOW);
    assert_eq!(hello.body.door_time, ahead, "the hello tells the backend the door's clock");
    // The door made the hello's nonce (from the randomness, its counter and its clock).
    let nonce = hello.body.door_nonce;
    assert_ne!(nonce, [7u8; 16]);
    assert_ne!(door.feed_hello([1; 32], [7u8; 16], NOW).body.door_nonce, nonce, "the same randomness, another nonce");

    let replayed = time_statement(&p, DOOR_A, [8; 16], NOW);
    assert!(door.handle_time(&replayed, Some(&nonce), NOW).is_err());
    let other_door = time_statement(&p, DOOR_B, nonce, NOW);
    assert!(door.handle_time(&other_door, Some(&nonce), NOW).is_err());
    let stranger = Property { authority: key(99), anchors: p.anchors.clone() };
    let forged = time_statement(&stranger, DOOR_A, nonce, NOW);
    assert!(door.handle_time(&forged, Some(&nonce), NOW).is_err());
    assert_eq!(door.clock(), ahead, "nothing moved the clock");
    // Ordinary time passing never moves it back either.
    assert_eq!(door.observe_time(NOW), ahead);

    let genuine = time_statement(&p, DOOR_A, nonce, NOW);
    assert_eq!(door.handle_time(&genuine, Some(&nonce), NOW), Ok(Some(ClockChange { before: ahead, after: NOW })));
    assert_eq!(door.clock(), NOW);
}
