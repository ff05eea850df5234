//! kernels/gemm_f32_ssr.c on the study preset's cluster: a 64 x 64 x 128 binary32 GEMM with
//! SSR + FREP on the 8 compute cores, A and C double-buffered between L2 and TCDM by the DMA
//! core (the kernel's header has the schedule). The energy model's Snitch validation
//! (tests/tests/energy_validation.rs) runs the same kernel.
//!
//! Pinned: C bit for bit against a host reference in the kernel's evaluation order (one fused
//! multiply-add chain per element in increasing k from +0), every FP operation an FMA, the DMA
//! traffic, and region 1's cycles between two bounds derived by hand below.

use hetsim_isa::Program;
use hetsim_models::cluster::{Cluster, ClusterConfig, ClusterReport, FpOpClass, StallCause};
use hetsim_tests::workspace_root;

const M: usize = 64;
const N: usize = 64;
const K: usize = 128;
const COMPUTE_CORES: usize = 8;
const PANELS: u64 = (M / COMPUTE_CORES) as u64;

fn study() -> ClusterConfig {
    ClusterConfig::from_ron_file(&workspace_root().join("models/presets/cluster-snitch-study.ron"))
        .expect("study preset")
}

/// The kernel's input generator (gemm_f32_ssr.c header).
fn value(mut h: u32) -> f32 {
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    f32::from_bits((h & 0x8000_0000) | 0x3f00_0000 | (h & 0x7f_ffff))
}

fn a(i: usize, k: usize) -> f32 {
    value(((i * K + k + 1) as u32).wrapping_mul(0x9e37_79b1))
}

fn bt(j: usize, k: usize) -> f32 {
    value(((j * K + k + 1) as u32).wrapping_mul(0x85eb_ca77))
}

/// C[i][j] = fma(A[i][K-1], B[K-1][j], ... fma(A[i][0], B[0][j], +0)): the kernel's order.
fn reference() -> Vec<u32> {
    let mut c = Vec::with_capacity(M * N);
    for i in 0..M {
        for j in 0..N {
            let acc = (0..K).fold(0f32, |acc, k| a(i, k).mul_add(bt(j, k), acc));
            c.push(acc.to_bits());
        }
    }
    c
}

fn run(cfg: &ClusterConfig) -> (ClusterReport, Vec<u32>) {
    let path = workspace_root().join("kernels/build/gemm_f32_ssr.elf");
    let mut c = Cluster::new(cfg, &Program::load(&path).expect("ELF")).expect("cluster");
    let r = c.run().expect("run");
    assert_eq!(r.exit_code, 0, "{}", String::from_utf8_lossy(&r.console));
    let out = c
        .read_symbol("gemm_c", None)
        .expect("gemm_c")
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (r, out)
}

#[test]
fn f32_gemm_is_bit_exact_in_its_fma_order() {
    let cfg = study();
    let (r, c) = run(&cfg);
    let want = reference();
    let wrong = c.iter().zip(&want).filter(|(x, y)| x != y).count();
    assert_eq!(wrong, 0, "{wrong} of {} elements differ", M * N);
    // Every FP operation in region 1 is one fmadd.s of the GEMM: M N K / 8 per compute core.
    let per_core = (M * N * K / COMPUTE_CORES) as u64;
    for core in 0..COMPUTE_CORES {
        let rc = &r.regions[&(1, core)].counters;
        assert_eq!(rc.fp_ops, per_core, "core {core}");
        assert_eq!(rc.fp32_class_ops[FpOpClass::Fma as usize], per_core);
    }
    // DMA: Bt and A once from L2, C once back: (N K + M K + M N) words.
    assert_eq!(r.dma_bytes, 4 * (N * K + M * K + M * N) as u64);
    // SSR reads: ft1 one Bt element per FMA, ft0 one A element per U = 8 FMAs.
    assert_eq!(r.ssr_tcdm_accesses, (M * N * K + M * N * K / 8) as u64);
}

#[test]
fn f32_gemm_cycles_lie_between_the_fpu_bound_and_its_stated_overheads() {
    let cfg = study();
    let (r, _) = run(&cfg);
    // Lower bound: one fmadd.s per cycle per compute core (M N K / 8 = 65536), after the DMA
    // core has brought Bt (N rows of 4K bytes) and A's first panel (8 rows) into TCDM at
    // `dma.bytes_per_cycle`, each transfer after `dma.setup_latency`.
    let fmas = (M * N * K / COMPUTE_CORES) as u64;
    let first_load = 4 * (N * K + COMPUTE_CORES * K) as u64 / u64::from(cfg.dma.bytes_per_cycle)
        + 2 * u64::from(cfg.dma.setup_latency);
    let lower = fmas + first_load;
    // Overheads on top: the core's TCDM bank-conflict stalls (its counter: all cores stream the
    // same Bt rows), and per panel a barrier, the FP pipeline's drain before the last block's
    // stores (FMA latency) and 8 stores, the stream restart (TCDM latency) and the loop's
    // integer instructions: at most 48 cycles per panel (barrier_latency 2 + fma 4 + 8 stores
    // + tcdm latency 2 + 32 for the integer loop and SSR writes).
    for core in 0..COMPUTE_CORES {
        let rc = &r.regions[&(1, core)].counters;
        let upper = lower + rc.stall(StallCause::BankConflict) + PANELS * 48;
        assert!(
            (lower..=upper).contains(&rc.cycles),
            "core {core}: {} cycles not in {lower}..={upper}",
            rc.cycles
        );
        assert!(
            rc.fpu_utilisation() >= 0.95,
            "core {core}: {:.3}",
            rc.fpu_utilisation()
        );
    }
}
