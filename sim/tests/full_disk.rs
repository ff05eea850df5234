//! Full disks and failing output (issue 8): every output file hetsim writes, on a disk with no
//! space left, gives an error naming the file and the OS error, never a panic, and a sweep keeps
//! every finished point and resumes once there is space again.
//!
//! Two sources of a real ENOSPC:
//! - `/dev/full` (every write fails with ENOSPC), as an output path or behind a symlink where a
//!   sweep writes a fixed file name. Always available on Linux.
//! - a 128 KiB tmpfs mounted in a user + mount namespace (`unshare -rm`, util-linux), filled up
//!   until a sweep runs out of space partway. Runs unprivileged where user namespaces are
//!   allowed, and as root; skipped with a notice where namespaces are not available (some
//!   containers), unless `HETSIM_REQUIRE_NAMESPACES=1` makes that a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;

/// The shared 48-point sweep (tests/common).
fn scenario() -> String {
    common::sweep_scenario("full-disk")
}

const POINTS: usize = 48;

struct Tmp(PathBuf);
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(tag: &str) -> Tmp {
    let dir = std::env::temp_dir().join(format!("hetsim-full-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("s.ron"), scenario()).unwrap();
    // The same without its sweep axes, for `hetsim run` (which refuses them).
    let one: String = scenario()
        .lines()
        .filter(|l| !l.contains("axes:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("one.ron"), one).unwrap();
    Tmp(dir)
}

/// Runs hetsim; (status, stdout, stderr).
fn hetsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A failure: status 125, one `hetsim: error:` naming `file` and ENOSPC, no panic.
fn assert_enospc(r: &(i32, String, String), file: &str, what: &str) {
    let (c, _, e) = r;
    assert_eq!(*c, 125, "{what}: {e}");
    assert!(
        e.contains(&format!("{file}: No space left on device")),
        "{what}: the error does not name {file} and ENOSPC: {e}"
    );
    assert!(!e.contains("panicked"), "{what}: {e}");
}

/// Every line of a results file is complete (ends with a newline) and, for the JSONL, a record;
/// returns the point numbers.
fn complete_rows(dir: &Path) -> Vec<u64> {
    let jsonl = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    assert!(
        jsonl.is_empty() || jsonl.ends_with('\n'),
        "a torn last line in results.jsonl"
    );
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert!(csv.ends_with('\n'), "a torn last line in results.csv");
    jsonl
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["point"].as_u64().unwrap()
        })
        .collect()
}

fn results(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(dir.join("results.jsonl")).unwrap(),
        std::fs::read(dir.join("results.csv")).unwrap(),
    )
}

/// `hetsim run --csv/--json/--trace`, `hetsim trace gen --out` and standard output on a full
/// disk: an error naming the file and "No space left on device".
#[test]
fn run_and_trace_outputs_on_a_full_disk_are_named_errors() {
    let d = scratch("run");
    let sc = d.0.join("s.ron");
    for opt in ["--csv", "--json", "--trace"] {
        let r = hetsim(&["run", s(&sc.with_file_name("one.ron")), opt, "/dev/full"]);
        assert_enospc(&r, "/dev/full", opt);
    }
    let r = hetsim(&[
        "trace",
        "gen",
        "--model",
        "mobilebert",
        "--out",
        "/dev/full",
    ]);
    assert_enospc(&r, "/dev/full", "trace gen --out");
    // Standard output redirected to a full disk: `print!` would panic here.
    for args in [
        vec!["validate", s(&sc)],
        vec!["trace", "gen", "--model", "mobilebert"],
        vec!["sweep", s(&sc), "--out", "x", "--dry-run"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_hetsim"))
            .args(&args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {e}");
        assert!(
            e.contains("writing standard output: No space left on device"),
            "{args:?}: {e}"
        );
    }
    // A full stderr is no reason to panic either: the status still tells.
    let out = Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args(["validate", "no/such.ron"])
        .stderr(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
}

/// Standard output closed by its reader (`| head`): status 141 and no message, as for a
/// program killed by SIGPIPE, instead of a panic in `print!`.
#[test]
fn a_closed_pipe_on_stdout_ends_quietly() {
    let d = scratch("pipe");
    // 2000 combinations: a dry run prints about 100 KB, more than a pipe holds, so the write
    // fails whether or not it started before the reader went away.
    let times: Vec<String> = (1..=1000).map(|t| format!("{t}.0")).collect();
    let sc = d.0.join("big.ron");
    std::fs::write(
        &sc,
        format!(
            "(name: \"pipe\", workload: (schedule: Model(\"mobilebert\"), seq_len: Some(16)), \
             sweep: (integration_time_ns: [{}], tokens_per_batch: [8, 16]), numerics: None)",
            times.join(", ")
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args(["sweep", s(&sc), "--out", s(&d.0.join("o")), "--dry-run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{e}");
    assert!(e.is_empty(), "{e}");
}

/// A sweep whose result files cannot be rewritten (`NAME.tmp` is a symlink to /dev/full): the
/// error names the file, the rows of the earlier, interrupted run are untouched, and the same
/// command finishes the sweep once the disk has space again.
#[test]
fn a_sweep_keeps_its_rows_when_the_rewrite_hits_a_full_disk() {
    let d = scratch("rewrite");
    let sc = d.0.join("s.ron");
    let full = d.0.join("full");
    let (c, _, e) = hetsim(&["sweep", s(&sc), "--out", s(&full)]);
    assert_eq!(c, 0, "{e}");
    // An interrupted run: the first 5 rows of the JSONL and a CSV a little behind it.
    let part = d.0.join("part");
    std::fs::create_dir_all(&part).unwrap();
    std::fs::copy(full.join("manifest.json"), part.join("manifest.json")).unwrap();
    let jsonl = std::fs::read_to_string(full.join("results.jsonl")).unwrap();
    let five: String = jsonl.lines().take(5).map(|l| format!("{l}\n")).collect();
    std::fs::write(part.join("results.jsonl"), &five).unwrap();
    let csv = std::fs::read_to_string(full.join("results.csv")).unwrap();
    let behind: String = csv.lines().take(5).map(|l| format!("{l}\n")).collect();
    std::fs::write(part.join("results.csv"), &behind).unwrap();
    let before = results(&part);
    for name in ["results.jsonl", "results.csv"] {
        let tmp = part.join(format!("{name}.tmp"));
        std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
        let r = hetsim(&["sweep", s(&sc), "--out", s(&part)]);
        let file = part.join(name).display().to_string();
        assert_enospc(&r, &file, name);
        assert!(r.2.contains("5 finished point(s) are kept"), "{}", r.2);
        assert!(r.2.contains("run the same command again"), "{}", r.2);
        // The rewrite failed whole: the old file is as it was (the JSONL was rewritten with
        // the same rows before the CSV failed) and the temporary file is gone.
        assert!(results(&part) == before, "{name}: the result files changed");
        assert!(
            std::fs::symlink_metadata(&tmp).is_err(),
            "{name}.tmp left behind"
        );
        assert_eq!(complete_rows(&part).len(), 5);
    }
    // Space again: the same command resumes and ends with an uninterrupted run's files.
    let (c, _, e) = hetsim(&["sweep", s(&sc), "--out", s(&part)]);
    assert_eq!(c, 0, "{e}");
    assert!(e.contains("5 already done"), "{e}");
    assert!(results(&part) == results(&full), "resumed files differ");
}

fn namespaces_required() -> bool {
    std::env::var("HETSIM_REQUIRE_NAMESPACES").is_ok_and(|v| v == "1")
}

/// The real thing: a sweep on a tmpfs that runs out of space partway (inside a user + mount
/// namespace, see [`full_disk_inside_a_namespace`]).
#[test]
fn a_sweep_on_a_disk_that_fills_up_keeps_every_finished_point() {
    let d = scratch("tmpfs");
    let mnt = d.0.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    // Can this machine mount a tmpfs in a new user + mount namespace?
    let probe = Command::new("unshare")
        .args([
            "-rm",
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=64k",
            "tmpfs",
            s(&mnt),
        ])
        .output();
    let why = match &probe {
        Err(e) => Some(format!("unshare: {e}")),
        Ok(o) if !o.status.success() => Some(String::from_utf8_lossy(&o.stderr).into_owned()),
        Ok(_) => None,
    };
    if let Some(why) = why {
        assert!(
            !namespaces_required(),
            "HETSIM_REQUIRE_NAMESPACES=1 but `unshare -rm mount -t tmpfs` fails: {why}"
        );
        eprintln!(
            "NOTICE: skipping the tmpfs full-disk test: no user + mount namespace here \
             (`unshare -rm mount -t tmpfs ...`: {}); the /dev/full tests still ran",
            why.trim()
        );
        return;
    }
    let out = Command::new("unshare")
        .arg("-rm")
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "full_disk_inside_a_namespace",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HETSIM_FULL_DISK_DIR", &d.0)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "inner test failed:\n{text}");
    for l in text.lines().filter(|l| l.starts_with("REPORT: ")) {
        eprintln!("{l}");
    }
    assert!(
        text.contains("full_disk_inside_a_namespace ... ok") && text.contains("1 passed"),
        "the inner test did not run:\n{text}"
    );
}

/// Fills `dir` (a tmpfs) with the file `name` until a write fails, then gives `free` bytes
/// back; returns the file.
fn fill(dir: &Path, name: &str, free: u64) -> PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p)
        .unwrap();
    let chunk = vec![0x55u8; 4096];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "filling: {e}");
                break;
            }
        }
    }
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(free)).unwrap();
    p
}

