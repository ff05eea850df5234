//! Criterion benchmarks of the system level: raw engine throughput (events per second).

use criterion::{criterion_main, Criterion, Throughput};
use hetsim::engine::{Engine, PRIORITY_REQUEST};
use std::hint::black_box;

/// 100 000 events: 1 000 initial events, each re-scheduling itself 99 times at a
/// pseudo-random delay, so the queue holds about 1 000 entries throughout.
fn engine_events(c: &mut Criterion) {
    const ROOTS: u64 = 1_000;
    const HOPS: u32 = 99;
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(ROOTS * (u64::from(HOPS) + 1)));
    g.bench_function("events", |b| {
        b.iter(|| {
            let mut e: Engine<(u64, u32)> = Engine::new();
            for i in 0..ROOTS {
                let _ = e.schedule_at(i, PRIORITY_REQUEST, (i, HOPS));
            }
            let end = e.run(|eng, f| {
                let (v, left) = f.event;
                if left > 0 {
                    let d = v
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407)
                        >> 54;
                    eng.schedule_in(d, (v & 1) as u8, (v.wrapping_add(d), left - 1))?;
                }
                Ok::<(), hetsim::engine::EngineError>(())
            });
            black_box((end, e.delivered()))
        })
    });
    g.finish();
}

// The macro defines an undocumented `pub fn benches`.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::engine_events);
}
use group::benches;
criterion_main!(benches);
