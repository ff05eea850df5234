//! Reports: rows of measured latencies, overheads, utilisation, TCDM footprint and numerical
//! error, rendered as a terminal table, CSV or JSON.
//!
//! The terminal table shows, per sweep combination, one row per distinct linear-layer shape of a
//! representative layer instance (the first repetition of the first repeated block, e.g.
//! `encoder.layer.0`), that instance's layer row and the whole-model row. CSV and JSON hold every
//! row: every operation of every layer instance, every layer, the model. The table ends with
//! the run's summary (`crate::summary`), which the JSON holds as `summary`.

use crate::error::Error;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// One report row.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Row {
    /// Strategy name.
    pub strategy: String,
    /// Tile integration time, ns.
    pub integration_time_ns: f64,
    /// Tokens per batch t.
    pub tokens_per_batch: usize,
    /// `op`, `layer` or `model`.
    pub scope: String,
    /// Layer instance, e.g. `encoder.layer.3` (`(all)` for the model).
    pub layer: String,
    /// Operation name (`(all)` for layer and model rows).
    pub op: String,
    /// Operation kind (`linear`, `softmax`, ...), `layer` or `model`.
    pub kind: String,
    /// `in x out` of a linear operation, output shape of a dynamic one.
    pub shape: String,
    /// Tile busy time (one tile group per matrix), ns.
    pub tile_ns: f64,
    /// Mean analog passes per MVM charged to a linear operation's tiles (bound management
    /// repeats a pass while an output saturates): counted by the tile model in the numerics, 1
    /// where the numerics did not run; `None` for other rows.
    pub tile_passes: Option<f64>,
    /// Cluster busy time, ns (including `cluster_startup_ns`).
    pub cluster_ns: f64,
    /// Part of `cluster_ns` spent on cold starts: a persistent kernel's boot, A and B, first
    /// chunk, cold I-cache and last write-back, charged once per operation and cluster (0 for
    /// the analytic model), ns.
    pub cluster_startup_ns: f64,
    /// Time on the interconnect (latency plus occupancy, excluding queueing), ns.
    pub transfer_ns: f64,
    /// Hybrid latency (from the first input being ready to the last output), ns.
    pub hybrid_ns: f64,
    /// Pure-AIMC baseline latency, ns.
    pub baseline_ns: f64,
    /// hybrid / baseline.
    pub overhead: f64,
    /// Stage with the largest per-batch time: `tile`, `cluster` or `link` (linear rows).
    pub bound: String,
    /// Tile busy / (latency x tile groups in scope).
    pub tile_util: f64,
    /// Cluster busy / (latency x clusters in scope).
    pub cluster_util: f64,
    /// Peak TCDM bytes of the LoRA work (A, B resident plus the strategy's batch buffers).
    pub tcdm_peak_bytes: u64,
    /// True when the peak exceeds the cluster's TCDM.
    pub tcdm_over: bool,
    /// Relative L2 error of the output against the ideal f32 model (op: isolated; layer: given
    /// the ideal layer input; model: chained), if evaluated.
    pub rel_err: Option<f64>,
    /// Where cluster times come from, e.g. `analytic model`.
    pub cluster_model: String,
    /// Energy of the hybrid design, J (docs/energy.md): the energy of the row's tasks (tile
    /// MVMs, cluster tasks, transfers) plus its `static_energy_j`; the model row also the
    /// final write-back.
    pub energy_j: f64,
    /// Energy of the pure-AIMC baseline in the same scope, J.
    pub baseline_energy_j: f64,
    /// energy_j / baseline_energy_j: the energy overhead of LoRA.
    pub energy_overhead: f64,
    /// Part of `energy_j` spent by the tiles' MVMs, J.
    pub tile_energy_j: f64,
    /// Part of `energy_j` spent by cluster tasks (dynamic energy; from the kernel's counters
    /// for kernel-run LoRA tasks, from operation counts where `cluster_model` or the operation
    /// is analytic), J.
    pub cluster_energy_j: f64,
    /// Part of `energy_j` spent moving data (links per byte and hop, L2 per byte), J.
    pub transfer_energy_j: f64,
    /// Idle tiles, idle cluster cores and cluster leakage, J: the whole run's on the model row,
    /// shared out to layer and op rows by time span (a layer its latency's share of the sum of
    /// the layers' latencies, an op its latency's share of its layer's; docs/energy.md).
    pub static_energy_j: f64,
    /// Energy-delay product of the hybrid design: energy_j x hybrid latency, J s.
    pub edp_js: f64,
    /// Energy-delay product of the baseline, J s.
    pub baseline_edp_js: f64,
    /// Average power of the hybrid design: energy_j / hybrid latency, W.
    pub power_w: f64,
    /// Achieved efficiency: the linear layers' operations (2 per MAC: the analog MVMs, plus
    /// the LoRA branches) over energy_j, TOPS/W.
    pub tops_per_w: f64,
    /// The baseline's analog operations over its energy, TOPS/W.
    pub baseline_tops_per_w: f64,
    /// LoRA flops (2 per MAC) over the energy of the LoRA cluster tasks, GFLOPS/W (0 without
    /// LoRA work in scope).
    pub lora_gflops_per_w: f64,
    /// Model rows: silicon area of the hybrid system (tiles and clusters), mm² (0 on other
    /// rows).
    pub area_mm2: f64,
    /// Part of `hybrid_ns` during which a tile of the scope integrates (static linear layers;
    /// the parts of `crate::split` add up to the latency), ns.
    pub static_ns: f64,
    /// Part of `hybrid_ns` during which a dynamic operation runs and no tile, ns.
    pub dynamic_ns: f64,
    /// Part of `hybrid_ns` during which only LoRA work (and transfers) runs: the LoRA time
    /// that nothing hides, ns.
    pub lora_ns: f64,
    /// Part of `hybrid_ns` during which only transfers run, ns.
    pub link_ns: f64,
    /// Part of `hybrid_ns` during which nothing of the scope runs (operands incomplete,
    /// queueing behind other work), ns.
    pub wait_ns: f64,
    /// Part of `baseline_ns` during which a tile integrates, ns.
    pub baseline_static_ns: f64,
    /// Part of `baseline_ns` during which a dynamic operation runs and no tile, ns.
    pub baseline_dynamic_ns: f64,
    /// Part of `baseline_ns` during which only transfers run, ns.
    pub baseline_link_ns: f64,
    /// Part of `baseline_ns` during which nothing of the scope runs, ns.
    pub baseline_wait_ns: f64,
}

