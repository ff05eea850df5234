//! Traces end to end: `hetsim run --trace` of a small scenario and of the main scenario's first
//! combination, and `hetsim kernel --trace-instructions`, each checked by the trace-event
//! validator (required fields, balanced events, nesting, monotonic timestamps per track, every
//! track named).

use hetsim::scenario::{load, load_str};
use hetsim::trace_event::{system, validate, TraceFilter, TraceSummary};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hetsim-traces-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// MobileBERT cut to 24 tokens, 2 x 2 x 2 combinations, no numerics (fast).
const SMALL: &str = r#"(
    name: "small",
    hardware: (tile: (rows: 512, cols: 512)),
    workload: (schedule: Model("mobilebert"), seq_len: Some(24)),
    sweep: (
        integration_time_ns: [128.0, 512.0],
        tokens_per_batch: [8, 16],
        strategy: [Pipelined, MultiCluster(2)],
    ),
    numerics: None,
)"#;

fn hetsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args(args)
        .output()
        .unwrap()
}

fn check(path: &Path) -> (TraceSummary, Value) {
    let text = std::fs::read_to_string(path).unwrap();
    let s = validate(&text).unwrap_or_else(|e| panic!("{}:\n{}", path.display(), e.join("\n")));
    (s, serde_json::from_str(&text).unwrap())
}

fn slices(doc: &Value) -> Vec<&Value> {
    doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X")
        .collect()
}

