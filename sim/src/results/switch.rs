//! Task switching (`hetsim switch`): adapting a deployed model to a new task either reprograms
//! the analog tiles with new weights or swaps the LoRA adapters; this module prices both, in
//! time and energy, per operation, per tile and cluster, and for the model (docs/energy.md,
//! "Task switching").
//!
//! - **Reprogramming**: every weight of every adapted linear operation is rewritten by
//!   program-and-verify (`hetsim_models::energy::ProgrammingConfig`): per device a RESET and
//!   `iterations` SET pulses each followed by a verify read and one ADC conversion;
//!   `parallel_devices` devices of a tile at a time. Tiles program in parallel: the model's
//!   time is the slowest tile's, its energy the sum.
//! - **Adapter swap**: the new A and B of every adapted operation are fetched from DRAM into L2
//!   and DMA'd into the operation's clusters: per byte DRAM + the DMA's two SRAM sides + one
//!   link hop; time by the cluster DMA's rule (setup + bytes / bytes per cycle, one transfer per
//!   matrix). Clusters load in parallel: the model's time is the busiest cluster's.

use crate::backend::BackendConfig;
use crate::error::Error;
use crate::mapping::Mapping;
use crate::report::aligned_table;
use crate::scenario::Loaded;
use crate::workload::OpKind;
use hetsim_models::energy::EnergyConfig;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The two ways to switch one adapted linear operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwitchOp {
    /// Layer instance.
    pub layer: String,
    /// Operation.
    pub op: String,
    /// `in x out`.
    pub shape: String,
    /// Tiles holding the matrix.
    pub tiles: u32,
    /// PCM devices rewritten.
    pub devices: u64,
    /// Reprogramming time: the slowest of its tiles (they program in parallel), ns.
    pub reprogram_ns: f64,
    /// Reprogramming energy of all its tiles, J.
    pub reprogram_j: f64,
    /// Bytes of A and B.
    pub adapter_bytes: u64,
    /// Time to DMA the new A and B into its clusters (the busiest one), ns.
    pub swap_ns: f64,
    /// Energy of the swap (DRAM fetch, DMA, link), J.
    pub swap_j: f64,
}

/// The task-switch comparison of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwitchReport {
    /// Scenario name.
    pub scenario: String,
    /// Every adapted linear operation.
    pub ops: Vec<SwitchOp>,
    /// Tiles used by adapted operations.
    pub tiles: u32,
    /// Clusters that hold adapters.
    pub clusters: u32,
    /// Whole model, reprogramming: the slowest tile's time (tiles program in parallel), ns.
    pub reprogram_ns: f64,
    /// Whole model, reprogramming energy, J.
    pub reprogram_j: f64,
    /// One full tile (rows x cols weights): time, ns.
    pub tile_reprogram_ns: f64,
    /// One full tile: energy, J.
    pub tile_reprogram_j: f64,
    /// Whole model, adapter swap: the busiest cluster's time (clusters load in parallel), ns.
    pub swap_ns: f64,
    /// Whole model, adapter swap energy, J.
    pub swap_j: f64,
}

/// DMA timing of the scenario's cluster: (setup cycles per transfer, bytes per cycle, clock GHz).
fn dma_rule(loaded: &Loaded) -> (f64, f64, f64) {
    match &loaded.scenario.hardware.cluster_backend {
        BackendConfig::Kernel(k) => (
            f64::from(k.cluster.dma.setup_latency),
            f64::from(k.cluster.dma.bytes_per_cycle.max(1)),
            k.cluster.clock_ghz,
        ),
        BackendConfig::Analytic(a) => (
            a.dma_setup_cycles as f64,
            a.dma_bytes_per_cycle,
            a.clock_ghz,
        ),
    }
}

