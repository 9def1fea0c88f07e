//! Unlock v2's goals, each asserted: what a listener learns, what each session costs the door,
//! repeat unlocks with tickets, the session deadline, and a log strangers cannot flush.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::{ActivityEvent, DenialReason, KeyChain};
use keyway_protocol::door::REQUEST_DEADLINE_SECS;
use keyway_protocol::door::{CryptoOps, DoorEngine, DoorSession, DoorSessionError, DoorStep};
use keyway_protocol::unlock::frame::{self, MessageKind};
use keyway_protocol::unlock::{PhoneSession, ResumeTicket, UnlockOutcome, UnlockParams};
use keyway_test_kit::fixture::*;

/// Everything one session put on the air, both ways, and what it cost the door.
struct Run {
    outcome: Option<UnlockOutcome>,
    air: Vec<u8>,
    to_door: Vec<Vec<u8>>,
    /// The door's public-key operations from the session's start to its decision.
    before_decision: CryptoOps,
    /// ... and to its end.
    whole: CryptoOps,
}

fn delta(a: CryptoOps, b: CryptoOps) -> CryptoOps {
    CryptoOps {
        key_agreements: b.key_agreements - a.key_agreements,
        verifications: b.verifications - a.verifications,
        signatures: b.signatures - a.signatures,
    }
}

/// Runs a phone against a door at `mtu`, the door's offer prepared beforehand (as an idle door
/// does).
fn run(door: &mut DoorEngine, mut phone: PhoneSession, mtu: usize, random: u8) -> Run {
    door.prepare_offer(NOW, [random; 16]);
    let start = door.crypto_ops();
    let mut session = DoorSession::new(door, NOW, [random; 16]);
    let (mut air, mut to_door) = (Vec::new(), Vec::new());
    let mut to_phone: Vec<Vec<u8>> = Vec::new();
    while let Some(f) = session.poll_transmit(mtu) {
        to_phone.push(f);
    }
    let mut before_decision = None;
    let mut outcome = None;
    'exchange: for _round in 0..4 {
        for f in std::mem::take(&mut to_phone) {
            air.extend_from_slice(&f);
            match phone.handle_frame(&f) {
                Ok(Some(o)) => {
                    outcome = Some(o);
                    break 'exchange;
                }
                Ok(None) => {}
                Err(_) => break 'exchange,
            }
        }
        while let Some(f) = phone.poll_transmit(mtu) {
            air.extend_from_slice(&f);
            to_door.push(f.clone());
            let step = match session.handle_frame(door, &f, NOW) {
                Ok(step) => step,
                Err(_) => break 'exchange,
            };
            match step {
                DoorStep::NeedMore => {}
                DoorStep::Decided(_) => before_decision = before_decision.or(Some(door.crypto_ops())),
                DoorStep::Finished { decided, result } => {
                    if decided.is_some() {
                        before_decision = before_decision.or(Some(door.crypto_ops()));
                    }
                    session.handle_saved(door, result).expect("this session's result");
                }
            }
            while let Some(f) = session.poll_transmit(mtu) {
                to_phone.push(f);
            }
        }
        while let Some(f) = session.poll_transmit(mtu) {
            to_phone.push(f);
        }
    }
    let end = door.crypto_ops();
    Run {
        outcome,
        air,
        to_door,
        before_decision: delta(start, before_decision.unwrap_or(end)),
        whole: delta(start, end),
    }
}

fn params(p: &Property, h: &Holder, nonce: u8) -> UnlockParams {
    p.params(h, DOOR_A, None, 0, nonce)
}

/// True if any 12-byte window of `secret` appears in `air`.
fn leaks(air: &[u8], secret: &[u8]) -> bool {
    secret.len() >= 12 && secret.windows(12).any(|w| air.windows(12).any(|a| a == w))
}

