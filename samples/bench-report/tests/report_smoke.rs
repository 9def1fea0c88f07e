//! The report's machinery runs and measures what it claims: every protocol carries the request
//! intact and the door grants it; Keyway through the generic driver costs exactly what
//! `SimPair` reports; updates are applied.

use bench_report::driver::LengthPrefixed;
use bench_report::property::{HolderKind, NOW};
use bench_report::report::{self, Context, PROTOCOLS, Protocol, SETTINGS};
use keyway_protocol::unlock::{PhoneSession, UnlockParams, UnlockRequest};
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
                let decoded = UnlockRequest::from_bytes(&sent).unwrap();
                assert_eq!(decoded.chain.len(), ctx.property.holder(holder).chain.to_bytes().len());
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
            let phone = PhoneSession::new(UnlockParams {
                chain: h.chain.clone(),
                device_key: h.device.clone(),
                door_cert: p.door_cert.clone(),
                anchors: p.anchors.clone(),
                batch: (revocations > 0).then(|| p.revocations(revocations)),
                activity_after: 0,
                time: None,
                nonce: bench_report::app::PHONE_NONCE,
                now: NOW,
            })
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
    let text = report::render(&r);
    assert!(text.contains("TLS 1.3 mutual") && text.contains("Noise XX") && text.contains("Marginal"));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), r.rows.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_measurement_runs_every_action_through_to_the_receipt() {
    let r = bench_report::feed::measure(3, 3).await.unwrap();
    assert_eq!((r.actions, r.doors_connected), (3, 3));
    assert!(r.applied_ms.p50 <= r.receipt_ms.p50, "{r:?}");
    assert!(r.applied_ms.max.is_finite() && r.receipt_ms.max.is_finite());
    assert!(bench_report::feed::render(&[r]).contains("| 3 | 3 |"));
}
