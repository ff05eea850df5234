//! The analytic cluster model against the study cluster's binary16 kernels at the shapes the
//! models use (the tables of docs/kernels.md, "The analytic model against the kernels"):
//!
//!     cargo run --release -p hetsim --example analytic_fit
//!
//! Every dynamic operation of MobileBERT (SL 128 and 320), BERT-base (128), all-MiniLM-L6-v2
//! (16; its mean pooling also at 128) and LLaMA-3.1-8B (512 and 2048) is costed by the kernel backend of
//! `scenarios/ahwa-lora-mobilebert.ron` (`dyn_f16.elf`, `attn_f16.elf`, blocks and all, as a
//! scenario runs them) and by the analytic model with its defaults. Per operation type it
//! prints each shape's cycles, the analytic model's error, the worst error, and the fit of the
//! analytic formula's two per-type parameters (`op_cycles` and `element_costs`, module doc of
//! `backend::analytic`) that minimises the relative error: the defaults are these fits. Then
//! the LoRA costs per batch (`lora_redmule.elf`, the main scenario's) at MobileBERT's shapes
//! against the analytic model's.

use hetsim::backend::{self, AnalyticCluster, AnalyticClusterConfig, ClusterBackend, LoraShape};
use hetsim::workload::{models, Activation, NormKind, OpKind, BLOCK_INPUT};
use std::collections::BTreeMap;
use std::path::Path;

/// One dynamic operation at one shape: its kind, operand shapes and output shape.
type Shape = (OpKind, Vec<(usize, usize)>, (usize, usize));

/// The operation type a kind is reported (and parametrised) under.
fn kind_name(k: &OpKind) -> &'static str {
    match k {
        OpKind::Scores { .. } => "scores",
        OpKind::Context { .. } => "context",
        OpKind::Softmax { .. } => "softmax",
        OpKind::Norm(NormKind::LayerNorm) => "layer_norm",
        OpKind::Norm(NormKind::RmsNorm) => "rms_norm",
        OpKind::Norm(NormKind::NoNorm) => "no_norm",
        OpKind::Activation(Activation::Relu) => "relu",
        OpKind::Activation(Activation::Gelu | Activation::GeluErf) => "gelu",
        OpKind::Activation(Activation::Silu) => "silu",
        OpKind::Rope { .. } => "rope",
        OpKind::Add => "add",
        OpKind::Mul => "mul",
        OpKind::MeanPool => "mean_pool",
        OpKind::Linear { .. } => "linear",
    }
}

