//! Cycle-level cluster speed in simulated MIPS: the 8-core LoRA kernel
//! (kernels/build/lora.elf, its default 128x128, r = 8, t = 16 problem) on the default
//! Snitch-class cluster.
//!
//! Run: `cargo bench -p hetsim-models --bench cluster`. Criterion's throughput ("elem/s") is
//! instructions retired by all cores per host second; divide by 1e6 for MIPS.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hetsim_isa::Program;
use hetsim_models::cluster::{Cluster, ClusterConfig};
use std::path::PathBuf;

fn lora(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kernels/build/lora.elf");
    let program = Program::load(&path).expect("kernels/build/lora.elf");
    let cfg = ClusterConfig::default();
    let report = Cluster::new(&cfg, &program)
        .and_then(|mut cl| cl.run())
        .expect("the LoRA kernel runs");
    assert_eq!(report.exit_code, 0, "the LoRA kernel's self-check failed");
    let mut g = c.benchmark_group("cluster");
    g.throughput(Throughput::Elements(report.instructions()));
    g.bench_function("lora_8core", |b| {
        b.iter_batched(
            || Cluster::new(&cfg, &program).expect("cluster"),
            |mut cl| cl.run().expect("run"),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, lora);
criterion_main!(benches);
