//! Property tests: framing round-trips for any message and any cut points, and hostile bytes
//! into either session never panic and never open the door.

use keyway_protocol::door::DoorSession;
use keyway_protocol::unlock::PhoneSession;
use keyway_protocol::unlock::frame::{MessageKind, Reassembler, split_at};
use keyway_test_kit::door::*;
use keyway_test_kit::fixture::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_cuts_reassemble_to_the_message(message in proptest::collection::vec(any::<u8>(), 1..3000), cuts in proptest::collection::btree_set(1usize..3000, 0..40)) {
        let cuts: Vec<usize> = cuts.into_iter().filter(|c| *c < message.len()).collect();
        let frames = split_at(MessageKind::Batch, 7, &message, &cuts).unwrap();
        let mut r = Reassembler::new(MessageKind::Batch, 4096, usize::MAX);
        let mut out = None;
        for (i, f) in frames.iter().enumerate() {
            let got = r.push(f).unwrap();
            prop_assert_eq!(got.is_some(), i + 1 == frames.len());
            out = got.or(out);
        }
        prop_assert_eq!(out, Some(message));
    }

    #[test]
    fn hostile_frames_never_panic_or_open(frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 1..20)) {
        let p = Property::new();
        let mut door = p.door(DOOR_A);
        let mut s = DoorSession::new(&mut door, NOW, [1; 16]);
        for f in &frames {
            match feed(&mut s, &mut door, f, NOW) {
                Ok(fed) => prop_assert!(!fed.decided.is_some_and(|e| e.access.is_granted())),
                Err(_) => break,
            }
        }
        let mut phone: PhoneSession = p.phone(&p.resident(1, 1), DOOR_A, None);
        for f in &frames {
            match phone.handle_frame(f) {
                Ok(o) => prop_assert!(o.is_none()),
                Err(_) => break,
            }
        }
    }

    #[test]
    fn mutated_request_frames_never_open(pos in 0usize..400, byte in any::<u8>()) {
        let p = Property::new();
        let mut door = p.door(DOOR_A);
        let guest = Property::guest_of(&p.resident(1, 1), 2, 52, doors(&[DOOR_A]), current());
        let mut s = MessageSession::new(&mut door, NOW, [1; 16]);
        let mut phone = p.phone(&guest, DOOR_A, None);
        let mut request = phone.handle_challenge(&s.challenge().to_bytes()).unwrap();
        let pos = pos % request.len();
        prop_assume!(request[pos] != byte);
        request[pos] = byte;
        if let Ok(access) = s.request(&mut door, &request, NOW) {
            prop_assert!(!access.is_granted(), "byte {} set to {}", pos, byte);
        }
    }
}
