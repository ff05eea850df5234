//! Issue 15 item 9, the kernel template (kernels/template/, docs/getting-started.md "Firmware:
//! your first cluster kernel"): the committed ELF scales an `.npy` input bound with `--input`
//! into an `.npy` output, prints its checksum from core 0, stops with the watchdog's report
//! under `--max-cycles 1000`, and is what the template's Makefile builds (byte for byte) when
//! clang and ld.lld are on PATH (required when HETSIM_REQUIRE_CLANG=1, as in .ci/run).

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::hetsim;

const ELF: &str = "kernels/template/build/my_kernel.elf";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh temporary directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hetsim-template-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A version 1.0 `.npy` file holding the 1-D little-endian f32 array `v`.
fn write_npy(path: &Path, v: &[f32]) {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        v.len()
    );
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for x in v {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// The f32 data of a `.npy` file (any shape; the header length is read from the file).
fn read_npy(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\x93NUMPY\x01\x00"),
        "{}",
        path.display()
    );
    let start = 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    bytes[start..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// The line the template prints for `out` (the sum in index order, as hetsim_printf's %f and
/// as bits).
fn checksum_line(out: &[f32]) -> String {
    let sum = out.iter().fold(0.0f32, |s, x| s + x);
    format!(
        "[core 0] checksum {sum:.6} (0x{:08x}) over {} elements",
        sum.to_bits(),
        out.len()
    )
}

#[test]
fn scales_an_npy_input_into_an_npy_output_and_prints_the_checksum() {
    let dir = temp_dir("run");
    // Negative, fractional and large values; every product and partial sum is exact in f32.
    let input: Vec<f32> = (0..256u16).map(|i| f32::from(i) * 0.75 - 50.0).collect();
    let (inp, outp) = (dir.join("in.npy"), dir.join("out.npy"));
    write_npy(&inp, &input);
    let in_arg = format!("in_data={}", inp.display());
    let out_arg = format!("out_data={}", outp.display());
    let (code, stdout, stderr) = hetsim(&["kernel", ELF, "--input", &in_arg, "--output", &out_arg]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let out = read_npy(&outp);
    let want: Vec<f32> = input.iter().map(|x| 2.0 * x).collect();
    assert_eq!(out, want);
    let line = checksum_line(&want);
    assert!(
        stdout.lines().any(|l| l == line),
        "want {line:?} in:\n{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_documented_run_prints_the_documented_checksum() {
    // docs/getting-started.md runs the committed kernels/template/in.npy (0, 0.25, .., 63.75).
    let dir = temp_dir("doc");
    let outp = dir.join("out.npy");
    let out_arg = format!("out_data={}", outp.display());
    let (code, stdout, stderr) = hetsim(&[
        "kernel",
        ELF,
        "--input",
        "in_data=kernels/template/in.npy",
        "--output",
        &out_arg,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("[core 0] checksum 16320.000000 (0x467f0000) over 256 elements"),
        "{stdout}"
    );
    let out = read_npy(&outp);
    assert_eq!(out[..4], [0.0, 0.5, 1.0, 1.5]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn max_cycles_stops_it_with_every_cores_pc_and_symbol() {
    let (code, stdout, stderr) = hetsim(&[
        "kernel",
        ELF,
        "--input",
        "in_data=kernels/template/in.npy",
        "--max-cycles",
        "1000",
    ]);
    assert_eq!(code, 125, "{stdout}{stderr}");
    assert!(
        stderr.contains("watchdog: no exit after 1000 cycles")
            && stderr.contains("core 0 running at pc 0x")
            && stderr.contains(" in main+0x")
            && stderr.contains("core 8 "),
        "{stderr}"
    );
    assert!(!stdout.contains("checksum"), "{stdout}");
}

#[test]
fn input_into_the_bss_output_array_is_refused() {
    let (code, _, stderr) = hetsim(&["kernel", ELF, "--input", "out_data=kernels/template/in.npy"]);
    assert_eq!(code, 125, "{stderr}");
    assert!(
        stderr.contains("`out_data`") && stderr.contains("lies in .bss"),
        "{stderr}"
    );
}

/// Whether `tool` is an executable file in a directory of PATH.
fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
}

#[test]
fn the_makefile_builds_the_committed_elf() {
    if !(on_path("clang") && on_path("ld.lld") && on_path("make")) {
        assert!(
            std::env::var("HETSIM_REQUIRE_CLANG").map_or(true, |v| v != "1"),
            "clang, ld.lld and make are required (HETSIM_REQUIRE_CLANG=1) but not all on PATH"
        );
        eprintln!("NOTICE: clang, ld.lld or make not found; skipping the template's rebuild");
        return;
    }
    let dir = temp_dir("build");
    let build = format!("BUILD={}", dir.display());
    let out = Command::new("make")
        .args(["-s", "-C", "kernels/template", &build])
        .current_dir(root())
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let built = std::fs::read(dir.join("my_kernel.elf")).unwrap();
    let committed = std::fs::read(root().join(ELF)).unwrap();
    assert!(
        built == committed,
        "{} differs from the committed {ELF}: rebuild it with `make -C kernels/template`",
        dir.join("my_kernel.elf").display()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