/// The distinct dynamic-operation shapes of a model's schedule at `seq` tokens.
fn shapes(model: &str, seq: usize, out: &mut Vec<(String, Shape)>) {
    let dims = models::find(model).expect("a shipped model");
    let sched = models::generate(&dims, seq, None);
    let mut input = (seq, sched.input_features);
    for b in &sched.blocks {
        let mut known: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        known.insert(BLOCK_INPUT, input);
        for op in &b.ops {
            let ins: Vec<_> = op.inputs.iter().map(|i| known[i.as_str()]).collect();
            known.insert(&op.name, op.out);
            if matches!(op.kind, OpKind::Linear { .. }) {
                continue;
            }
            let s = (op.kind.clone(), ins, op.out);
            if !out.iter().any(|(_, o)| *o == s) {
                out.push((format!("{model} {seq}"), s));
            }
        }
        input = b.ops.last().map_or(input, |o| o.out);
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let main_sc = root.join("scenarios/ahwa-lora-mobilebert.ron");
    let loaded = hetsim::scenario::load(&main_sc).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let dir = main_sc.parent().expect("scenarios/");
    let mut kernel =
        backend::build(&loaded.scenario.hardware.cluster_backend, dir).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        });
    let cfg = AnalyticClusterConfig::default();
    let mut analytic = AnalyticCluster::new(cfg.clone()).expect("defaults");
    let mut all = Vec::new();
    for (model, seq) in [
        ("mobilebert", 128),
        ("mobilebert", 320),
        ("bert-base", 128),
        ("all-minilm-l6-v2", 16),
        ("llama-3.1-8b", 512),
        ("llama-3.1-8b", 2048),
    ] {
        shapes(model, seq, &mut all);
    }
    // mean pooling ends a sentence encoder only: its fit takes all-MiniLM-L6-v2's at SL 16
    // and 128 (its tokenizer's limit)
    let mut minilm = Vec::new();
    shapes("all-minilm-l6-v2", 128, &mut minilm);
    all.extend(minilm.into_iter().filter(|s| s.1 .0 == OpKind::MeanPool));
    let mut by_kind: BTreeMap<&str, Vec<(String, Shape)>> = BTreeMap::new();
    for s in all {
        by_kind.entry(kind_name(&s.1 .0)).or_default().push(s);
    }
    let c = f64::from(cfg.compute_cores);
    println!(
        "analytic model (defaults) against the kernel backend of {}",
        main_sc.display()
    );
    for (name, list) in &by_kind {
        println!(
            "\n{name:<10} {:<20} {:>22} {:>12} {:>12} {:>10}",
            "model", "out (MACs)", "kernel", "analytic", "error"
        );
        // (size the element cost multiplies, cycles left for the fixed cost and that term)
        let mut pts = Vec::new();
        let mut worst: f64 = 0.0;
        for (model, (kind, ins, out)) in list {
            let k = kernel.dynamic_cost(kind, ins, *out).expect("kernel").cycles;
            let a = analytic
                .dynamic_cost(kind, ins, *out)
                .expect("analytic")
                .cycles;
            let err = (a as f64 - k as f64) / k as f64;
            worst = worst.max(err.abs());
            let elems = AnalyticCluster::work_elements(kind, ins, *out) as f64;
            let macs = AnalyticCluster::attention_macs(kind, ins, *out) as f64;
            let mac_cycles = (macs / (c * cfg.attention_macs_per_core_cycle)).ceil();
            let rest = k as f64 - (cfg.launch_overhead_cycles + cfg.barrier_cycles) as f64;
            pts.push((elems, rest - mac_cycles, k as f64));
            println!(
                "{name:<10} {model:<20} {:>5} x {:<7} ({:>10.3e}) {k:>12} {a:>12} {:>9.1} %",
                out.0,
                out.1,
                macs,
                100.0 * err
            );
        }
        let (fixed, slope) = fit(&pts);
        println!(
            "{name:<10} worst error {:.1} %; fit: op_cycles.{name} = {fixed:.0}, \
             element_costs.{name} = {:.3}",
            100.0 * worst,
            slope * c
        );
    }
    lora(kernel.as_mut(), &mut analytic);
}

/// The fixed cost and per-element slope minimising the squared relative error over
/// `pts` (x, y, the kernel's cycles the error is relative to): `y = fixed + slope x`, with
/// `fixed >= 0` (a negative intercept is refitted through the origin).
fn fit(pts: &[(f64, f64, f64)]) -> (f64, f64) {
    // weights 1 / kernel^2: relative error
    let w: Vec<f64> = pts.iter().map(|p| 1.0 / (p.2 * p.2)).collect();
    let s = |f: &dyn Fn(&(f64, f64, f64)) -> f64| -> f64 {
        pts.iter().zip(&w).map(|(p, w)| w * f(p)).sum()
    };
    let (sw, sx, sy, sxx, sxy) = (
        s(&|_| 1.0),
        s(&|p| p.0),
        s(&|p| p.1),
        s(&|p| p.0 * p.0),
        s(&|p| p.0 * p.1),
    );
    let det = sw * sxx - sx * sx;
    if pts.len() > 1 && det.abs() > 0.0 {
        let b = (sw * sxy - sx * sy) / det;
        let a = (sy - b * sx) / sw;
        if a >= 0.0 {
            return (a, b);
        }
    }
    (0.0, sxy / sxx)
}

/// LoRA per batch on `lora_redmule.elf` (the main scenario's kernel backend) against the
/// analytic model, at MobileBERT's adapted shapes (in and out 128 or 512, rank 8) and the
/// scenario's t.
fn lora(kernel: &mut dyn ClusterBackend, analytic: &mut AnalyticCluster) {
    println!("\nLoRA per batch       t    in   out  r       kernel     analytic      error");
    let mut worst: f64 = 0.0;
    for t in [8usize, 16, 32, 64, 128] {
        for (n, m) in [(128usize, 128usize), (128, 512), (512, 128), (512, 512)] {
            let s = LoraShape {
                tokens: t,
                in_features: n,
                out_features: m,
                rank: 8,
            };
            let k = kernel.lora_cost(&s).expect("kernel").cycles;
            let a = analytic.lora_cost(&s).expect("analytic").cycles;
            let err = (a as f64 - k as f64) / k as f64;
            worst = worst.max(err.abs());
            println!(
                "LoRA per batch {t:>6} {n:>5} {m:>5} {:>2} {k:>12} {a:>12} {:>9.1} %",
                8,
                100.0 * err
            );
        }
    }
    println!("LoRA worst error {:.1} %", 100.0 * worst);
}