/// `cells` (the first row is the header) as columns two spaces apart with a rule under the
/// header; column `c` is left-aligned when `left(c)`, else right-aligned. Every line ends in a
/// newline.
pub fn aligned_table(cells: &[Vec<String>], left: impl Fn(usize) -> bool) -> String {
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            cells
                .iter()
                .filter_map(|r| r.get(c))
                .map(String::len)
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut s = String::new();
    for (i, row) in cells.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (v, w))| {
                if left(c) {
                    format!("{v:<w$}")
                } else {
                    format!("{v:>w$}")
                }
            })
            .collect();
        let _ = writeln!(s, "{}", line.join("  ").trim_end());
        if i == 0 {
            let total = widths.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
            let _ = writeln!(s, "{}", "-".repeat(total));
        }
    }
    s
}

/// The columns of a [`Row`] in CSV order: its serialised field names (the one place the
/// report's schema is written is the struct).
pub fn row_columns() -> &'static [String] {
    static COLUMNS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        let mut w = csv::Writer::from_writer(Vec::new());
        // serialising a plain struct to memory cannot fail
        let _ = w.serialize(Row::default());
        let bytes = w.into_inner().unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        text.lines()
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::to_string)
            .collect()
    })
}

/// A scenario's report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Cluster backend label.
    pub cluster_model: String,
    /// Tokens of the numerics sample, if evaluated.
    pub sample_tokens: Option<usize>,
    /// What the model-level error means, with the numbers behind it (None without numerics).
    pub numerics: Option<String>,
    /// Every row.
    pub rows: Vec<Row>,
    /// Warnings (TCDM overflow, partial numerics).
    pub warnings: Vec<String>,
    /// Engine events delivered over the whole run.
    pub events: u64,
    /// The accuracy of the real model versus inference time (scenarios with an `accuracy`
    /// section).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<crate::accuracy::AccuracyResult>,
}

