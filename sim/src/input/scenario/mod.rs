//! Scenarios: the RON files that say what to simulate (`scenarios/*.ron`, fields documented in
//! `docs/scenarios.md`).
//!
//! This module owns the scenario format, loading with positions and hints, semantic validation
//! (files exist, values in range, the mapping is possible) and the expansion of sweep lists into
//! every combination. It does not run anything: `crate::run` does.

use crate::backend::{AnalyticClusterConfig, BackendConfig};
use crate::error::Error;
use crate::workload::models::{self, DEFAULT_LORA};
use crate::workload::{Lora, OpKind, Schedule};
use hetsim_models::aimc::{DriftCompensation, TileConfig};
use hetsim_models::diag::read_text;
use hetsim_models::interconnect::InterconnectConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A complete scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name shown in reports.
    pub name: String,
    /// Seed of synthetic weights and inputs (the tile's own noise seed is `hardware.tile.seed`).
    #[serde(default)]
    pub seed: u64,
    /// The hardware.
    #[serde(default)]
    pub hardware: Hardware,
    /// The workload.
    pub workload: Workload,
    /// How work is placed on tiles and clusters.
    #[serde(default)]
    pub mapping: MappingConfig,
    /// The swept parameters; every combination is run.
    #[serde(default)]
    pub sweep: Sweep,
    /// The numerical-error evaluation (`None`: off).
    #[serde(default = "default_numerics")]
    pub numerics: Option<Numerics>,
    /// The accuracy of a real model on tokenised sentences versus inference time (default
    /// `None`: off; needs `workload.weights: Checkpoint(..)`; `crate::accuracy`).
    #[serde(default)]
    pub accuracy: Option<Accuracy>,
}

/// The accuracy evaluation (docs/accuracy.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accuracy {
    /// Tokenised sentences (JSON, `tools/minilm/tokenize.py`'s format), relative to the
    /// scenario file.
    pub sentences: String,
    /// Evaluate only the first this many sentences (default `None`: all).
    #[serde(default)]
    pub max_sentences: Option<usize>,
    /// Inference times, s after programming (default 0 s, 1 h, 1 d, 1 y, 10 y).
    #[serde(default = "default_times")]
    pub t_inf_s: Vec<f64>,
    /// Drift-compensation settings compared (default `[Off, Global]`); each replaces the
    /// tile's `drift_compensation` for its points.
    #[serde(default = "default_compensation")]
    pub drift_compensation: Vec<DriftCompensation>,
}

fn default_times() -> Vec<f64> {
    vec![0.0, 3600.0, 86400.0, 31_536_000.0, 315_360_000.0]
}

fn default_compensation() -> Vec<DriftCompensation> {
    vec![DriftCompensation::Off, DriftCompensation::Global]
}

fn default_numerics() -> Option<Numerics> {
    Some(Numerics::default())
}

/// Hardware: tile, clusters, interconnect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Hardware {
    /// AIMC tile (the aimc module's `TileConfig`; its `integration_time_ns` comes from
    /// `sweep.integration_time_ns`, and a value other than the default here is an error).
    /// Default: the study's 512 x 512 PCM tile.
    pub tile: TileConfig,
    /// Where cluster cycles come from (default `Analytic(())` with its defaults).
    pub cluster_backend: BackendConfig,
    /// Interconnect (default: point-to-point links, 1 ns, 64 bytes/ns).
    pub interconnect: InterconnectConfig,
    /// Tiles on the chip; `None` (default): as many as the model needs.
    pub tiles_available: Option<usize>,
    /// Bytes per activation element on the interconnect. Default (`None`): the cluster
    /// backend's data format ([`Scenario::element_bytes`]); a value that differs from it is an
    /// error. Written `2` or `Some(2)`.
    #[serde(deserialize_with = "bare_or_some")]
    pub element_bytes: Option<u64>,
    /// Energy and area constants (default: the documented preset, docs/energy.md; any subset
    /// of fields may be given, the rest keep their preset values).
    pub energy: hetsim_models::energy::EnergyConfig,
}

/// Reads an optional byte count written bare (`2`), as `Some(2)` or as `None`.
fn bare_or_some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a byte count such as 2 (or None)")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            u64::deserialize(d).map(Some)
        }
    }
    d.deserialize_any(V)
}

