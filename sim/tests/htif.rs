//! Issue 15, items 4 and 5, end to end through the `hetsim` binary: a bare-metal program
//! written for Spike's HTIF syscall proxy (kernels/htif_hello.c) prints and exits under
//! `hetsim exec`; unknown syscalls and blocks outside memory are errors naming the number or
//! address; the HAL's printf (kernels/include/hetsim_printf.h, kernels/printf_demo.c) prints
//! every conversion identically under `exec` and, line by line with a `[core N] ` prefix,
//! under `kernel`.

mod common;
use common::hetsim;

const HELLO: &str = "hello from a Spike-style program: 42\n";

#[test]
fn spike_style_program_prints_and_exits_through_htif() {
    let (code, out, err) = hetsim(&["exec", "kernels/build/htif_hello.elf"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, HELLO);
    assert!(
        err.contains("exited with code 0 (HTIF exit syscall)"),
        "{err}"
    );
}

#[test]
fn unknown_htif_syscall_is_an_error_naming_it() {
    let (code, out, err) = hetsim(&["exec", "kernels/build/htif_unknown.elf"]);
    assert_eq!(code, 125, "{err}");
    // What it printed before is kept.
    assert_eq!(out, HELLO);
    assert!(
        err.contains("hetsim: error: hart 0: tohost written with 0x")
            && err.contains(" in main+0x")
            && err.contains(": HTIF syscall 1234 (block at 0x")
            && err.contains("it serves 64 (write to fd 1 or 2) and 93 (exit)"),
        "{err}"
    );
}

#[test]
fn htif_block_outside_memory_is_an_error_naming_the_address() {
    let (code, out, err) = hetsim(&["exec", "kernels/build/htif_badblock.elf"]);
    assert_eq!(code, 125, "{err}");
    assert_eq!(out, HELLO);
    assert!(
        err.contains("tohost written with 0x40 at pc 0x")
            && err.contains("the HTIF syscall block at 0x00000040 (64 bytes) lies outside memory"),
        "{err}"
    );
}

/// What printf_demo's core 0 prints (glibc's printf prints the same for these values).
const CONVERSIONS: [&str; 8] = [
    "d: -42 7    42|42   |-0042",
    "u: 4000000000 0",
    "x: beef BEEF 0000beef",
    "s: kernel|    ab|ab    |",
    "c: ok!",
    "f: 0.333333 -1.00 2 4    2.000",
    "f: 0.000000100 300000000549775575777803994281145270272.000000 -0.0",
    "%: 100% done",
];

#[test]
fn printf_prints_every_conversion_under_exec() {
    let (code, out, err) = hetsim(&["exec", "kernels/build/printf_demo.elf"]);
    assert_eq!(code, 0, "{err}");
    let mut want: String = CONVERSIONS.iter().map(|l| format!("{l}\n")).collect();
    want.push_str("core 0 of 1 says hello\n");
    assert_eq!(out, want);
}

#[test]
fn printf_under_kernel_prefixes_each_line_with_the_core() {
    let (code, out, err) = hetsim(&["kernel", "kernels/build/printf_demo_cluster.elf"]);
    assert_eq!(code, 0, "{err}");
    let mut want: String = CONVERSIONS
        .iter()
        .map(|l| format!("[core 0] {l}\n"))
        .collect();
    for core in 0..9 {
        want.push_str(&format!("[core {core}] core {core} of 9 says hello\n"));
    }
    // The console comes first, then the run's report.
    assert!(
        out.starts_with(&want)
            && out[want.len()..].starts_with("kernels/build/printf_demo_cluster.elf: exit code 0"),
        "{out}"
    );
}
