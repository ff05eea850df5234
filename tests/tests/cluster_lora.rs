//! The multi-core LoRA kernel on the cycle-level cluster: outputs equal the host reference
//! bit for bit over a sweep of shapes (including the study's 512x128 and 128x128 layers with
//! r = 8 and t = 8..128), and a repeated run gives identical outputs and cycle counts.

use hetsim_models::cluster::ClusterConfig;
use hetsim_tests::lora::{run_lora, LoraCase};
use hetsim_tests::workspace_root;
use std::path::PathBuf;

fn program() -> PathBuf {
    workspace_root().join("kernels/build/lora.elf")
}

#[test]
fn lora_matches_the_host_reference_over_shapes() {
    let p = program();
    let cfg = ClusterConfig::default();
    let mut shapes = Vec::new();
    for (in_features, out_features) in [(512, 128), (128, 128)] {
        for t in [8, 16, 32, 64, 128] {
            shapes.push((in_features, out_features, 8, t));
        }
    }
    // Odd shapes: a rank that does not divide evenly, a token count below the chunk, a
    // wide output.
    shapes.extend([(64, 96, 5, 3), (128, 512, 16, 9), (384, 128, 8, 17)]);
    for (i, &(in_features, out_features, r, t)) in shapes.iter().enumerate() {
        let case = LoraCase::random(in_features, out_features, r, t, 100 + i as u64);
        let (report, y) = run_lora(&p, &cfg, &case)
            .unwrap_or_else(|e| panic!("{in_features}x{out_features} r{r} t{t}: {e}"));
        assert_eq!(
            report.exit_code,
            0,
            "{in_features}x{out_features} r{r} t{t}: {}",
            String::from_utf8_lossy(&report.console)
        );
        let expect = case.reference();
        let bad = y
            .iter()
            .zip(&expect)
            .position(|(a, b)| a.to_bits() != b.to_bits());
        assert!(
            bad.is_none(),
            "{in_features}x{out_features} r{r} t{t}: Y[{}] = {} but the reference is {}",
            bad.unwrap_or(0),
            y[bad.unwrap_or(0)],
            expect[bad.unwrap_or(0)]
        );
        println!(
            "{in_features:>4}x{out_features:<4} r={r:<2} t={t:<3}: {:>8} cycles, {:>9} instructions",
            report.cycles,
            report.instructions()
        );
    }
}

#[test]
fn lora_runs_are_repeatable() {
    let p = program();
    let cfg = ClusterConfig::default();
    let case = LoraCase::random(128, 128, 8, 32, 7);
    let (r1, y1) = run_lora(&p, &cfg, &case).expect("first run");
    let (r2, y2) = run_lora(&p, &cfg, &case).expect("second run");
    assert_eq!(r1, r2, "reports differ between identical runs");
    assert_eq!(
        y1.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        y2.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn lora_rejects_shapes_beyond_its_buffers() {
    let p = program();
    let cfg = ClusterConfig::default();
    // in = 1024 exceeds the kernel's static buffers (in <= 512): the data fits lora_X (one
    // token), the kernel itself refuses with exit code 4 and a console line.
    let e = run_lora(&p, &cfg, &LoraCase::random(1024, 8, 1, 1, 1)).unwrap_err();
    assert!(e.contains("exit code 4") && e.contains("exceeds"), "{e}");
    // 129 tokens of 512 inputs overflow lora_X: binding fails and names the symbol.
    let e = run_lora(&p, &cfg, &LoraCase::random(512, 8, 1, 129, 1)).unwrap_err();
    assert!(e.contains("lora_X") && e.contains("do not fit"), "{e}");
}
