//! Runs every committed single-hart kernel and ISA self-test ELF (`kernels/build/*.elf`
//! except the cluster kernels, recognised by the `__tcdm_data_start` symbol of
//! link-cluster.ld: they need the cluster's peripherals and are tested in cluster_lora*.rs,
//! cluster_ubench.rs and cluster_gemm_*.rs, and the fixtures that fail on purpose: the
//! debugging ones `debug_demo*.elf`, tested in sim/tests/firmware.rs, and `htif_unknown.elf`
//! and `htif_badblock.elf`, tested in sim/tests/htif.rs) on the functional machine: each must
//! exit with code 0 through `tohost` (or, for `htif_hello.elf`, through the HTIF exit syscall). `rv32mi-misaligned`
//! runs under both misaligned-access policies (it accepts either a hardware result or the
//! architected trap).

use hetsim_isa::{ExitKind, Machine, MachineConfig, Misaligned, Program};
use hetsim_tests::workspace_root;

fn run(path: &std::path::Path, misaligned: Misaligned) -> Result<(), String> {
    let program = Program::load(path).map_err(|e| e.to_string())?;
    let config = MachineConfig {
        misaligned,
        ..MachineConfig::default()
    };
    let mut m = Machine::new(&program, &config).map_err(|e| e.to_string())?;
    let exit = m.run(10_000_000).map_err(|e| e.to_string())?;
    match exit.kind {
        ExitKind::Tohost(1) => Ok(()),
        ExitKind::HtifExit if exit.code == 0 => Ok(()),
        _ => Err(format!(
            "exit code {} ({:?}); an ISA test's code is the failing test case",
            exit.code, exit.kind
        )),
    }
}

#[test]
fn every_committed_elf_passes() {
    let dir = workspace_root().join("kernels/build");
    let mut elfs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "elf"))
        .filter(|p| {
            let program = Program::load(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let fixture = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .is_some_and(|n| {
                    n.starts_with("debug_demo")
                        || n == "htif_unknown.elf"
                        || n == "htif_badblock.elf"
                });
            program.symbol("__tcdm_data_start").is_none() && !fixture
        })
        .collect();
    elfs.sort();
    assert!(
        elfs.len() >= 28,
        "expected the LoRA kernel and at least 27 ISA tests, found {}",
        elfs.len()
    );
    let mut failures = Vec::new();
    for elf in &elfs {
        let name = elf.file_name().unwrap_or_default().to_string_lossy();
        let policies: &[Misaligned] = if name.contains("misaligned") {
            &[Misaligned::Trap, Misaligned::Allow]
        } else {
            &[Misaligned::Trap]
        };
        for &p in policies {
            if let Err(e) = run(elf, p) {
                failures.push(format!("{name} ({p:?}): {e}"));
            }
        }
    }
    println!("{} ELFs run", elfs.len());
    assert!(failures.is_empty(), "failing:\n{}", failures.join("\n"));
}

/// A self-test that fails must be reported as a failure, with its case number: every `add`
/// in the body of the integer arithmetic test (between the symbols `rvtest_body` and `fail`)
/// is corrupted into `sub`.
#[test]
fn a_broken_test_fails_with_its_case_number() {
    let path = workspace_root().join("kernels/build/rv32ui-arith.elf");
    let program = Program::load(&path).expect("rv32ui-arith.elf");
    let mut m = Machine::new(&program, &MachineConfig::default()).expect("machine");
    let body = program.symbol("rvtest_body").expect("rvtest_body symbol");
    let end = program.symbol("fail").expect("fail symbol");
    let mut patched = 0;
    for addr in (body..end).step_by(4) {
        let w = u32::from_le_bytes(m.mem.read_bytes(addr, 4).expect("text").try_into().unwrap());
        // add rd, rs1, rs2: funct7 0, funct3 0, opcode 0x33, rd != 0
        if w & 0xfe00_707f == 0x0000_0033 && (w >> 7) & 31 != 0 {
            m.mem
                .write_bytes(addr, &(w | 0x4000_0000).to_le_bytes())
                .expect("patch");
            patched += 1;
        }
    }
    assert!(patched > 0, "no add instruction in the test body");
    let exit = m.run(10_000_000).expect("the test reports through tohost");
    assert_ne!(
        exit.code, 0,
        "{patched} corrupted adds must fail a test case"
    );
    assert!(matches!(exit.kind, ExitKind::Tohost(v) if v & 1 == 1 && v > 1));
}
