//! Plots of report CSVs (`hetsim plot`): reading a header-driven CSV, selecting rows and
//! columns, choosing the axes (scale, unit, ticks) and drawing the views with plotters as SVG
//! or PNG.
//!
//! This module owns the data side of plotting (which file, which columns, which rows, numeric
//! parsing with errors that name the file, column and line), the axes and the drawing. It reads
//! either a `hetsim run --csv` file (the [`crate::report::Row`] columns) or a sweep directory's
//! `results.csv` (the same columns after `point`, `point_id`, `status`, `error` and one column
//! per swept parameter; rows whose `status` is not `ok` are skipped). Column aliases: `t` =
//! `tokens_per_batch`, `integration_time` = `integration_time_ns`.
//!
//! Views ([`Kind`]):
//! - `line`: y against x, one line per value of the series column (rows sharing a series and an
//!   x are averaged, with a note); when the x column holds text (`strategy`, `layer`, ...) the
//!   view is grouped bars: one group per x category, one bar per series value;
//! - `stacked`: one bar per value of the x column (a label such as `layer` or `op`) stacking
//!   the y columns (default the latency parts `static_ns,dynamic_ns,lora_ns,link_ns,wait_ns`,
//!   which add up to the latency; busy times `tile_ns,cluster_ns,transfer_ns` in older CSVs);
//! - `ratio`: cluster time against tile time (default x `tile_ns`, y `cluster_ns`), one point
//!   per row, with the balance line y = x (above it the cluster is the bottleneck).
//!
//! Axes ([`Scale`]): `auto` makes an axis logarithmic when every value on it is positive and
//! the largest is at least [`LOG_RATIO`] times the smallest (the ratio view decides both axes
//! together, so the balance line stays the diagonal); `--x-scale`/`--y-scale` override. Time
//! columns (`*_ns`) are shown in ns, µs, ms or s, bytes in B/kB/MB/GB and tokens in k tokens,
//! chosen by magnitude: a linear axis names its unit in the axis label, a log axis's tick labels
//! carry their own (`100 µs`, `1 ms`). Every tick is labelled; the legend is drawn to the right
//! of the plot area, never over the data.
//!
//! PNG text uses the DejaVu Sans font embedded by the `dejavu` crate (registered once with
//! plotters' `ab_glyph` backend), so no system font is needed.

use crate::error::Error;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Which view to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// y against x, one line per series value (grouped bars when x holds text).
    Line,
    /// A stacked bar per x label of the y columns (latency breakdown).
    Stacked,
    /// Cluster against tile latency with the balance line y = x.
    Ratio,
}

/// The scale of an axis (`--x-scale`, `--y-scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Scale {
    /// Logarithmic when every value is positive and the largest is at least 10 times the
    /// smallest, else linear.
    #[default]
    Auto,
    /// Linear.
    Linear,
    /// Logarithmic (base 10); every value on the axis must be positive.
    Log,
}

/// The `auto` scale's threshold: an axis whose values are all positive becomes logarithmic
/// when its largest value is at least this many times its smallest (a decade or more, e.g.
/// t = 8..128 or operations from 40 µs to 2.4 ms).
pub const LOG_RATIO: f64 = 10.0;

/// What to plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// A sweep directory (its `results.csv` is read) or a CSV file.
    pub input: PathBuf,
    /// The x column (aliases allowed); `None`: the view's default.
    pub x: Option<String>,
    /// The y column(s), comma-separated for `stacked`; `None`: the view's default.
    pub y: Option<String>,
    /// Column whose values make the series (line, ratio).
    pub series: Option<String>,
    /// Keep rows where COL equals VALUE (`COL=VALUE`); one column given twice keeps either
    /// value; different columns must all match.
    pub filters: Vec<String>,
    /// The view.
    pub kind: Kind,
    /// The x axis's scale.
    pub x_scale: Scale,
    /// The y axis's scale.
    pub y_scale: Scale,
    /// Output file: `.svg` or `.png`.
    pub out: PathBuf,
    /// Title; default from the columns and the filters.
    pub title: Option<String>,
}

/// A CSV table read from a report or sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The CSV file read.
    pub path: PathBuf,
    /// Column names.
    pub headers: Vec<String>,
    /// Rows (all fields as text), `status` != `ok` already skipped.
    pub rows: Vec<Vec<String>>,
    /// The file line of each row (the header is line 1; for a table built in memory, the
    /// row's position from 1), for messages.
    pub lines: Vec<u64>,
    /// Rows skipped for their status.
    pub skipped: usize,
}

/// Resolves a column alias.
pub fn alias(name: &str) -> &str {
    match name {
        "t" => "tokens_per_batch",
        "integration_time" => "integration_time_ns",
        other => other,
    }
}

/// What a column measures, which decides its unit on an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Nanoseconds (`*_ns`): shown in ns, µs, ms or s.
    Time,
    /// Bytes: shown in B, kB, MB or GB.
    Bytes,
    /// Tokens: shown in tokens or k tokens.
    Tokens,
    /// Joules (`*_j`): shown in J, mJ, µJ or nJ.
    Energy,
    /// Anything else: plain numbers, k/M/G on large ticks.
    Other,
}

/// The quantity of a column, from its name.
pub fn quantity(col: &str) -> Quantity {
    match col {
        "tokens_per_batch" => Quantity::Tokens,
        c if c.ends_with("_bytes") => Quantity::Bytes,
        c if c.ends_with("_ns") => Quantity::Time,
        c if c.ends_with("_j") => Quantity::Energy,
        _ => Quantity::Other,
    }
}

/// Axis label of a column: its name and its base unit or meaning.
pub fn axis_label(col: &str) -> String {
    match description(col) {
        Some(u) => format!("{col} ({u})"),
        None => col.to_string(),
    }
}

/// The base unit or the meaning of a column, for its axis label.
fn description(col: &str) -> Option<&'static str> {
    match col {
        "overhead" => Some("hybrid / baseline"),
        "tile_util" | "cluster_util" => Some("fraction of latency"),
        "rel_err" => Some("relative L2 error"),
        c => match quantity(c) {
            Quantity::Time => Some("ns"),
            Quantity::Bytes => Some("bytes"),
            Quantity::Tokens => Some("tokens"),
            Quantity::Energy => Some("J"),
            Quantity::Other => None,
        },
    }
}

/// The display units of a quantity, largest first: (size in base units, name).
fn units(q: Quantity) -> &'static [(f64, &'static str)] {
    match q {
        Quantity::Time => &[(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1.0, "ns")],
        Quantity::Bytes => &[(1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1.0, "bytes")],
        Quantity::Tokens => &[(1e6, "M tokens"), (1e3, "k tokens"), (1.0, "tokens")],
        Quantity::Energy => &[(1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ")],
        Quantity::Other => &[],
    }
}

/// The unit for values up to `magnitude`: the largest unit not above it (the smallest for
/// tiny values); `None` for [`Quantity::Other`].
pub fn unit_for(q: Quantity, magnitude: f64) -> Option<(f64, &'static str)> {
    let us = units(q);
    us.iter()
        .find(|u| magnitude >= u.0)
        .or_else(|| us.last())
        .copied()
}

fn data_err(path: &Path, message: String) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message,
    }
}