/// Prices both ways to switch the scenario's model to a new task.
pub fn evaluate(loaded: &Loaded) -> Result<SwitchReport, Error> {
    let sc = &loaded.scenario;
    let e: &EnergyConfig = &sc.hardware.energy;
    let tile = &sc.hardware.tile;
    let mapping = Mapping::new(&loaded.schedule, sc, 1)?;
    let eb = sc.element_bytes();
    let (setup, bpc, ghz) = dma_rule(loaded);
    let conv = e
        .aimc
        .conversion_energy_j(tile.adc.bits, tile.integration_time_ns);
    let g_max = f64::from(tile.mapping.g_max_us);
    let prog = |weights: u64| e.programming.program(weights, g_max, conv);
    let byte_j = e.memory.dram_byte_j + e.memory.dma_byte_j();
    let mut ops = Vec::new();
    let mut tile_ns: BTreeMap<u32, f64> = BTreeMap::new();
    let mut cluster_ns: BTreeMap<u32, f64> = BTreeMap::new();
    let (mut reprogram_j, mut swap_j) = (0.0, 0.0);
    for inst in &mapping.instances {
        let Some(block) = loaded.schedule.blocks.get(inst.block) else {
            continue;
        };
        for (op, place) in block.ops.iter().zip(&inst.ops) {
            let OpKind::Linear {
                in_features,
                out_features,
                lora: Some(l),
            } = &op.kind
            else {
                continue;
            };
            let (n, m, r) = (*in_features, *out_features, l.rank);
            // tile blocks: row block i, column block j, in tile order
            let (rows, cols) = (tile.rows.max(1), tile.cols.max(1));
            let mut t = place.first_tile;
            let (mut op_ns, mut op_j, mut devices) = (0f64, 0f64, 0u64);
            for r0 in (0..n).step_by(rows) {
                for c0 in (0..m).step_by(cols) {
                    let w = (rows.min(n - r0) * cols.min(m - c0)) as u64;
                    let c = prog(w);
                    *tile_ns.entry(t).or_default() += c.time_ns;
                    op_ns = op_ns.max(c.time_ns);
                    op_j += c.energy_j;
                    devices += c.devices;
                    t += 1;
                }
            }
            // adapters: A (n x r) to every cluster of the operation, B split by its slices
            let a_bytes = (n * r) as u64 * eb;
            let mut op_swap_ns = 0f64;
            let mut bytes = 0u64;
            for s in &place.slices {
                let b_bytes = (r * s.cols) as u64 * eb;
                let cycles = 2.0 * setup + ((a_bytes + b_bytes) as f64 / bpc).ceil();
                let ns = cycles / ghz;
                *cluster_ns.entry(s.cluster).or_default() += ns;
                op_swap_ns = op_swap_ns.max(ns);
                bytes += a_bytes + b_bytes;
            }
            let transfers = 2 * place.slices.len() as u64;
            let op_swap_j = bytes as f64 * byte_j
                + e.noc.transfer_j(bytes, 1)
                + transfers.saturating_sub(1) as f64 * e.noc.transfer_j(0, 1);
            reprogram_j += op_j;
            swap_j += op_swap_j;
            ops.push(SwitchOp {
                layer: inst.name.clone(),
                op: op.name.clone(),
                shape: format!("{n}x{m}"),
                tiles: place.tile_count,
                devices,
                reprogram_ns: op_ns,
                reprogram_j: op_j,
                adapter_bytes: bytes,
                swap_ns: op_swap_ns,
                swap_j: op_swap_j,
            });
        }
    }
    let full = prog((tile.rows * tile.cols) as u64);
    Ok(SwitchReport {
        scenario: sc.name.clone(),
        tiles: tile_ns.len() as u32,
        clusters: cluster_ns.len() as u32,
        reprogram_ns: tile_ns.values().copied().fold(0.0, f64::max),
        reprogram_j,
        tile_reprogram_ns: full.time_ns,
        tile_reprogram_j: full.energy_j,
        swap_ns: cluster_ns.values().copied().fold(0.0, f64::max),
        swap_j,
        ops,
    })
}

/// `ns` in the largest unit that keeps it >= 1 (ns, us, ms, s).
fn time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} us", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// `j` in the largest unit that keeps it >= 1 (nJ, uJ, mJ, J).
fn energy(j: f64) -> String {
    if j >= 1.0 {
        format!("{j:.3} J")
    } else if j >= 1e-3 {
        format!("{:.3} mJ", j * 1e3)
    } else if j >= 1e-6 {
        format!("{:.3} uJ", j * 1e6)
    } else {
        format!("{:.3} nJ", j * 1e9)
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.0}x", a / b)
    } else {
        "-".into()
    }
}

