//! The binary16 LoRA kernel on RedMulE (kernels/build/lora_redmule.elf) on the study cluster:
//! outputs equal the FP16 host reference bit for bit over a sweep of shapes (including the
//! study's 512x128 and 128x128 layers with r = 8 and t = 8..128), repeated runs are identical,
//! the in-kernel self-check and the host comparison both catch a corrupted value, and shapes
//! beyond the kernel's buffers or the TCDM are refused with their exit codes.

use hetsim::lora_kernel::LoraKernelKind;
use hetsim_isa::Program;
use hetsim_models::cluster::{Cluster, ClusterConfig, ClusterReport};
use hetsim_tests::lora::{run_lora_kernel, LoraCase};
use hetsim_tests::workspace_root;
use std::path::PathBuf;

const KIND: LoraKernelKind = LoraKernelKind::Redmule;

fn program() -> PathBuf {
    workspace_root().join(KIND.shipped_elf())
}

fn run(case: &LoraCase) -> Result<(ClusterReport, Vec<f32>), String> {
    run_lora_kernel(KIND, &program(), &ClusterConfig::snitch_study(), case)
}

/// Index of the first element whose bits differ.
fn first_difference(y: &[f32], want: &[f32]) -> Option<usize> {
    assert_eq!(y.len(), want.len());
    y.iter()
        .zip(want)
        .position(|(a, b)| a.to_bits() != b.to_bits())
}

#[test]
fn lora_redmule_matches_the_fp16_host_reference_over_shapes() {
    let mut shapes = Vec::new();
    for (in_features, out_features) in [(512, 128), (128, 128)] {
        for t in [8, 16, 32, 64, 128] {
            shapes.push((in_features, out_features, 8, t));
        }
    }
    // Odd shapes: a rank that is not a multiple of RedMulE's 4-CE rows, token counts that
    // leave a partial row tile and a partial last chunk, a wide output, the largest shape
    // (whose chunk the TCDM limits), one token.
    shapes.extend([
        (64, 96, 5, 3),
        (128, 512, 16, 9),
        (384, 128, 8, 17),
        (33, 17, 3, 13),
        (512, 512, 16, 128),
        (7, 5, 1, 1),
    ]);
    for (i, &(in_features, out_features, r, t)) in shapes.iter().enumerate() {
        let case = LoraCase::random(in_features, out_features, r, t, 200 + i as u64);
        let (report, y) =
            run(&case).unwrap_or_else(|e| panic!("{in_features}x{out_features} r{r} t{t}: {e}"));
        assert_eq!(report.exit_code, 0);
        let want = case.reference_for(KIND);
        if let Some(j) = first_difference(&y, &want) {
            panic!(
                "{in_features}x{out_features} r{r} t{t}: Y[{j}] = {} but the FP16 reference is {}",
                y[j], want[j]
            );
        }
        // Every output went through the engine: binary16 values, not the fp32 reference.
        assert!(y.iter().all(|v| half_round(*v) == *v));
        let rm = report.redmule.expect("RedMulE statistics");
        // Two jobs per chunk, and every MAC of X A and H B on the engine.
        assert!(rm.jobs >= 2 && rm.jobs % 2 == 0, "{rm:?}");
        assert_eq!(
            rm.macs,
            (t * r * (in_features + out_features)) as u64,
            "{rm:?}"
        );
        println!(
            "{in_features:>4}x{out_features:<4} r={r:<2} t={t:<3}: {:>7} cycles, {} RedMulE jobs, {:.1} MAC/cycle busy",
            report.cycles,
            rm.jobs,
            rm.macs as f64 / rm.busy_cycles.max(1) as f64
        );
    }
}

/// `v` rounded to binary16 and back (for checking that outputs are binary16 values).
fn half_round(v: f32) -> f32 {
    hetsim::lora_kernel::f16_to_f32(hetsim::lora_kernel::f32_to_f16(v))
}

#[test]
fn lora_redmule_runs_are_repeatable() {
    let case = LoraCase::random(512, 128, 8, 40, 9);
    let (r1, y1) = run(&case).expect("first run");
    let (r2, y2) = run(&case).expect("second run");
    assert_eq!(r1, r2, "reports differ between identical runs");
    assert_eq!(first_difference(&y1, &y2), None);
    // Timing does not depend on the data: other values, same cycles.
    let (r3, _) = run(&LoraCase::random(512, 128, 8, 40, 10)).expect("other data");
    assert_eq!(r1.cycles, r3.cycles);
}

