//! Sweep groups whose numerics inputs are equal share one numerics evaluation
//! (`sweep::Plan::numerics_of`): an axis the numerics do not read (the interconnect, the
//! energy constants) evaluates them once and stores one file, with results byte-identical to
//! evaluating them per group; an axis they read (the ADC resolution) still evaluates them per
//! group; a resumed shared sweep reuses the stored file.

use hetsim::sweep::{self, SweepOptions};
use std::path::{Path, PathBuf};

struct Tmp(PathBuf);
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A short MobileBERT sweep (analytic cluster, 2 instances of numerics) over `axes`.
fn setup(tag: &str, axes: &str) -> (PathBuf, Tmp) {
    let dir = std::env::temp_dir().join(format!("hetsim-shared-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sc = dir.join("scenario.ron");
    let text = format!(
        r#"(
    name: "shared-numerics",
    seed: 3,
    hardware: (tile: (rows: 512, cols: 512)),
    workload: (schedule: Model("mobilebert"), seq_len: Some(64)),
    sweep: (
        integration_time_ns: [128.0],
        tokens_per_batch: [8, 16],
        strategy: [Pipelined, Sequential],
        axes: [{axes}],
    ),
    numerics: Some((sample_tokens: 4, max_instances: Some(2))),
)"#
    );
    std::fs::write(&sc, text).unwrap();
    (sc, Tmp(dir))
}

fn run(plan: &sweep::Plan, out: &Path) -> sweep::SweepSummary {
    sweep::sweep(
        plan,
        &SweepOptions {
            out: out.to_path_buf(),
            shard: None,
            jobs: Some(2),
            progress: Box::new(|_, _, _, _| ()),
        },
    )
    .unwrap()
}

/// The stored numerics files of a sweep directory, sorted.
fn numerics_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("numerics-"))
        .collect();
    v.sort();
    v
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn an_axis_the_numerics_ignore_evaluates_them_once() {
    for (tag, axes) in [
        (
            "interconnect",
            r#"(path: "hardware.interconnect.topology.PointToPoint.latency_ns",
                values: List([1.0, 2.0, 4.0]))"#,
        ),
        (
            "energy",
            r#"(path: "hardware.energy.noc.byte_hop_j", values: List([1e-12, 2e-12, 3e-12]))"#,
        ),
        (
            "dynamic-mapping",
            r#"(path: "mapping.dynamic", values: List(["OneCluster", "Spread", "Dedicated"]))"#,
        ),
    ] {
        let (sc, tmp) = setup(tag, axes);
        let plan = match sweep::plan(&sc) {
            Ok(p) => p,
            Err(e) => panic!("{tag}: {e}"),
        };
        assert_eq!(plan.groups.len(), 3, "{tag}");
        assert_eq!(plan.numerics_of, vec![0, 0, 0], "{tag}: one numerics class");
        let shared = tmp.0.join("shared");
        let s = run(&plan, &shared);
        assert_eq!((s.ran, s.failed), (12, 0), "{tag}");
        assert_eq!(numerics_files(&shared), vec!["numerics-0.json"], "{tag}");
        // the unshared path: every group its own evaluation
        let mut apart = sweep::plan(&sc).unwrap();
        apart.numerics_of = vec![0, 1, 2];
        let unshared = tmp.0.join("unshared");
        run(&apart, &unshared);
        assert_eq!(
            numerics_files(&unshared),
            vec!["numerics-0.json", "numerics-1.json", "numerics-2.json"],
            "{tag}"
        );
        for f in ["results.jsonl", "results.csv", "summary.md", "summary.json"] {
            assert!(
                read(&shared, f) == read(&unshared, f),
                "{tag}: {f} differs between shared and per-group numerics"
            );
        }
        for g in 1..3 {
            assert_eq!(
                read(&unshared, "numerics-0.json"),
                read(&unshared, &format!("numerics-{g}.json")),
                "{tag}: group {g}'s numerics differ from group 0's"
            );
        }
        // resume: forget the points; the stored shared file is reused (tampered, it shows)
        let p = shared.join("numerics-0.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&read(&shared, "numerics-0.json")).unwrap();
        v["model_err"] = serde_json::json!(0.125);
        std::fs::write(&p, v.to_string()).unwrap();
        std::fs::write(shared.join("results.jsonl"), "").unwrap();
        run(&plan, &shared);
        let jsonl = read(&shared, "results.jsonl");
        assert_eq!(jsonl.matches("\"rel_err\":0.125").count(), 12, "{tag}");
    }
}

#[test]
fn an_axis_the_numerics_read_evaluates_them_per_group() {
    let (sc, tmp) = setup(
        "adc",
        r#"(path: "hardware.tile.adc.bits", values: List([6, 7, 8]))"#,
    );
    let plan = sweep::plan(&sc).unwrap();
    assert_eq!(plan.numerics_of, vec![0, 1, 2]);
    let out = tmp.0.join("out");
    run(&plan, &out);
    assert_eq!(
        numerics_files(&out),
        vec!["numerics-0.json", "numerics-1.json", "numerics-2.json"]
    );
    assert_ne!(read(&out, "numerics-0.json"), read(&out, "numerics-2.json"));
}

#[test]
fn the_key_holds_what_the_numerics_read() {
    let (sc, _tmp) = setup(
        "key",
        r#"(path: "hardware.tile.adc.bits", values: List([8]))"#,
    );
    let base = hetsim::scenario::load(&sc).unwrap();
    let key = sweep::numerics_key(&base).unwrap();
    // what they read changes the key; what they do not, does not
    let mut l = base.clone();
    l.scenario.seed += 1;
    assert_ne!(sweep::numerics_key(&l).unwrap(), key, "seed");
    let mut l = base.clone();
    l.scenario.sweep.tokens_per_batch = vec![8];
    assert_ne!(sweep::numerics_key(&l).unwrap(), key, "tokens_per_batch");
    let mut l = base.clone();
    l.scenario.sweep.integration_time_ns = vec![256.0];
    l.scenario.sweep.strategy.clear();
    assert_eq!(sweep::numerics_key(&l).unwrap(), key, "integration times");
    let mut l = base.clone();
    l.scenario.hardware.energy.noc.byte_hop_j *= 2.0;
    assert_eq!(sweep::numerics_key(&l).unwrap(), key, "energy");
    let mut l = base.clone();
    l.scenario.hardware.tile.adc.bits = 6;
    assert_ne!(sweep::numerics_key(&l).unwrap(), key, "tile");
}
