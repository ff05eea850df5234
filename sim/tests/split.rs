//! The latency parts of a run (docs/scenarios.md, "Where the time goes"): on every row they add
//! up to the hybrid and the baseline latency, the baseline has no LoRA part, the summary's
//! overhead parts add up to the overhead, and a strategy that hides the LoRA branch behind the
//! tiles shows less LoRA time than one that runs it after them.

use hetsim::scenario::load_str;
use hetsim::summary::{best, OverheadParts};
use std::path::PathBuf;

/// MobileBERT, 24 tokens, analytic cluster, numerics off; sequential and pipelined.
const SMALL: &str = r#"(
    name: "split",
    seed: 7,
    hardware: (tile: (rows: 512, cols: 512)),
    workload: (schedule: Model("mobilebert"), seq_len: Some(24)),
    sweep: (integration_time_ns: [128.0], tokens_per_batch: [8], strategy: [Sequential, Pipelined]),
    numerics: None,
)"#;

fn report() -> hetsim::report::Report {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/test.ron"
    ));
    hetsim::run::run(&load_str(&path, SMALL).unwrap()).unwrap()
}

#[test]
fn parts_add_up_to_the_latencies_on_every_row() {
    let r = report();
    assert!(r.rows.len() > 100);
    for row in &r.rows {
        let h = row.static_ns + row.dynamic_ns + row.lora_ns + row.link_ns + row.wait_ns;
        let b = row.baseline_static_ns
            + row.baseline_dynamic_ns
            + row.baseline_link_ns
            + row.baseline_wait_ns;
        // each part is a whole number of ps converted to ns on its own
        assert!(
            (h - row.hybrid_ns).abs() < 1e-6,
            "hybrid parts {h} of {row:?}"
        );
        assert!(
            (b - row.baseline_ns).abs() < 1e-6,
            "baseline parts {b} of {row:?}"
        );
        if row.kind == "linear" {
            assert!(row.static_ns > 0.0 && row.dynamic_ns == 0.0, "{row:?}");
        } else if row.scope == "op" {
            assert!(row.static_ns == 0.0 && row.lora_ns == 0.0 && row.dynamic_ns > 0.0);
        }
    }
}

#[test]
fn overhead_parts_add_up_and_pipelining_hides_lora_time() {
    let r = report();
    let model = |s: &str| {
        r.rows
            .iter()
            .find(|x| x.scope == "model" && x.strategy == s)
            .unwrap()
    };
    let (seq, pip) = (model("sequential"), model("pipelined"));
    for m in [seq, pip] {
        let p = OverheadParts::of(m);
        let sum = p.static_part + p.dynamic + p.lora + p.link + p.wait;
        assert!((1.0 + sum - m.overhead).abs() < 1e-9, "{p:?} {m:?}");
        assert!(m.lora_ns > 0.0);
    }
    // the sequential strategy runs each batch's LoRA branch after its tile work; the pipelined
    // one overlaps batch i's branch with batch i+1's MVMs
    assert!(pip.lora_ns < seq.lora_ns, "{} {}", pip.lora_ns, seq.lora_ns);
    // the summary carries the same parts
    let b = best(&r);
    let bp = b.iter().find(|x| x.strategy == "pipelined").unwrap();
    assert_eq!(bp.parts, OverheadParts::of(pip));
}