#[test]
fn the_host_comparison_catches_a_wrong_value() {
    // The comparison is sensitive: a reference computed from data that differs in one XW
    // element by one binary16 step (2^-10 at 1.0) differs in exactly that output.
    let mut case = LoraCase::random(128, 128, 8, 16, 11);
    case.xw[37] = 1.0;
    let (_, y) = run(&case).expect("run");
    assert_eq!(first_difference(&y, &case.reference_for(KIND)), None);
    case.xw[37] = 1.0 + 2f32.powi(-10);
    assert_eq!(first_difference(&y, &case.reference_for(KIND)), Some(37));
    // The fp32 kernel's order is a different computation: the FP16 results are not its.
    assert!(first_difference(&y, &case.reference_for(LoraKernelKind::Fp32)).is_some());
}

/// Runs the ELF with its built-in default data and self-check on, after `patch` changed the
/// cluster's memory.
fn self_check(patch: impl FnOnce(&mut Cluster)) -> ClusterReport {
    let p = Program::load(&program()).expect("lora_redmule.elf");
    let mut c = Cluster::new(&ClusterConfig::snitch_study(), &p).expect("cluster");
    patch(&mut c);
    c.run().expect("run")
}

#[test]
fn the_in_kernel_self_check_passes_and_catches_corruption() {
    // The default data against lora_expected (gen_lora_data.py --redmule, exact rationals):
    // passes bit for bit.
    let ok = self_check(|_| {});
    assert_eq!(ok.exit_code, 0, "{}", String::from_utf8_lossy(&ok.console));
    // One input changed (X[0][0] = 1.0): exit 1, Y[0][*] mismatches first.
    let bad = self_check(|c| {
        c.write_symbol("lora_X", &0x3c00u16.to_le_bytes()).unwrap();
    });
    assert_eq!(bad.exit_code, 1);
    let console = String::from_utf8_lossy(&bad.console);
    assert!(console.contains("self-check failed at Y[0]["), "{console}");
    // One expected value off by one ulp (Y[0][5]): exit 1 naming exactly that output.
    let bad = self_check(|c| {
        let e = c.read_symbol("lora_expected", Some(12)).unwrap();
        let v = u16::from_le_bytes([e[10], e[11]]) ^ 1;
        let mut patched = e.clone();
        patched[10..12].copy_from_slice(&v.to_le_bytes());
        c.write_symbol("lora_expected", &patched).unwrap();
    });
    assert_eq!(bad.exit_code, 1);
    let console = String::from_utf8_lossy(&bad.console);
    assert!(
        console.contains("self-check failed at Y[0][5]"),
        "{console}"
    );
}

#[test]
fn lora_redmule_refuses_shapes_beyond_its_buffers_and_the_tcdm() {
    // in = 1024 exceeds the static buffers (in <= 512): exit code 4 with a console line.
    let e = run(&LoraCase::random(1024, 8, 1, 1, 1)).unwrap_err();
    assert!(e.contains("exit code 4") && e.contains("exceeds"), "{e}");
    // 129 tokens of 512 inputs overflow lora_X: binding fails and names the symbol.
    let e = run(&LoraCase::random(512, 8, 1, 129, 1)).unwrap_err();
    assert!(e.contains("lora_X") && e.contains("do not fit"), "{e}");
    // A 16 KiB TCDM cannot hold A and B of 512x512, r = 16 (32 KiB): exit code 5.
    let mut small = ClusterConfig::snitch_study();
    small.tcdm.size = 16 << 10;
    let e = run_lora_kernel(
        KIND,
        &program(),
        &small,
        &LoraCase::random(512, 512, 16, 8, 1),
    )
    .unwrap_err();
    assert!(
        e.contains("exit code 5") && e.contains("does not fit in TCDM"),
        "{e}"
    );
    // Without RedMulE the kernel is refused before it runs.
    let e = run_lora_kernel(
        KIND,
        &program(),
        &ClusterConfig::default(),
        &LoraCase::random(8, 8, 1, 1, 1),
    )
    .unwrap_err();
    assert!(e.contains("needs a cluster with a RedMulE engine"), "{e}");
}
