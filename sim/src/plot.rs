//! Plots of report CSVs (`hetsim plot`): reading a header-driven CSV, selecting rows and
//! columns, and drawing the three common views with plotters as SVG or PNG.
//!
//! This module owns the data side of plotting (which file, which columns, which rows, numeric
//! parsing with errors that name the file, column and row) and the drawing. It reads either a
//! `hetsim run --csv` file (the [`crate::report::Row`] columns) or a sweep directory's
//! `results.csv` (the same columns after `point`, `point_id`, `status`, `error` and one column
//! per swept parameter; rows whose `status` is not `ok` are skipped). Column aliases: `t` =
//! `tokens_per_batch`, `integration_time` = `integration_time_ns`.
//!
//! Views ([`Kind`]):
//! - `line`: y against x, one line per value of the series column (rows sharing a series and an
//!   x are averaged, with a note);
//! - `stacked`: one bar per value of the x column (a label such as `layer` or `op`) stacking
//!   the y columns (default `tile_ns,cluster_ns,transfer_ns`);
//! - `ratio`: cluster time against tile time (default x `tile_ns`, y `cluster_ns`), one point
//!   per row, with the balance line y = x (above it the cluster is the bottleneck).
//!
//! PNG text uses the DejaVu Sans font embedded by the `dejavu` crate (registered once with
//! plotters' `ab_glyph` backend), so no system font is needed.

use crate::error::Error;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Which view to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// y against x, one line per series value.
    Line,
    /// A stacked bar per x label of the y columns (latency breakdown).
    Stacked,
    /// Cluster against tile latency with the balance line y = x.
    Ratio,
}

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

