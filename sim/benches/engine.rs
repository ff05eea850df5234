//! Criterion benchmarks of the system level: raw engine throughput (events per second) and the
//! main scenario (scenarios per second, whole and one combination).

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

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The main scenario, whole (60 combinations plus numerics), and reduced to one combination
/// (pipelined, 512 ns, t = 8) without numerics.
fn scenario(c: &mut Criterion) {
    let path = root().join("scenarios/ahwa-lora-mobilebert.ron");
    let full = hetsim::scenario::load(&path).expect("main scenario loads");
    let mut one = full.clone();
    one.scenario.sweep.integration_time_ns = vec![512.0];
    one.scenario.sweep.tokens_per_batch = vec![8];
    one.scenario.sweep.strategy = vec![hetsim::scenario::StrategyChoice::Pipelined];
    one.scenario.numerics = None;
    let events = hetsim::run::run(&one).expect("runs").events;
    let mut g = c.benchmark_group("scenario");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    g.bench_function("one_combination", |b| {
        b.iter(|| black_box(hetsim::run::run(&one).expect("runs").rows.len()))
    });
    g.throughput(Throughput::Elements(1));
    g.measurement_time(std::time::Duration::from_secs(40));
    g.bench_function("ahwa_lora_mobilebert_full", |b| {
        b.iter(|| black_box(hetsim::run::run(&full).expect("runs").rows.len()))
    });
    g.finish();
}

// The macro defines an undocumented `pub fn benches`.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::engine_events, super::scenario);
}
use group::benches;
criterion_main!(benches);