impl Table {
    /// Reads `input`: a directory's `results.csv`, or the CSV file itself.
    pub fn read(input: &Path) -> Result<Table, Error> {
        let path = if input.is_dir() {
            input.join("results.csv")
        } else {
            input.to_path_buf()
        };
        let bytes =
            hetsim_isa::input::read_limited(&path, crate::sweep::RESULTS_LIMIT, "a results table")
                .map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
        let mut rd = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(bytes.as_slice());
        let headers: Vec<String> = rd
            .headers()
            .map_err(|e| data_err(&path, format!("reading the header: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if headers.iter().all(String::is_empty) {
            return Err(data_err(
                &path,
                "no header line: is this a CSV file?".into(),
            ));
        }
        let status = headers.iter().position(|h| h == "status");
        let (mut rows, mut lines) = (Vec::new(), Vec::new());
        let mut skipped = 0;
        for rec in rd.records() {
            let rec = rec.map_err(|e| data_err(&path, e.to_string()))?;
            if status.is_some_and(|s| rec.get(s).is_some_and(|v| v.trim() != "ok")) {
                skipped += 1;
                continue;
            }
            lines.push(rec.position().map_or(0, |p| p.line()));
            rows.push(rec.iter().map(str::to_string).collect());
        }
        Ok(Table {
            path,
            headers,
            rows,
            lines,
            skipped,
        })
    }

    /// Index of column `name` (aliases resolved), or an error listing the columns.
    pub fn column(&self, name: &str) -> Result<usize, Error> {
        let n = alias(name.trim());
        self.headers.iter().position(|h| h == n).ok_or_else(|| {
            data_err(
                &self.path,
                format!(
                    "no column {name:?}; available: {} (aliases: t = tokens_per_batch, \
                     integration_time = integration_time_ns)",
                    self.headers.join(", ")
                ),
            )
        })
    }

    /// Keeps the rows that pass every `COL=VALUE` filter (see [`Spec::filters`]); numbers
    /// compare by value (`128` matches `128.0`).
    pub fn filter(&mut self, filters: &[String]) -> Result<(), Error> {
        let mut by_col: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for f in filters {
            let (c, v) = f.split_once('=').ok_or_else(|| Error::Usage {
                option: "--filter".into(),
                message: format!("{f:?} is not COL=VALUE (e.g. scope=model)"),
            })?;
            by_col
                .entry(self.column(c)?)
                .or_default()
                .push(v.trim().to_string());
        }
        let same = |a: &str, b: &str| {
            a == b || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
        };
        let keep: Vec<bool> = self
            .rows
            .iter()
            .map(|r| {
                by_col.iter().all(|(&c, vals)| {
                    r.get(c)
                        .is_some_and(|cell| vals.iter().any(|v| same(cell.trim(), v)))
                })
            })
            .collect();
        let mut k = keep.iter();
        self.rows.retain(|_| k.next().copied().unwrap_or(false));
        let mut k = keep.iter();
        self.lines.retain(|_| k.next().copied().unwrap_or(false));
        Ok(())
    }

    /// The file line of row `row`.
    pub fn line(&self, row: usize) -> u64 {
        self.lines.get(row).copied().unwrap_or(0)
    }

    /// The numeric value of column `col` in row `row` (`true`/`false` are 1/0).
    pub fn number(&self, row: usize, col: usize) -> Result<f64, Error> {
        let cell = self.text(row, col);
        self.parse(row, col).ok_or_else(|| {
            data_err(
                &self.path,
                format!(
                    "column {}: {cell:?} (line {}) is not a number",
                    self.headers.get(col).map_or("?", |s| s.as_str()),
                    self.line(row)
                ),
            )
        })
    }

    fn parse(&self, row: usize, col: usize) -> Option<f64> {
        match self.text(row, col) {
            "true" => Some(1.0),
            "false" => Some(0.0),
            cell => cell.parse::<f64>().ok(),
        }
    }

    fn text(&self, row: usize, col: usize) -> &str {
        self.rows
            .get(row)
            .and_then(|r| r.get(col))
            .map_or("", |s| s.trim())
    }
}

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (once per process).
fn fonts() -> Result<(), Error> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        for (style, bytes) in [
            (FontStyle::Normal, dejavu::sans::regular()),
            (FontStyle::Bold, dejavu::sans::bold()),
            (FontStyle::Italic, dejavu::sans::oblique()),
            (FontStyle::Oblique, dejavu::sans::oblique()),
        ] {
            plotters::style::register_font("sans-serif", style, bytes)
                .map_err(|_| "the embedded DejaVu Sans font did not load".to_string())?;
        }
        Ok(())
    })
    .clone()
    .map_err(Error::Plot)
}

/// Okabe-Ito colours (distinguishable with colour-vision deficiencies).
const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// A number with at most 3 decimals, trailing zeros dropped (`-0` is `0`).
fn num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Tick text of a unitless value: at most 3 decimals, k/M/G for large values.
fn tick(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{suffix}", num(x))
}

/// A series or category key: numbers without a needless `.0` (`128.0` is `128`).
fn key_text(k: &str) -> String {
    match k.parse::<f64>() {
        Ok(v) if v.is_finite() && k.contains('.') && v == v.trunc() && v.abs() < 1e15 => {
            format!("{v:.0}")
        }
        _ => k.to_string(),
    }
}

/// Whether `auto` makes an axis with these values logarithmic (see [`Scale::Auto`]).
pub fn auto_log(values: impl IntoIterator<Item = f64>) -> bool {
    let (mut lo, mut hi, mut any) = (f64::INFINITY, 0.0f64, false);
    for v in values {
        if v.is_nan() || v <= 0.0 {
            return false;
        }
        lo = lo.min(v);
        hi = hi.max(v);
        any = true;
    }
    any && hi / lo >= LOG_RATIO
}

/// Decides whether one axis is logarithmic: `Log` with a value <= 0 is an error naming the
/// column, value and line; `auto` notes when only such values keep it linear.
fn decide_log(
    path: &Path,
    option: &str,
    col: &str,
    scale: Scale,
    vals: &[(f64, u64)],
    notes: &mut Vec<String>,
) -> Result<bool, Error> {
    let bad = vals.iter().find(|p| p.0.is_nan() || p.0 <= 0.0);
    match scale {
        Scale::Linear => Ok(false),
        Scale::Log => match bad {
            Some(&(v, line)) => Err(data_err(
                path,
                format!(
                    "{option} log: column {col} is {} on line {line}, and a log axis needs \
                     values > 0; leave such rows out with --filter or use {option} linear",
                    num(v)
                ),
            )),
            None => Ok(true),
        },
        Scale::Auto => {
            let log = auto_log(vals.iter().map(|p| p.0));
            if let (false, Some(&(_, line))) = (log, bad) {
                if auto_log(vals.iter().map(|p| p.0).filter(|&v| v > 0.0)) {
                    let n = vals.iter().filter(|p| p.0.is_nan() || p.0 <= 0.0).count();
                    notes.push(format!(
                        "the values of {col} span a decade or more, but {n} of them are <= 0 \
                         (the first on line {line}), so the axis is linear; leave those rows out \
                         with --filter for a log axis"
                    ));
                }
            }
            Ok(log)
        }
    }
}

/// One axis: its scale, the range and ticks in chart coordinates (log10 of the value on a log
/// axis), and how its ticks are labelled.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    /// Logarithmic.
    log: bool,
    /// Shown range, chart coordinates.
    range: (f64, f64),
    /// Labelled ticks, chart coordinates.
    ticks: Vec<f64>,
    /// Unlabelled grid lines, chart coordinates.
    minor: Vec<f64>,
    /// What the values measure.
    quantity: Quantity,
    /// Linear axes of a known quantity: the unit of every tick label.
    unit: Option<(f64, &'static str)>,
    /// The axis label.
    label: String,
    /// Categorical axes: the names, category i centred at i + 0.5.
    categories: Vec<String>,
}

