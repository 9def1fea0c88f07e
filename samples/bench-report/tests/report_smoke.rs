//! The report's machinery runs and measures what it claims: every protocol carries the request
//! intact and the door grants it; Keyway through the generic driver costs exactly what
//! `SimPair` reports; repeat unlocks resume with no public-key work at Keyway's door; updates
//! are applied.

use bench_report::driver::LengthPrefixed;
use bench_report::property::{HolderKind, NOW};
use bench_report::report::{self, Context, PROTOCOLS, Protocol, REPEAT_PROTOCOLS, SETTINGS, Unlock};
use keyway_protocol::codec;
use keyway_protocol::unlock::PhoneSession;
use keyway_protocol::unlock::message::RequestBody;
use keyway_test_kit::sim::SimPair;

#[test]
fn every_protocol_delivers_the_request_intact_and_the_door_grants_it() {
    let ctx = Context::new().unwrap();
    for holder in [HolderKind::Resident, HolderKind::Guest] {
        for protocol in PROTOCOLS {
            let run = report::run_once(&ctx, protocol, holder, SETTINGS[0].sim(), 0).unwrap();
            assert!(run.granted_at_phone && run.door_granted, "{protocol:?} {holder:?}");
            let x = &run.exchange;
            assert!(x.door_decided_at <= x.completed_at);
            assert!(x.phone_cpu > std::time::Duration::ZERO && x.door_cpu > std::time::Duration::ZERO);
            if protocol != Protocol::Keyway {
                let sent = run.request_sent.unwrap();
                assert_eq!(Some(&sent), run.request_received.as_ref(), "{protocol:?}");
                let decoded: RequestBody = codec::decode(RequestBody::WHAT, &sent, RequestBody::MAX_LEN).unwrap();
                assert_eq!(decoded.key_chain().unwrap(), ctx.property.holder(holder).chain);
                // The door verified the chain (one signature for a resident, two for a guest).
                let chain_signatures = if holder == HolderKind::Resident { 1 } else { 2 };
                assert!(run.work.verify >= chain_signatures, "{protocol:?}");
                // The peers carry more than the request: their handshakes.
                assert!(x.stats.bytes_phone_to_door > sent.len(), "{protocol:?}");
            }
        }
    }
}

#[test]
fn keyway_through_the_generic_driver_costs_what_sim_pair_reports() {
    let ctx = Context::new().unwrap();
    let p = &ctx.property;
    for setting in SETTINGS {
        for (holder, revocations) in [(HolderKind::Resident, 0), (HolderKind::Guest, 0), (HolderKind::Resident, 1000)] {
            let h = p.holder(holder);
            let batch = (revocations > 0).then(|| p.revocations(revocations));
            let phone =
                PhoneSession::new(bench_report::keyway::params(p, h, batch, bench_report::app::PHONE_NONCE, None))
                    .unwrap();
            let mut door = p.door.clone();
            let pair = SimPair::new(setting.sim()).run(phone, &mut door, NOW, [0xD0; 16]);
            let ours = report::run_once(&ctx, Protocol::Keyway, holder, setting.sim(), revocations).unwrap();
            assert_eq!(ours.exchange.stats, pair.stats, "{setting:?} {holder:?} {revocations}");
            assert_eq!(Some(ours.exchange.door_decided_at), pair.door_decided_at);
            assert_eq!(pair.outcome.unwrap().updates.seq_after, revocations);
        }
    }
}

#[test]
fn a_repeat_unlock_resumes_and_keyway_costs_its_door_no_public_key_operation() {
    let ctx = Context::new().unwrap();
    for setting in SETTINGS {
        let first = report::run_once(&ctx, Protocol::Keyway, HolderKind::Resident, setting.sim(), 0).unwrap();
        // Measured by crypto_ops(): two X25519 and the chain's one verify, no signature, before
        // the decision; the receipt after it.
        assert_eq!((first.work.x25519, first.work.verify, first.work.sign), (2, 1, 0));
        assert_eq!(first.work.sign_after, 1);
        for protocol in REPEAT_PROTOCOLS {
            let run = report::run_repeat(&ctx, protocol, HolderKind::Resident, setting.sim()).unwrap();
            assert!(run.resumed && run.granted_at_phone && run.door_granted, "{protocol:?}");
            assert!(run.seeding_bytes.unwrap() > run.exchange.stats.bytes_phone_to_door, "{protocol:?}");
            if protocol == Protocol::Keyway {
                assert_eq!(run.work.public_key_ops(), 0);
                assert_eq!(run.work.sign_after, 1);
                assert_eq!(run.exchange.stats.frames_phone_to_door, 1, "{setting:?}");
            } else {
                // The resumed TLS door still runs its X25519 (psk_dhe_ke) and verifies no chain.
                assert_eq!((run.work.x25519, run.work.verify, run.work.sign), (1, 0, 0));
                let sent: RequestBody =
                    codec::decode(RequestBody::WHAT, run.request_sent.as_ref().unwrap(), RequestBody::MAX_LEN).unwrap();
                assert!(sent.chain.is_empty());
            }
        }
    }
    assert!(report::run_repeat(&ctx, Protocol::NoiseIK, HolderKind::Resident, SETTINGS[0].sim()).is_err());
}

