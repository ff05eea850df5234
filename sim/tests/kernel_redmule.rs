//! `hetsim kernel` on the RedMulE GEMM kernel: the printed report carries the engine's MACs per
//! cycle and share of peak over the whole GEMM (first TRIGGER to last beat), and `--output`
//! reads the result. The figures themselves are pinned in tests/tests/cluster_gemm_redmule.rs.

use std::process::Command;

#[test]
fn kernel_prints_redmule_utilisation_over_the_gemm() {
    let dir = std::env::temp_dir().join(format!("hetsim-gemm-redmule-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let z = dir.join("z.bin");
    let out = Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args([
            "kernel",
            "kernels/build/gemm_redmule.elf",
            "--cluster",
            "models/presets/cluster-snitch-study.ron",
            "--output",
        ])
        .arg(format!("gemm_Z={}", z.display()))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("run hetsim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("RedMulE span (first TRIGGER to last job's last beat): "))
        .unwrap_or_else(|| panic!("no span line in\n{stdout}"));
    // "... N cycles, X MAC/cycle, P% of the 32-FMA peak; ..."
    let pct: f64 = line
        .split("MAC/cycle, ")
        .nth(1)
        .and_then(|s| s.split('%').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no percentage in {line:?}"));
    assert!(pct >= 95.0, "{line}");
    assert!(line.contains("of the 32-FMA peak"), "{line}");
    assert!(line.ends_with(", 0 cycles idle between jobs"), "{line}");
    assert!(
        stdout.contains("RedMulE: 32 job(s), 16777216 MACs"),
        "{stdout}"
    );
    assert!(
        stdout.contains("gemm_redmule: 256x256x256 fp16 GEMM in "),
        "{stdout}"
    );
    assert_eq!(std::fs::metadata(&z).unwrap().len(), 2 * 256 * 256);
    std::fs::remove_dir_all(&dir).unwrap();
}