/// Minimum distance between labelled ticks, as a fraction of the axis (x, y).
const TICK_GAP: (f64, f64) = (0.07, 0.05);

/// Nice linear ticks (steps of 1, 2, 2.5 or 5 times a power of ten) within `lo..=hi`, and the
/// minor grid (a fifth of a step).
fn linear_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 || !span.is_finite() {
        return (vec![lo], Vec::new());
    }
    let raw = span / 8.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let at = |step: f64| {
        let (a, b) = ((lo / step).ceil() as i64, (hi / step).floor() as i64);
        (a..=b)
            .map(|k| {
                let v = k as f64 * step;
                if v.abs() < step * 1e-9 {
                    0.0
                } else {
                    v
                }
            })
            .collect::<Vec<f64>>()
    };
    (at(step), at(step / 5.0))
}

/// `m × 10^k` within `lo..=hi` for each multiplier `m`.
fn decade_points(lo: f64, hi: f64, ms: &[f64]) -> Vec<f64> {
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mut v = Vec::new();
    for k in a..=b {
        for m in ms {
            let t = m * 10f64.powi(k);
            if t >= lo * (1.0 - 1e-9) && t <= hi * (1.0 + 1e-9) {
                v.push(t);
            }
        }
    }
    v
}

/// Log ticks within `lo..=hi` (both > 0): 1, 2, 5 × 10^k; only the powers of ten over many
/// decades; every 1..9 × 10^k over less than a decade; linear ticks over a tiny range.
/// Minor grid: 1..9 × 10^k.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let all = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    let mut t = decade_points(lo, hi, &[1.0, 2.0, 5.0]);
    if t.len() > 10 {
        t = decade_points(lo, hi, &[1.0]);
        let every = t.len().div_ceil(10);
        t = t.into_iter().step_by(every.max(1)).collect();
    } else if t.len() < 3 {
        t = decade_points(lo, hi, &all);
    }
    if t.len() < 2 {
        t = linear_ticks(lo, hi).0;
    }
    let minor = if (hi / lo).log10() <= 8.0 {
        decade_points(lo, hi, &all)
    } else {
        Vec::new()
    };
    (t, minor)
}

/// Keeps ticks at least `gap` apart (chart coordinates), first come first kept.
fn thin(ticks: &[f64], gap: f64) -> Vec<f64> {
    let mut kept: Vec<f64> = Vec::new();
    for &t in ticks {
        if kept.last().is_none_or(|&l| t - l >= gap) {
            kept.push(t);
        }
    }
    kept
}

impl Axis {
    /// A numeric axis over the values `lo..=hi` (a log axis needs `lo > 0`). `from_zero`
    /// extends a linear axis to 0 (bars); `data_ticks`: values to label when they are few and
    /// far enough apart (the x values of a line plot), else nice ticks; `gap`: the minimum tick
    /// distance as a fraction of the axis.
    fn numeric(
        name: &str,
        quantity: Quantity,
        log: bool,
        (lo, hi): (f64, f64),
        from_zero: bool,
        data_ticks: Option<&[f64]>,
        gap: f64,
    ) -> Axis {
        let (lo, hi) = if from_zero && !log {
            (lo.min(0.0), hi.max(0.0))
        } else {
            (lo, hi)
        };
        let fwd = |v: f64| if log { v.log10() } else { v };
        let inv = |c: f64| if log { 10f64.powf(c) } else { c };
        let (a, b) = (fwd(lo), fwd(hi));
        let span = b - a;
        let range = if span.is_nan() || span <= 0.0 || !span.is_finite() {
            if log {
                (a - 0.2, b + 0.2)
            } else {
                let d = if a.abs() > 0.0 { a.abs() * 0.1 } else { 1.0 };
                (if from_zero && a == 0.0 { a } else { a - d }, b + d)
            }
        } else {
            let pad = 0.04 * (b - a);
            (
                if from_zero && !log && a == 0.0 {
                    a
                } else {
                    a - pad
                },
                b + pad,
            )
        };
        let (vlo, vhi) = (inv(range.0), inv(range.1));
        let min_gap = gap * (range.1 - range.0);
        let from_data = data_ticks
            .filter(|d| (2..=12).contains(&d.len()))
            .map(|d| d.iter().map(|&v| fwd(v)).collect::<Vec<_>>())
            .filter(|d| thin(d, min_gap).len() == d.len());
        let (major, minor) = if log {
            log_ticks(vlo, vhi)
        } else {
            linear_ticks(vlo, vhi)
        };
        let ticks = from_data
            .unwrap_or_else(|| thin(&major.iter().map(|&v| fwd(v)).collect::<Vec<_>>(), min_gap));
        let unit = if log {
            None
        } else {
            unit_for(quantity, lo.abs().max(hi.abs()))
        };
        let label = match (log, unit) {
            (false, Some((_, u))) => format!("{name} ({u})"),
            (false, None) => match description(name) {
                Some(d) => format!("{name} ({d})"),
                None => name.to_string(),
            },
            (true, _) => match (quantity, description(name)) {
                (Quantity::Time | Quantity::Bytes, _) | (_, None) => format!("{name} (log scale)"),
                (_, Some(d)) => format!("{name} ({d}, log scale)"),
            },
        };
        Axis {
            log,
            range,
            ticks,
            minor: minor.iter().map(|&v| fwd(v)).collect(),
            quantity,
            unit,
            label,
            categories: Vec::new(),
        }
    }

    /// A categorical axis: category i spans i..i+1.
    fn categorical(name: &str, categories: Vec<String>) -> Axis {
        Axis {
            log: false,
            range: (0.0, categories.len().max(1) as f64),
            ticks: (0..categories.len()).map(|i| i as f64 + 0.5).collect(),
            minor: Vec::new(),
            quantity: Quantity::Other,
            unit: None,
            label: name.to_string(),
            categories,
        }
    }

    /// Chart coordinate of a value.
    fn at(&self, v: f64) -> f64 {
        if self.log {
            v.log10()
        } else {
            v
        }
    }

    /// Label of the tick at chart coordinate `c`.
    fn tick_label(&self, c: f64) -> String {
        if !self.categories.is_empty() {
            let i = (c - 0.5).round();
            return if i >= 0.0 {
                self.categories.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            };
        }
        if !self.log {
            return match self.unit {
                Some((size, _)) => num(c / size),
                None => tick(c),
            };
        }
        let v = 10f64.powf(c);
        match self.quantity {
            Quantity::Time | Quantity::Bytes => match unit_for(self.quantity, v.abs()) {
                Some((size, u)) => format!("{} {u}", num(v / size)),
                None => tick(v),
            },
            _ => tick(v),
        }
    }

    /// The plotters coordinate of this axis: the range with exactly these ticks.
    fn coord(&self) -> Ticked {
        Ticked {
            inner: (self.range.0..self.range.1).into(),
            ticks: self.ticks.clone(),
            minor: self.minor.clone(),
        }
    }
}

