//! `hetsim plot`: draw a report CSV (a sweep directory's `results.csv` or a `hetsim run --csv`
//! file) as SVG or PNG; the data handling and drawing live in `crate::plot`.

use super::{emit, note};
use crate::cli::Mode;
use crate::error::Error;
use crate::plot::{self, Kind, Scale, Spec};
use std::io::Write;
use std::path::PathBuf;

/// Examples shown by `hetsim plot --help`.
pub const EXAMPLES: &str = "Examples:\n  \
    hetsim plot out.csv --x t --y overhead --series integration_time \
    --filter scope=model --filter strategy=pipelined --out overhead.svg\n  \
    hetsim plot out.csv --x strategy --y overhead --series t \
    --filter scope=model --filter integration_time=128 --out strategies.svg\n  \
    hetsim plot out.csv --kind stacked --x layer --filter scope=layer \
    --filter strategy=pipelined --filter t=32 --filter integration_time=128 --out breakdown.png\n  \
    hetsim plot out.csv --kind ratio --series strategy --filter scope=layer --filter t=32 \
    --out ratio.svg\n  \
    hetsim plot sweeps/main --x t --y overhead --series integration_time --x-scale linear\n\n\
    Columns: those of the CSV header (aliases: t = tokens_per_batch, integration_time = \
    integration_time_ns); rows of a sweep whose status is not ok are skipped. Axes whose \
    values are all positive and span a decade or more are logarithmic (--x-scale/--y-scale override); \
    *_ns columns are shown in ns, µs, ms or s. See docs/traces-and-plots.md.";

/// Options of `hetsim plot`.
#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    /// A sweep directory (its results.csv is read) or a CSV file from `hetsim run --csv`.
    pub input: PathBuf,
    /// The x column (ratio default: tile_ns): numbers for a line plot, text (strategy, layer,
    /// op, ...) for grouped bars per category; the bar labels for stacked (e.g. layer, op).
    #[arg(long)]
    pub x: Option<String>,
    /// The y column (ratio default: cluster_ns); for stacked, the comma-separated columns to
    /// stack (default: static_ns,dynamic_ns,lora_ns,link_ns,wait_ns, the latency parts;
    /// tile_ns,cluster_ns,transfer_ns in a CSV without them).
    #[arg(long)]
    pub y: Option<String>,
    /// Column whose values make one series each (line, ratio), e.g. integration_time.
    #[arg(long)]
    pub series: Option<String>,
    /// Keep rows where COL equals VALUE; repeat for more (different columns must all match,
    /// one column given twice keeps either value).
    #[arg(long = "filter", value_name = "COL=VALUE")]
    pub filters: Vec<String>,
    /// The view: line (y vs x per series), stacked (latency breakdown per x label), ratio
    /// (cluster vs tile time with the balance line).
    #[arg(long, value_enum, default_value = "line")]
    pub kind: Kind,
    /// The x axis: auto is logarithmic when every x is positive and the largest is at least
    /// 10 times the smallest (ratio: x and y decide together), else linear.
    #[arg(long, value_enum, default_value = "auto")]
    pub x_scale: Scale,
    /// The y axis, as --x-scale (stacked: always linear).
    #[arg(long, value_enum, default_value = "auto")]
    pub y_scale: Scale,
    /// Output file, .svg or .png. Default: plot-KIND.svg in the current directory.
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    pub out: Option<PathBuf>,
    /// Title (default: from the columns).
    #[arg(long)]
    pub title: Option<String>,
}

/// Runs `hetsim plot`; [`Mode::Check`] reads and checks the data without drawing.
pub fn run(args: &PlotArgs, mode: Mode, out: &mut dyn Write) -> Result<i32, Error> {
    let kind = match args.kind {
        Kind::Line => "line",
        Kind::Stacked => "stacked",
        Kind::Ratio => "ratio",
    };
    let spec = Spec {
        input: args.input.clone(),
        x: args.x.clone(),
        y: args.y.clone(),
        series: args.series.clone(),
        filters: args.filters.clone(),
        kind: args.kind,
        x_scale: args.x_scale,
        y_scale: args.y_scale,
        out: args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("plot-{kind}.svg"))),
        title: args.title.clone(),
    };
    if mode == Mode::Check {
        plot::check(&spec)?;
        return Ok(0);
    }
    let d = plot::plot(&spec)?;
    for n in &d.notes {
        note(format_args!("note: {n}"));
    }
    let scale = |log| if log { "log" } else { "linear" };
    emit(
        out,
        format_args!(
            "{}: {} row(s), {} {}; x {}, y {}\n",
            d.out.display(),
            d.rows,
            d.groups,
            if args.kind == Kind::Stacked {
                "bar(s)"
            } else {
                "series"
            },
            if d.categorical {
                "categories"
            } else {
                scale(d.x_log)
            },
            scale(d.y_log)
        ),
    )?;
    Ok(0)
}
