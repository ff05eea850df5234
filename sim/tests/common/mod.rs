//! Shared by the integration tests: the sweep fixture (sweep.rs, full_disk.rs, cli.rs) and
//! running the built binary (cli.rs, firmware.rs, htif.rs, profile.rs, template.rs). Each test
//! binary includes this module and uses part of it, hence the `dead_code` allowances.

/// 3 ADC resolutions x 2 integration times x 2 t x 4 strategies = 48 points of a short
/// MobileBERT (analytic cluster), so a point takes some milliseconds and its JSONL and CSV
/// rows take about 900 bytes together. `name` is the scenario's name.
#[allow(dead_code)]
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

/// Runs the built `hetsim` with `args` from the repository root: (exit status, stdout, stderr).
#[allow(dead_code)]
pub fn hetsim(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("run hetsim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