/// Axis label of a column: its name and its unit.
pub fn axis_label(col: &str) -> String {
    let unit = match col {
        "tokens_per_batch" => Some("tokens"),
        "overhead" => Some("hybrid / baseline"),
        "tile_util" | "cluster_util" => Some("fraction of latency"),
        "tcdm_peak_bytes" => Some("bytes"),
        "rel_err" => Some("relative L2 error"),
        c if c.ends_with("_ns") => Some("ns"),
        _ => None,
    };
    match unit {
        Some(u) => format!("{col} ({u})"),
        None => col.to_string(),
    }
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
        let mut rows = Vec::new();
        let mut skipped = 0;
        for rec in rd.records() {
            let rec = rec.map_err(|e| data_err(&path, e.to_string()))?;
            if status.is_some_and(|s| rec.get(s).is_some_and(|v| v.trim() != "ok")) {
                skipped += 1;
                continue;
            }
            rows.push(rec.iter().map(str::to_string).collect());
        }
        Ok(Table {
            path,
            headers,
            rows,
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
        self.rows.retain(|r| {
            by_col.iter().all(|(&c, vals)| {
                r.get(c)
                    .is_some_and(|cell| vals.iter().any(|v| same(cell.trim(), v)))
            })
        });
        Ok(())
    }

    /// The numeric value of column `col` in row `row` (`true`/`false` are 1/0).
    pub fn number(&self, row: usize, col: usize) -> Result<f64, Error> {
        let cell = self
            .rows
            .get(row)
            .and_then(|r| r.get(col))
            .map_or("", |s| s.trim());
        match cell {
            "true" => return Ok(1.0),
            "false" => return Ok(0.0),
            _ => {}
        }
        cell.parse::<f64>().map_err(|_| {
            data_err(
                &self.path,
                format!(
                    "column {}: {cell:?} (data row {}) is not a number",
                    self.headers.get(col).map_or("?", |s| s.as_str()),
                    row + 1
                ),
            )
        })
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

/// Tick text: at most 3 significant decimals, k/M/G for large values.
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
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{}{suffix}", if s == "-0" { "0" } else { s })
}

/// Data prepared for drawing.
#[derive(Debug, Clone, PartialEq)]
enum Prepared {
    /// (series label, points sorted by x).
    Lines(Vec<(String, Vec<(f64, f64)>)>),
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
    /// Notes for the user (averaged duplicates, skipped rows).
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
    prepare(spec, true)
}

/// Reads, filters and checks the data as [`plot`] does, without drawing or writing anything.
pub fn check(spec: &Spec) -> Result<Drawn, Error> {
    prepare(spec, false)
}

fn prepare(spec: &Spec, and_draw: bool) -> Result<Drawn, Error> {
    let ext = spec
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let png = match ext.as_deref() {
        Some("svg") => false,
        Some("png") => true,
        _ => {
            return Err(Error::Usage {
                option: "--out".into(),
                message: format!(
                    "{}: the file name must end in .svg or .png",
                    spec.out.display()
                ),
            })
        }
    };
    let mut table = Table::read(&spec.input)?;
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
                .unwrap_or("tile_ns,cluster_ns,transfer_ns")
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
    // Group rows.
    let prepared = match spec.kind {
        Kind::Line | Kind::Ratio => {
            let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
            let mut nonfinite = 0;
            for r in 0..n {
                let key = sc.map_or(String::new(), |c| table.text(r, c).to_string());
                let x = table.number(r, xc)?;
                let y = table.number(r, ycs[0])?;
                if !x.is_finite() || !y.is_finite() {
                    nonfinite += 1;
                    continue;
                }
                groups.entry(key).or_default().push((x, y));
            }
            if nonfinite > 0 {
                notes.push(format!(
                    "left out {nonfinite} row(s) with an infinite or NaN value"
                ));
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
                let label = match &scol {
                    Some(c) => format!("{c} = {k}"),
                    None => ycols[0].clone(),
                };
                series.push((label, pts));
            }
            if averaged > 0 {
                notes.push(format!(
                    "{averaged} point(s) average several rows with the same {xcol}{}; narrow \
                     the rows with --filter (e.g. scope=model, strategy=...)",
                    scol.as_ref().map_or(String::new(), |s| format!(" and {s}"))
                ));
            }
            if spec.kind == Kind::Line {
                Prepared::Lines(series)
            } else {
                Prepared::Ratio(series)
            }
        }
        Kind::Stacked => {
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
            let values = order
                .iter()
                .map(|l| {
                    sums.get(l)
                        .map_or_else(Vec::new, |(v, c)| v.iter().map(|x| x / *c as f64).collect())
                })
                .collect();
            Prepared::Stacked(order, ycols.clone(), values)
        }
    };
    let groups = match &prepared {
        Prepared::Lines(s) | Prepared::Ratio(s) => s.len(),
        Prepared::Stacked(l, _, _) => l.len(),
    };
    if groups == 0 {
        return Err(data_err(&table.path, "no finite values to plot".into()));
    }
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
    let labels = Labels {
        title,
        x: axis_label(&xcol),
        y: match spec.kind {
            Kind::Stacked if ycols.iter().all(|c| c.ends_with("_ns")) => {
                format!("{} (ns)", ycols.join(" + "))
            }
            Kind::Stacked => ycols.join(" + "),
            _ => axis_label(&ycols[0]),
        },
    };
    if !and_draw {
        return Ok(Drawn {
            out: spec.out.clone(),
            rows: n,
            groups,
            notes,
        });
    }
    fonts()?;
    let size = (1000u32, 640u32);
    let r = if png {
        let root = BitMapBackend::new(&spec.out, size).into_drawing_area();
        draw(&root, &labels, &prepared).and_then(|()| root.present().map_err(|e| e.to_string()))
    } else {
        let root = SVGBackend::new(&spec.out, size).into_drawing_area();
        draw(&root, &labels, &prepared).and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    r.map_err(|e| Error::Plot(format!("drawing {}: {e}", spec.out.display())))?;
    Ok(Drawn {
        out: spec.out.clone(),
        rows: n,
        groups,
        notes,
    })
}

struct Labels {
    title: String,
    x: String,
    y: String,
}

/// A padded range covering `lo..hi` (a flat range gets some height).
fn padded(lo: f64, hi: f64, from_zero: bool) -> (f64, f64) {
    let lo = if from_zero { lo.min(0.0) } else { lo };
    let span = hi - lo;
    if span <= 0.0 || !span.is_finite() {
        let d = if lo.abs() > 0.0 { lo.abs() * 0.1 } else { 1.0 };
        return (lo - d, hi + d);
    }
    (
        if from_zero && lo >= 0.0 {
            lo
        } else {
            lo - 0.05 * span
        },
        hi + 0.05 * span,
    )
}

/// The corner of the plot whose legend-sized region (40% wide, 30% high) covers the fewest
/// points (ties: upper left, upper right, lower right, lower left).
fn legend_corner(
    series: &[(String, Vec<(f64, f64)>)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> SeriesLabelPosition {
    let (w, h) = (
        (x1 - x0).max(f64::MIN_POSITIVE),
        (y1 - y0).max(f64::MIN_POSITIVE),
    );
    let count = |left: bool, top: bool| {
        series
            .iter()
            .flat_map(|s| s.1.iter())
            .filter(|&&(x, y)| {
                let (u, v) = ((x - x0) / w, (y - y0) / h);
                (if left { u <= 0.4 } else { u >= 0.6 }) && (if top { v >= 0.7 } else { v <= 0.3 })
            })
            .count()
    };
    [
        (SeriesLabelPosition::UpperLeft, count(true, true)),
        (SeriesLabelPosition::UpperRight, count(false, true)),
        (SeriesLabelPosition::LowerRight, count(false, false)),
        (SeriesLabelPosition::LowerLeft, count(true, false)),
    ]
    .into_iter()
    .min_by_key(|c| c.1)
    .map_or(SeriesLabelPosition::UpperLeft, |c| c.0)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    l: &Labels,
    p: &Prepared,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let font = "sans-serif";
    match p {
        Prepared::Lines(series) | Prepared::Ratio(series) => {
            let ratio = matches!(p, Prepared::Ratio(_));
            let all = series.iter().flat_map(|s| s.1.iter());
            let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for &(x, y) in all {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
            let (xr, yr) = if ratio {
                // Same range on both axes from 0, so the balance line is the diagonal.
                let m = padded(0.0, x1.max(y1), true);
                (m, m)
            } else {
                (padded(x0, x1, false), padded(y0, y1, false))
            };
            let mut chart = ChartBuilder::on(root)
                .caption(&l.title, (font, 24))
                .margin(16)
                .x_label_area_size(56)
                .y_label_area_size(80)
                .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
                .map_err(e)?;
            chart
                .configure_mesh()
                .x_desc(&l.x)
                .y_desc(&l.y)
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .label_style((font, 14))
                .axis_desc_style((font, 16))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(e)?;
            if ratio {
                let lim = xr.1.min(yr.1);
                chart
                    .draw_series(LineSeries::new(
                        [(0.0f64.max(xr.0), 0.0f64.max(yr.0)), (lim, lim)],
                        ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(2),
                    ))
                    .map_err(e)?
                    .label("balance: cluster = tile (above: cluster-bound)")
                    .legend(|(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(120, 120, 120))
                    });
            }
            for (i, (name, pts)) in series.iter().enumerate() {
                let c = colour(i);
                if !ratio {
                    chart
                        .draw_series(LineSeries::new(
                            pts.iter().copied(),
                            ShapeStyle::from(&c).stroke_width(2),
                        ))
                        .map_err(e)?;
                }
                // Series that coincide stay visible: earlier series get larger rings, the
                // last one a filled dot.
                let last = !ratio || i + 1 == series.len();
                let radius = if last {
                    4
                } else {
                    (4 + 3 * (series.len() - 1 - i)).min(16) as i32
                };
                let style = if last {
                    ShapeStyle::from(&c).filled()
                } else {
                    ShapeStyle::from(&c).stroke_width(2)
                };
                chart
                    .draw_series(pts.iter().map(|&pt| Circle::new(pt, radius, style)))
                    .map_err(e)?
                    .label(name.as_str())
                    .legend(move |(x, y)| Circle::new((x + 10, y), radius.min(7), style));
            }
            // The legend avoids the points and, for ratio, the balance line.
            let mut avoid = series.clone();
            if ratio {
                let lim = xr.1.min(yr.1);
                avoid.push((
                    String::new(),
                    (0..=20)
                        .map(|k| (lim * k as f64 / 20.0, lim * k as f64 / 20.0))
                        .collect(),
                ));
            }
            chart
                .configure_series_labels()
                .label_font((font, 14))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(legend_corner(&avoid, xr, yr))
                .draw()
                .map_err(e)?;
        }
        Prepared::Stacked(bars, parts, values) => {
            let top = values
                .iter()
                .map(|v| v.iter().filter(|x| x.is_finite()).sum::<f64>())
                .fold(0.0f64, f64::max);
            // Headroom above the tallest bar for the legend.
            let (_, y1) = padded(0.0, top * 1.2, true);
            let longest = bars.iter().map(|b| b.chars().count()).max().unwrap_or(1);
            let rotate = bars.len() > 6 || longest > 12;
            let xarea = if rotate {
                (longest as u32 * 8 + 40).min(260)
            } else {
                56
            };
            let n = bars.len() as i32;
            let mut chart = ChartBuilder::on(root)
                .caption(&l.title, (font, 24))
                .margin(16)
                .x_label_area_size(xarea)
                .y_label_area_size(80)
                // n bars: segments 0..=n-1 (a single bar gets an empty second segment).
                .build_cartesian_2d((0..(n - 1).max(1)).into_segmented(), 0.0..y1)
                .map_err(e)?;
            // Rotated labels are drawn below (plotters centres axis labels on the tick, which
            // would push half of a rotated label into the plot).
            let fmt = |v: &SegmentValue<i32>| match v {
                SegmentValue::CenterOf(i) if !rotate => {
                    bars.get(*i as usize).cloned().unwrap_or_default()
                }
                _ => String::new(),
            };
            let xstyle = TextStyle::from((font, 13).into_font());
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_desc(&l.x)
                .y_desc(&l.y)
                .x_labels(bars.len())
                .x_label_formatter(&fmt)
                .y_label_formatter(&|v| tick(*v))
                // label_style also sets the x label style: the rotated one must come after.
                .label_style((font, 14))
                .x_label_style(xstyle)
                .axis_desc_style((font, 16))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(e)?;
            if rotate {
                let style = TextStyle::from((font, 13).into_font())
                    .transform(FontTransform::Rotate90)
                    .pos(Pos::new(HPos::Left, VPos::Center));
                for (i, b) in bars.iter().enumerate() {
                    let (px, py) = chart.backend_coord(&(SegmentValue::CenterOf(i as i32), 0.0));
                    root.draw_text(b, &style, (px, py + 8)).map_err(e)?;
                }
            }
            for (k, part) in parts.iter().enumerate() {
                let c = colour(k);
                let rects = values.iter().enumerate().map(|(i, v)| {
                    let below: f64 = v.iter().take(k).filter(|x| x.is_finite()).sum();
                    let h = v.get(k).copied().filter(|x| x.is_finite()).unwrap_or(0.0);
                    let mut r = Rectangle::new(
                        [
                            (SegmentValue::Exact(i as i32), below),
                            (SegmentValue::Exact(i as i32 + 1), below + h),
                        ],
                        c.filled(),
                    );
                    r.set_margin(0, 0, 3, 3);
                    r
                });
                chart
                    .draw_series(rects)
                    .map_err(e)?
                    .label(part.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled())
                    });
            }
            chart
                .configure_series_labels()
                .label_font((font, 14))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(e)?;
        }
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
        assert_eq!(axis_label("layer"), "layer");
        assert_eq!(alias("t"), "tokens_per_batch");
        assert_eq!(alias("integration_time"), "integration_time_ns");
    }
}
