//! The energy columns of a run (docs/energy.md): tile energy by hand from the preset, the
//! model row's parts adding up, area, the LoRA energy overhead, power gating and refused
//! constants.

use hetsim::scenario::load_str;
use std::path::PathBuf;

fn path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/test.ron"
    ))
}

/// MobileBERT, 24 tokens, analytic cluster, one analog pass per MVM (numerics off).
const SMALL: &str = r#"(
    name: "energy",
    seed: 7,
    hardware: (tile: (rows: 512, cols: 512)ENERGY),
    workload: (schedule: Model("mobilebert"), seq_len: Some(24)LORA),
    sweep: (integration_time_ns: [128.0], tokens_per_batch: [8], strategy: [Pipelined]),
    numerics: None,
)"#;

fn run(energy: &str, lora: &str) -> hetsim::report::Report {
    let text = SMALL.replace("ENERGY", energy).replace("LORA", lora);
    hetsim::run::run(&load_str(&path(), &text).unwrap()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-30)
}

#[test]
fn tile_energy_is_the_group_power_times_its_busy_time() {
    let r = run("", "");
    // a 128 x 512 operation on a 512 x 512 tile, 8-bit converters, 98.5 mW per 256 x 256:
    // ADC 0.58 x 512/256 = 1.16, DAC 0.145 x 128/256 = 0.0725, array 0.275 x 128 x 512 / 256^2
    // = 0.275; (1.16 + 0.0725 + 0.275) x 98.5 mW = 148.49 mW, busy 24 tokens x 128 ns.
    let w = 0.0985 * (1.16 + 0.0725 + 0.275);
    let op = r
        .rows
        .iter()
        .find(|x| x.scope == "op" && x.shape == "128x512")
        .expect("a 128x512 op");
    assert_eq!(op.tile_ns, 24.0 * 128.0);
    assert!(close(op.tile_energy_j, w * 24.0 * 128e-9), "{op:?}");
    assert!(close(
        op.energy_j,
        op.tile_energy_j + op.cluster_energy_j + op.transfer_energy_j + op.static_energy_j
    ));
    // the hybrid's LoRA adds cluster work: more energy than the baseline
    assert!(op.energy_overhead > 1.0 && op.lora_gflops_per_w > 0.0);
    assert!(close(op.edp_js, op.energy_j * op.hybrid_ns * 1e-9));
    // the model row: the parts add up, plus the static energy
    let m = r.rows.iter().find(|x| x.scope == "model").unwrap();
    assert!(m.static_energy_j > 0.0);
    assert!(close(
        m.energy_j,
        m.tile_energy_j + m.cluster_energy_j + m.transfer_energy_j + m.static_energy_j
    ));
    assert!(close(m.power_w, m.energy_j / (m.hybrid_ns * 1e-9)));
    // area: every tile 4 x 0.635 mm², every analytic cluster (no RedMulE) 0.43 mm²
    let loaded = load_str(&path(), &SMALL.replace("ENERGY", "").replace("LORA", "")).unwrap();
    let map = hetsim::mapping::Mapping::new(&loaded.schedule, &loaded.scenario, 1).unwrap();
    let area = f64::from(map.tiles) * 2.54 + f64::from(map.clusters) * 0.43;
    assert!(close(m.area_mm2, area), "{} {area}", m.area_mm2);
}

#[test]
fn static_energy_is_shared_to_layers_and_ops_by_time_span() {
    let r = run("", "");
    let m = r.rows.iter().find(|x| x.scope == "model").unwrap();
    let layers: Vec<_> = r.rows.iter().filter(|x| x.scope == "layer").collect();
    assert!(layers.len() > 1);
    // the layers' shares add up to the model's static energy, each by its latency
    let sum: f64 = layers.iter().map(|l| l.static_energy_j).sum();
    assert!(
        (sum - m.static_energy_j).abs() <= 1e-9 * m.static_energy_j,
        "{sum}"
    );
    let spans: f64 = layers.iter().map(|l| l.hybrid_ns).sum();
    for l in &layers {
        let want = m.static_energy_j * l.hybrid_ns / spans;
        assert!((l.static_energy_j - want).abs() <= 1e-6 * want, "{l:?}");
        assert!(close(
            l.energy_j,
            l.tile_energy_j + l.cluster_energy_j + l.transfer_energy_j + l.static_energy_j
        ));
        // an op's share of its layer's: its latency over the sum of the layer's op latencies
        let ops: Vec<_> = r
            .rows
            .iter()
            .filter(|x| x.scope == "op" && x.layer == l.layer)
            .collect();
        let op_sum: f64 = ops.iter().map(|o| o.static_energy_j).sum();
        assert!((op_sum - l.static_energy_j).abs() <= 1e-9 * l.static_energy_j);
        let op_spans: f64 = ops.iter().map(|o| o.hybrid_ns).sum();
        for o in &ops {
            let want = l.static_energy_j * o.hybrid_ns / op_spans;
            assert!(
                (o.static_energy_j - want).abs() <= 1e-6 * want.max(1e-30),
                "{o:?}"
            );
        }
    }
    // the baseline's energy is shared the same way: the layers add up to the model's baseline
    // less its final write-back (transfers outside every layer)
    let base: f64 = layers.iter().map(|l| l.baseline_energy_j).sum();
    assert!(base <= m.baseline_energy_j * (1.0 + 1e-9) && base >= 0.99 * m.baseline_energy_j);
}

#[test]
fn without_lora_the_energy_is_the_baseline() {
    let r = run("", ", lora: Off");
    for row in &r.rows {
        assert_eq!(row.energy_overhead, 1.0, "{row:?}");
        assert_eq!(row.lora_gflops_per_w, 0.0);
    }
}

#[test]
fn power_gating_off_charges_idle_power_over_the_whole_run() {
    let on = run("", "");
    let off = run(", energy: (power_gating: false)", "");
    let m = |r: &hetsim::report::Report| r.rows.iter().find(|x| x.scope == "model").cloned();
    let (on, off) = (m(&on).unwrap(), m(&off).unwrap());
    assert!(off.static_energy_j > on.static_energy_j);
    assert_eq!(on.hybrid_ns, off.hybrid_ns);
    assert!(close(off.tile_energy_j, on.tile_energy_j));
}

#[test]
fn a_negative_or_nan_constant_is_refused_by_name() {
    for (set, field) in [
        (
            "cluster: (fp32_op_j: -1.0)",
            "hardware.energy.cluster.fp32_op_j",
        ),
        (
            "aimc: (mvm_power_w: NaN)",
            "hardware.energy.aimc.mvm_power_w",
        ),
    ] {
        let text = SMALL
            .replace("ENERGY", &format!(", energy: ({set})"))
            .replace("LORA", "");
        let e = load_str(&path(), &text).unwrap_err().to_string();
        assert!(e.contains(field), "{e}");
    }
}
