//! Functional-mode speed in simulated MIPS: the single-core LoRA matvec kernel
//! (kernels/build/lora_matvec.elf) run to completion on the functional machine.
//!
//! Run: `cargo bench -p hetsim-isa --bench functional`. Criterion's throughput line
//! ("elem/s") is retired instructions per second; divide by 1e6 for MIPS.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hetsim_isa::{Machine, MachineConfig, Program};
use std::path::PathBuf;

fn lora(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kernels/build/lora_matvec.elf");
    let program =
        Program::load(&path).expect("kernels/build/lora_matvec.elf (run make -C kernels)");
    // 4 MiB of RAM covers the kernel's image, data and stack and keeps set-up cheap.
    let config = MachineConfig {
        ram_size: 4 << 20,
        ..MachineConfig::default()
    };
    let mut probe = Machine::new(&program, &config).expect("machine");
    let exit = probe.run(u64::MAX).expect("the kernel runs to its exit");
    assert_eq!(exit.code, 0, "the LoRA kernel's self-check failed");
    let instructions = probe.hart.instret;

    let mut g = c.benchmark_group("functional");
    g.throughput(Throughput::Elements(instructions));
    g.bench_function("lora_matvec", |b| {
        b.iter_batched(
            || Machine::new(&program, &config).expect("machine"),
            |mut m| m.run(u64::MAX).expect("run"),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, lora);
criterion_main!(benches);
