//! Special and endless files named as inputs (docs/robustness.md, "Input size limits"): every
//! reader refuses a file larger than its limit, naming the file and the limit, instead of
//! reading until memory runs out, and a FIFO nobody writes to does not hang. Each command runs
//! as a child process killed after a deadline, so a regression fails instead of hanging.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs hetsim from the workspace root; kills it and fails after `secs` seconds. Returns the
/// status and stderr.
fn hetsim(args: &[&str], secs: u64) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hetsim");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hetsim {args:?} still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_refused(args: &[&str], want: &str) {
    let (code, err) = hetsim(args, 60);
    assert_eq!(code, 125, "{args:?}: {err}");
    assert!(
        err.contains(want),
        "{args:?}: {err}\nshould contain: {want}"
    );
}

#[test]
fn dev_zero_as_each_input_is_refused_naming_the_limit() {
    assert_refused(
        &["exec", "/dev/zero"],
        "/dev/zero: larger than the 256 MiB (268435456 bytes) hetsim reads as an ELF program",
    );
    assert_refused(
        &["kernel", "/dev/zero"],
        "/dev/zero: larger than the 256 MiB (268435456 bytes) hetsim reads as an ELF program",
    );
    assert_refused(
        &["kernel", "kernels/build/lora.elf", "--cluster", "/dev/zero"],
        "/dev/zero: larger than the 64 MiB (67108864 bytes) hetsim reads as a cluster \
         configuration",
    );
    assert_refused(
        &["tile", "--config", "/dev/zero"],
        "/dev/zero: larger than the 64 MiB (67108864 bytes) hetsim reads as a tile configuration",
    );
    assert_refused(
        &["validate", "/dev/zero"],
        "/dev/zero: larger than the 64 MiB (67108864 bytes) hetsim reads as a scenario",
    );
    assert_refused(
        &["run", "/dev/urandom"],
        "/dev/urandom: larger than the 64 MiB (67108864 bytes) hetsim reads as a scenario",
    );
    // `.npy` inputs: bounded by the symbol they fill (16 bytes: 4 values) ...
    let dir = std::env::temp_dir().join(format!("hetsim-special-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let npy = dir.join("zero.npy");
    let raw = dir.join("zero.bin");
    let _ = std::fs::remove_file(&npy);
    let _ = std::fs::remove_file(&raw);
    std::os::unix::fs::symlink("/dev/zero", &npy).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &raw).unwrap();
    let bind = format!("lora_shape={}", npy.display());
    assert_refused(
        &["kernel", "kernels/build/lora.elf", "--input", &bind],
        "zero.npy: larger than the 65568 bytes hetsim reads as a .npy file of at most 4 values",
    );
    let bind = format!("lora_shape={}", raw.display());
    assert_refused(
        &["kernel", "kernels/build/lora.elf", "--input", &bind],
        "zero.bin: larger than the 16 bytes hetsim reads as data for a 16-byte symbol",
    );
    // ... and by what `hetsim tile` can use (2^26 values).
    let npy_s = npy.display().to_string();
    assert_refused(
        &["tile", "--inputs", &npy_s],
        "zero.npy: larger than the 524352 KiB (536936448 bytes) hetsim reads as a .npy file of \
         at most 67108864 values",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A FIFO nobody writes to reads as an empty file at once (opening it for reading would
/// otherwise block until a writer comes); one fed forever is cut at the limit.
#[test]
fn fifos_do_not_hang() {
    let dir = std::env::temp_dir().join(format!("hetsim-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("s.ron");
    let _ = std::fs::remove_file(&fifo);
    let ok = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let f = fifo.display().to_string();
    // Empty: the RON error for an empty scenario.
    let (code, err) = hetsim(&["validate", &f], 20);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.starts_with("hetsim: error: Expected opening `(` for struct `Scenario`")
            && err.contains(&format!(" --> {f}:1:1\n")),
        "{err}"
    );
    // Endless: a writer filling the FIFO with spaces until the reader goes away.
    let w = fifo.clone();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut out = std::fs::OpenOptions::new().write(true).open(&w).unwrap();
        let chunk = [b' '; 65536];
        while out.write_all(&chunk).is_ok() {}
    });
    std::thread::sleep(Duration::from_millis(100));
    let (code, err) = hetsim(&["validate", &f], 60);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("s.ron: larger than the 64 MiB (67108864 bytes) hetsim reads as a scenario"),
        "{err}"
    );
    writer.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
