//! Cross-crate tests for hetsim. The tests live in `tests/tests/`; this library holds what
//! they share: a minimal ELF writer ([`elfgen`]), the random-program generator for the QEMU
//! differential test ([`randprog`]), the LoRA kernel runner and host reference ([`lora`]) and helpers to find the workspace's files.

pub mod elfgen;
pub mod fuzzing;
pub mod lora;
pub mod randprog;

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