fn us(ns: f64) -> String {
    format!("{:.2}", ns / 1000.0)
}

fn err(e: Option<f64>) -> String {
    e.map_or("-".into(), |v| format!("{v:.4}"))
}

/// Which rows the terminal table shows (`hetsim run --rows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RowSet {
    /// The whole-model row of each combination.
    Model,
    /// The model row and the representative layer instance's row (default).
    #[default]
    Layer,
    /// Those and one row per distinct linear-layer shape of the representative instance.
    Op,
    /// Every row: every operation of every layer instance, every layer, the model.
    All,
}

/// How the terminal table is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableOptions {
    /// Which rows.
    pub rows: RowSet,
    /// Every column (default: the ones that fit 120 characters on the main scenario, less
    /// those empty in every shown row).
    pub wide: bool,
}

/// One column of the terminal table: header, whether only `--wide` shows it, left-aligned,
/// and its cell.
struct Column {
    head: &'static str,
    wide_only: bool,
    left: bool,
    cell: fn(&Row) -> String,
}

/// The table's columns, in order.
const COLUMNS: [Column; 27] = [
    Column {
        head: "strategy",
        wide_only: false,
        left: true,
        cell: |r| r.strategy.clone(),
    },
    Column {
        head: "t_int ns",
        wide_only: false,
        left: true,
        cell: |r| r.integration_time_ns.to_string(),
    },
    Column {
        head: "t",
        wide_only: false,
        left: true,
        cell: |r| r.tokens_per_batch.to_string(),
    },
    Column {
        head: "row",
        wide_only: false,
        left: true,
        cell: |r| match r.scope.as_str() {
            "op" => r.op.clone(),
            "layer" => format!("layer {}", r.layer),
            _ => "model".into(),
        },
    },
    Column {
        head: "shape",
        wide_only: false,
        left: true,
        cell: |r| r.shape.clone(),
    },
    Column {
        head: "tile us",
        wide_only: false,
        left: false,
        cell: |r| us(r.tile_ns),
    },
    Column {
        head: "passes",
        wide_only: true,
        left: false,
        cell: |r| r.tile_passes.map_or("-".into(), |p| format!("{p:.2}")),
    },
    Column {
        head: "cluster us",
        wide_only: false,
        left: false,
        cell: |r| us(r.cluster_ns),
    },
    Column {
        head: "start us",
        wide_only: true,
        left: false,
        cell: |r| us(r.cluster_startup_ns),
    },
    Column {
        head: "xfer us",
        wide_only: true,
        left: false,
        cell: |r| us(r.transfer_ns),
    },
    Column {
        head: "hybrid us",
        wide_only: false,
        left: false,
        cell: |r| us(r.hybrid_ns),
    },
    Column {
        head: "base us",
        wide_only: false,
        left: false,
        cell: |r| us(r.baseline_ns),
    },
    Column {
        head: "overhead",
        wide_only: false,
        left: false,
        cell: |r| format!("{:.3}", r.overhead),
    },
    Column {
        head: "static us",
        wide_only: true,
        left: false,
        cell: |r| us(r.static_ns),
    },
    Column {
        head: "dynamic us",
        wide_only: true,
        left: false,
        cell: |r| us(r.dynamic_ns),
    },
    Column {
        head: "LoRA us",
        wide_only: true,
        left: false,
        cell: |r| us(r.lora_ns),
    },
    Column {
        head: "other us",
        wide_only: true,
        left: false,
        cell: |r| us(r.link_ns + r.wait_ns),
    },
    Column {
        head: "bound",
        wide_only: false,
        left: true,
        cell: |r| r.bound.clone(),
    },
    Column {
        head: "util T/C %",
        wide_only: true,
        left: false,
        cell: |r| format!("{:.0}/{:.0}", 100.0 * r.tile_util, 100.0 * r.cluster_util),
    },
    Column {
        head: "TCDM KiB",
        wide_only: true,
        left: false,
        cell: |r| {
            format!(
                "{:.1}{}",
                r.tcdm_peak_bytes as f64 / 1024.0,
                if r.tcdm_over { " !" } else { "" }
            )
        },
    },
    Column {
        head: "energy uJ",
        wide_only: true,
        left: false,
        cell: |r| format!("{:.2}", r.energy_j * 1e6),
    },
    Column {
        head: "E ovh",
        wide_only: true,
        left: false,
        cell: |r| format!("{:.3}", r.energy_overhead),
    },
    Column {
        head: "EDP nJs",
        wide_only: true,
        left: false,
        cell: |r| format!("{:.3}", r.edp_js * 1e9),
    },
    Column {
        head: "power mW",
        wide_only: true,
        left: false,
        cell: |r| format!("{:.1}", r.power_w * 1e3),
    },
    Column {
        head: "TOPS/W",
        wide_only: true,
        left: false,
        cell: |r| format!("{:.2}", r.tops_per_w),
    },
    Column {
        head: "rel err",
        wide_only: false,
        left: false,
        cell: |r| err(r.rel_err),
    },
    Column {
        head: "cluster model",
        wide_only: true,
        left: true,
        cell: |r| r.cluster_model.clone(),
    },
];