#[test]
fn the_noise_static_key_is_the_device_key() {
    let p = bench_report::property::Property::new();
    for h in [&p.resident, &p.guest] {
        let secret = bench_report::noise::device_static(&h.device).unwrap();
        let mut dh = snow::resolvers::CryptoResolver::resolve_dh(
            &snow::resolvers::DefaultResolver,
            &snow::params::DHChoice::Curve25519,
        )
        .unwrap();
        dh.set(&secret);
        let expected = bench_report::curve::montgomery_u(&h.device.public().0).unwrap();
        assert_eq!(dh.pubkey(), &expected[..]);
    }
}

#[test]
fn update_rows_grow_with_the_batch_and_the_decision_does_not_wait_for_it() {
    let ctx = Context::new().unwrap();
    let rows = report::updates(&ctx, SETTINGS[0], &[1, 100, 1000]).unwrap();
    assert!(
        rows.windows(2)
            .all(|w| w[0].batch_bytes < w[1].batch_bytes && w[0].bytes_phone_to_door < w[1].bytes_phone_to_door)
    );
    assert!(rows.iter().all(|r| r.decision_ms == rows[0].decision_ms));
    let big = &rows[2];
    assert!(big.result_ms > big.decision_ms);
    assert!(big.extra_bytes_up >= big.batch_bytes);
}

#[test]
fn length_prefixed_messages_reassemble_across_any_split() {
    let message: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
    let wire = LengthPrefixed::encode(&message).unwrap();
    for cut in 0..wire.len() {
        let mut rx = LengthPrefixed::default();
        rx.push(&wire[..cut]);
        assert_eq!(rx.next_message(), None);
        rx.push(&wire[cut..]);
        assert_eq!(rx.next_message().as_deref(), Some(&message[..]));
        assert_eq!(rx.next_message(), None);
    }
    assert!(LengthPrefixed::encode(&vec![0; 70_000]).is_err());
}

#[test]
fn the_report_renders_every_row_and_serializes() {
    let ctx = Context::new().unwrap();
    let r = report::build(&ctx, 1).unwrap();
    assert_eq!(r.rows.len(), 2 * SETTINGS.len() * PROTOCOLS.len());
    assert_eq!(r.ratios.len(), 2 * SETTINGS.len() * (PROTOCOLS.len() - 1));
    assert_eq!(r.repeat_rows.len(), SETTINGS.len() * REPEAT_PROTOCOLS.len());
    assert!(r.repeat_rows.iter().all(|x| x.unlock == Unlock::Repeat));
    assert_eq!(r.repeat_ratios.len(), SETTINGS.len() * (REPEAT_PROTOCOLS.len() - 1));
    // Modeled time to open: the link's decision plus the profile's door CPU.
    for x in r.rows.iter().chain(&r.repeat_rows) {
        assert!((x.open_ms - (x.decision_ms as f64 + x.mcu_cpu_ms)).abs() < 1e-9);
        assert!(x.open_ms_slow_ed25519 >= x.open_ms && x.mcu_session_ms >= x.mcu_cpu_ms);
    }
    // Every target is checked at both settings (five each) plus the MTU-185 fit.
    assert_eq!(r.targets.len(), 5 * SETTINGS.len() + 1);
    let text = report::render(&r);
    for needle in [
        "TLS 1.3 mutual",
        "Noise XX",
        "TLS 1.3 PSK resumption",
        "Repeat unlock",
        "64 MHz Cortex-M4",
        "open ms",
        "Issue 15 targets",
        "Marginal",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), r.rows.len());
    assert_eq!(json["repeat_rows"].as_array().unwrap().len(), r.repeat_rows.len());
    assert_eq!(json["mcu"]["ed25519_verify"], 2_300_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_measurement_runs_every_action_through_to_the_receipt() {
    let r = bench_report::feed::measure(3, 3).await.unwrap();
    assert_eq!((r.actions, r.doors_connected), (3, 3));
    assert!(r.applied_ms.p50 <= r.receipt_ms.p50, "{r:?}");
    assert!(r.applied_ms.max.is_finite() && r.receipt_ms.max.is_finite());
    assert!(bench_report::feed::render(&[r]).contains("| 3 | 3 |"));
}