#[test]
fn a_listener_learns_no_identity_key_or_activity_from_any_session() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let ann = p.resident(1_234_567, 7_654_321);
    let gus = Property::guest_of(&ann, 987_654, 61, doors(&[DOOR_A]), current());
    let revoked = p.resident(2_345_678, 8_765_400);
    let batch = p.batch(DOOR_A, 1, vec![vec![revoke_key(2_345_678)], vec![revoke_key(3_456_789)]]);
    let mut air = Vec::new();
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for h in [&ann, &gus, &revoked] {
        secrets.push(h.chain.to_bytes());
        secrets.push(h.device.public().0.to_vec());
    }
    secrets.push(batch.to_bytes());
    // An update-carrying resident session, a guest, a revoked key (after the batch), a
    // stranger with garbage, and a repeat unlock.
    let mut with_batch = params(&p, &ann, 1);
    with_batch.batch = Some(batch.clone());
    let first = run(&mut door, PhoneSession::new(with_batch).unwrap(), 185, 1);
    assert!(first.outcome.as_ref().unwrap().granted);
    air.extend(first.air.clone());
    let guest = run(&mut door, PhoneSession::new(params(&p, &gus, 2)).unwrap(), 185, 2);
    assert!(guest.outcome.as_ref().unwrap().granted);
    air.extend(guest.air.clone());
    let refused = run(&mut door, PhoneSession::new(params(&p, &revoked, 3)).unwrap(), 185, 3);
    assert_eq!(refused.outcome.as_ref().unwrap().denial, Some(DenialReason::RevokedKey));
    air.extend(refused.air);
    let mut again = params(&p, &ann, 4);
    again.resume = first.outcome.as_ref().unwrap().ticket.clone();
    let repeat = run(&mut door, PhoneSession::new(again).unwrap(), 185, 4);
    let repeat_outcome = repeat.outcome.as_ref().unwrap();
    assert!(repeat_outcome.granted && repeat_outcome.resumed);
    air.extend(repeat.air.clone());
    for o in [&first, &guest, &repeat] {
        let receipt = o.outcome.as_ref().unwrap().receipt.as_ref().unwrap();
        secrets.push(receipt.to_bytes());
        for record in receipt.body.activity.iter() {
            secrets.push(keyway_protocol::codec::encode(record));
        }
    }
    // The door's activity now names Ann, Gus and the refusal: none of it is on the air.
    for record in door.activity().records() {
        secrets.push(keyway_protocol::codec::encode(record));
    }
    for (i, secret) in secrets.iter().enumerate() {
        assert!(!leaks(&air, secret), "secret {i} ({} bytes) appears on the air", secret.len());
    }
    // The check itself can fail: the chain appears inside the phone's plaintext.
    assert!(leaks(&ann.chain.to_bytes(), &ann.chain.to_bytes()));
}

#[test]
fn a_stranger_costs_the_door_one_key_agreement_and_no_signature() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    // An unknown issuer, a key revoked at the door, a key for another door, an expired key:
    // each refused on the chain's own words, before any signature verification.
    let stranger = Property { authority: key(200), anchors: p.anchors.clone() }.resident(5, 5);
    let revoked = p.resident(6, 6);
    let batch = p.batch(DOOR_A, 1, vec![vec![revoke_key(6)]]);
    door.apply_batch(&batch, NOW);
    let elsewhere = p.resident_with(7, 7, doors(&[DOOR_B]), current(), false);
    let expired =
        p.resident_with(8, 8, doors(&[DOOR_A]), window(UnixTime(NOW.0 - 10 * DAY), UnixTime(NOW.0 - DAY)), false);
    for (i, h) in [&stranger, &revoked, &elsewhere, &expired].into_iter().enumerate() {
        let r = run(&mut door, PhoneSession::new(params(&p, h, 10 + i as u8)).unwrap(), 247, 10 + i as u8);
        let o = r.outcome.expect("a refused presenter still gets the door's sealed answer");
        assert!(!o.granted);
        assert!(o.receipt.is_none(), "a refused presenter gets no receipt");
        assert_eq!(r.whole, CryptoOps { key_agreements: 1, verifications: 0, signatures: 0 }, "presenter {i}");
    }
    // Garbage after a valid key agreement: the same single operation.
    let ann = p.resident(1, 1);
    let mut phone = PhoneSession::new(params(&p, &ann, 20)).unwrap();
    door.prepare_offer(NOW, [20; 16]);
    let start = door.crypto_ops();
    let mut session = DoorSession::new(&mut door, NOW, [20; 16]);
    let challenge = session.poll_transmit(517).unwrap();
    phone.handle_frame(&challenge).unwrap();
    let mut request = phone.poll_transmit(517).unwrap();
    let last = request.len() - 20;
    request[last] ^= 0x55;
    let step = session.handle_frame(&mut door, &request, NOW).unwrap();
    let DoorStep::Finished { decided: Some(entry), .. } = step else { panic!("decided on the request") };
    assert_eq!(entry.access.denial(), Some(DenialReason::StaleChallenge));
    assert_eq!(
        entry.record.event,
        ActivityEvent::AppDenied { key: None, person: None, reason: DenialReason::StaleChallenge }
    );
    assert_eq!(delta(start, door.crypto_ops()).total(), 1);
}