impl Report {
    /// Rows of the terminal table for `set` (see the module docs and [`RowSet`]).
    pub fn table_rows(&self, set: RowSet) -> Vec<&Row> {
        if set == RowSet::All {
            return self.rows.iter().collect();
        }
        // Representative instance: the first layer instance whose name ends in ".0", else the
        // first instance.
        let rep = self
            .rows
            .iter()
            .find(|r| r.scope == "layer" && r.layer.ends_with(".0"))
            .or_else(|| self.rows.iter().find(|r| r.scope == "layer"))
            .map(|r| r.layer.clone())
            .unwrap_or_default();
        let mut out = Vec::new();
        let mut seen: Vec<(String, f64, usize, String)> = Vec::new();
        for r in &self.rows {
            let combo = (
                r.strategy.clone(),
                r.integration_time_ns,
                r.tokens_per_batch,
            );
            match r.scope.as_str() {
                "op" if set == RowSet::Op && r.layer == rep && r.kind == "linear" => {
                    let key = (combo.0, combo.1, combo.2, r.shape.clone());
                    if !seen.contains(&key) {
                        seen.push(key);
                        out.push(r);
                    }
                }
                "layer" if set != RowSet::Model && r.layer == rep => out.push(r),
                "model" => out.push(r),
                _ => {}
            }
        }
        out
    }

    /// The terminal table with the default options ([`TableOptions`]).
    pub fn table(&self) -> String {
        self.table_with(TableOptions::default())
    }