/// Run by [`a_sweep_on_a_disk_that_fills_up_keeps_every_finished_point`] as namespace root
/// (`unshare -rm`); ignored otherwise.
#[test]
#[ignore = "runs inside `unshare -rm`, started by a_sweep_on_a_disk_that_fills_up_keeps_every_finished_point"]
fn full_disk_inside_a_namespace() {
    let Some(dir) = std::env::var_os("HETSIM_FULL_DISK_DIR").map(PathBuf::from) else {
        return;
    };
    let mnt = dir.join("mnt");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs", s(&mnt)])
        .status()
        .unwrap();
    assert!(st.success(), "mount tmpfs");
    let sc = dir.join("s.ron");
    // The uninterrupted run, on the ordinary disk.
    let full = dir.join("full");
    let (c, _, e) = hetsim(&["sweep", s(&sc), "--out", s(&full), "--jobs", "2"]);
    assert_eq!(c, 0, "{e}");

    // 1. The disk fills up partway: 28 KiB free hold the manifest, up to three stored
    //    numerics files (groups run in parallel), the CSV header and some rows (tmpfs gives
    //    out whole 4 KiB pages; the full sweep needs about 60 KiB).
    let filler = fill(&mnt, "filler", 28 << 10);
    let out = mnt.join("out");
    let r = hetsim(&["sweep", s(&sc), "--out", s(&out), "--jobs", "2"]);
    // The first write that fails is a result file or a group's stored numerics (groups run in
    // parallel, so one may store its numerics while another writes rows).
    let named = [
        "results.jsonl",
        "results.csv",
        "numerics-0.json",
        "numerics-1.json",
        "numerics-2.json",
    ]
    .iter()
    .find(|n| {
        r.2.contains(&format!("{}: No space left", out.join(n).display()))
    });
    assert!(named.is_some(), "no result file named: {}", r.2);
    assert_enospc(
        &r,
        &out.join(named.unwrap()).display().to_string(),
        "mid-run",
    );
    let rows = complete_rows(&out);
    assert!(
        !rows.is_empty() && rows.len() < POINTS,
        "{} rows: the disk should fill partway",
        rows.len()
    );
    assert!(
        r.2.contains(&format!("{} finished point(s) are kept", rows.len())),
        "{}",
        r.2
    );
    // Each kept row is exactly the uninterrupted run's row for that point.
    let reference = std::fs::read_to_string(full.join("results.jsonl")).unwrap();
    let jsonl = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    for l in jsonl.lines() {
        assert!(reference.lines().any(|r| r == l), "a kept row differs: {l}");
    }
    let kept = jsonl.clone();
    eprintln!(
        "REPORT: the tmpfs filled after {} of {POINTS} points; hetsim said: {}",
        rows.len(),
        r.2.lines()
            .skip_while(|l| !l.starts_with("hetsim: error:"))
            .collect::<Vec<_>>()
            .join(" / ")
    );

    // 2. Still full when the sweep is rerun: the rewrite at the start fails, nothing is lost.
    let filler2 = fill(&mnt, "filler2", 0);
    let r = hetsim(&["sweep", s(&sc), "--out", s(&out), "--jobs", "2"]);
    assert_eq!(r.0, 125, "{}", r.2);
    assert!(r.2.contains("No space left on device"), "{}", r.2);
    assert_eq!(
        std::fs::read_to_string(out.join("results.jsonl")).unwrap(),
        kept
    );
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // 3. Space again: the same command resumes and ends with the uninterrupted run's bytes.
    std::fs::remove_file(&filler).unwrap();
    std::fs::remove_file(&filler2).unwrap();
    let (c, _, e) = hetsim(&["sweep", s(&sc), "--out", s(&out), "--jobs", "2"]);
    assert_eq!(c, 0, "{e}");
    assert!(e.contains(&format!("{} already done", rows.len())), "{e}");
    assert!(results(&out) == results(&full), "resumed files differ");

    // 4. `hetsim run --csv` onto the full tmpfs (the scenario without its sweep axes, which
    // `run` refuses).
    let one = sc.with_file_name("one.ron");
    let text = std::fs::read_to_string(&sc).unwrap();
    let without: String = text
        .lines()
        .filter(|l| !l.contains("axes:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&one, without).unwrap();
    let _filler = fill(&mnt, "filler", 0);
    let csv = mnt.join("run.csv");
    let r = hetsim(&["run", s(&one), "--csv", s(&csv)]);
    assert_enospc(&r, s(&csv), "run --csv on a full tmpfs");
}

/// An output directory that cannot be created (a file is in the way; permissions would not
/// stop root, which CI runs as) is named, for a sweep, a merge and `hetsim run` outputs.
#[test]
fn an_output_directory_that_cannot_be_created_is_named() {
    let d = scratch("nodir");
    let sc = d.0.join("s.ron");
    let blocker = d.0.join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let out = blocker.join("out");
    let (c, _, e) = hetsim(&["sweep", s(&sc), "--out", s(&out)]);
    assert_eq!(c, 125, "{e}");
    assert!(
        e.contains(&format!("{}: Not a directory", out.display())),
        "{e}"
    );
    let csv = blocker.join("x.csv");
    let (c, _, e) = hetsim(&["run", s(&sc.with_file_name("one.ron")), "--csv", s(&csv)]);
    assert_eq!(c, 125, "{e}");
    assert!(
        e.contains(&format!("{}: Not a directory", csv.display())),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(&blocker).unwrap(),
        "not a directory"
    );
}
