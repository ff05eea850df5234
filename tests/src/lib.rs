//! Cross-crate tests for hetsim. The tests live in `tests/tests/`; this library holds what
//! they share: a minimal ELF writer ([`elfgen`]), the random-program generator for the QEMU
//! differential test ([`randprog`]), the LoRA kernel runner and host reference ([`lora`]) and helpers to find the workspace's files.

pub mod elfgen;
pub mod fuzzing;
pub mod lora;
pub mod randprog;

use hetsim_isa::Program;
use hetsim_models::cluster::ClusterConfig;
use std::path::PathBuf;

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// Finds `qemu-riscv32` on PATH. CI always has it; locally a test that needs it prints a
/// visible notice and skips when it is absent, unless `HETSIM_REQUIRE_QEMU=1` (set by
/// `.ci/run`) makes its absence a failure.
pub fn qemu_riscv32() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("qemu-riscv32"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("HETSIM_REQUIRE_QEMU").is_ok_and(|v| v == "1") {
            panic!("qemu-riscv32 is required (HETSIM_REQUIRE_QEMU=1) but not on PATH");
        }
        eprintln!("NOTICE: qemu-riscv32 not found; skipping the QEMU differential test (apt-get install qemu-user)");
    }
    found
}

/// The cluster configurations every committed ELF runs on in the timing pins and the
/// private-run differential: the three presets and a study cluster with a shared FPU and 8
/// banks (more arbitration and FPU contention; a shared FPU also keeps FP operations out of
/// private runs), each with a 2,000,000-cycle watchdog.
pub fn cluster_pin_configs() -> Vec<(&'static str, ClusterConfig)> {
    let mut shared = ClusterConfig::snitch_study();
    shared.fpu.shared = true;
    shared.tcdm.banks = 8;
    let mut v = vec![
        ("snitch", ClusterConfig::snitch()),
        ("study", ClusterConfig::snitch_study()),
        ("pulp", ClusterConfig::pulp()),
        ("study-shared-fpu-8-banks", shared),
    ];
    for (_, c) in &mut v {
        c.max_cycles = 2_000_000;
    }
    v
}

/// Every committed ELF of `kernels/build/` (file name, loaded program), sorted by name; at
/// least 40 of them (fewer means the directory is not the project's).
pub fn committed_elves() -> Vec<(String, Program)> {
    let dir = workspace_root().join("kernels/build");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("kernels/build")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".elf"))
        .collect();
    names.sort();
    assert!(names.len() >= 40, "kernels/build has {} ELFs", names.len());
    names
        .into_iter()
        .map(|n| {
            let program = Program::load(&dir.join(&n)).expect("ELF loads");
            (n, program)
        })
        .collect()
}
