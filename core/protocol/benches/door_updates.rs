//! A door applying a carried batch of 1,000 revocations (decode, authority signature, 1,000
//! updates in order).

// criterion_group! defines an undocumented public fn.
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, black_box, criterion_group, criterion_main};
use keyway_test_kit::fixture::*;
use std::time::Duration;

fn apply_revocations(c: &mut Criterion) {
    let p = Property::new();
    let mut g = c.benchmark_group("door");
    g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500)).sample_size(30);
    for n in [1u64, 100, 1000] {
        let batch = p.batch(DOOR_A, 1, (0..n).map(|i| vec![revoke_key(4_000_000 + i)]).collect()).to_bytes();
        let fresh = p.door(DOOR_A);
        let mut check = fresh.clone();
        assert_eq!(check.apply_batch_bytes(&batch, NOW).seq_after, n);
        assert_eq!(check.revocations().len(), n as usize);
        g.bench_function(format!("apply_revocations/{n}"), |b| {
            b.iter_batched(
                || fresh.clone(),
                |mut door| black_box(door.apply_batch_bytes(&batch, NOW)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, apply_revocations);
criterion_main!(benches);