impl Scenario {
    /// Bytes per activation element: the cluster backend's data format (the kernel's for
    /// `Kernel`: 4 for `Fp32`, 2 for the binary16 kernels; `element_bytes` for `Analytic`),
    /// which the interconnect moves and `hardware.element_bytes` may only repeat.
    pub fn element_bytes(&self) -> u64 {
        match &self.hardware.cluster_backend {
            BackendConfig::Kernel(k) => k.kernel.format().bytes() as u64,
            BackendConfig::Analytic(c) => c.element_bytes,
        }
    }
}

/// Where the layer schedule comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ScheduleSource {
    /// Generated from a known model's dimensions (`mobilebert`, `bert-base`, `bert-large`,
    /// `llama-3.1-8b`).
    Model(String),
    /// A RON schedule file (relative paths are relative to the scenario file).
    File(String),
}

/// How LoRA is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LoraChoice {
    /// As the schedule says.
    FromSchedule,
    /// This rank and alpha on every linear operation the schedule lists (with or without
    /// LoRA there).
    Rank(Lora),
    /// No LoRA anywhere (the hybrid equals the baseline).
    Off,
}

/// The workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Schedule source.
    pub schedule: ScheduleSource,
    /// Sequence length for a generated schedule (default: the model's); must match a file's.
    #[serde(default)]
    pub seq_len: Option<usize>,
    /// LoRA rank and alpha (default `Rank((rank: 8, alpha: 32.0))`, the study's).
    #[serde(default = "default_lora")]
    pub lora: LoraChoice,
    /// Linear operations that carry LoRA, by name (default `None`: all of them).
    #[serde(default)]
    pub lora_targets: Option<Vec<String>>,
    /// Weights (default `Synthetic`).
    #[serde(default)]
    pub weights: Weights,
    /// A PEFT LoRA adapter directory (`adapter_model.safetensors`, `adapter_config.json`),
    /// relative to the scenario file (default `None`). Needs `weights: Checkpoint(..)`; its
    /// rank, alpha and target modules set the schedule's LoRA, and the accuracy evaluation uses
    /// its A and B.
    #[serde(default)]
    pub adapter: Option<String>,
}

fn default_lora() -> LoraChoice {
    LoraChoice::Rank(DEFAULT_LORA)
}

/// Weights of the numerical evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum Weights {
    /// Seeded synthetic weights: W ~ N(0, 1/in), A ~ N(0, 1/in), B ~ N(0, (0.05)^2 / r),
    /// inputs x ~ N(0, 1).
    #[default]
    Synthetic,
    /// `.npy` files in a directory (relative to the scenario file), named
    /// `<block>.<repetition>.<op>.{W,A,B}.npy` (W in x out, A in x r, B r x out); a missing A or B
    /// falls back to synthetic, a missing W is an error.
    Npy(String),
    /// A Hugging Face model directory (relative to the scenario file) holding
    /// `model.safetensors` and `config.json` (BERT family; `crate::checkpoint` maps the names).
    /// The numerics take W from it; the `accuracy` section runs the whole model.
    Checkpoint(String),
}

/// How tiles are paired with clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ClusterPairing {
    /// One cluster per tile (the study).
    #[default]
    PerTile,
    /// `n` consecutive tiles share one cluster.
    Shared(usize),
}

/// How the LoRA of a matrix deeper than one tile (several row blocks) is split over the
/// clusters of its tiles (docs/architecture.md "Mapping").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum RowBlocks {
    /// The partial X A reduction (default): row block k's `X_k s A_k` (t x rank) is computed
    /// once per batch on a cluster of a tile below the first row, the partial H moves from
    /// row block to row block and is summed there, and the complete H is sent to every column
    /// slice's cluster, which adds `H B` to its XW. Only t x rank values cross the
    /// interconnect per hop.
    #[default]
    ReduceXA,
    /// Each column slice runs along its column of row-block clusters: segment k adds
    /// `(X_k s A_k) B` to the running Y (t x the slice's columns), which moves down the
    /// column. Every slice computes its own X A.
    PassY,
}

