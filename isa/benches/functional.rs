//! Functional-mode speed in simulated MIPS: the single-core LoRA matvec kernel
//! (kernels/build/lora_matvec.elf, 19,608 instructions) and the fp32 LoRA batch of the QEMU
//! comparison (kernels/build/user/lora_batch.elf, 160 M instructions) run to completion on
//! the functional machine, with block translation (the default) and without (`_no_jit`).
//!
//! Run: `cargo bench -p hetsim-isa --bench functional`. Criterion's throughput line
//! ("elem/s") is retired instructions per second; divide by 1e6 for MIPS.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hetsim_isa::{Machine, MachineConfig, Program};
use std::path::PathBuf;

/// Benchmarks `file` (under kernels/build) as `name` and `name_no_jit`.
fn kernel(c: &mut Criterion, name: &str, file: &str, ram_size: u32) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../kernels/build")
        .join(file);
    let program = Program::load(&path).expect("the kernel's ELF (run make -C kernels)");
    let config = MachineConfig {
        ram_size,
        ..MachineConfig::default()
    };
    let mut probe = Machine::new(&program, &config).expect("machine");
    let exit = probe.run(u64::MAX).expect("the kernel runs to its exit");
    assert_eq!(exit.code, 0, "the kernel's self-check failed");
    let instructions = probe.hart.instret;

    let mut g = c.benchmark_group("functional");
    g.throughput(Throughput::Elements(instructions));
    if instructions > 1_000_000 {
        g.sample_size(10);
    }
    for jit in [true, false] {
        let id = if jit {
            name.to_string()
        } else {
            format!("{name}_no_jit")
        };
        g.bench_function(id, |b| {
            b.iter_batched(
                || {
                    let mut m = Machine::new(&program, &config).expect("machine");
                    m.set_jit(jit);
                    m
                },
                |mut m| m.run(u64::MAX).expect("run"),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn lora(c: &mut Criterion) {
    // 4 MiB of RAM covers the matvec kernel's image, data and stack and keeps set-up cheap.
    kernel(c, "lora_matvec", "lora_matvec.elf", 4 << 20);
    kernel(c, "lora_batch", "user/lora_batch.elf", 64 << 20);
}

criterion_group!(benches, lora);
criterion_main!(benches);