    /// The terminal table: a header line (scenario, where cluster times come from), the rows
    /// `opts` selects with its columns, the summary (`crate::summary`), the numerics' meaning
    /// and the warnings.
    pub fn table_with(&self, opts: TableOptions) -> String {
        let rows = self.table_rows(opts.rows);
        // the option's columns, less those empty in every shown row (shape and bound on layer
        // and model rows)
        let cols: Vec<&Column> = COLUMNS
            .iter()
            .filter(|c| opts.wide || !c.wide_only)
            .filter(|c| opts.wide || rows.iter().any(|r| !(c.cell)(r).is_empty()))
            .collect();
        let mut cells: Vec<Vec<String>> = vec![cols.iter().map(|c| c.head.to_string()).collect()];
        for r in rows {
            cells.push(cols.iter().map(|c| (c.cell)(r)).collect());
        }
        let mut s = String::new();
        let _ = writeln!(
            s,
            "scenario {}: cluster times from the {};\n{}",
            self.scenario,
            self.cluster_model,
            self.sample_tokens.map_or(
                "one analog pass per tile MVM (numerics off)".into(),
                |n| format!(
                    "errors and tile passes (mean per MVM, bound management) on a {n}-token sample"
                )
            )
        );
        s.push_str(&aligned_table(&cells, |c| {
            cols.get(c).is_some_and(|c| c.left)
        }));
        let tcdm = if cols.iter().any(|c| c.head == "TCDM KiB") {
            "TCDM \"!\": exceeds the cluster's TCDM. "
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "{tcdm}Rows: --rows model|layer|op|all; every column: --wide; every row and column: \
             --csv/--json."
        );
        s.push_str(&crate::summary::text(self));
        if let Some(n) = &self.numerics {
            let _ = writeln!(s, "numerics: {n}");
        }
        if let Some(a) = &self.accuracy {
            s.push_str(&a.text());
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        s
    }

    /// CSV text (the `csv` crate: RFC 4180 quoting where needed), a header of [`Row`]'s
    /// fields ([`row_columns`]) and one line per row.
    pub fn csv(&self) -> Result<String, Error> {
        let e = |e: csv::Error| Error::Serialise(e.to_string());
        let mut w = csv::Writer::from_writer(Vec::new());
        if self.rows.is_empty() {
            w.write_record(row_columns()).map_err(e)?;
        }
        for r in &self.rows {
            w.serialize(r).map_err(e)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|x| Error::Serialise(x.to_string()))?;
        String::from_utf8(bytes).map_err(|x| Error::Serialise(x.to_string()))
    }

    /// Pretty JSON text: the report's fields and `summary` ([`crate::summary::best`]).
    pub fn json(&self) -> Result<String, Error> {
        self.json_with(Vec::new())
    }

    /// [`Report::json`] with more top-level fields (`hetsim run --json` adds the scenario's
    /// path and text, which `hetsim report` shows).
    pub fn json_with(&self, extra: Vec<(&str, serde_json::Value)>) -> Result<String, Error> {
        let e = |e: serde_json::Error| Error::Serialise(e.to_string());
        let mut v = serde_json::to_value(self).map_err(e)?;
        if let serde_json::Value::Object(m) = &mut v {
            let best = crate::summary::best(self);
            m.insert(
                "headline".into(),
                serde_json::to_value(crate::summary::headline(&best)).map_err(e)?,
            );
            m.insert("summary".into(), serde_json::to_value(best).map_err(e)?);
            for (k, x) in extra {
                m.insert(k.into(), x);
            }
        }
        serde_json::to_string_pretty(&v).map_err(e)
    }

    /// Writes `text` to `path`.
    pub fn write(path: &Path, text: &str) -> Result<(), Error> {
        std::fs::write(path, text).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema comes from the struct: its 37 fields, in declaration order (a field the csv
    /// crate cannot write flat, e.g. a nested struct, would empty this list).
    #[test]
    fn row_columns_are_the_struct_fields() {
        let c = row_columns();
        assert_eq!(c.len(), 46, "{c:?}");
        assert_eq!(
            (
                c[0].as_str(),
                c[3].as_str(),
                c[22].as_str(),
                c[36].as_str(),
                c[37].as_str(),
                c[45].as_str()
            ),
            (
                "strategy",
                "scope",
                "cluster_model",
                "area_mm2",
                "static_ns",
                "baseline_wait_ns"
            )
        );
        let csv = Report::default().csv().unwrap();
        assert_eq!(csv.trim_end(), c.join(","));
    }
}