#[test]
fn a_first_unlock_costs_one_verification_and_the_key_agreement_before_the_lock_opens() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let ann = p.resident(1, 1);
    let r = run(&mut door, PhoneSession::new(params(&p, &ann, 1)).unwrap(), 247, 1);
    assert!(r.outcome.unwrap().granted);
    assert_eq!(r.before_decision, CryptoOps { key_agreements: 2, verifications: 1, signatures: 0 });
    // After the lock opened: the receipt's signature.
    assert_eq!(r.whole.signatures, 1);
    // The offer it used is spent; the idle door signs the next one before the next phone.
    assert!(door.prepare_offer(NOW, [2; 16]));
    assert!(!door.prepare_offer(NOW, [3; 16]));
}

#[test]
fn a_repeat_unlock_costs_no_public_key_operation_and_fits_one_packet() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let ann = p.resident(1_234_567, 7_654_321);
    let first = run(&mut door, PhoneSession::new(params(&p, &ann, 1)).unwrap(), 185, 1);
    let ticket = first.outcome.unwrap().ticket.expect("an admitted holder gets a ticket");
    let mut again = params(&p, &ann, 2);
    again.resume = Some(ticket.clone());
    let repeat = run(&mut door, PhoneSession::new(again).unwrap(), 185, 2);
    let o = repeat.outcome.unwrap();
    assert!(o.granted && o.resumed);
    assert!(o.receipt.is_some());
    assert_eq!(repeat.before_decision.total(), 0, "no public-key operation before the lock opens");
    assert_eq!(repeat.to_door.len(), 1, "the repeat request is one ATT write at MTU 185");
    assert_eq!(frame::first_frame_kind(&repeat.to_door[0]), Some(MessageKind::Resume));
    // The ticket is one-time: presented again, the door refuses it and the phone falls back to
    // a full request in the same session.
    let mut replay = params(&p, &ann, 3);
    replay.resume = Some(ticket);
    let fallback = run(&mut door, PhoneSession::new(replay).unwrap(), 185, 3);
    let f = fallback.outcome.unwrap();
    assert!(f.granted && !f.resumed);
    assert_eq!(fallback.before_decision.verifications, 1);
    // A restarted door holds no tickets: one full unlock, in the same session.
    let mut restarted = DoorEngine::from_state(door.state().clone(), *door.limits()).unwrap();
    let mut after = params(&p, &ann, 4);
    after.resume = f.ticket;
    let r = run(&mut restarted, PhoneSession::new(after).unwrap(), 185, 4);
    assert!(r.outcome.unwrap().granted);
}

#[test]
fn a_revocation_ends_the_keys_tickets() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let ann = p.resident(1, 1);
    let first = run(&mut door, PhoneSession::new(params(&p, &ann, 1)).unwrap(), 247, 1);
    let ticket: ResumeTicket = first.outcome.unwrap().ticket.unwrap();
    assert_eq!(door.resume_tickets().len(), 1);
    door.apply_batch(&p.batch(DOOR_A, 1, vec![vec![revoke_key(1)]]), NOW);
    assert_eq!(door.resume_tickets().len(), 0, "the revocation evicted the ticket");
    let mut again = params(&p, &ann, 2);
    again.resume = Some(ticket);
    let r = run(&mut door, PhoneSession::new(again).unwrap(), 247, 2);
    assert_eq!(r.outcome.unwrap().denial, Some(DenialReason::RevokedKey));
}

#[test]
fn a_session_that_stops_sending_is_dropped_at_its_deadline() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let mut session = DoorSession::new(&mut door, NOW, [1; 16]);
    let request_secs = REQUEST_DEADLINE_SECS;
    assert!(!session.handle_timeout(UnixTime(NOW.0 + request_secs - 1)));
    assert!(session.handle_timeout(UnixTime(NOW.0 + request_secs)));
    let ann = p.resident(1, 1);
    let mut phone = PhoneSession::new(params(&p, &ann, 1)).unwrap();
    phone.handle_frame(&session.poll_transmit(247).unwrap()).unwrap();
    let request = phone.poll_transmit(247).unwrap();
    assert!(matches!(
        session.handle_frame(&mut door, &request, UnixTime(NOW.0 + request_secs)),
        Err(DoorSessionError::UnexpectedFrame | DoorSessionError::DeadlinePassed)
    ));
    // A batch announced and never sent: dropped at the batch deadline, nothing applied.
    let mut with_batch = params(&p, &ann, 2);
    with_batch.batch = Some(p.batch(DOOR_A, 1, vec![vec![revoke_key(9)]]));
    let mut phone = PhoneSession::new(with_batch).unwrap();
    let mut session = DoorSession::new(&mut door, NOW, [2; 16]);
    phone.handle_frame(&session.poll_transmit(517).unwrap()).unwrap();
    let request = phone.poll_transmit(517).unwrap();
    assert!(matches!(session.handle_frame(&mut door, &request, NOW).unwrap(), DoorStep::Decided(_)));
    assert!(!session.handle_timeout(NOW));
    assert!(session.handle_timeout(session.deadline()));
    assert_eq!(door.update_seq(), 0);
}