#[test]
fn small_scenario_trace_has_tiles_clusters_links_and_counters() {
    let d = tmp("small");
    let sc = d.join("s.ron");
    std::fs::write(&sc, SMALL).unwrap();
    let tr = d.join("t.json");
    let out = hetsim(&["run", sc.to_str().unwrap(), "--trace", tr.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (s, doc) = check(&tr);
    // Default: the first combination only (pipelined, 128 ns, t = 8), one process.
    assert_eq!(s.processes.len(), 1);
    assert!(s.processes[&1].contains("pipelined") && s.processes[&1].contains("t = 8"));
    let names: Vec<&String> = s.threads.values().collect();
    assert!(names.iter().any(|n| n.starts_with("tile ")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("cluster ")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("link ")), "{names:?}");
    for kind in ["MVM ", "LoRA ", "x ", "XW ", "write-back "] {
        assert!(
            s.slice_names.keys().any(|n| n.starts_with(kind)),
            "no {kind:?} slice"
        );
    }
    // Dynamic operations run on clusters too (softmax, layer norm, ...).
    assert!(s.slice_names.keys().any(|n| n.starts_with("softmax ")));
    assert!(s.counters.iter().any(|c| c.1.starts_with("TCDM cluster ")));
    // Dynamic power of the tiles and clusters at work (docs/energy.md).
    for c in ["power tiles (dynamic)", "power clusters (dynamic)"] {
        assert!(s.counters.iter().any(|x| x.1 == c), "no {c:?} counter");
    }
    // Every slice carries its layer and operation.
    assert!(slices(&doc).iter().all(|e| e["args"]["layer"].is_string()));

    // Two combinations, a layer filter and a window.
    let out = hetsim(&[
        "run",
        sc.to_str().unwrap(),
        "--trace",
        tr.to_str().unwrap(),
        "--trace-combination",
        "0,5",
        "--trace-filter",
        "encoder.layer.1/",
        "--trace-window",
        "200:300",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (s2, doc) = check(&tr);
    assert_eq!(s2.processes.len(), 2);
    assert!(
        s2.processes[&6].contains("multi-cluster(2)"),
        "{:?}",
        s2.processes
    );
    let xs = slices(&doc);
    assert!(!xs.is_empty());
    for e in xs {
        assert_eq!(e["args"]["layer"], "encoder.layer.1", "{e}");
        let (ts, dur) = (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap());
        assert!(ts <= 300.0 && ts + dur >= 200.0, "{e}");
    }
    assert!(s2.slices < s.slices);

    // Bad trace options are refused before the run, naming the option.
    for (opt, val) in [("--trace-window", "9:1"), ("--trace-combination", "8")] {
        let out = hetsim(&[
            "run",
            sc.to_str().unwrap(),
            "--trace",
            tr.to_str().unwrap(),
            opt,
            val,
        ]);
        assert_eq!(out.status.code(), Some(125));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(opt), "{err}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn main_scenario_first_combination_trace_validates() {
    // The real LoRA kernel backs the cluster (about 0.5 s for one combination).
    let loaded = load(&root().join("scenarios/ahwa-lora-mobilebert.ron")).unwrap();
    assert_eq!(loaded.combinations().len(), 60);
    let trace = system::trace(&loaded, &[0], &TraceFilter::default()).unwrap();
    let s = validate(&trace.to_json().unwrap()).unwrap_or_else(|e| panic!("{}", e.join("\n")));
    let count = |p: &str| s.threads.values().filter(|n| n.starts_with(p)).count();
    // MobileBERT: 24 layers of 8 linear operations plus the embedding and QA head; one cluster
    // per tile; point-to-point links between them and L2.
    assert!(count("tile ") >= 24 * 8, "{}", count("tile "));
    assert!(count("cluster ") >= 24 * 8, "{}", count("cluster "));
    assert!(count("link ") > count("cluster "), "{}", count("link "));
    assert!(s.counters.iter().any(|c| c.1.starts_with("TCDM cluster ")));
    assert!(s.slices > 10_000);
    // The makespan is in the trace: the last slice ends where the replay ends.
    assert!(s.end_us > 0.0);
    // A combination that does not exist is an error naming the option.
    let e = system::trace(&loaded, &[60], &TraceFilter::default()).unwrap_err();
    assert!(e.to_string().contains("--trace-combination"), "{e}");
}

#[test]
fn kernel_instruction_trace_has_one_track_per_core() {
    let d = tmp("kernel");
    let tr = d.join("k.json");
    let out = hetsim(&[
        "kernel",
        root().join("kernels/build/lora.elf").to_str().unwrap(),
        "--trace-instructions",
        tr.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (s, doc) = check(&tr);
    // The Snitch-class preset: 8 compute cores and the DMA core.
    assert_eq!(s.threads.len(), 9, "{:?}", s.threads);
    for c in 0..9u32 {
        assert_eq!(s.threads[&(1, c)], format!("core {c}"));
        assert!(
            s.slices_per_track.get(&(1, c)).copied().unwrap_or(0) > 0,
            "core {c}"
        );
    }
    // Slices are named by mnemonic, 1 cycle (1 ns at 1 GHz) long, with pc, disassembly and
    // the enclosing symbol.
    assert!(s.slice_names.contains_key("fmadd.s") || s.slice_names.contains_key("fmul.s"));
    let xs = slices(&doc);
    let first = xs[0];
    assert!((first["dur"].as_f64().unwrap() - 0.001).abs() < 1e-12);
    assert!(first["args"]["pc"].as_str().unwrap().starts_with("0x8"));
    assert!(first["args"]["disasm"]
        .as_str()
        .unwrap()
        .starts_with(first["name"].as_str().unwrap()));
    assert_eq!(first["args"]["symbol"], "_start");
    let _ = std::fs::remove_dir_all(&d);
}

/// `hetsim run --trace` observes the run: the graphs the run replayed for its rows, kept by
/// `run_observed`, give the same trace as replaying the combinations on their own (so keeping
/// them changes nothing, and the report's rows and the timeline come from one replay).
#[test]
fn the_run_keeps_the_replays_it_traces() {
    let loaded = load_str(&root().join("scenarios/test.ron"), SMALL).unwrap();
    let num = hetsim::run::evaluate_numerics(&loaded).unwrap();
    let all = loaded.combinations();
    let keep = [0, all.len() - 1];
    let (report, kept) =
        hetsim::run::run_observed(&loaded, &all, num.as_ref(), &mut |_, _| (), &keep).unwrap();
    assert_eq!(kept.iter().map(|k| k.0).collect::<Vec<_>>(), keep);
    let plain = hetsim::run::run_combinations(&loaded, &all, num.as_ref()).unwrap();
    assert_eq!(
        report.csv().unwrap(),
        plain.csv().unwrap(),
        "keeping changes no row"
    );
    let filter = TraceFilter::default();
    let observed = system::trace_replayed(&loaded, &kept, &filter);
    let replayed = system::trace_with_numerics(&loaded, &keep, &filter, num.as_ref()).unwrap();
    assert_eq!(observed.to_json().unwrap(), replayed.to_json().unwrap());
}

#[test]
fn library_trace_matches_a_small_run() {
    // The traced combination is the one the report measures: the model row's hybrid latency
    // equals the trace's end (the write-back to L2 ends last).
    let loaded = load_str(&root().join("scenarios/test.ron"), SMALL).unwrap();
    let report = hetsim::run::run(&loaded).unwrap();
    let model = report.rows.iter().find(|r| r.scope == "model").unwrap();
    let trace = system::trace(&loaded, &[0], &TraceFilter::default()).unwrap();
    let s = validate(&trace.to_json().unwrap()).unwrap();
    assert!(
        (s.end_us * 1000.0 - model.hybrid_ns).abs() < 1e-3,
        "{} vs {}",
        s.end_us * 1000.0,
        model.hybrid_ns
    );
}
