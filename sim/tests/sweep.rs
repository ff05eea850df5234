//! `hetsim sweep` and `hetsim merge` end to end: results are identical whatever the thread
//! count; a sweep killed partway (SIGKILL) and restarted with the same command ends with the
//! same files as an uninterrupted run; three shards merged equal the single run; axis paths
//! are checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

/// The shared 48-point sweep (tests/common).
fn scenario() -> String {
    common::sweep_scenario("sweep-test")
}

struct Tmp(PathBuf);
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A scratch directory holding the scenario file (its schedule is built in, so no relative
/// path needs to resolve).
fn setup(tag: &str) -> (PathBuf, Tmp) {
    let dir = std::env::temp_dir().join(format!("hetsim-sweep-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sc = dir.join("scenario.ron");
    std::fs::write(&sc, scenario()).unwrap();
    (sc, Tmp(dir))
}

fn hetsim(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The result files' contents; compared by hash with the first differing line named, so a
/// failure does not print megabytes.
fn files(dir: &Path) -> Files {
    Files(
        std::fs::read_to_string(dir.join("results.csv")).unwrap(),
        std::fs::read_to_string(dir.join("results.jsonl")).unwrap(),
    )
}

#[derive(PartialEq)]
struct Files(String, String);

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "results.csv: {} lines, results.jsonl: {} lines",
            self.0.lines().count(),
            self.1.lines().count()
        )
    }
}

fn assert_same(a: &Files, b: &Files, what: &str) {
    for (x, y, name) in [(&a.0, &b.0, "results.csv"), (&a.1, &b.1, "results.jsonl")] {
        if x != y {
            let (i, (l, r)) = x
                .lines()
                .zip(y.lines())
                .enumerate()
                .find(|(_, (l, r))| l != r)
                .unwrap_or((0, ("(length differs)", "")));
            panic!("{what}: {name} line {}: {l:.300} | {r:.300}", i + 1);
        }
    }
}

#[test]
fn thread_count_does_not_change_results_and_shards_merge() {
    let (sc, d) = setup("jobs");
    let sc = sc.to_str().unwrap();
    let (one, two) = (d.0.join("one"), d.0.join("two"));
    let (c, e) = hetsim(&["sweep", sc, "--out", one.to_str().unwrap(), "--jobs", "1"]);
    assert_eq!(c, 0, "{e}");
    let (c, e) = hetsim(&["sweep", sc, "--out", two.to_str().unwrap(), "--jobs", "2"]);
    assert_eq!(c, 0, "{e}");
    let reference = files(&one);
    assert_eq!(reference, files(&two), "1 and 2 threads differ");
    assert_eq!(reference.0.lines().count(), 1 + 48);
    assert!(reference
        .0
        .lines()
        .next()
        .unwrap()
        .contains("hardware.tile.adc.bits"));
    // Three shards, merged, equal the single run.
    let shards: Vec<PathBuf> = (0..3).map(|i| d.0.join(format!("shard{i}"))).collect();
    for (i, s) in shards.iter().enumerate() {
        let spec = format!("{i}/3");
        let (c, e) = hetsim(&["sweep", sc, "--out", s.to_str().unwrap(), "--shard", &spec]);
        assert_eq!(c, 0, "{e}");
    }
    let merged = d.0.join("merged");
    let mut args = vec!["merge"];
    let names: Vec<String> = shards.iter().map(|s| s.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    args.extend(["--out", merged.to_str().unwrap()]);
    let (c, e) = hetsim(&args);
    assert_eq!(c, 0, "{e}");
    assert_eq!(
        reference,
        files(&merged),
        "merged shards differ from the single run"
    );
    // A missing shard, and a shard given twice, are refused.
    let (c, e) = hetsim(&[
        "merge",
        &names[0],
        &names[1],
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(c != 0 && e.contains("missing"), "{e}");
    let (c, e) = hetsim(&[
        "merge",
        &names[0],
        &names[0],
        &names[1],
        &names[2],
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(c != 0 && e.contains("appears in both"), "{e}");
}

/// Starts `hetsim sweep SC --out PART --jobs 1` and waits (up to 60 s) until at least 3 points
/// are on disk; returns the child and how many were seen.
fn sweep_until_three(sc: &str, part: &Path, stderr: Stdio) -> (std::process::Child, usize) {
    let child = Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args(["sweep", sc, "--out", part.to_str().unwrap(), "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while Instant::now() < deadline {
        seen = std::fs::read_to_string(part.join("results.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if seen >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (child, seen)
}

#[test]
fn a_killed_sweep_resumes_to_the_same_files() {
    let (sc, d) = setup("kill");
    let sc = sc.to_str().unwrap();
    let full = d.0.join("full");
    let (c, e) = hetsim(&["sweep", sc, "--out", full.to_str().unwrap(), "--jobs", "1"]);
    assert_eq!(c, 0, "{e}");
    let part = d.0.join("part");
    // Kill it (SIGKILL) once a few points are on disk.
    let (mut child, seen) = sweep_until_three(sc, &part, Stdio::null());
    child.kill().unwrap();
    let _ = child.wait();
    assert!((3..48).contains(&seen), "killed after {seen} of 48 points");
    let (c, e) = hetsim(&["sweep", sc, "--out", part.to_str().unwrap(), "--jobs", "2"]);
    assert_eq!(c, 0, "{e}");
    assert!(e.contains("already done"), "{e}");
    assert_same(&files(&full), &files(&part), "resumed sweep differs");
}

/// Ctrl-C (SIGINT) in a sweep: the running point finishes and is written, the sweep says how
/// many points are kept where and how to resume, exits 130, and the same command finishes it
/// with the same files as an uninterrupted run (issue 16).
#[test]
fn an_interrupted_sweep_says_what_it_kept_and_resumes() {
    let (sc, d) = setup("sigint");
    let sc = sc.to_str().unwrap();
    let full = d.0.join("full");
    let (c, e) = hetsim(&["sweep", sc, "--out", full.to_str().unwrap(), "--jobs", "1"]);
    assert_eq!(c, 0, "{e}");
    let part = d.0.join("part");
    let (child, seen) = sweep_until_three(sc, &part, Stdio::piped());
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let kept = std::fs::read_to_string(part.join("results.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert!((seen..48).contains(&kept), "{kept} of 48 kept, {seen} seen");
    let msg = format!(
        "interrupted: {kept} point(s) kept in {}; rerun the same command to resume",
        part.display()
    );
    assert!(err.contains(&msg), "{err}");
    // results.csv was rebuilt from what was kept
    let csv = std::fs::read_to_string(part.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + kept);
    let (c, e) = hetsim(&["sweep", sc, "--out", part.to_str().unwrap(), "--jobs", "2"]);
    assert_eq!(c, 0, "{e}");
    assert!(e.contains(&format!("{kept} already done")), "{e}");
    assert_same(&files(&full), &files(&part), "resumed sweep differs");
}

#[test]
fn bad_axis_paths_and_foreign_directories_are_refused() {
    let (sc, d) = setup("bad");
    let bad = scenario().replace("hardware.tile.adc.bits", "hardware.tile.adc.bitz");
    std::fs::write(&sc, bad).unwrap();
    let out = d.0.join("x");
    let (c, e) = hetsim(&[
        "sweep",
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(c, 125);
    assert!(e.contains("`bitz`") && e.contains("bits"), "{e}");
    // A directory holding another sweep is not overwritten.
    std::fs::write(&sc, scenario()).unwrap();
    let (c, e) = hetsim(&[
        "sweep",
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--shard",
        "0/2",
    ]);
    assert_eq!(c, 0, "{e}");
    let (c, e) = hetsim(&[
        "sweep",
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(c != 0 && e.contains("different sweep"), "{e}");
}

/// Issue 8's fault test: the same sweep killed with SIGKILL at 20 different moments, resumed
/// each time; no finished point is lost or duplicated, and the final files equal an
/// uninterrupted run's.
#[test]
fn twenty_kills_lose_and_duplicate_nothing() {
    let (sc, d) = setup("kill20");
    let sc = sc.to_str().unwrap();
    let full = d.0.join("full");
    let (c, e) = hetsim(&["sweep", sc, "--out", full.to_str().unwrap(), "--jobs", "2"]);
    assert_eq!(c, 0, "{e}");
    let part = d.0.join("part");
    let mut finished_before = 0usize;
    let mut state = 0x2545_f491u32;
    for round in 0..20 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hetsim"))
            .args(["sweep", sc, "--out", part.to_str().unwrap(), "--jobs", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // A pseudo-random moment between 0 and 60 ms after the start.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        std::thread::sleep(Duration::from_millis(u64::from(state % 60)));
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(part.join("results.jsonl")).unwrap_or_default();
        let mut seen = std::collections::BTreeSet::new();
        let mut complete = 0;
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue; // a torn last line: dropped on the next start
            };
            let p = v["point"].as_u64().unwrap();
            assert!(seen.insert(p), "round {round}: point {p} written twice");
            complete += 1;
        }
        assert!(
            complete >= finished_before,
            "round {round}: {complete} finished points, {finished_before} before the kill"
        );
        finished_before = complete;
    }
    let (c, e) = hetsim(&["sweep", sc, "--out", part.to_str().unwrap(), "--jobs", "2"]);
    assert_eq!(c, 0, "{e}");
    assert_same(
        &files(&full),
        &files(&part),
        "sweep resumed after 20 kills differs",
    );
}

/// Issue 8's determinism test on the main scenario: a sweep with 1 and with 2 threads, and
/// `hetsim run` twice with CSV, JSON and a Perfetto trace, give byte-identical files.
#[test]
fn main_scenario_outputs_are_byte_identical() {
    let d = Tmp(std::env::temp_dir().join(format!("hetsim-det-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&d.0);
    std::fs::create_dir_all(&d.0).unwrap();
    let sc = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/ahwa-lora-mobilebert.ron"
    );
    let mut sweeps = Vec::new();
    for jobs in ["1", "2"] {
        let out = d.0.join(format!("sweep-{jobs}"));
        let (c, e) = hetsim(&[
            "sweep",
            sc,
            "--out",
            out.to_str().unwrap(),
            "--jobs",
            jobs,
            "-q",
        ]);
        assert_eq!(c, 0, "{e}");
        sweeps.push(files(&out));
    }
    assert_same(&sweeps[0], &sweeps[1], "1 and 2 threads");
    let mut runs = Vec::new();
    for k in 0..2 {
        let p = |ext: &str| d.0.join(format!("run{k}.{ext}")).display().to_string();
        let (c, e) = hetsim(&[
            "run",
            sc,
            "--csv",
            &p("csv"),
            "--json",
            &p("json"),
            "--trace",
            &p("trace.json"),
        ]);
        assert_eq!(c, 0, "{e}");
        let read = |ext: &str| std::fs::read(d.0.join(format!("run{k}.{ext}"))).unwrap();
        runs.push((read("csv"), read("json"), read("trace.json")));
    }
    assert!(runs[0].0 == runs[1].0, "CSV differs between runs");
    assert!(runs[0].1 == runs[1].1, "JSON differs between runs");
    assert!(runs[0].2 == runs[1].2, "trace differs between runs");
    assert!(runs[0].2.len() > 1000);
}

/// `-q` silences the per-point progress lines (stderr not a terminal) but keeps the summary;
/// without it every point has its line (issue 16: progress honours -q).
#[test]
fn quiet_sweeps_print_only_their_summary() {
    let (sc, d) = setup("quiet");
    let sc = sc.to_str().unwrap();
    let (c, e) = hetsim(&["-q", "sweep", sc, "--out", d.0.join("q").to_str().unwrap()]);
    assert_eq!(c, 0, "{e}");
    assert!(!e.contains("hetsim sweep: 1/48 point"), "{e}");
    assert!(
        e.contains("hetsim sweep: 48 points (0 already done, 48 run now"),
        "{e}"
    );
    let (c, e) = hetsim(&["sweep", sc, "--out", d.0.join("v").to_str().unwrap()]);
    assert_eq!(c, 0, "{e}");
    assert_eq!(e.matches("hetsim sweep: ").count(), 48 + 1, "{e}");
}

/// Issue 17: a sweep stores each point group's numerics in `DIR/numerics-G.json` before its
/// points run, and a resumed sweep reads them instead of evaluating them again (the tampered
/// model error shows up in the resumed rows); an unreadable file is evaluated again.
#[test]
fn a_resumed_sweep_reuses_its_stored_numerics() {
    let (sc, tmp) = setup("numerics");
    let out = tmp.0.join("out");
    let (sc, out_s) = (sc.to_str().unwrap(), out.to_str().unwrap());
    assert_eq!(hetsim(&["sweep", "-q", sc, "--out", out_s]).0, 0);
    let before = files(&out);
    for g in 0..3 {
        assert!(
            out.join(format!("numerics-{g}.json")).is_file(),
            "group {g}"
        );
    }
    // tamper with group 0's model error, forget every point, resume
    let p = out.join("numerics-0.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["model_err"] = serde_json::json!(0.125);
    std::fs::write(&p, v.to_string()).unwrap();
    std::fs::write(out.join("results.jsonl"), "").unwrap();
    assert_eq!(hetsim(&["sweep", "-q", sc, "--out", out_s]).0, 0);
    let jsonl = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert!(
        jsonl.contains("\"rel_err\":0.125"),
        "the stored numerics were not reused"
    );
    // an unreadable file is evaluated again: the results are the first run's
    std::fs::write(&p, "{ not json").unwrap();
    std::fs::write(out.join("results.jsonl"), "").unwrap();
    let (code, err) = hetsim(&["sweep", "-q", sc, "--out", out_s]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("numerics-0.json") && err.contains("evaluating the numerics again"),
        "{err}"
    );
    assert_same(&before, &files(&out), "after re-evaluating the numerics");
}