/// A linear f64 coordinate whose ticks and grid lines are given (plotters' own picks its
/// ticks, which would leave some unlabelled or off the data on a log axis).
struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// Data prepared for drawing.
#[derive(Debug, Clone, PartialEq)]
enum Prepared {
    /// (series label, points sorted by x).
    Lines(Vec<(String, Vec<(f64, f64)>)>),
    /// Grouped bars: categories, series labels, values[category][series] (`None`: no row).
    Bars(Vec<String>, Vec<String>, Vec<Vec<Option<f64>>>),
    /// Bar labels, stacked component names, values[bar][component].
    Stacked(Vec<String>, Vec<String>, Vec<Vec<f64>>),
    /// (series label, points).
    Ratio(Vec<(String, Vec<(f64, f64)>)>),
}

/// What was drawn (for messages and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    /// The file written.
    pub out: PathBuf,
    /// Rows plotted.
    pub rows: usize,
    /// Series or bars drawn.
    pub groups: usize,
    /// The x axis is logarithmic.
    pub x_log: bool,
    /// The y axis is logarithmic.
    pub y_log: bool,
    /// The x axis shows categories (a text column, or the stacked view's bars).
    pub categorical: bool,
    /// Notes for the user (averaged duplicates, skipped rows, a scale kept linear).
    pub notes: Vec<String>,
}

/// Series order: numeric when every key is a number, else text.
fn sort_keys(keys: &mut [String]) {
    if keys.iter().all(|k| k.parse::<f64>().is_ok()) {
        keys.sort_by(|a, b| {
            let (x, y) = (
                a.parse::<f64>().unwrap_or(0.0),
                b.parse::<f64>().unwrap_or(0.0),
            );
            x.total_cmp(&y)
        });
    } else {
        keys.sort();
    }
}

/// Reads, filters and checks the data, then draws the view into `spec.out`.
pub fn plot(spec: &Spec) -> Result<Drawn, Error> {
    let png = out_is_png(spec)?;
    let target = if png { Target::Png } else { Target::SvgFile };
    prepare(spec, Table::read(&spec.input)?, target)
}

/// Reads, filters and checks the data as [`plot`] does, without drawing or writing anything.
pub fn check(spec: &Spec) -> Result<Drawn, Error> {
    out_is_png(spec)?;
    prepare(spec, Table::read(&spec.input)?, Target::Check)
}

/// Filters, checks and draws `table` (already read; `spec.input` and `spec.out` are not used)
/// as [`plot`] would, returning the SVG text (for pages that inline their plots,
/// `crate::html`).
pub fn svg(spec: &Spec, table: Table) -> Result<(String, Drawn), Error> {
    let mut text = String::new();
    let drawn = prepare(spec, table, Target::Svg(&mut text))?;
    Ok((text, drawn))
}

/// Where [`prepare`] draws.
enum Target<'a> {
    /// Nowhere ([`check`]).
    Check,
    /// The PNG file `spec.out`.
    Png,
    /// The SVG file `spec.out`.
    SvgFile,
    /// SVG text into the string.
    Svg(&'a mut String),
}

/// Whether `spec.out` names a PNG (else an SVG); any other extension is a usage error.
fn out_is_png(spec: &Spec) -> Result<bool, Error> {
    let ext = spec
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => Ok(false),
        Some("png") => Ok(true),
        _ => Err(Error::Usage {
            option: "--out".into(),
            message: format!(
                "{}: the file name must end in .svg or .png",
                spec.out.display()
            ),
        }),
    }
}