#[test]
fn a_granted_record_survives_ten_thousand_strangers_before_upload() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let ann = p.resident(1, 1);
    let granted = run(&mut door, PhoneSession::new(params(&p, &ann, 1)).unwrap(), 247, 1);
    assert!(granted.outcome.unwrap().granted);
    let grant_seq = door.activity().head();
    let stranger = Property { authority: key(201), anchors: p.anchors.clone() }.resident(5, 5);
    // 10,000 attempts: strangers at the phone link and wrong codes at the keypad, alternating
    // (so nothing folds into its neighbour), then a long run of one kind (which folds).
    for i in 0..2_500u32 {
        let mut s = DoorSession::new(&mut door, NOW, (i as u128).to_be_bytes());
        let mut phone = PhoneSession::new(p.params(&stranger, DOOR_A, None, 0, 9)).unwrap();
        phone.handle_frame(&s.poll_transmit(517).unwrap()).unwrap();
        let request = phone.poll_transmit(517).unwrap();
        let _ = s.handle_frame(&mut door, &request, NOW);
        let _ = door.enter_doorcode("0000000000", UnixTime(NOW.0 + u64::from(i)));
    }
    let before_run = door.activity().head();
    for i in 0..5_000u32 {
        let _ = door.enter_doorcode("1111111111", UnixTime(NOW.0 + 3_000 + u64::from(i)));
    }
    let run_records = door.activity().head() - before_run;
    assert!(run_records < 100, "5,000 wrong codes took {run_records} records");
    let held: Vec<_> = door.activity().records().collect();
    assert!(held.iter().any(|r| r.seq == grant_seq), "the granted unlock is still in the log");
    let denials = held.iter().filter(|r| r.event.is_denial()).count();
    assert!(denials <= door.limits().activity / 4, "{denials} refusal records");
    assert!(
        held.iter().any(|r| matches!(r.event, ActivityEvent::DeniedRepeatedly { count, .. } if count >= 100)),
        "the run of one refusal folded into one record"
    );
    // The next admitted holder's receipt carries the door's signed count of what it dropped.
    let next = run(&mut door, PhoneSession::new(params(&p, &ann, 2)).unwrap(), 247, 2);
    let receipt = next.outcome.unwrap().receipt.unwrap();
    let dropped: u64 = door
        .activity()
        .records()
        .filter_map(|r| match r.event {
            ActivityEvent::RecordsDropped { count } => Some(count),
            _ => None,
        })
        .sum();
    assert!(dropped > 0, "alternating refusals beyond their share were dropped and counted");
    assert!(receipt.body.activity_head >= grant_seq);
    let _: &KeyChain = &ann.chain;
}

/// Version 1 is refused both ways: a door takes no version-1 request, a phone no version-1
/// challenge (the version byte is checked before anything else is read).
#[test]
fn version_one_messages_are_refused() {
    use keyway_protocol::codec::DecodeError;
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let ann = p.resident(1, 1);
    let mut session = DoorSession::new(&mut door, NOW, [1; 16]);
    let challenge = session.poll_transmit(517).unwrap();
    let mut old = challenge.clone();
    old[frame::HEADER_LEN] = 1;
    let mut phone = PhoneSession::new(params(&p, &ann, 1)).unwrap();
    let err = phone.handle_frame(&old).unwrap_err();
    assert!(
        matches!(err, keyway_protocol::unlock::ProtocolError::Decode(DecodeError::UnsupportedVersion { found: 1, .. })),
        "{err:?}"
    );
    let mut phone = PhoneSession::new(params(&p, &ann, 1)).unwrap();
    phone.handle_frame(&challenge).unwrap();
    let mut request = phone.poll_transmit(517).unwrap();
    request[frame::HEADER_LEN] = 1;
    let err = session.handle_frame(&mut door, &request, NOW).unwrap_err();
    assert!(matches!(err, DoorSessionError::Decode(DecodeError::UnsupportedVersion { found: 1, .. })), "{err:?}");
    assert_eq!(door.activity().head(), 0, "nothing decided, nothing logged");
}
