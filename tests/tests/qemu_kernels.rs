//! The project's kernels and U-mode ISA tests in their Linux user-mode builds
//! (kernels/build/user/) run under both `qemu-riscv32` and hetsim's functional machine: exit
//! codes and everything written to stdout must be identical. The C kernels write their final
//! integer registers, FP registers, fcsr and their whole data section at exit
//! (kernels/tools/crt0-user.S), so this compares final architectural state and memory.

use hetsim_isa::{Machine, MachineConfig, Program};
use hetsim_tests::workspace_root;
use std::process::Command;

#[test]
fn user_mode_builds_match_qemu() {
    let Some(qemu) = hetsim_tests::qemu_riscv32() else {
        return;
    };
    let dir = workspace_root().join("kernels/build/user");
    let mut elfs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "elf"))
        .collect();
    elfs.sort();
    assert!(elfs.len() >= 20, "found {} user-mode ELFs", elfs.len());
    let tmp = std::env::temp_dir().join(format!("hetsim-qemu-kernels-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let mut failures = Vec::new();
    for elf in &elfs {
        let name = elf
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        // QEMU refuses files without execute permission: run a 0755 copy.
        let copy = tmp.join(&name);
        std::fs::copy(elf, &copy).expect("copy");
        std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let out = Command::new(&qemu).arg(&copy).output().expect("run qemu");
        let q_code = out.status.code().unwrap_or(-1);
        let program = Program::load(elf).expect("load");
        let mut m = Machine::new(&program, &MachineConfig::default()).expect("machine");
        // lora_batch.elf (the speed benchmark, docs/performance.md) retires 160 M instructions.
        let exit = m.run(1_000_000_000).expect("hetsim run");
        if q_code != 0 || exit.code != 0 {
            failures.push(format!(
                "{name}: exit codes qemu {q_code}, hetsim {}",
                exit.code
            ));
        }
        if out.stdout != m.console {
            let at = out
                .stdout
                .iter()
                .zip(&m.console)
                .position(|(a, b)| a != b)
                .unwrap_or(out.stdout.len().min(m.console.len()));
            failures.push(format!(
                "{name}: output differs at byte {at} (qemu {} bytes, hetsim {} bytes)",
                out.stdout.len(),
                m.console.len()
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    println!("{} user-mode ELFs compared with qemu-riscv32", elfs.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