impl SwitchReport {
    /// The terminal text: the model and per-tile comparison, then the adapted operations of
    /// the first layer instance (`all`: of every instance).
    pub fn text(&self, all: bool) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "task switch, scenario {}: {} adapted linear operation(s) on {} tile(s) and {} \
             cluster(s)",
            self.scenario,
            self.ops.len(),
            self.tiles,
            self.clusters
        );
        let cells = vec![
            vec![
                "".to_string(),
                "time".into(),
                "energy".into(),
                "per tile / cluster".into(),
            ],
            vec![
                "reprogram tiles".into(),
                time(self.reprogram_ns),
                energy(self.reprogram_j),
                format!(
                    "full tile: {}, {}",
                    time(self.tile_reprogram_ns),
                    energy(self.tile_reprogram_j)
                ),
            ],
            vec![
                "swap LoRA adapters".into(),
                time(self.swap_ns),
                energy(self.swap_j),
                format!(
                    "per cluster: up to {}, mean {}",
                    time(self.swap_ns),
                    energy(self.swap_j / f64::from(self.clusters.max(1)))
                ),
            ],
            vec![
                "reprogram / swap".into(),
                ratio(self.reprogram_ns, self.swap_ns),
                ratio(self.reprogram_j, self.swap_j),
                String::new(),
            ],
        ];
        s.push_str(&aligned_table(&cells, |c| c == 0 || c == 3));
        let first = self
            .ops
            .first()
            .map(|o| o.layer.clone())
            .unwrap_or_default();
        let mut cells = vec![[
            "layer",
            "op",
            "shape",
            "tiles",
            "reprogram",
            "energy",
            "A+B bytes",
            "swap",
            "energy",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()];
        for o in self.ops.iter().filter(|o| all || o.layer == first) {
            cells.push(vec![
                o.layer.clone(),
                o.op.clone(),
                o.shape.clone(),
                o.tiles.to_string(),
                time(o.reprogram_ns),
                energy(o.reprogram_j),
                o.adapter_bytes.to_string(),
                time(o.swap_ns),
                energy(o.swap_j),
            ]);
        }
        s.push('\n');
        s.push_str(&aligned_table(&cells, |c| c < 3));
        if !all {
            let _ = writeln!(
                s,
                "(operations of {first}; every layer: --all; JSON: --json)"
            );
        }
        s
    }

    /// Pretty JSON of the whole comparison.
    pub fn json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self).map_err(|e| Error::Serialise(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn within(got: f64, want: f64) -> bool {
        (got - want).abs() <= 1e-9 * want.abs()
    }

    /// The main scenario's first adapted operation, 384 x 512, rank 8, FP16, on one 512 x 512
    /// tile and one cluster (64 B/cycle DMA, 10 cycles setup, 1 GHz), priced by hand from the
    /// preset.
    #[test]
    fn embedding_transformation_by_hand() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let loaded =
            crate::scenario::load(&root.join("scenarios/ahwa-lora-mobilebert.ron")).unwrap();
        let r = evaluate(&loaded).unwrap();
        let o = &r.ops[0];
        assert_eq!((o.shape.as_str(), o.tiles), ("384x512", 1));
        // 384 x 512 weights, 2 devices each, in groups of 32: 12288 groups of
        // 125 + 30 x (300 + 512) = 24485 ns
        assert_eq!(o.devices, 393_216);
        assert!(within(o.reprogram_ns, 12_288.0 * 24_485.0));
        // per device: 1.5 V x 700 uA x 125 ns + 30 x (1.5 V x 125 uA x 300 ns
        // + 0.2^2 x 25 uS x 512 ns + one conversion 0.0985 W x 0.58 / 256 x 128 ns)
        let conv = 0.0985 * 0.58 / 256.0 * 128e-9;
        let dev = 131.25e-12 + 30.0 * (56.25e-12 + 0.512e-12 + conv);
        assert!(within(o.reprogram_j, 393_216.0 * dev));
        // A 384 x 8 and B 8 x 512 halves: 14336 bytes; 2 x 10 + 14336 / 64 = 244 cycles at 1 GHz
        assert_eq!(o.adapter_bytes, 14_336);
        assert!(within(o.swap_ns, 244.0));
        // per byte: DRAM 160 pJ + DMA 2 x 1.25 x 0.386 pJ; the link: (14336 + 8) x 0.15 pJ
        // and the second transfer's header 8 x 0.15 pJ
        let want = 14_336.0 * (160e-12 + 0.965e-12) + 14_344.0 * 0.15e-12 + 8.0 * 0.15e-12;
        assert!(within(o.swap_j, want), "{} {want}", o.swap_j);
        // the model: tiles in parallel, clusters in parallel, energies summed
        assert!(r.reprogram_ns >= o.reprogram_ns && r.reprogram_j > o.reprogram_j);
        let sum: f64 = r.ops.iter().map(|o| o.swap_j).sum();
        assert!(within(r.swap_j, sum));
        let text = r.text(false);
        assert!(text.contains("reprogram tiles") && text.contains("swap LoRA adapters"));
    }
}
