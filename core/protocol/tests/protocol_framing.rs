//! Framing: every MTU and every split point give the same unlock; malformed frame streams are
//! detected and named; oversize messages are refused before anything is buffered.

use keyway_protocol::door::DoorEngine;
use keyway_protocol::door::{DoorSession, DoorSessionError};
use keyway_protocol::unlock::frame::{self, FrameError, MessageKind, Reassembler, split, split_at};
use keyway_protocol::unlock::{Access, UnlockOutcome};
use keyway_test_kit::door::*;
use keyway_test_kit::fixture::*;
use keyway_test_kit::sim::{SimConfig, SimPair};

fn fresh(door: &DoorEngine) -> DoorEngine {
    DoorEngine::from_state(door.state().clone(), keyway_protocol::door::DoorLimits::STANDARD).unwrap()
}

fn guest_with_batch(p: &Property) -> (Holder, keyway_protocol::credential::UpdateBatch) {
    let alice = p.resident(1, 1);
    let guest = Property::guest_of(&alice, 2, 52, doors(&[DOOR_A]), current());
    let batch = p.batch(DOOR_A, 1, (0..20).map(|i| vec![revoke_key(100 + i)]).collect());
    (guest, batch)
}

#[test]
fn every_mtu_gives_the_same_outcome() {
    let p = Property::new();
    let door = p.door(DOOR_A);
    let (guest, batch) = guest_with_batch(&p);
    let mut reference: Option<(UnlockOutcome, keyway_protocol::door::DoorState)> = None;
    for mtu in frame::MIN_MTU..=frame::MAX_MTU {
        let mut engine = fresh(&door);
        let phone = p.phone(&guest, DOOR_A, Some(batch.clone()));
        let run = SimPair::new(SimConfig::with_mtu(mtu)).run(phone, &mut engine, NOW, [0xD0; 16]);
        assert!(run.frames.iter().all(|(_, f)| f.len() <= mtu - 3), "mtu {mtu}");
        let o = run.outcome.unwrap_or_else(|e| panic!("mtu {mtu}: {e:?}"));
        assert!(o.granted);
        assert_eq!(o.updates.seq_after, 20);
        match &reference {
            None => reference = Some((o, engine.state().clone())),
            Some((r, state)) => {
                assert_eq!(&o, r, "mtu {mtu}");
                assert_eq!(engine.state(), state, "mtu {mtu}");
            }
        }
    }
}

/// The request message the phone sends.
fn request_message(
    p: &Property,
    door: &mut DoorEngine,
    holder: &Holder,
    batch: Option<keyway_protocol::credential::UpdateBatch>,
) -> Vec<u8> {
    let challenge = door.challenge(NOW, [0xD0; 16]);
    p.phone(holder, DOOR_A, batch).handle_challenge(&challenge.to_bytes()).unwrap()
}

