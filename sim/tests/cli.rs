//! The `hetsim` binary end to end: exit statuses, summaries and error messages.

use std::process::Command;

fn hetsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("run hetsim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exec_reports_the_exit_code_and_instruction_count() {
    let (code, _, err) = hetsim(&["exec", "kernels/build/lora_matvec.elf"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("exited with code 0 (tohost = 0x1) after"),
        "{err}"
    );
}

#[test]
fn exec_watchdog_and_missing_file_are_errors() {
    let (code, _, err) = hetsim(&[
        "exec",
        "kernels/build/lora_matvec.elf",
        "--max-instructions",
        "100",
    ]);
    assert_eq!(code, 125);
    assert!(
        err.contains("instruction limit of 100 reached at pc 0x"),
        "{err}"
    );
    let (code, _, err) = hetsim(&["exec", "no/such.elf"]);
    assert_eq!(code, 125);
    assert!(err.contains("no/such.elf"), "{err}");
    let (code, _, err) = hetsim(&["exec", "kernels/build/lora_matvec.elf", "--ram", "12"]);
    assert_eq!(code, 125);
    assert!(err.contains("--ram"), "{err}");
}

#[test]
fn exec_trace_shows_register_writes() {
    let (code, _, err) = hetsim(&["exec", "kernels/build/rv32ui-upper.elf", "--trace"]);
    assert_eq!(code, 0, "{err}");
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with("0x80000000: "), "{first}");
    assert!(
        err.lines().any(|l| l.contains("lui ") && l.contains('=')),
        "no lui write traced"
    );
}

#[test]
fn tile_prints_the_error_table_and_rejects_bad_times() {
    let (code, out, err) = hetsim(&["tile", "--shape", "64,32", "--tokens", "4", "--draws", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rel L2 err") && out.contains("10y"), "{out}");
    let (code, _, err) = hetsim(&["tile", "--t-inf=-1s"]);
    assert_eq!(code, 125, "{err}");
}
