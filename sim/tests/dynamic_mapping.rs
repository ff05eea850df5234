//! Where dynamic operations run (`mapping.dynamic`, docs/architecture.md "Mapping"): the cluster
//! time of each share follows the analytic model's formula by hand, the shares add up to the
//! operation, the numbers computed do not depend on the mapping, and dedicated attention
//! clusters are extra clusters.

use hetsim::report::{Report, Row};
use hetsim::scenario::load_str;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Two linear layers on 32 x 32 tiles (q: 64 x 64 on 4 tiles, clusters 0-3; k: 64 x 32 on 2
/// tiles, clusters 4-5), attention scores over 2 key/value head groups and a residual add.
const SCHEDULE: &str = r#"(
    model: "tiny",
    seq_len: 8,
    input_features: 64,
    blocks: [(
        name: "layer",
        repeat: 1,
        ops: [
            (name: "q", kind: Linear(in_features: 64, out_features: 64, lora: None), inputs: ["input"], out: (8, 64)),
            (name: "k", kind: Linear(in_features: 64, out_features: 32, lora: None), inputs: ["input"], out: (8, 32)),
            (name: "scores", kind: Scores(heads: 4, kv_heads: 2, head_dim: 16, causal: false), inputs: ["q", "k"], out: (8, 32)),
            (name: "add", kind: Add, inputs: ["q", "input"], out: (8, 64)),
        ],
    )],
)"#;

/// Every analytic parameter the costs below use, explicit (the defaults may be re-fitted).
fn scenario(mapping: &str, numerics: &str) -> String {
    format!(
        r#"(
    name: "dynamic-mapping",
    seed: 3,
    hardware: (
        tile: (rows: 32, cols: 32),
        cluster_backend: Analytic((
            clock_ghz: 1.0,
            compute_cores: 8,
            macs_per_core_cycle: 1.0,
            elementwise_per_core_cycle: 1.0,
            dma_bytes_per_cycle: 16.0,
            dma_setup_cycles: 10,
            barrier_cycles: 5,
            launch_overhead_cycles: 100,
            element_bytes: 2,
            element_costs: (add: 1.0, scores: 0.0),
            op_cycles: (add: 0, scores: 0),
            attention_macs_per_core_cycle: 1.0,
            dynamic_dma_overlap: false,
        )),
    ),
    workload: (schedule: File("tiny.ron"), lora: Off),
    mapping: {mapping},
    sweep: (integration_time_ns: [128.0], tokens_per_batch: [8], strategy: [Pipelined]),
    numerics: {numerics},
)"#
    )
}

