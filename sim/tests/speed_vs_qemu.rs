//! tools/speed-vs-qemu, the side-by-side speed benchmark (docs/performance.md): it reports the
//! hetsim/QEMU ratio and fails only when a run fails, the two outputs differ or QEMU is
//! missing. These tests run it on the short user-mode lora_matvec ELF, with stand-in QEMU
//! scripts for the failure cases and the real qemu-riscv32 for the success case.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Runs the script with one repetition on kernels/build/user/lora_matvec.elf and this build's
/// hetsim binary, plus `args`.
fn speed_vs_qemu(args: &[&str]) -> Output {
    let root = root();
    Command::new("bash")
        .arg(root.join("tools/speed-vs-qemu"))
        .args([
            "--reps",
            "1",
            "--hetsim",
            env!("CARGO_BIN_EXE_hetsim"),
            "--elf",
        ])
        .arg(root.join("kernels/build/user/lora_matvec.elf"))
        .args(args)
        .output()
        .expect("run tools/speed-vs-qemu")
}

/// Writes an executable stand-in for qemu-riscv32 (a shell script body) into a fresh temp dir.
fn fake_qemu(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hetsim-speed-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("qemu");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write fake qemu");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn different_outputs_fail() {
    let q = fake_qemu("differs", "echo something else");
    let out = speed_vs_qemu(&["--qemu", q.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(q.parent().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("qemu printed something else than the first run"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_failing_run_fails() {
    let q = fake_qemu("fails", "exit 3");
    let out = speed_vs_qemu(&["--qemu", q.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(q.parent().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("qemu exited with status 3"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn missing_qemu_is_an_error_unless_skipped() {
    let out = speed_vs_qemu(&["--qemu", "/nonexistent/qemu-riscv32"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not found"),
        "{}",
        text(&out.stderr)
    );
    let out = speed_vs_qemu(&["--qemu", "/nonexistent/qemu-riscv32", "--skip-without-qemu"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("skipped"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn equal_runs_report_the_ratio() {
    let found = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|p| p.join("qemu-riscv32").is_file())
    });
    if !found {
        assert!(
            std::env::var("HETSIM_REQUIRE_QEMU").map_or(true, |v| v != "1"),
            "qemu-riscv32 is required (HETSIM_REQUIRE_QEMU=1) but not on PATH"
        );
        eprintln!("NOTICE: qemu-riscv32 not found; skipping the side-by-side run");
        return;
    }
    let out = speed_vs_qemu(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    // lora_matvec retires 19,597 instructions in its user-mode build.
    assert!(
        stdout.contains("instructions (hetsim statistics): 19597"),
        "{stdout}"
    );
    assert!(stdout.contains("ratio hetsim/qemu: wall "), "{stdout}");
}