/// The smallest and largest of the values.
fn bounds(vals: impl IntoIterator<Item = f64>) -> (f64, f64) {
    vals.into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// The label of a series: `COL = value`, or the y column without a series column.
fn series_label(scol: Option<&String>, key: &str, y: &str) -> String {
    match scol {
        Some(c) => format!("{c} = {}", key_text(key)),
        None => y.to_string(),
    }
}

/// The stacked view's default columns: the latency parts, which add up to the latency
/// (`crate::split`).
pub const STACKED_PARTS: &str = "static_ns,dynamic_ns,lora_ns,link_ns,wait_ns";

/// The stacked view's default for a CSV written before the latency parts existed: busy times.
pub const STACKED_BUSY: &str = "tile_ns,cluster_ns,transfer_ns";

fn prepare(spec: &Spec, mut table: Table, target: Target) -> Result<Drawn, Error> {
    let mut notes = Vec::new();
    if table.skipped > 0 {
        notes.push(format!(
            "skipped {} row(s) whose status is not ok",
            table.skipped
        ));
    }
    let (xname, ynames): (String, Vec<String>) = match spec.kind {
        Kind::Line => (
            spec.x.clone().ok_or_else(|| Error::Usage {
                option: "--x".into(),
                message: "--kind line needs --x COL (e.g. --x t)".into(),
            })?,
            vec![spec.y.clone().ok_or_else(|| Error::Usage {
                option: "--y".into(),
                message: "--kind line needs --y COL (e.g. --y overhead)".into(),
            })?],
        ),
        Kind::Stacked => (
            spec.x.clone().ok_or_else(|| Error::Usage {
                option: "--x".into(),
                message: "--kind stacked needs --x COL naming the bars (e.g. --x layer)".into(),
            })?,
            spec.y
                .as_deref()
                .unwrap_or(if table.headers.iter().any(|h| h == "static_ns") {
                    STACKED_PARTS
                } else {
                    STACKED_BUSY
                })
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        ),
        Kind::Ratio => (
            spec.x.clone().unwrap_or_else(|| "tile_ns".into()),
            vec![spec.y.clone().unwrap_or_else(|| "cluster_ns".into())],
        ),
    };
    if spec.kind == Kind::Stacked && spec.series.is_some() {
        return Err(Error::Usage {
            option: "--series".into(),
            message: "--kind stacked stacks the --y columns per --x label and takes no series; \
                      use --filter to pick the rows"
                .into(),
        });
    }
    if spec.kind == Kind::Stacked && spec.y_scale == Scale::Log {
        return Err(Error::Usage {
            option: "--y-scale".into(),
            message: "--kind stacked adds the --y columns up, which a log axis would distort; \
                      use --y-scale linear (the default for stacked)"
                .into(),
        });
    }
    let xc = table.column(&xname)?;
    let ycs = ynames
        .iter()
        .map(|y| table.column(y))
        .collect::<Result<Vec<_>, _>>()?;
    if ycs.is_empty() {
        return Err(Error::Usage {
            option: "--y".into(),
            message: "no column given".into(),
        });
    }
    let sc = spec
        .series
        .as_deref()
        .map(|s| table.column(s))
        .transpose()?;
    table.filter(&spec.filters)?;
    if table.rows.is_empty() {
        return Err(data_err(
            &table.path,
            if spec.filters.is_empty() {
                "no rows to plot".into()
            } else {
                format!(
                    "no rows left after --filter {}",
                    spec.filters.join(" --filter ")
                )
            },
        ));
    }
    let xcol = table.headers[xc].clone();
    let ycols: Vec<String> = ycs.iter().map(|&c| table.headers[c].clone()).collect();
    let scol = sc.map(|c| table.headers[c].clone());
    let n = table.rows.len();
    // A text x column makes categories: the first row that is not a number.
    let text_x = (0..n).find(|&r| table.parse(r, xc).is_none());
    let categorical = match spec.kind {
        Kind::Stacked => true,
        Kind::Line => text_x.is_some(),
        Kind::Ratio => false,
    };
    if categorical && spec.x_scale == Scale::Log {
        return Err(Error::Usage {
            option: "--x-scale".into(),
            message: match text_x {
                Some(r) => format!(
                    "column {xcol} holds text ({:?} on line {}), so the x axis shows categories \
                     and cannot be logarithmic",
                    table.text(r, xc),
                    table.line(r)
                ),
                None => "--kind stacked draws one bar per --x label, so the x axis shows \
                         categories and cannot be logarithmic"
                    .into(),
            },
        });
    }
    let mut nonfinite = 0;
    let (prepared, xaxis, yaxis) = match (spec.kind, categorical) {
        (Kind::Line | Kind::Ratio, false) => {
            let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            for r in 0..n {
                let key = sc.map_or(String::new(), |c| table.text(r, c).to_string());
                let x = table.number(r, xc)?;
                let y = table.number(r, ycs[0])?;
                if !x.is_finite() || !y.is_finite() {
                    nonfinite += 1;
                    continue;
                }
                xs.push((x, table.line(r)));
                ys.push((y, table.line(r)));
                groups.entry(key).or_default().push((x, y));
            }
            let mut keys: Vec<String> = groups.keys().cloned().collect();
            sort_keys(&mut keys);
            let mut series = Vec::new();
            let mut averaged = 0;
            for k in keys {
                let mut pts = groups.remove(&k).unwrap_or_default();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                if spec.kind == Kind::Line {
                    // Average rows that share an x within the series.
                    let mut merged: Vec<(f64, f64, usize)> = Vec::new();
                    for (x, y) in pts {
                        match merged.last_mut() {
                            Some(m) if m.0 == x => {
                                m.1 += y;
                                m.2 += 1;
                            }
                            _ => merged.push((x, y, 1)),
                        }
                    }
                    averaged += merged.iter().filter(|m| m.2 > 1).count();
                    pts = merged.iter().map(|m| (m.0, m.1 / m.2 as f64)).collect();
                }
                series.push((series_label(scol.as_ref(), &k, &ycols[0]), pts));
            }
            if averaged > 0 {
                notes.push(format!(
                    "{averaged} point(s) average several rows with the same {xcol}{}; narrow \
                     the rows with --filter (e.g. scope=model, strategy=...)",
                    scol.as_ref().map_or(String::new(), |s| format!(" and {s}"))
                ));
            }
            if xs.is_empty() {
                return Err(data_err(&table.path, "no finite values to plot".into()));
            }
            let path = table.path.clone();
            if spec.kind == Kind::Line {
                let xlog = decide_log(&path, "--x-scale", &xcol, spec.x_scale, &xs, &mut notes)?;
                let ylog =
                    decide_log(&path, "--y-scale", &ycols[0], spec.y_scale, &ys, &mut notes)?;
                let mut distinct: Vec<f64> = xs.iter().map(|p| p.0).collect();
                distinct.sort_by(f64::total_cmp);
                distinct.dedup();
                let xa = Axis::numeric(
                    &xcol,
                    quantity(&xcol),
                    xlog,
                    bounds(xs.iter().map(|p| p.0)),
                    false,
                    Some(&distinct),
                    TICK_GAP.0,
                );
                // The points' range: averaged rows count once.
                let ya = Axis::numeric(
                    &ycols[0],
                    quantity(&ycols[0]),
                    ylog,
                    bounds(series.iter().flat_map(|s| s.1.iter().map(|p| p.1))),
                    false,
                    None,
                    TICK_GAP.1,
                );
                (Prepared::Lines(series), xa, ya)
            } else {
                // One scale for both axes unless set apart, so y = x stays the diagonal.
                let both: Vec<(f64, u64)> = xs.iter().chain(&ys).copied().collect();
                let (xlog, ylog) = match (spec.x_scale, spec.y_scale) {
                    (Scale::Auto, Scale::Auto) => {
                        let l = decide_log(
                            &path,
                            "--x-scale",
                            &format!("{xcol} and {}", ycols[0]),
                            Scale::Auto,
                            &both,
                            &mut notes,
                        )?;
                        (l, l)
                    }
                    (xs_, ys_) => {
                        let xs_ = if xs_ == Scale::Auto { ys_ } else { xs_ };
                        let ys_ = if ys_ == Scale::Auto { xs_ } else { ys_ };
                        (
                            decide_log(&path, "--x-scale", &xcol, xs_, &xs, &mut notes)?,
                            decide_log(&path, "--y-scale", &ycols[0], ys_, &ys, &mut notes)?,
                        )
                    }
                };
                let lohi = bounds(both.iter().map(|p| p.0));
                let xa = Axis::numeric(&xcol, quantity(&xcol), xlog, lohi, !xlog, None, TICK_GAP.0);
                let ya = Axis::numeric(
                    &ycols[0],
                    quantity(&ycols[0]),
                    ylog,
                    lohi,
                    !ylog,
                    None,
                    TICK_GAP.1,
                );
                (Prepared::Ratio(series), xa, ya)
            }
        }
        (Kind::Line | Kind::Ratio, true) => {
            // Grouped bars: categories in the order of their first row.
            let mut cats: Vec<String> = Vec::new();
            let mut keys: Vec<String> = Vec::new();
            let mut sums: BTreeMap<(usize, String), (f64, usize)> = BTreeMap::new();
            let mut ys = Vec::new();
            for r in 0..n {
                let y = table.number(r, ycs[0])?;
                if !y.is_finite() {
                    nonfinite += 1;
                    continue;
                }
                let cat = table.text(r, xc).to_string();
                let ci = match cats.iter().position(|c| *c == cat) {
                    Some(i) => i,
                    None => {
                        cats.push(cat);
                        cats.len() - 1
                    }
                };
                let key = sc.map_or(String::new(), |c| table.text(r, c).to_string());
                if !keys.contains(&key) {
                    keys.push(key.clone());
                }
                let e = sums.entry((ci, key)).or_insert((0.0, 0));
                e.0 += y;
                e.1 += 1;
                ys.push((y, table.line(r)));
            }
            if ys.is_empty() {
                return Err(data_err(&table.path, "no finite values to plot".into()));
            }
            sort_keys(&mut keys);
            let averaged = sums.values().filter(|s| s.1 > 1).count();
            if averaged > 0 {
                notes.push(format!(
                    "{averaged} bar(s) average several rows with the same {xcol}{}; narrow the \
                     rows with --filter (e.g. scope=model, t=...)",
                    scol.as_ref().map_or(String::new(), |s| format!(" and {s}"))
                ));
            }
            let values: Vec<Vec<Option<f64>>> = (0..cats.len())
                .map(|ci| {
                    keys.iter()
                        .map(|k| sums.get(&(ci, k.clone())).map(|s| s.0 / s.1 as f64))
                        .collect()
                })
                .collect();
            // The axis covers the bars' heights (the averages), from 0 on a linear axis.
            let heights: Vec<(f64, u64)> = ys.clone();
            let ylog = decide_log(
                &table.path,
                "--y-scale",
                &ycols[0],
                spec.y_scale,
                &heights,
                &mut notes,
            )?;
            let ya = Axis::numeric(
                &ycols[0],
                quantity(&ycols[0]),
                ylog,
                bounds(values.iter().flatten().flatten().copied()),
                true,
                None,
                TICK_GAP.1,
            );
            let labels = keys
                .iter()
                .map(|k| series_label(scol.as_ref(), k, &ycols[0]))
                .collect();
            let xa = Axis::categorical(&xcol, cats.iter().map(|c| key_text(c)).collect());
            (Prepared::Bars(cats, labels, values), xa, ya)
        }
        (Kind::Stacked, _) => {
            let mut order: Vec<String> = Vec::new();
            let mut sums: BTreeMap<String, (Vec<f64>, usize)> = BTreeMap::new();
            for r in 0..n {
                let label = table.text(r, xc).to_string();
                let vals = ycs
                    .iter()
                    .map(|&c| table.number(r, c))
                    .collect::<Result<Vec<_>, _>>()?;
                let e = sums.entry(label.clone()).or_insert_with(|| {
                    order.push(label.clone());
                    (vec![0.0; ycs.len()], 0)
                });
                for (a, v) in e.0.iter_mut().zip(vals) {
                    *a += v;
                }
                e.1 += 1;
            }
            let dup = sums.values().filter(|s| s.1 > 1).count();
            if dup > 0 {
                notes.push(format!(
                    "{dup} bar(s) average several rows with the same {xcol}; narrow the rows \
                     with --filter (e.g. scope=layer, strategy=..., t=...)"
                ));
            }
            let values: Vec<Vec<f64>> = order
                .iter()
                .map(|l| {
                    sums.get(l)
                        .map_or_else(Vec::new, |(v, c)| v.iter().map(|x| x / *c as f64).collect())
                })
                .collect();
            let top = values
                .iter()
                .map(|v| v.iter().filter(|x| x.is_finite()).sum::<f64>())
                .fold(0.0f64, f64::max);
            let q = quantity(&ycols[0]);
            let q = if ycols.iter().all(|c| quantity(c) == q) {
                q
            } else {
                Quantity::Other
            };
            let ya = Axis::numeric(
                &ycols.join(" + "),
                q,
                false,
                (0.0, top),
                true,
                None,
                TICK_GAP.1,
            );
            let xa = Axis::categorical(&xcol, order.iter().map(|c| key_text(c)).collect());
            (Prepared::Stacked(order, ycols.clone(), values), xa, ya)
        }
    };
    if nonfinite > 0 {
        notes.push(format!(
            "left out {nonfinite} row(s) with an infinite or NaN value"
        ));
    }
    let groups = match &prepared {
        Prepared::Lines(s) | Prepared::Ratio(s) => s.len(),
        Prepared::Bars(_, s, _) => s.len(),
        Prepared::Stacked(l, _, _) => l.len(),
    };
    let title = spec.title.clone().unwrap_or_else(|| match spec.kind {
        Kind::Line => format!(
            "{} vs {}{}",
            ycols[0],
            xcol,
            scol.as_ref().map_or(String::new(), |s| format!(" per {s}"))
        ),
        Kind::Stacked => format!("latency breakdown per {xcol}"),
        Kind::Ratio => format!("{} vs {} (balance line: equal)", ycols[0], xcol),
    } + &if spec.filters.is_empty() {
        String::new()
    } else {
        format!(" ({})", spec.filters.join(", "))
    });
    let drawn = Drawn {
        out: spec.out.clone(),
        rows: n,
        groups,
        x_log: xaxis.log,
        y_log: yaxis.log,
        categorical,
        notes,
    };
    if let Target::Check = target {
        return Ok(drawn);
    }
    fonts()?;
    let legend = legend_entries(&prepared, scol.is_some());
    let view = View {
        title,
        x: xaxis,
        y: yaxis,
        legend,
    };
    let r = match target {
        Target::Check => Ok(()),
        Target::Png => {
            let root = BitMapBackend::new(&spec.out, view.size()).into_drawing_area();
            draw(&root, &view, &prepared).and_then(|()| root.present().map_err(|e| e.to_string()))
        }
        Target::SvgFile => {
            let root = SVGBackend::new(&spec.out, view.size()).into_drawing_area();
            draw(&root, &view, &prepared).and_then(|()| root.present().map_err(|e| e.to_string()))
        }
        Target::Svg(text) => {
            let root = SVGBackend::with_string(text, view.size()).into_drawing_area();
            draw(&root, &view, &prepared).and_then(|()| root.present().map_err(|e| e.to_string()))
        }
    };
    r.map_err(|e| Error::Plot(format!("drawing {}: {e}", spec.out.display())))?;
    Ok(drawn)
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Marker {
    /// A line with a dot (line view).
    Line(RGBColor),
    /// A dot of this radius, filled or a ring (ratio view).
    Dot(RGBColor, i32, bool),
    /// A filled block (bars).
    Block(RGBColor),
    /// The balance line of the ratio view.
    Balance,
}

/// Grey of the balance line.
const BALANCE: RGBColor = RGBColor(120, 120, 120);

/// The ratio view's marker for series `i` of `n`: series that coincide stay visible, earlier
/// series get larger rings, the last one a filled dot.
fn ratio_marker(i: usize, n: usize) -> (i32, bool) {
    if i + 1 == n {
        (4, true)
    } else {
        ((4 + 3 * (n - 1 - i)).min(16) as i32, false)
    }
}

/// The legend: one entry per series or stacked part, none for a single unnamed series.
fn legend_entries(p: &Prepared, named_series: bool) -> Vec<(String, Marker)> {
    match p {
        Prepared::Lines(s) if named_series || s.len() > 1 => s
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), Marker::Line(colour(i))))
            .collect(),
        Prepared::Bars(_, s, _) if named_series || s.len() > 1 => s
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), Marker::Block(colour(i))))
            .collect(),
        Prepared::Stacked(_, parts, _) => parts
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), Marker::Block(colour(i))))
            .collect(),
        Prepared::Ratio(s) => std::iter::once((
            "balance: cluster = tile (above: cluster-bound)".to_string(),
            Marker::Balance,
        ))
        .chain(s.iter().enumerate().map(|(i, (name, _))| {
            let (r, filled) = ratio_marker(i, s.len());
            (name.clone(), Marker::Dot(colour(i), r.min(7), filled))
        }))
        .collect(),
        _ => Vec::new(),
    }
}

