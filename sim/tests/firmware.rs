//! Issue 15, the firmware engineer's loop, end to end on the `hetsim` binary with the
//! debugging fixtures (kernels/debug_demo.c built with -g into kernels/build/debug_demo*.elf):
//! reports name symbol+offset and file:line, traps under crt0 are reported instead of becoming
//! exit code 128 + mcause, stack guards, --max-cycles, Ctrl-C, and inputs/outputs that cannot
//! lie. docs/debugging.md shows the same output.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::hetsim;

const DEMO: &str = "kernels/build/debug_demo.elf";
const JUMP: &str = "kernels/build/debug_demo_jump.elf";
const HANG: &str = "kernels/build/debug_demo_hang.elf";

fn root() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/..")
}

/// A file holding the 4-byte little-endian `v` (for `--input fault_mode=FILE`).
fn word_file(name: &str, v: u32) -> String {
    let p = std::env::temp_dir().join(format!("hetsim-fw-{}-{name}", std::process::id()));
    std::fs::write(&p, v.to_le_bytes()).unwrap();
    p.display().to_string()
}

/// The demo kernel on the cluster in failure mode `mode` (extra args after).
fn demo(mode: u32, extra: &[&str]) -> (i32, String, String) {
    let f = word_file(&format!("mode{mode}"), mode);
    let binding = format!("fault_mode={f}");
    let mut args = vec!["kernel", DEMO, "--input", &binding];
    args.extend_from_slice(extra);
    let r = hetsim(&args);
    let _ = std::fs::remove_file(&f);
    r
}

#[test]
fn exec_reports_a_jump_to_nowhere_with_symbols_and_lines() {
    // Before: crt0's handler turned the fault into "exited with code 129".
    let (code, _, err) = hetsim(&["exec", JUMP]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("instruction fetch from unmapped address 0x12345678 (mcause 1, mtval 0x12345678) at pc 0x12345678 (nothing is mapped there), reached from pc 0x")
            && err.contains(" in fail+0x")
            && err.contains("(debug_demo.c:")
            && err.contains("crt0's __hetsim_trap")
            && err.contains("exit code 129"),
        "{err}"
    );
}

#[test]
fn kernel_faults_name_cause_symbol_and_line() {
    let (code, _, err) = demo(1, &[]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("core 0: instruction fetch from unmapped address 0x12345678")
            && !err.contains("illegal instruction 0x00000000")
            && err.contains("reached from pc 0x")
            && err.contains("debug_demo.c:"),
        "{err}"
    );
    let (code, _, err) = demo(2, &[]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("core 0: load from unmapped address 0x00000004 (mcause 5, mtval 0x00000004)")
            && err.contains(" in fail+0x")
            && err.contains("(debug_demo.c:"),
        "{err}"
    );
    let (code, _, err) = demo(3, &[]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("core 0: illegal instruction 0x00000000 (mcause 2") && err.contains("fail+0x"),
        "{err}"
    );
}