/// Which clusters run a dynamic operation (attention, softmax, norms, activations, adds;
/// docs/architecture.md "Mapping"). The numbers computed do not depend on it, only the timing,
/// energy and data movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DynamicMapping {
    /// The whole operation on the home cluster of its first operand (default).
    #[default]
    OneCluster,
    /// Each operation split over the clusters of its layer instance's tiles (the home cluster
    /// first): attention scores and context by key/value head groups, every other kind by token
    /// rows; each share's operands are sent to its cluster and its output gathered on the home
    /// cluster.
    Spread,
    /// `mapping.attention_clusters` extra clusters per layer instance run the attention
    /// (scores, softmax, context), split over them as under `Spread` with the output gathered on
    /// the first of them; the other dynamic operations stay on one cluster.
    Dedicated,
}

impl DynamicMapping {
    /// Report name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::OneCluster => "one-cluster",
            Self::Spread => "spread",
            Self::Dedicated => "dedicated",
        }
    }
}

/// Mapping choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingConfig {
    /// Tile-cluster pairing (default `PerTile`).
    pub clusters: ClusterPairing,
    /// How a matrix's row blocks share its LoRA (default `ReduceXA`).
    pub row_blocks: RowBlocks,
    /// Which clusters run the dynamic operations (default `OneCluster`).
    pub dynamic: DynamicMapping,
    /// Attention clusters per layer instance under `dynamic: Dedicated` (default 1, 1..=64).
    pub attention_clusters: usize,
}

impl Default for MappingConfig {
    fn default() -> Self {
        Self {
            clusters: ClusterPairing::default(),
            row_blocks: RowBlocks::default(),
            dynamic: DynamicMapping::default(),
            attention_clusters: 1,
        }
    }
}

/// A pipeline strategy (DESIGN.md section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StrategyChoice {
    /// Tile, transfer, cluster per batch, no overlap.
    Sequential,
    /// Two-stage token-batched pipeline (tile on batch k+1 while the cluster does batch k).
    Pipelined,
    /// The cluster starts (xA)B when x arrives, concurrently with the tile; adds when both are
    /// ready.
    ParallelBranch,
    /// Pipelined with the LoRA work of one tile split by output columns over `n` clusters.
    MultiCluster(usize),
}

impl StrategyChoice {
    /// Report name.
    pub fn name(&self) -> String {
        match self {
            Self::Sequential => "sequential".into(),
            Self::Pipelined => "pipelined".into(),
            Self::ParallelBranch => "parallel-branch".into(),
            Self::MultiCluster(n) => format!("multi-cluster({n})"),
        }
    }
}

/// Swept values; `run` evaluates the Cartesian product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sweep {
    /// Tile integration times in ns (default `[128.0]`).
    pub integration_time_ns: Vec<f64>,
    /// Tokens per batch t (default `[8]`).
    pub tokens_per_batch: Vec<usize>,
    /// Strategies (default `[Pipelined]`).
    pub strategy: Vec<StrategyChoice>,
    /// Further axes for `hetsim sweep`: any scenario field by its dotted path (default none;
    /// `hetsim run` refuses a scenario that has them). See docs/sweeps.md.
    pub axes: Vec<Axis>,
    /// Which report row `hetsim sweep` records per point (default: the whole model).
    pub record: Record,
}

impl Default for Sweep {
    fn default() -> Self {
        Self {
            integration_time_ns: vec![128.0],
            tokens_per_batch: vec![8],
            strategy: vec![StrategyChoice::Pipelined],
            axes: Vec::new(),
            record: Record::Model,
        }
    }
}

/// One sweep axis: a scenario field and the values it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// Dotted path of the field in the scenario as written in RON, with enum variants as path
    /// segments, e.g. `hardware.tile.adc.bits`, `workload.lora.Rank.rank`,
    /// `hardware.cluster_backend.Kernel.cluster.cores`.
    pub path: String,
    /// The values.
    pub values: AxisValues,
}

/// The values of an axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AxisValues {
    /// Listed values (numbers, booleans, or strings; a string also names a unit enum variant).
    List(Vec<AxisValue>),
    /// `Range(from, to, step)`: from, from + step, ... up to and including `to` (within 1e-9).
    Range(f64, f64, f64),
}

/// One value of an axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AxisValue {
    /// An integer.
    Int(i64),
    /// A real number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string or unit enum variant name.
    Text(String),
}

/// The report row a sweep records for each point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum Record {
    /// The whole-model row.
    #[default]
    Model,
    /// The first row of the named linear operation (e.g. `bottleneck.input.dense`).
    Op(String),
}