fn run(mapping: &str, numerics: &str) -> Report {
    // a directory of its own per call: the tests run in parallel and each removes its own
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hetsim-dynamic-mapping-{}-{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tiny.ron"), SCHEDULE).unwrap();
    let path: PathBuf = dir.join("scenario.ron");
    let loaded = load_str(&path, &scenario(mapping, numerics)).unwrap();
    let r = hetsim::run::run(&loaded).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn op<'a>(r: &'a Report, name: &str) -> &'a Row {
    r.rows
        .iter()
        .find(|x| x.scope == "op" && x.op == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

fn model(r: &Report) -> &Row {
    r.rows.iter().find(|x| x.scope == "model").unwrap()
}

// The analytic model (sim/src/simulate/backend/analytic.rs) with no fixed per-kind cycles and
// DMA not overlapped: cycles = launch (100) + dma(bytes in) + dma(bytes out) + compute
// + barrier (5), dma(b) = 10 + ceil(b / 16), elementwise compute = ceil(elements * 1.0 / 8),
// MAC compute = ceil(MACs / (8 * 1.0)); 2 bytes per element, 1 GHz (1 cycle = 1 ns).
//
// Add, whole (8 x 64): in 2 * 8 * 64 * 2 = 2048 B -> 10 + 128 = 138; compute ceil(512 / 8)
// = 64; out 1024 B -> 10 + 64 = 74; 100 + 138 + 64 + 5 + 74 = 381.
const ADD_WHOLE: f64 = 381.0;
// Add, 8 rows over the 6 tile clusters: 2, 2, 1, 1, 1, 1 rows.
// Two rows (2 x 64): in 2 * 2 * 64 * 2 = 512 B -> 10 + 32 = 42; compute ceil(128 / 8) = 16;
// out 256 B -> 10 + 16 = 26; 100 + 42 + 16 + 5 + 26 = 189.
const ADD_2_ROWS: f64 = 189.0;
// One row (1 x 64): in 2 * 64 * 2 = 256 B -> 10 + 16 = 26; compute 8; out 128 B -> 10 + 8
// = 18; 100 + 26 + 8 + 5 + 18 = 157.
const ADD_ROW: f64 = 157.0;
// Scores, whole (4 heads, 8 x 8 keys, head_dim 16): MACs 8 * 4 * 8 * 16 = 4096 -> 512;
// in (8 * 64 + 8 * 32) * 2 = 1536 B -> 10 + 96 = 106; out 8 * 32 * 2 = 512 B -> 10 + 32 = 42;
// 100 + 106 + 512 + 5 + 42 = 765.
const SCORES_WHOLE: f64 = 765.0;
// Scores, one key/value head group (2 query heads): MACs 8 * 2 * 8 * 16 = 2048 -> 256;
// in (8 * 32 + 8 * 16) * 2 = 768 B -> 10 + 48 = 58; out 8 * 16 * 2 = 256 B -> 10 + 16 = 26;
// 100 + 58 + 256 + 5 + 26 = 445, and the 2 groups on 2 clusters.
const SCORES_GROUP: f64 = 445.0;

#[test]
fn one_cluster_runs_each_operation_whole() {
    let r = run("(dynamic: OneCluster)", "None");
    assert_eq!(op(&r, "add").cluster_ns, ADD_WHOLE);
    assert_eq!(op(&r, "scores").cluster_ns, SCORES_WHOLE);
    // the default is one cluster
    let d = run("()", "None");
    assert_eq!(d.rows, r.rows);
    assert!(!r.cluster_model.contains("mapping.dynamic"));
}

#[test]
fn spread_splits_rows_and_head_groups_over_the_tile_clusters() {
    let r = run("(dynamic: Spread)", "None");
    let add = op(&r, "add");
    let busy = 2.0 * ADD_2_ROWS + 4.0 * ADD_ROW;
    assert_eq!(add.cluster_ns, busy);
    // six shares on six clusters: utilisation over the six
    let lat = add.hybrid_ns;
    assert!((add.cluster_util - busy / (lat * 6.0)).abs() < 1e-9);
    let scores = op(&r, "scores");
    assert_eq!(scores.cluster_ns, 2.0 * SCORES_GROUP);
    // the shares run at the same time: the split operation ends sooner than the whole one
    let whole = run("(dynamic: OneCluster)", "None");
    assert!(scores.dynamic_ns < op(&whole, "scores").dynamic_ns);
    assert!(add.dynamic_ns < op(&whole, "add").dynamic_ns);
    // and moves more data: each share's operands in, its output home
    assert!(add.transfer_ns > op(&whole, "add").transfer_ns);
    assert!(r.cluster_model.contains("mapping.dynamic: Spread"));
    // the same clusters and area
    assert_eq!(model(&r).area_mm2, model(&whole).area_mm2);
}

#[test]
fn dedicated_clusters_take_the_attention_only() {
    let r = run("(dynamic: Dedicated, attention_clusters: 2)", "None");
    assert_eq!(op(&r, "scores").cluster_ns, 2.0 * SCORES_GROUP);
    assert_eq!(op(&r, "add").cluster_ns, ADD_WHOLE);
    let whole = run("(dynamic: OneCluster)", "None");
    // 6 tile clusters + 2 attention clusters: two more clusters' area
    let cluster_mm2 = (model(&r).area_mm2 - model(&whole).area_mm2) / 2.0;
    assert!(cluster_mm2 > 0.0);
    let e = hetsim_models::energy::EnergyConfig::default();
    assert!((cluster_mm2 - e.area.cluster_mm2(false)).abs() < 1e-9);
    assert!(r.cluster_model.contains("2 dedicated cluster(s)"));
}

#[test]
fn the_numbers_do_not_depend_on_the_mapping() {
    let num = "Some((sample_tokens: 8))";
    let one = run("(dynamic: OneCluster)", num);
    for m in [
        "(dynamic: Spread)",
        "(dynamic: Dedicated, attention_clusters: 2)",
    ] {
        let r = run(m, num);
        for (a, b) in one.rows.iter().zip(&r.rows) {
            assert_eq!((&a.op, a.rel_err), (&b.op, b.rel_err), "{m}");
        }
        assert!(op(&r, "add").rel_err.is_some());
    }
}

#[test]
fn attention_clusters_out_of_range_is_a_named_error() {
    let dir = std::env::temp_dir();
    let e = load_str(
        &dir.join("x.ron"),
        &scenario("(dynamic: Dedicated, attention_clusters: 0)", "None")
            .replace("File(\"tiny.ron\")", "Model(\"mobilebert\")"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("mapping.attention_clusters"), "{e}");
}
