//! Cycle-level cluster speed on four kernels: the 8-core fp32 LoRA kernel
//! (kernels/build/lora.elf, its default 128x128, r = 8, t = 16 problem) on the default
//! Snitch-class cluster, and the study kernels `lora_f16_ssr`, `lora_redmule` and
//! `gemm_f16_ssr` on the study cluster (`ClusterConfig::snitch_study`).
//!
//! Run: `cargo bench -p hetsim-models --bench cluster`. Each kernel is measured twice (one
//! `Cluster::run` per iteration; building the cluster is not timed):
//! - group `cluster`: throughput ("elem/s") is instructions retired by all cores per host
//!   second: simulated MIPS = elem/s / 1e6;
//! - group `cluster_cycles`: throughput is simulated cluster cycles per host second (FREP
//!   repetitions and RedMulE do work without retiring instructions, so this is the fairer
//!   figure for the study kernels).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hetsim_isa::Program;
use hetsim_models::cluster::{Cluster, ClusterConfig};
use std::path::PathBuf;

/// (bench name, ELF under kernels/build, configuration).
fn kernels() -> Vec<(&'static str, &'static str, ClusterConfig)> {
    vec![
        ("lora_8core", "lora.elf", ClusterConfig::default()),
        (
            "lora_f16_ssr",
            "lora_f16_ssr.elf",
            ClusterConfig::snitch_study(),
        ),
        (
            "lora_redmule",
            "lora_redmule.elf",
            ClusterConfig::snitch_study(),
        ),
        (
            "gemm_f16_ssr",
            "gemm_f16_ssr.elf",
            ClusterConfig::snitch_study(),
        ),
    ]
}

fn cluster(c: &mut Criterion) {
    for (group, per_cycle) in [("cluster", false), ("cluster_cycles", true)] {
        let mut g = c.benchmark_group(group);
        for (name, elf, cfg) in kernels() {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../kernels/build")
                .join(elf);
            let program = Program::load(&path).expect("kernel ELF");
            let report = Cluster::new(&cfg, &program)
                .and_then(|mut cl| cl.run())
                .expect("the kernel runs");
            assert_eq!(report.exit_code, 0, "{elf}: the kernel's self-check failed");
            g.throughput(Throughput::Elements(if per_cycle {
                report.cycles
            } else {
                report.instructions()
            }));
            g.bench_function(name, |b| {
                b.iter_batched(
                    || Cluster::new(&cfg, &program).expect("cluster"),
                    |mut cl| cl.run().expect("run"),
                    BatchSize::LargeInput,
                )
            });
        }
        g.finish();
    }
}

criterion_group!(benches, cluster);
criterion_main!(benches);
