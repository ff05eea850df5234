//! Cycle fits of the dynamic-operation kernel `kernels/build/dyn_f16.elf` and the attention
//! kernel `kernels/build/attn_f16.elf` (scores and context) on the study cluster, and the
//! analytic model's error against them, per operation (the tables of docs/kernels.md):
//!
//!     cargo run --release -p hetsim --example dyn_kernel_fit
//!     cargo run --release -p hetsim --example dyn_kernel_fit -- --f32
//!
//! `--f32`: the binary32 builds `dyn_f32.elf` and `attn_f32.elf` on the plain RV32IMF cluster
//! (models/presets/cluster-snitch.ron), the analytic model with 4-byte elements.
//!
//! For each operation, runs the kernel for a range of shapes (rows x cols at the widths the
//! models use; for scores and context, the heads of MobileBERT, BERT-base and LLaMA), fits
//! cycles = a + b * size by least squares (size: output elements, input elements for mean
//! pooling, or multiply-accumulates for scores and context), and prints each shape's cycles beside the analytic model's (its
//! defaults, binary16 elements, 1 GHz) for the same operation.

use hetsim::attn_kernel::{AttnKernel, AttnShape, CtxShape};
use hetsim::backend::{AnalyticCluster, AnalyticClusterConfig, ClusterBackend};
use hetsim::dyn_kernel::{DynKernel, DynOp, DynShape, SHIPPED_ELF, SHIPPED_ELF_F32};
use hetsim::workload::{Activation, NormKind, OpKind};
use hetsim_models::cluster::ClusterConfig;
use std::path::Path;

/// One operation's measurements: the kernel's op, the schedule's kind, output shapes.
type Case = (DynOp, OpKind, Vec<(usize, usize)>);

/// The cluster and the analytic model's element bytes of the chosen build.
fn target(f32_build: bool) -> (ClusterConfig, u64) {
    if f32_build {
        (ClusterConfig::default(), 4)
    } else {
        (ClusterConfig::snitch_study(), 2)
    }
}

fn main() {
    let f32_build = std::env::args().any(|a| a == "--f32");
    let (cluster, element_bytes) = target(f32_build);
    let elf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(if f32_build {
            SHIPPED_ELF_F32
        } else {
            SHIPPED_ELF
        });
    let k = DynKernel::load(&elf, &cluster, true).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let mut analytic = AnalyticCluster::new(AnalyticClusterConfig {
        element_bytes,
        ..AnalyticClusterConfig::default()
    })
    .expect("defaults");
    // (op, the schedule's kind, heads for softmax, shapes as output rows x cols)
    let seqs = [64usize, 128, 256, 320];
    // LLaMA's widths (4096) allow at most 112 rows per run (56 in binary32)
    let llama = if f32_build {
        [8usize, 16, 32, 56]
    } else {
        [16usize, 32, 64, 112]
    };
    let cases: Vec<Case> = vec![
        (
            DynOp::Add,
            OpKind::Add,
            seqs.iter().flat_map(|&s| [(s, 128), (s, 512)]).collect(),
        ),
        (
            DynOp::Relu,
            OpKind::Activation(Activation::Relu),
            seqs.iter().map(|&s| (s, 512)).collect(),
        ),
        (
            DynOp::Gelu,
            OpKind::Activation(Activation::Gelu),
            seqs.iter().map(|&s| (s, 1024)).collect(),
        ),
        (
            DynOp::NoNorm,
            OpKind::Norm(NormKind::NoNorm),
            seqs.iter().flat_map(|&s| [(s, 128), (s, 512)]).collect(),
        ),
        (
            DynOp::LayerNorm,
            OpKind::Norm(NormKind::LayerNorm),
            seqs.iter().flat_map(|&s| [(s, 384), (s, 768)]).collect(),
        ),
        (
            DynOp::Softmax,
            OpKind::Softmax { heads: 4 },
            seqs.iter().map(|&s| (s, 4 * s)).collect(),
        ),
        (
            DynOp::Mul,
            OpKind::Mul,
            llama.iter().map(|&s| (s, 4096)).collect(),
        ),
        (
            DynOp::Silu,
            OpKind::Activation(Activation::Silu),
            llama.iter().map(|&s| (s, 4096)).collect(),
        ),
        (
            DynOp::RmsNorm,
            OpKind::Norm(NormKind::RmsNorm),
            llama.iter().map(|&s| (s, 4096)).collect(),
        ),
        (
            DynOp::Rope { head_dim: 128 },
            OpKind::Rope { head_dim: 128 },
            llama.iter().flat_map(|&s| [(s, 1024), (s, 4096)]).collect(),
        ),
        // shapes of the input (the output is one row)
        (
            DynOp::MeanPool,
            OpKind::MeanPool,
            seqs.iter().flat_map(|&s| [(s, 384), (s, 512)]).collect(),
        ),
    ];
    attention(&mut analytic, f32_build);
    println!("op         shape (out)     elements      cycles  cyc/elem    analytic  analytic err");
    for (op, kind, shapes) in cases {
        let mut pts = Vec::new();
        for &(rows, cols) in &shapes {
            let (r, c) = match hetsim::backend::dyn_shape(&kind, (rows, cols)) {
                Some((_, r, c)) => (r, c),
                None => (rows, cols),
            };
            let s = DynShape {
                op,
                rows: r,
                cols: c,
            };
            if let Some(e) = k.shape_error(s) {
                println!(
                    "{:<10} {rows:>5} x {cols:<5} not one run: {e}",
                    format!("{op:?}")
                );
                continue;
            }
            let cycles = k.cycles(s).unwrap_or_else(|e| panic!("{e}"));
            let ins = if op == DynOp::Add || op == DynOp::Mul {
                vec![(rows, cols); 2]
            } else {
                vec![(rows, cols)]
            };
            let out = if op == DynOp::MeanPool {
                (1, cols)
            } else {
                (rows, cols)
            };
            let a = analytic
                .dynamic_cost(&kind, &ins, out)
                .expect("analytic")
                .cycles;
            let n = (rows * cols) as f64;
            pts.push((n, cycles as f64));
            println!(
                "{:<10} {:>5} x {:<5} {:>10} {:>11} {:>9.3} {:>11} {:>12.1} %",
                format!("{op:?}"),
                rows,
                cols,
                rows * cols,
                cycles,
                cycles as f64 / n,
                a,
                100.0 * (a as f64 - cycles as f64) / cycles as f64
            );
        }
        print_fit(&format!("{op:?}"), "elements", &pts);
    }
}