/// Numerical-error evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Numerics {
    /// Tokens of the sample sequence pushed through the analog tiles and the LoRA branches
    /// (default 16; attention runs over this shortened sequence).
    pub sample_tokens: usize,
    /// Time after programming at which the tiles are read, s (default 0).
    pub t_inf_s: f64,
    /// Evaluate only the first this many layer instances (default `None`: all).
    pub max_instances: Option<usize>,
}

impl Default for Numerics {
    fn default() -> Self {
        Self {
            sample_tokens: 16,
            t_inf_s: 0.0,
            max_instances: None,
        }
    }
}

/// One point of the sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Combination {
    /// Strategy.
    pub strategy: StrategyChoice,
    /// Tile integration time, ns.
    pub integration_time_ns: f64,
    /// Tokens per batch.
    pub tokens_per_batch: usize,
}

/// A loaded, validated scenario with its schedule.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// Its file.
    pub path: PathBuf,
    /// The schedule, with the scenario's LoRA choice applied.
    pub schedule: Schedule,
    /// Directory of `.npy` weights, resolved.
    pub npy_dir: Option<PathBuf>,
    /// Checkpoint directory, resolved.
    pub checkpoint: Option<PathBuf>,
    /// PEFT adapter directory, resolved.
    pub adapter: Option<PathBuf>,
}

impl Loaded {
    /// Every combination of the sweep, strategy-major then integration time then t.
    pub fn combinations(&self) -> Vec<Combination> {
        let s = &self.scenario.sweep;
        let mut v = Vec::new();
        for &strategy in &s.strategy {
            for &it in &s.integration_time_ns {
                for &t in &s.tokens_per_batch {
                    v.push(Combination {
                        strategy,
                        integration_time_ns: it,
                        tokens_per_batch: t,
                    });
                }
            }
        }
        v
    }
}

fn field_err(path: &Path, field: &str, message: String, hint: &str) -> Error {
    Error::Scenario {
        path: path.to_path_buf(),
        field: field.into(),
        message,
        hint: hint.into(),
    }
}

/// Reads, parses and validates a scenario file and loads its schedule.
pub fn load(path: &Path) -> Result<Loaded, Error> {
    let text = read_text(path, "a scenario").map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_str(path, &text)
}