/// Everything drawn besides the data: title, axes and legend.
struct View {
    title: String,
    x: Axis,
    y: Axis,
    legend: Vec<(String, Marker)>,
}

/// The plot area's size in pixels, without the legend.
const PLOT_SIZE: (u32, u32) = (1000, 640);

impl View {
    /// Width of the legend column right of the plot (0 without a legend).
    fn legend_width(&self) -> u32 {
        match self.legend.iter().map(|l| l.0.chars().count()).max() {
            Some(chars) => (chars as u32 * 7 + 64).clamp(140, 480),
            None => 0,
        }
    }

    /// The image size: the plot area and the legend column.
    fn size(&self) -> (u32, u32) {
        (PLOT_SIZE.0 + self.legend_width(), PLOT_SIZE.1)
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    v: &View,
    p: &Prepared,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let font = "sans-serif";
    root.fill(&WHITE).map_err(e)?;
    // A long title (many filters) gets a smaller font rather than losing its ends.
    let room = root.dim_in_pixel().0.saturating_sub(24);
    let mut size = 24;
    while size > 12
        && root
            .estimate_text_size(&v.title, &(font, size).into_font().into())
            .map_err(e)?
            .0
            > room
    {
        size -= 1;
    }
    let area = root.titled(&v.title, (font, size)).map_err(e)?;
    let (plot_area, legend_area) =
        area.split_horizontally(area.dim_in_pixel().0 as i32 - v.legend_width() as i32);
    let (margin, ylabels) = (16u32, 90u32);
    // Category labels are rotated when they do not fit side by side.
    let cats = &v.x.categories;
    let longest = cats.iter().map(|c| c.chars().count()).max().unwrap_or(0) as u32;
    let plot_w = plot_area
        .dim_in_pixel()
        .0
        .saturating_sub(2 * margin + ylabels);
    let rotate = !cats.is_empty() && (longest * 8 + 12) * cats.len() as u32 > plot_w;
    let xarea = if rotate {
        (longest * 8 + 40).min(260)
    } else {
        56
    };
    let mut chart = ChartBuilder::on(&plot_area)
        .margin(margin)
        .x_label_area_size(xarea)
        .y_label_area_size(ylabels)
        .build_cartesian_2d(v.x.coord(), v.y.coord())
        .map_err(e)?;
    let xfmt = |c: &f64| {
        if rotate {
            String::new()
        } else {
            v.x.tick_label(*c)
        }
    };
    let yfmt = |c: &f64| v.y.tick_label(*c);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(&v.x.label)
        .y_desc(&v.y.label)
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        // label_style also sets the x label style: the category one must come after.
        .label_style((font, 14))
        .axis_desc_style((font, 16))
        .light_line_style(RGBColor(235, 235, 235));
    if !cats.is_empty() {
        mesh.disable_x_mesh().x_label_style((font, 13));
    }
    mesh.draw().map_err(e)?;
    if rotate {
        // plotters centres axis labels on the tick, which would push half of a rotated label
        // into the plot: draw them below the axis instead.
        let style = TextStyle::from((font, 13).into_font())
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, c) in cats.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, v.y.range.0));
            root.draw_text(c, &style, (px, py + 8)).map_err(e)?;
        }
    }
    // The foot of a bar: 0 on a linear axis, the bottom of a log one.
    let base = if v.y.log {
        v.y.range.0
    } else {
        0.0f64.clamp(v.y.range.0, v.y.range.1)
    };
    match p {
        Prepared::Lines(series) => {
            for (i, (_, pts)) in series.iter().enumerate() {
                let c = colour(i);
                let pts: Vec<(f64, f64)> =
                    pts.iter().map(|&(x, y)| (v.x.at(x), v.y.at(y))).collect();
                chart
                    .draw_series(LineSeries::new(
                        pts.iter().copied(),
                        ShapeStyle::from(&c).stroke_width(2),
                    ))
                    .map_err(e)?;
                chart
                    .draw_series(pts.iter().map(|&pt| Circle::new(pt, 4, c.filled())))
                    .map_err(e)?;
            }
        }
        Prepared::Ratio(series) => {
            // The balance line y = x: the diagonal when both axes share a scale (they share
            // the range), else sampled.
            let (x0, x1) = v.x.range;
            let samples = if v.x.log == v.y.log { 1 } else { 200 };
            let line: Vec<(f64, f64)> = (0..=samples)
                .map(|k| {
                    let c = x0 + (x1 - x0) * k as f64 / samples as f64;
                    let val = if v.x.log { 10f64.powf(c) } else { c };
                    (c, val)
                })
                .filter(|&(_, val)| !v.y.log || val > 0.0)
                .map(|(c, val)| (c, v.y.at(val)))
                .filter(|&(_, y)| y >= v.y.range.0 && y <= v.y.range.1)
                .collect();
            chart
                .draw_series(LineSeries::new(
                    line,
                    ShapeStyle::from(&BALANCE).stroke_width(2),
                ))
                .map_err(e)?;
            for (i, (_, pts)) in series.iter().enumerate() {
                let c = colour(i);
                let (radius, filled) = ratio_marker(i, series.len());
                let style = if filled {
                    c.filled()
                } else {
                    ShapeStyle::from(&c).stroke_width(2)
                };
                chart
                    .draw_series(
                        pts.iter()
                            .map(|&(x, y)| Circle::new((v.x.at(x), v.y.at(y)), radius, style)),
                    )
                    .map_err(e)?;
            }
        }
        Prepared::Bars(_, series, values) => {
            let w = 0.8 / series.len().max(1) as f64;
            for (si, _) in series.iter().enumerate() {
                let c = colour(si);
                let rects = values.iter().enumerate().filter_map(|(ci, vals)| {
                    let y = vals.get(si).copied().flatten()?;
                    let x = ci as f64 + 0.1 + w * si as f64;
                    let top = v.y.at(y).clamp(v.y.range.0, v.y.range.1);
                    let mut r = Rectangle::new([(x, base), (x + w, top)], c.filled());
                    r.set_margin(0, 0, 1, 1);
                    Some(r)
                });
                chart.draw_series(rects).map_err(e)?;
            }
        }
        Prepared::Stacked(_, parts, values) => {
            for (k, _) in parts.iter().enumerate() {
                let c = colour(k);
                let rects = values.iter().enumerate().map(|(i, vals)| {
                    let below: f64 = vals.iter().take(k).filter(|x| x.is_finite()).sum();
                    let h = vals
                        .get(k)
                        .copied()
                        .filter(|x| x.is_finite())
                        .unwrap_or(0.0);
                    let x = i as f64;
                    Rectangle::new([(x + 0.1, below), (x + 0.9, below + h)], c.filled())
                });
                chart.draw_series(rects).map_err(e)?;
            }
        }
    }
    draw_legend(&legend_area, &v.legend, margin as i32).map_err(e)
}

