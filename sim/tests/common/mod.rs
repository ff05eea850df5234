//! Shared by the sweep integration tests (sweep.rs, full_disk.rs).

/// 3 ADC resolutions x 2 integration times x 2 t x 4 strategies = 48 points of a short
/// MobileBERT (analytic cluster), so a point takes some milliseconds and its JSONL and CSV
/// rows take about 900 bytes together. `name` is the scenario's name.
pub fn sweep_scenario(name: &str) -> String {
    format!(
        r#"(
    name: "{name}",
    seed: 3,
    hardware: (tile: (rows: 512, cols: 512)),
    workload: (schedule: Model("mobilebert"), seq_len: Some(64)),
    sweep: (
        integration_time_ns: [128.0, 512.0],
        tokens_per_batch: [8, 16],
        strategy: [Sequential, Pipelined, ParallelBranch, MultiCluster(2)],
        axes: [(path: "hardware.tile.adc.bits", values: List([6, 7, 8]))],
    ),
    numerics: Some((sample_tokens: 4, max_instances: Some(2))),
)"#
    )
}