#[test]
fn every_split_point_gives_the_same_result_at_the_door() {
    let p = Property::new();
    let door = p.door(DOOR_A);
    let (guest, batch) = guest_with_batch(&p);
    let run = |frames: Vec<Vec<u8>>| {
        let mut engine = fresh(&door);
        let mut s = DoorSession::new(&mut engine, NOW, [0xD0; 16]);
        let mut decision = None;
        let mut result = None;
        for f in &frames {
            assert!(result.is_none());
            let fed = feed(&mut s, &mut engine, f, NOW).unwrap();
            decision = fed.decided.map(|e| e.access).or(decision);
            result = fed.result;
        }
        assert_eq!(decision, Some(Access::Granted));
        let result = result.expect("the last frame completes the exchange");
        (result.to_bytes(), engine.state().clone())
    };
    // A cut at every byte boundary k (plus every 500 bytes from it, to keep frames in size).
    let cuts_at = |len: usize, k: usize| -> Vec<usize> { (1..len).filter(|c| c % 500 == k % 500).collect() };
    for batch in [None, Some(batch)] {
        let mut phone = p.phone(&guest, DOOR_A, batch.clone());
        let request = phone.handle_challenge(&fresh(&door).challenge(NOW, [0xD0; 16]).to_bytes()).unwrap();
        let batch_msg = phone.carried_batch().map(<[u8]>::to_vec);
        assert_eq!(batch_msg.is_some(), batch.is_some());
        let frames = |req_cuts: &[usize], batch_cuts: &[usize]| {
            let mut frames = split_at(MessageKind::Request, 0, &request, req_cuts).unwrap();
            if let Some(b) = &batch_msg {
                frames.extend(split_at(MessageKind::Batch, 1, b, batch_cuts).unwrap());
            }
            frames
        };
        let full = |len: usize| (1..len.div_ceil(500)).map(|i| i * 500).collect::<Vec<_>>();
        let batch_len = batch_msg.as_ref().map_or(0, Vec::len);
        let reference = run(frames(&[], &full(batch_len)));
        for k in 1..request.len() {
            assert_eq!(run(frames(&[k], &full(batch_len))), reference, "request split at {k}");
        }
        for k in 1..batch_len {
            assert_eq!(run(frames(&[], &cuts_at(batch_len, k))), reference, "batch split at {k}");
        }
        // Three pieces of the request: the second cut at every later boundary.
        for k in (1..request.len()).step_by(37) {
            for j in k + 1..request.len() {
                assert_eq!(run(frames(&[k, j], &full(batch_len))), reference, "split at {k},{j}");
            }
        }
    }
}

#[test]
fn every_split_point_of_the_challenge_and_result_gives_the_same_outcome_at_the_phone() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let mut s = MessageSession::new(&mut door, NOW, [0xD0; 16]);
    let challenge = s.challenge().to_bytes();
    let request = p.phone(&alice, DOOR_A, None).handle_challenge(&challenge).unwrap();
    s.request(&mut door, &request, NOW).unwrap();
    // The result message as it goes on the air (sealed), after the challenge's frame.
    let mut down = Vec::new();
    while let Some(f) = s.session.poll_transmit(517) {
        down.push(f);
    }
    assert_eq!(down.len(), 2, "challenge and result, one frame each at MTU 517");
    assert_eq!(down[0][5..], challenge[..]);
    let result = down[1][5..].to_vec();
    let mut reference = None;
    for c in 1..challenge.len() {
        for r in (1..result.len()).step_by(if c == 1 { 1 } else { 29 }) {
            let mut phone = p.phone(&alice, DOOR_A, None);
            for f in split_at(MessageKind::Challenge, 0, &challenge, &[c]).unwrap() {
                assert_eq!(phone.handle_frame(&f).unwrap(), None);
            }
            assert_eq!(
                phone.poll_transmit(517).map(|f| f[5..].to_vec()),
                Some(request.clone()),
                "the request is deterministic"
            );
            let mut outcome = None;
            for f in split_at(MessageKind::Result, 0, &result, &[r]).unwrap() {
                outcome = phone.handle_frame(&f).unwrap().or(outcome);
            }
            let outcome = outcome.unwrap();
            assert!(outcome.granted);
            match &reference {
                None => reference = Some(outcome),
                Some(r) => assert_eq!(&outcome, r),
            }
        }
    }
}

fn reassembler() -> Reassembler {
    Reassembler::new(MessageKind::Request, 4096, 514)
}