/// Least-squares `cycles = a + b * size` over `pts` (size, cycles), printed with its worst
/// relative error.
fn print_fit(name: &str, unit: &str, pts: &[(f64, f64)]) {
    let m = pts.len() as f64;
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
    let (mx, my) = (sx / m, sy / m);
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let b = sxy / sxx;
    let a = my - b * mx;
    let worst = pts
        .iter()
        .map(|p| ((a + b * p.0 - p.1) / p.1).abs())
        .fold(0.0, f64::max);
    println!(
        "{name:<10} fit: cycles = {a:.0} + {b:.4} * {unit} (worst fit error {:.1} %)\n",
        100.0 * worst
    );
}

/// The attention kernel's scores and context: cycles per shape beside the analytic model's,
/// and their fits against multiply-accumulates.
fn attention(analytic: &mut AnalyticCluster, f32_build: bool) {
    let elf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(if f32_build {
            hetsim::attn_kernel::SHIPPED_ELF_F32
        } else {
            hetsim::attn_kernel::SHIPPED_ELF
        });
    let k = AttnKernel::load(&elf, &target(f32_build).0, true).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    // (seq = seq_k, heads, kv_heads, head_dim): MobileBERT, BERT-base, LLaMA-3.1-8B-like (one
    // key-value group of 4 query heads)
    let shapes = [
        (64usize, 4usize, 4usize, 32usize),
        (128, 4, 4, 32),
        (256, 4, 4, 32),
        (320, 4, 4, 32),
        (64, 12, 12, 64),
        (128, 12, 12, 64),
        (64, 4, 1, 128),
        (128, 4, 1, 128),
    ];
    println!(
        "op         seq heads(kv) hd       MACs      cycles  MACs/cyc    analytic  analytic err"
    );
    for context in [false, true] {
        let mut pts = Vec::new();
        for &(seq, heads, kv, hd) in &shapes {
            let macs = (seq * seq * heads * hd) as f64;
            let (cycles, kind, ins, out) = if context {
                let s = CtxShape {
                    seq,
                    seq_k: seq,
                    heads,
                    kv_heads: kv,
                    head_dim: hd,
                };
                if let Some(e) = s.error(k.format()) {
                    println!("context    not one run: {e}");
                    continue;
                }
                let c = k.context_cost(s).unwrap_or_else(|e| panic!("{e}")).0;
                let kind = OpKind::Context {
                    heads,
                    kv_heads: kv,
                    head_dim: hd,
                };
                (
                    c,
                    kind,
                    vec![(seq, heads * seq), (seq, kv * hd)],
                    (seq, heads * hd),
                )
            } else {
                let s = AttnShape {
                    seq,
                    seq_k: seq,
                    heads,
                    kv_heads: kv,
                    head_dim: hd,
                    causal: false,
                };
                if let Some(e) = s.error(k.format()) {
                    println!("scores     not one run: {e}");
                    continue;
                }
                let c = k.cycles(s).unwrap_or_else(|e| panic!("{e}"));
                let kind = OpKind::Scores {
                    heads,
                    kv_heads: kv,
                    head_dim: hd,
                    causal: false,
                };
                (
                    c,
                    kind,
                    vec![(seq, heads * hd), (seq, kv * hd)],
                    (seq, heads * seq),
                )
            };
            let a = analytic
                .dynamic_cost(&kind, &ins, out)
                .expect("analytic")
                .cycles;
            pts.push((macs, cycles as f64));
            println!(
                "{:<10} {:>4} {:>4}({:>2}) {:>4} {:>10} {:>11} {:>9.2} {:>11} {:>12.1} %",
                if context { "context" } else { "scores" },
                seq,
                heads,
                kv,
                hd,
                macs,
                cycles,
                macs / cycles as f64,
                a,
                100.0 * (a as f64 - cycles as f64) / cycles as f64
            );
        }
        print_fit(if context { "context" } else { "scores" }, "MACs", &pts);
    }
}
