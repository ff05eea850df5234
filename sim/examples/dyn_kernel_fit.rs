//! Cycle fits of the dynamic-operation kernel `kernels/build/dyn_f16.elf` on the study cluster,
//! and the analytic model's error against it, per operation (the tables of docs/kernels.md):
//!
//!     cargo run --release -p hetsim --example dyn_kernel_fit
//!
//! For each operation, runs the kernel for a range of shapes (rows x cols at the widths the
//! models use), fits cycles = a + b * elements by least squares, and prints each shape's cycles
//! beside the analytic model's (its defaults, binary16 elements, 1 GHz) for the same
//! operation.

use hetsim::backend::{AnalyticCluster, AnalyticClusterConfig, ClusterBackend};
use hetsim::dyn_kernel::{DynKernel, DynOp, DynShape, SHIPPED_ELF};
use hetsim::workload::{Activation, NormKind, OpKind};
use hetsim_models::cluster::ClusterConfig;
use std::path::Path;

/// One operation's measurements: the kernel's op, the schedule's kind, output shapes.
type Case = (DynOp, OpKind, Vec<(usize, usize)>);

fn main() {
    let elf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(SHIPPED_ELF);
    let k = DynKernel::load(&elf, &ClusterConfig::snitch_study(), true).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let mut analytic = AnalyticCluster::new(AnalyticClusterConfig::default()).expect("defaults");
    // (op, the schedule's kind, heads for softmax, shapes as output rows x cols)
    let seqs = [64usize, 128, 256, 320];
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
    ];
    println!("op         shape (out)     elements      cycles  cyc/elem    analytic  analytic err");
    for (op, kind, shapes) in cases {
        let mut pts = Vec::new();
        for &(rows, cols) in &shapes {
            let (r, c) = match hetsim::backend::dyn_shape(&kind, (rows, cols)) {
                Some((_, r, c)) => (r, c),
                None => (rows, cols),
            };
            let cycles = k
                .cycles(DynShape {
                    op,
                    rows: r,
                    cols: c,
                })
                .unwrap_or_else(|e| panic!("{e}"));
            let ins = if op == DynOp::Add {
                vec![(rows, cols); 2]
            } else {
                vec![(rows, cols)]
            };
            let a = analytic
                .dynamic_cost(&kind, &ins, (rows, cols))
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
            "{:<10} fit: cycles = {a:.0} + {b:.4} * elements (worst fit error {:.1} %)\n",
            format!("{op:?}"),
            100.0 * worst
        );
    }
}