/// As [`load`], with the text given (`path` names it and anchors relative paths).
pub fn load_str(path: &Path, text: &str) -> Result<Loaded, Error> {
    let sc: Scenario = ron::from_str(text).map_err(|e| Error::ron(path, text, e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let f = |field: &str, message: String, hint: &str| field_err(path, field, message, hint);

    sc.hardware.tile.validate().map_err(|e| {
        f(
            "hardware.tile",
            e.to_string(),
            "see docs/aimc.md for every tile field and its range",
        )
    })?;
    // One home for the integration time: the sweep. A tile value other than the default would
    // be replaced by every swept value without a word.
    let tile_it = sc.hardware.tile.integration_time_ns;
    if tile_it != TileConfig::default().integration_time_ns {
        return Err(f(
            "hardware.tile.integration_time_ns",
            format!(
                "{tile_it} ns would be replaced by each value of sweep.integration_time_ns \
                 ({:?})",
                sc.sweep.integration_time_ns
            ),
            &format!(
                "set the integration time in one place: sweep: (integration_time_ns: \
                 [{tile_it:?}]), and remove it from the tile"
            ),
        ));
    }
    sc.hardware.energy.validate().map_err(|e| {
        f(
            &format!("hardware.energy.{}", e.field),
            e.to_string(),
            "energies, powers, times and areas are finite and >= 0 (docs/energy.md)",
        )
    })?;
    sc.hardware.interconnect.validate().map_err(|e| {
        f(
            "hardware.interconnect",
            e.to_string(),
            "latencies >= 0, bandwidths > 0, mesh sides 1..=1024",
        )
    })?;
    if let BackendConfig::Kernel(k) = &sc.hardware.cluster_backend {
        // One home for the cluster's clock and TCDM: the cycle-level `cluster`; the analytic
        // model of the dynamic operations takes them from there.
        let d = AnalyticClusterConfig::default();
        for (name, set, default, home) in [
            (
                "clock_ghz",
                k.dynamic.clock_ghz,
                d.clock_ghz,
                "cluster.clock_ghz",
            ),
            (
                "tcdm_bytes",
                k.dynamic.tcdm_bytes as f64,
                d.tcdm_bytes as f64,
                "cluster.tcdm.size",
            ),
        ] {
            if set != default {
                return Err(f(
                    &format!("hardware.cluster_backend.Kernel.dynamic.{name}"),
                    format!("{set} would be replaced by the kernel backend's `{home}`"),
                    &format!("set it in one place: `{home}`, and remove it from `dynamic`"),
                ));
            }
        }
        k.kernel.check_cluster(&k.cluster).map_err(|message| {
            f(
                "hardware.cluster_backend.Kernel.kernel",
                message,
                "give the Kernel backend's `cluster` what the kernel needs (the study \
                 preset models/presets/cluster-snitch-study.ron has it), or choose \
                 `kernel: Fp32`",
            )
        })?;
    }
    // One home for the activation format: the cluster backend's data (the kernel's format, or
    // the analytic model's element_bytes); the interconnect moves what the clusters compute in.
    if let BackendConfig::Kernel(k) = &sc.hardware.cluster_backend {
        let (set, default) = (
            k.dynamic.element_bytes,
            AnalyticClusterConfig::default().element_bytes,
        );
        let format = k.kernel.format().bytes() as u64;
        if set != default && set != format {
            return Err(f(
                "hardware.cluster_backend.Kernel.dynamic.element_bytes",
                format!(
                    "{set} conflicts with the {:?} kernel's data ({format} bytes per element)",
                    k.kernel
                ),
                "remove it: the dynamic operations take the kernel's format",
            ));
        }
    }
    let backend_bytes = sc.element_bytes();
    if !(1..=16).contains(&backend_bytes) {
        return Err(f(
            "hardware.cluster_backend.Analytic.element_bytes",
            format!("{backend_bytes} is out of range"),
            "use 1..=16 (2 for FP16)",
        ));
    }
    if let Some(set) = sc.hardware.element_bytes {
        if set != backend_bytes {
            return Err(f(
                "hardware.element_bytes",
                format!(
                    "{set} conflicts with the cluster backend's data format ({backend_bytes} \
                     bytes per element: {})",
                    match &sc.hardware.cluster_backend {
                        BackendConfig::Kernel(k) => format!("the {:?} kernel's", k.kernel),
                        BackendConfig::Analytic(_) => "the analytic model's element_bytes".into(),
                    }
                ),
                "remove it: the interconnect moves activations in the clusters' format",
            ));
        }
    }
    if let Some(0) = sc.hardware.tiles_available {
        return Err(f(
            "hardware.tiles_available",
            "0 tiles".into(),
            "give at least 1, or None for as many as needed",
        ));
    }
    let sw = &sc.sweep;
    if sw.integration_time_ns.is_empty() || sw.tokens_per_batch.is_empty() || sw.strategy.is_empty()
    {
        return Err(f(
            "sweep",
            "an empty list".into(),
            "give at least one value for integration_time_ns, tokens_per_batch and strategy",
        ));
    }
    for &it in &sw.integration_time_ns {
        if !(it.is_finite() && it > 0.0) {
            return Err(f(
                "sweep.integration_time_ns",
                format!("{it} is not a positive time"),
                "give times in ns, e.g. [128.0, 256.0, 512.0]",
            ));
        }
    }
    if sw.tokens_per_batch.contains(&0) {
        return Err(f(
            "sweep.tokens_per_batch",
            "t = 0".into(),
            "give batch sizes of at least 1 token",
        ));
    }
    for s in &sw.strategy {
        if let StrategyChoice::MultiCluster(n) = s {
            if *n == 0 || *n > 64 {
                return Err(f(
                    "sweep.strategy",
                    format!("MultiCluster({n})"),
                    "split over 1..=64 clusters",
                ));
            }
            if let ClusterPairing::Shared(_) = sc.mapping.clusters {
                return Err(f(
                    "sweep.strategy",
                    format!("MultiCluster({n}) with mapping.clusters = Shared(..) is an impossible mapping"),
                    "multi-cluster gives each tile its own clusters; use mapping: (clusters: PerTile)",
                ));
            }
        }
    }
    if sc.mapping.attention_clusters == 0 || sc.mapping.attention_clusters > 64 {
        return Err(f(
            "mapping.attention_clusters",
            format!("{}", sc.mapping.attention_clusters),
            "give 1..=64 attention clusters per layer instance (used with dynamic: Dedicated)",
        ));
    }
    if let ClusterPairing::Shared(0) = sc.mapping.clusters {
        return Err(f(
            "mapping.clusters",
            "Shared(0)".into(),
            "give the number of tiles per cluster, at least 1",
        ));
    }
    if let Some(n) = &sc.numerics {
        if n.sample_tokens == 0 || n.sample_tokens > 4096 {
            return Err(f(
                "numerics.sample_tokens",
                format!("{}", n.sample_tokens),
                "use 1..=4096 (16 keeps a run fast)",
            ));
        }
        if !(n.t_inf_s.is_finite() && n.t_inf_s >= 0.0) {
            return Err(f(
                "numerics.t_inf_s",
                format!("{}", n.t_inf_s),
                "seconds after programming, >= 0",
            ));
        }
    }

    let mut schedule = match &sc.workload.schedule {
        ScheduleSource::Model(m) => {
            let dims = models::find(m).ok_or_else(|| {
                f(
                    "workload.schedule",
                    format!("unknown model {m:?}"),
                    &format!(
                        "use one of {} or File(\"path.ron\")",
                        models::MODELS.map(|m| m.name).join(", ")
                    ),
                )
            })?;
            let seq = sc.workload.seq_len.unwrap_or(dims.default_seq_len);
            if seq == 0 {
                return Err(f("workload.seq_len", "0 tokens".into(), "give at least 1"));
            }
            models::generate(&dims, seq, Some(DEFAULT_LORA))
        }
        ScheduleSource::File(p) => {
            let file = dir.join(p);
            if !file.is_file() {
                return Err(f(
                    "workload.schedule",
                    format!("{} does not exist", file.display()),
                    "paths are relative to the scenario file; generate one with `hetsim trace gen`",
                ));
            }
            let s = Schedule::from_ron_file(&file)?;
            if let Some(seq) = sc.workload.seq_len {
                if seq != s.seq_len {
                    return Err(f(
                        "workload.seq_len",
                        format!("{seq} differs from the schedule's {}", s.seq_len),
                        "drop seq_len or regenerate the schedule with --seq-len",
                    ));
                }
            }
            s
        }
    };
    apply_lora(&mut schedule, &sc.workload)
        .map_err(|(field, message, hint)| f(field, message, hint))?;
    schedule.validate()?;

    let (mut npy_dir, mut checkpoint) = (None, None);
    match &sc.workload.weights {
        Weights::Synthetic => {}
        Weights::Npy(d) => {
            let p = dir.join(d);
            if !p.is_dir() {
                return Err(f(
                    "workload.weights",
                    format!("{} is not a directory", p.display()),
                    "paths are relative to the scenario file",
                ));
            }
            npy_dir = Some(p);
        }
        Weights::Checkpoint(d) => {
            let p = dir.join(d);
            for file in [
                crate::checkpoint::WEIGHTS_FILE,
                crate::checkpoint::CONFIG_FILE,
            ] {
                if !p.join(file).is_file() {
                    return Err(f(
                        "workload.weights",
                        format!("{} has no {file}", p.display()),
                        "paths are relative to the scenario file; for all-MiniLM-L6-v2 run \
                         tools/fetch-minilm first (it fills .cache/minilm/model)",
                    ));
                }
            }
            checkpoint = Some(p);
        }
    }
    let adapter = match &sc.workload.adapter {
        None => None,
        Some(d) => {
            let p = dir.join(d);
            if checkpoint.is_none() {
                return Err(f(
                    "workload.adapter",
                    "an adapter needs the model it adapts".into(),
                    "set workload.weights: Checkpoint(\"dir\")",
                ));
            }
            let cfg = crate::checkpoint::AdapterConfig::load(&p).map_err(|e| {
                f(
                    "workload.adapter",
                    e.to_string(),
                    "a PEFT LoRA adapter directory holds adapter_config.json and \
                     adapter_model.safetensors",
                )
            })?;
            apply_adapter(&mut schedule, &sc.workload, &cfg)
                .map_err(|(field, message, hint)| f(field, message, hint))?;
            Some(p)
        }
    };
    if let Some(a) = &sc.accuracy {
        if checkpoint.is_none() {
            return Err(f(
                "accuracy",
                "the accuracy evaluation needs a real model".into(),
                "set workload.weights: Checkpoint(\"dir\") (synthetic weights are for timing)",
            ));
        }
        if !dir.join(&a.sentences).is_file() {
            return Err(f(
                "accuracy.sentences",
                format!("{} does not exist", dir.join(&a.sentences).display()),
                "paths are relative to the scenario file (scenarios/minilm/tokens.json)",
            ));
        }
        if a.t_inf_s.is_empty() || a.drift_compensation.is_empty() {
            return Err(f(
                "accuracy",
                "an empty list".into(),
                "give at least one inference time and one drift-compensation setting",
            ));
        }
        if let Some(t) = a.t_inf_s.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
            return Err(f(
                "accuracy.t_inf_s",
                format!("{t}"),
                "seconds after programming, >= 0",
            ));
        }
        if a.max_sentences == Some(0) {
            return Err(f(
                "accuracy.max_sentences",
                "0 sentences".into(),
                "give at least 1 (or None for all)",
            ));
        }
    }
    let loaded = Loaded {
        scenario: sc,
        path: path.to_path_buf(),
        schedule,
        npy_dir,
        checkpoint,
        adapter,
    };
    crate::mapping::Mapping::new(&loaded.schedule, &loaded.scenario, 1).map_err(|e| {
        f(
            "hardware.tiles_available",
            e.to_string(),
            "give more tiles (or None), or larger tiles",
        )
    })?;
    Ok(loaded)
}

type FieldError = (&'static str, String, &'static str);

/// Sets the schedule's LoRA from a PEFT adapter's configuration: its rank and alpha on every
/// linear operation it targets, none elsewhere. `workload.lora` may only repeat the adapter's
/// rank and alpha (or keep its default) and `workload.lora_targets` must be unset.
fn apply_adapter(
    s: &mut Schedule,
    w: &Workload,
    cfg: &crate::checkpoint::AdapterConfig,
) -> Result<(), FieldError> {
    let own = Lora {
        rank: cfg.r,
        alpha: cfg.lora_alpha,
    };
    match w.lora {
        LoraChoice::Rank(l) if l == DEFAULT_LORA || l == own => {}
        LoraChoice::FromSchedule => {}
        _ => {
            return Err((
                "workload.lora",
                format!(
                    "{:?} conflicts with the adapter's rank {} and alpha {}",
                    w.lora, cfg.r, cfg.lora_alpha
                ),
                "remove workload.lora: the adapter sets rank and alpha",
            ))
        }
    }
    if w.lora_targets.is_some() {
        return Err((
            "workload.lora_targets",
            "set together with an adapter".into(),
            "remove it: the adapter's target_modules say which operations carry LoRA",
        ));
    }
    let mut any = false;
    for b in &mut s.blocks {
        for op in &mut b.ops {
            if let OpKind::Linear { lora, .. } = &mut op.kind {
                *lora = cfg.targets(&op.name).then_some(own);
                any |= lora.is_some();
            }
        }
    }
    if !any {
        return Err((
            "workload.adapter",
            format!(
                "target_modules {:?} name no linear operation of the schedule",
                cfg.target_modules
            ),
            "PEFT matches a module whose name ends with a target, e.g. \"query\"",
        ));
    }
    Ok(())
}

fn apply_lora(s: &mut Schedule, w: &Workload) -> Result<(), FieldError> {
    if let Some(targets) = &w.lora_targets {
        for t in targets {
            let known = s
                .blocks
                .iter()
                .flat_map(|b| &b.ops)
                .any(|o| o.name == *t && matches!(o.kind, OpKind::Linear { .. }));
            if !known {
                return Err((
                    "workload.lora_targets",
                    format!("{t:?} is not a linear operation of the schedule"),
                    "name linear operations as in the schedule, e.g. \"attention.self.query\"",
                ));
            }
        }
    }
    for b in &mut s.blocks {
        for op in &mut b.ops {
            if let OpKind::Linear { lora, .. } = &mut op.kind {
                let targeted = w.lora_targets.as_ref().is_none_or(|t| t.contains(&op.name));
                *lora = match (&w.lora, targeted) {
                    (_, false) | (LoraChoice::Off, _) => None,
                    (LoraChoice::FromSchedule, true) => *lora,
                    (LoraChoice::Rank(l), true) => {
                        if l.rank == 0 || !l.alpha.is_finite() {
                            return Err((
                                "workload.lora",
                                format!("rank {} alpha {}", l.rank, l.alpha),
                                "rank >= 1 and a finite alpha",
                            ));
                        }
                        Some(*l)
                    }
                };
            }
        }
    }
    Ok(())
}