#[test]
fn duplicate_missing_reordered_and_foreign_frames_are_detected() {
    let message: Vec<u8> = (0..200u8).collect();
    let frames = split(MessageKind::Request, 3, &message, 23).unwrap();
    assert!(frames.len() > 5);

    let mut r = reassembler();
    r.push(&frames[0]).unwrap();
    r.push(&frames[1]).unwrap();
    assert!(matches!(r.push(&frames[1]), Err(FrameError::Duplicate { .. })));

    let mut r = reassembler();
    r.push(&frames[0]).unwrap();
    assert!(matches!(r.push(&frames[2]), Err(FrameError::Missing { .. })));

    let mut r = reassembler();
    r.push(&frames[0]).unwrap();
    assert!(matches!(r.push(&frames[0]), Err(FrameError::Interleaved { in_progress: 3 })));

    let mut r = reassembler();
    assert_eq!(r.push(&frames[1]), Err(FrameError::NoMessageInProgress));

    let other = split(MessageKind::Request, 4, &message, 23).unwrap();
    let mut r = reassembler();
    r.push(&frames[0]).unwrap();
    assert_eq!(r.push(&other[1]), Err(FrameError::WrongMessageId { expected: 3, got: 4 }));

    let result_kind = split(MessageKind::Result, 3, &message, 23).unwrap();
    assert!(matches!(reassembler().push(&result_kind[0]), Err(FrameError::UnexpectedKind { .. })));

    let mut bad_kind = frames[0].clone();
    bad_kind[0] = 0x80 | 0x7f;
    assert_eq!(reassembler().push(&bad_kind), Err(FrameError::UnknownKind(0x7f)));

    // A frame whose data runs past the declared end.
    let mut r = reassembler();
    r.push(&frames[0]).unwrap();
    for f in &frames[1..frames.len() - 1] {
        r.push(f).unwrap();
    }
    let mut long_last = frames[frames.len() - 1].clone();
    long_last.push(0);
    assert!(matches!(r.push(&long_last), Err(FrameError::PastEnd { .. })));
    // After an error the reassembler starts clean.
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(r.push(f).unwrap().is_some(), i + 1 == frames.len());
    }
}

#[test]
fn truncated_and_oversize_frames_are_refused() {
    let mut r = reassembler();
    for len in 0..=frame::HEADER_LEN {
        let f = vec![0x82u8; len];
        assert!(matches!(r.push(&f), Err(FrameError::Truncated { .. })), "len {len}");
    }
    let big = vec![0x82u8; 515];
    assert!(matches!(r.push(&big), Err(FrameError::FrameTooLarge { len: 515, max: 514 })));
    // A first frame claiming more than the bound: refused before buffering.
    let claim = [0x82, 0, 0x02, 0x80, 0x01, 9];
    let mut r = Reassembler::new(MessageKind::Request, frame::MAX_MESSAGE_LEN, 514);
    assert!(
        matches!(r.push(&claim), Err(FrameError::MessageTooLarge { len, max }) if len == 160 * 1024 + 1 && max == 160 * 1024)
    );
    assert_eq!(r.buffered(), 0);
    assert!(split(MessageKind::Request, 0, &[1, 2], 22).is_err());
    assert!(split(MessageKind::Request, 0, &[1, 2], 518).is_err());
    assert!(split(MessageKind::Request, 0, &[], 23).is_err());
}

#[test]
fn a_door_session_refuses_an_oversize_or_truncated_request() {
    let p = Property::new();
    let mut door = p.door(DOOR_A);
    let alice = p.resident(1, 1);
    let mut s = DoorSession::new(&mut door, NOW, [1; 16]);
    // Claims 160 KiB + 1.
    let claim = [0x82, 0, 0x02, 0x80, 0x01, 1];
    assert!(matches!(
        s.handle_frame(&mut door, &claim, NOW),
        Err(DoorSessionError::Frame(FrameError::MessageTooLarge { .. }))
    ));
    assert_eq!(s.buffered(), 0);

    // A complete message that is cut short (declared length matches, content truncated).
    let message = request_message(&p, &mut door, &alice, None);
    let short = &message[..message.len() - 10];
    let mut s = DoorSession::new(&mut door, NOW, [0xD0; 16]);
    let frames = split(MessageKind::Request, 0, short, 247).unwrap();
    let mut last = Ok(Fed::default());
    for f in &frames {
        last = feed(&mut s, &mut door, f, NOW);
    }
    assert!(matches!(last, Err(DoorSessionError::Decode(_))), "{last:?}");
    // The door does not accept further frames on a failed session.
    assert!(s.handle_frame(&mut door, &frames[0], NOW).is_err());
    let head = door.activity().head();
    assert_eq!(head, 0, "undecodable requests are not logged (a flood cannot wipe the log)");
}