/// The legend in its own column right of the plot area, its top level with the plot's.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Marker)],
    top: i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    if entries.is_empty() {
        return Ok(());
    }
    let (w, _) = area.dim_in_pixel();
    let row = 22;
    let bottom = top + 10 + row * entries.len() as i32;
    area.draw(&Rectangle::new(
        [(4, top), (w as i32 - 12, bottom)],
        ShapeStyle::from(&BLACK).stroke_width(1),
    ))?;
    let text =
        TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (k, (label, marker)) in entries.iter().enumerate() {
        let y = top + 5 + row / 2 + row * k as i32;
        let (x0, x1) = (14, 38);
        match *marker {
            Marker::Line(c) => {
                area.draw(&PathElement::new(vec![(x0, y), (x1, y)], c.stroke_width(2)))?;
                area.draw(&Circle::new(((x0 + x1) / 2, y), 4, c.filled()))?;
            }
            Marker::Dot(c, r, filled) => {
                let style = if filled {
                    c.filled()
                } else {
                    ShapeStyle::from(&c).stroke_width(2)
                };
                area.draw(&Circle::new(((x0 + x1) / 2, y), r, style))?;
            }
            Marker::Block(c) => {
                area.draw(&Rectangle::new(
                    [(x0 + 4, y - 6), (x1 - 4, y + 6)],
                    c.filled(),
                ))?;
            }
            Marker::Balance => {
                area.draw(&PathElement::new(
                    vec![(x0, y), (x1, y)],
                    BALANCE.stroke_width(2),
                ))?;
            }
        }
        area.draw_text(label, &text, (x1 + 8, y))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(1.25), "1.25");
        assert_eq!(tick(12_000.0), "12k");
        assert_eq!(tick(2_500_000.0), "2.5M");
        assert_eq!(tick(-0.0001), "0");
    }

    #[test]
    fn labels_carry_units_and_aliases_resolve() {
        assert_eq!(axis_label("tile_ns"), "tile_ns (ns)");
        assert_eq!(axis_label("tokens_per_batch"), "tokens_per_batch (tokens)");
        assert_eq!(axis_label("tcdm_peak_bytes"), "tcdm_peak_bytes (bytes)");
        assert_eq!(axis_label("layer"), "layer");
        assert_eq!(alias("t"), "tokens_per_batch");
        assert_eq!(alias("integration_time"), "integration_time_ns");
    }

    #[test]
    fn auto_is_log_from_a_decade_of_positive_values() {
        assert!(auto_log([8.0, 16.0, 32.0, 64.0, 128.0]));
        assert!(auto_log([40_960.0, 2_457_600.0]));
        assert!(!auto_log([128.0, 256.0, 512.0]));
        assert!(!auto_log([1.0, 1.24]));
        // a value <= 0 keeps the axis linear
        assert!(!auto_log([0.0, 1e3, 1e6]));
        assert!(!auto_log([-1.0, 100.0]));
        assert!(!auto_log([]));
    }

    #[test]
    fn units_follow_the_magnitude() {
        assert_eq!(unit_for(Quantity::Time, 25e6), Some((1e6, "ms")));
        assert_eq!(unit_for(Quantity::Time, 999.0), Some((1.0, "ns")));
        assert_eq!(unit_for(Quantity::Time, 40_960.0), Some((1e3, "µs")));
        assert_eq!(unit_for(Quantity::Time, 1.5e9), Some((1e9, "s")));
        assert_eq!(unit_for(Quantity::Time, 0.0), Some((1.0, "ns")));
        assert_eq!(unit_for(Quantity::Bytes, 43_136.0), Some((1e3, "kB")));
        assert_eq!(unit_for(Quantity::Other, 1e6), None);
        assert_eq!(quantity("cluster_startup_ns"), Quantity::Time);
        assert_eq!(quantity("energy_j"), Quantity::Energy);
        assert_eq!(unit_for(Quantity::Energy, 0.0108), Some((1e-3, "mJ")));
        assert_eq!(unit_for(Quantity::Energy, 2.3e-6), Some((1e-6, "µJ")));
        assert_eq!(quantity("t"), Quantity::Other);
        assert_eq!(quantity("tokens_per_batch"), Quantity::Tokens);
        assert_eq!(key_text("128.0"), "128");
        assert_eq!(key_text("0.5"), "0.5");
        assert_eq!(key_text("pipelined"), "pipelined");
    }

    fn labels(a: &Axis) -> Vec<String> {
        a.ticks.iter().map(|&t| a.tick_label(t)).collect()
    }

    #[test]
    fn a_linear_time_axis_names_its_unit_and_labels_every_tick_in_it() {
        let a = Axis::numeric(
            "hybrid_ns",
            Quantity::Time,
            false,
            (0.0, 25e6),
            true,
            None,
            TICK_GAP.1,
        );
        assert_eq!(a.label, "hybrid_ns (ms)");
        let l = labels(&a);
        assert!(
            l.contains(&"25".to_string()) && l.contains(&"0".to_string()),
            "{l:?}"
        );
        assert!(l.iter().all(|t| t.parse::<f64>().is_ok()), "{l:?}");
        assert!(a.ticks.iter().all(|&t| t >= a.range.0 && t <= a.range.1));
    }

    #[test]
    fn a_log_time_axis_labels_each_tick_with_its_unit() {
        let a = Axis::numeric(
            "tile_ns",
            Quantity::Time,
            true,
            (40_960.0, 3_882_720.0),
            false,
            None,
            TICK_GAP.0,
        );
        assert_eq!(a.label, "tile_ns (log scale)");
        let l = labels(&a);
        for want in ["50 µs", "100 µs", "500 µs", "1 ms", "2 ms"] {
            assert!(l.contains(&want.to_string()), "no {want:?} in {l:?}");
        }
        assert!(a.ticks.iter().all(|&t| t >= a.range.0 && t <= a.range.1));
        // A narrow log range still gets several labelled ticks.
        let a = Axis::numeric(
            "tile_ns",
            Quantity::Time,
            true,
            (400.0, 900.0),
            false,
            None,
            0.07,
        );
        assert!(a.ticks.len() >= 3, "{:?}", labels(&a));
    }

    #[test]
    fn few_x_values_are_the_ticks() {
        let t = [8.0, 16.0, 32.0, 64.0, 128.0];
        let a = Axis::numeric(
            "tokens_per_batch",
            Quantity::Tokens,
            true,
            (8.0, 128.0),
            false,
            Some(&t),
            TICK_GAP.0,
        );
        assert_eq!(labels(&a), ["8", "16", "32", "64", "128"]);
        assert_eq!(a.label, "tokens_per_batch (tokens, log scale)");
        // Too close together on a linear axis: nice ticks instead.
        let t = [1.0, 2.0, 100.0];
        let a = Axis::numeric(
            "x",
            Quantity::Other,
            false,
            (1.0, 100.0),
            false,
            Some(&t),
            0.07,
        );
        assert!(!labels(&a).contains(&"2".to_string()), "{:?}", labels(&a));
    }

    /// A report CSV (the `hetsim run --csv` columns) with `rows` setting some columns.
    fn report(name: &str, rows: &[&[(&str, &str)]]) -> PathBuf {
        let cols = crate::report::row_columns();
        let mut text = cols.join(",") + "\n";
        for r in rows {
            let cells: Vec<&str> = cols
                .iter()
                .map(|c| {
                    r.iter().find(|(k, _)| k == c).map_or(
                        match c.as_str() {
                            "strategy" => "pipelined",
                            "scope" => "op",
                            "layer" => "encoder.layer.0",
                            _ => "1",
                        },
                        |(_, v)| *v,
                    )
                })
                .collect();
            text += &(cells.join(",") + "\n");
        }
        let dir = std::env::temp_dir().join(format!("hetsim-plot-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn spec(input: PathBuf, kind: Kind, x: &str, y: &str) -> Spec {
        Spec {
            input,
            x: Some(x.into()),
            y: Some(y.into()),
            series: None,
            filters: Vec::new(),
            kind,
            x_scale: Scale::Auto,
            y_scale: Scale::Auto,
            out: PathBuf::from("unused.svg"),
            title: None,
        }
    }

    #[test]
    fn scales_are_decided_per_view() {
        let p = report(
            "scales.csv",
            &[
                &[
                    ("tile_ns", "1000"),
                    ("cluster_ns", "900"),
                    ("strategy", "sequential"),
                ],
                &[("tile_ns", "100000"), ("cluster_ns", "150000")],
            ],
        );
        // ratio: x and y together
        let d = check(&spec(p.clone(), Kind::Ratio, "tile_ns", "cluster_ns")).unwrap();
        assert!(d.x_log && d.y_log && !d.categorical);
        // one forced axis carries the other along
        let mut s = spec(p.clone(), Kind::Ratio, "tile_ns", "cluster_ns");
        s.x_scale = Scale::Linear;
        let d = check(&s).unwrap();
        assert!(!d.x_log && !d.y_log);
        // a text x column: categories, no error
        let d = check(&spec(p.clone(), Kind::Line, "strategy", "tile_ns")).unwrap();
        assert!(d.categorical && d.y_log);
        // a forced log axis with a 0 names the column and the line
        let z = report("zero.csv", &[&[("tile_ns", "10")], &[("tile_ns", "0")]]);
        let mut s = spec(z, Kind::Line, "tile_ns", "cluster_ns");
        s.x_scale = Scale::Log;
        let e = check(&s).unwrap_err().to_string();
        assert!(e.contains("column tile_ns is 0 on line 3"), "{e}");
    }
}