#[test]
fn the_stack_guard_names_the_core_that_overflows() {
    let cfg = std::env::temp_dir().join(format!("hetsim-fw-{}-guard.ron", std::process::id()));
    std::fs::write(&cfg, "(stack_guard: Some(1024))").unwrap();
    let c = cfg.display().to_string();
    // Without the guard the overflow runs silently through core 1's stack (exit 0).
    let (code, _, err) = demo(4, &[]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = demo(4, &["--cluster", &c]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("core 0: stack overflow: sp = 0x")
            && err.contains("leaves the core's stack 0x1001fc00..0x10020000 (1024 bytes")
            && err.contains(" in recurse")
            && err.contains("debug_demo.c:"),
        "{err}"
    );
    // The correct run passes with the guard on.
    let (code, _, err) = hetsim(&["kernel", DEMO, "--cluster", &c]);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_file(&cfg).unwrap();
}

#[test]
fn max_cycles_stops_a_hung_kernel_early_and_names_where_it_spins() {
    let t = Instant::now();
    let (code, _, err) = demo(5, &["--max-cycles", "100000"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("watchdog: no exit after 100000 cycles (the limit: --max-cycles")
            && err.contains("core 0 running at pc 0x")
            && err.contains(" in fail+0x")
            && err.contains("core 1 asleep (wfi)"),
        "{err}"
    );
    assert!(t.elapsed() < Duration::from_secs(20));
    let (code, _, err) = hetsim(&["kernel", DEMO, "--max-cycles", "0"]);
    assert_eq!(code, 2, "{err}");
    // exec takes --max-cycles as its instruction limit.
    let (code, _, err) = hetsim(&["exec", HANG, "--max-cycles", "5000"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("instruction limit of 5000 reached at pc 0x") && err.contains(" in fail+0x"),
        "{err}"
    );
}

/// Ctrl-C (SIGINT) stops the run and reports where it was, not the watchdog.
#[test]
fn ctrl_c_reports_the_cycle_and_every_cores_pc() {
    for args in [
        // The functional machine runs 10^9 instructions in about a second: raise its limit.
        vec!["exec", HANG, "--max-instructions", "1000000000000"],
        vec!["kernel", DEMO, "--input", "fault_mode=@"],
    ] {
        let f = word_file("ctrlc", 5);
        let args: Vec<String> = args.iter().map(|a| a.replace('@', &f)).collect::<Vec<_>>();
        let child = Command::new(env!("CARGO_BIN_EXE_hetsim"))
            .args(&args)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run hetsim");
        std::thread::sleep(Duration::from_millis(1500));
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill -INT");
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{args:?}: {err}");
        assert!(!err.contains("watchdog") && !err.contains("limit"), "{err}");
        if args[0] == "exec" {
            assert!(
                err.contains("hetsim: interrupted after ")
                    && err.contains("hart 0 at pc 0x")
                    && err.contains(" in fail+0x"),
                "{err}"
            );
        } else {
            assert!(
                err.contains("hetsim: interrupted at cycle ")
                    && err.contains("core 0 running at pc 0x")
                    && err.contains(" in fail+0x"),
                "{err}"
            );
        }
        let _ = std::fs::remove_file(&f);
    }
}

#[test]
fn inputs_into_bss_and_outputs_past_a_symbol_are_refused() {
    let f = word_file("bss", 7);
    let (code, _, err) = hetsim(&["kernel", DEMO, "--input", &format!("scratch={f}")]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("`scratch`")
            && err.contains("lies in .bss")
            && err.contains("crt0 zeroes before main"),
        "{err}"
    );
    let _ = std::fs::remove_file(&f);
    let (code, _, err) = hetsim(&["kernel", DEMO, "--output", "out_data:9999=/dev/null"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("9999 bytes of `out_data` asked for, but the symbol is 64 bytes long"),
        "{err}"
    );
    // Within the symbol it works.
    let out = std::env::temp_dir().join(format!("hetsim-fw-{}-out.bin", std::process::id()));
    let binding = format!("out_data:64={}", out.display());
    let (code, _, err) = hetsim(&["kernel", DEMO, "--output", &binding]);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(f32::from_le_bytes(bytes[4..8].try_into().unwrap()), 4.0);
    std::fs::remove_file(&out).unwrap();
}

#[test]
fn traces_name_symbols_lines_and_fp_values() {
    let (code, _, err) = hetsim(&["kernel", DEMO, "--trace"]);
    assert_eq!(code, 0, "{err}");
    // `out_data[i] = 2.0f * in_data[i] + ...`: an FP result shown as a number, in main.
    assert!(
        err.lines().any(|l| l.contains(" main+0x")
            && l.contains("(f32 ")
            && l.contains("; debug_demo.c:")),
        "{}",
        err.lines().take(50).collect::<Vec<_>>().join("\n")
    );
    assert!(
        err.lines().any(|l| l.contains(" _start ")),
        "no _start line"
    );
    let (code, _, err) = hetsim(&["exec", JUMP, "--trace"]);
    assert_eq!(code, 125, "{err}");
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("0x80000000: ") && first.contains(" _start "),
        "{first}"
    );
    assert!(err
        .lines()
        .any(|l| l.contains(" fail+0x") && l.contains("debug_demo.c:")));
}
