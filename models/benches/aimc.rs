//! Host-time benchmarks of the AIMC tile model: one 512 x 512 MVM with every nonideality on
//! (PCM noise, drift compensation, DAC, output noise, ADC, bound management), realising the
//! devices at a new inference time, and programming a 512 x 512 tile.
//! Run: `cargo bench -p hetsim-models --bench aimc -- --quick`; figures in docs/performance.md.

use std::hint::black_box;

use criterion::{criterion_main, Criterion};
use hetsim_models::aimc::{AnalogMatrix, Matrix, TileConfig};

fn bench_aimc(c: &mut Criterion) {
    let cfg = TileConfig::default();
    let w = Matrix::random_normal(512, 512, 0.05, 1);
    let x = Matrix::random_normal(1, 512, 1.0, 2).into_vec();
    let mut m = AnalogMatrix::program(&cfg, &w).expect("valid default config and weights");
    let mut y = vec![0.0f32; 512];
    m.set_inference_time(86_400.0).expect("valid time");
    c.bench_function("aimc_mvm_512x512_noisy", |b| {
        b.iter(|| {
            m.mvm_into(black_box(&x), 86_400.0, &mut y)
                .expect("valid input")
        })
    });
    let mut ideal = AnalogMatrix::program(&TileConfig::ideal(), &w).expect("valid");
    c.bench_function("aimc_mvm_512x512_ideal", |b| {
        b.iter(|| {
            ideal
                .mvm_into(black_box(&x), 0.0, &mut y)
                .expect("valid input")
        })
    });
    let mut t = 0.0;
    c.bench_function("aimc_realise_512x512_new_time", |b| {
        b.iter(|| {
            t += 1.0;
            m.set_inference_time(black_box(t)).expect("valid time")
        })
    });
    c.bench_function("aimc_program_512x512", |b| {
        b.iter(|| AnalogMatrix::program(&cfg, black_box(&w)).expect("valid"))
    });
}

// The macro defines an undocumented `pub fn benches`.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench_aimc);
}
use group::benches;
criterion_main!(benches);
