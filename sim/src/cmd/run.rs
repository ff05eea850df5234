//! `hetsim run` and `hetsim validate`: load a scenario, and replay every sweep combination.

use super::{emit, note};
use crate::cli::Mode;
use crate::error::Error;
use crate::report::Report;
use crate::scenario;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Options of `hetsim run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scenario file (RON), e.g. scenarios/ahwa-lora-mobilebert.ron.
    pub scenario: PathBuf,
    /// Also write every row as CSV to this file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also write the accuracy rows (scenarios with an `accuracy` section: per inference time
    /// and drift compensation, each layer's error and the embeddings' cosine similarity) as
    /// CSV to this file, for `hetsim plot`.
    #[arg(long, value_name = "FILE.csv")]
    pub accuracy_csv: Option<PathBuf>,
    /// Rows of the table: the model, plus the representative layer instance (default), plus
    /// its linear operations, or every row.
    #[arg(long, value_enum, default_value_t)]
    pub rows: crate::report::RowSet,
    /// Every column of the table (default: those that fit 120 characters).
    #[arg(long)]
    pub wide: bool,
    /// Write a Chrome trace-event JSON of the replay (open in ui.perfetto.dev): tracks per tile
    /// group, cluster and link; counters for TCDM and queues. Traces the first combination
    /// only unless --trace-combination says otherwise (the main scenario has 60).
    #[arg(long, value_name = "FILE.json")]
    pub trace: Option<PathBuf>,
    /// Trace only work whose `layer/op` label contains this text, e.g. `encoder.layer.3/`.
    #[arg(long, value_name = "TEXT", requires = "trace")]
    pub trace_filter: Option<String>,
    /// Trace only slices overlapping this window of simulated time, in microseconds
    /// (either side may be empty: `100:`, `:250`).
    #[arg(long, value_name = "START_US:END_US", requires = "trace")]
    pub trace_window: Option<String>,
    /// Combinations to trace, 0-based in the order strategy, integration time, t (as in the
    /// table; comma-separated, e.g. `0,5`). Default: 0.
    #[arg(
        long,
        value_name = "N[,N...]",
        value_delimiter = ',',
        requires = "trace"
    )]
    pub trace_combination: Vec<usize>,
}

/// Checks that `path` can take an output file before anything runs: not a directory, in an
/// existing directory, and (when running, not when only checking) writable, by opening it for
/// appending and removing it again if it did not exist.
fn check_output(option: &str, path: &Path, mode: Mode) -> Result<(), Error> {
    let bad = |message: String| Error::Usage {
        option: option.into(),
        message: format!("{}: {message}", path.display()),
    };
    if path.is_dir() {
        return Err(bad("is a directory; give a file name".into()));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if parent.exists() && !parent.is_dir() {
        return Err(bad(format!(
            "Not a directory ({} is a file)",
            parent.display()
        )));
    }
    if !parent.is_dir() {
        return Err(bad(format!(
            "the directory {} does not exist; create it first",
            parent.display()
        )));
    }
    if mode == Mode::Run {
        let existed = path.exists();
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| bad(format!("cannot be written: {e}")))?;
        if !existed {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(())
}

/// Options of `hetsim validate`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Scenario file (RON).
    pub scenario: PathBuf,
}

/// Runs `hetsim run`. Options and the scenario are checked before the replay; [`Mode::Check`]
/// stops there.
pub fn run(args: &RunArgs, mode: Mode, out: &mut dyn Write) -> Result<i32, Error> {
    // Trace options are checked before the (possibly long) run.
    let filter = crate::trace_event::TraceFilter {
        label: args.trace_filter.clone(),
        window_us: match &args.trace_window {
            Some(w) => crate::trace_event::TraceFilter::parse_window(w)?,
            None => (None, None),
        },
    };
    // Output files are checked before the (possibly long) run, not after it.
    for (option, path) in [
        ("--csv", &args.csv),
        ("--json", &args.json),
        ("--accuracy-csv", &args.accuracy_csv),
        ("--trace", &args.trace),
    ] {
        if let Some(p) = path {
            check_output(option, p, mode)?;
        }
    }
    let loaded = scenario::load(&args.scenario)?;
    if !loaded.scenario.sweep.axes.is_empty() {
        return Err(Error::Usage {
            option: "SCENARIO".into(),
            message: format!(
                "{} has sweep.axes ({} axis/axes): `hetsim run` replays only the strategy x \
                 integration time x t combinations of one scenario; run every point with \
                 `hetsim sweep {} --out DIR` (docs/sweeps.md), or remove sweep.axes",
                args.scenario.display(),
                loaded.scenario.sweep.axes.len(),
                args.scenario.display()
            ),
        });
    }
    let combos = if args.trace_combination.is_empty() {
        vec![0]
    } else {
        args.trace_combination.clone()
    };
    let n = loaded.combinations().len();
    if let Some(bad) = combos
        .iter()
        .find(|&&k| k >= n)
        .filter(|_| args.trace.is_some())
    {
        return Err(Error::Usage {
            option: "--trace-combination".into(),
            message: format!(
                "combination {bad} does not exist: the scenario has {n} (0 to {})",
                n.saturating_sub(1)
            ),
        });
    }
    if mode == Mode::Check {
        return Ok(0);
    }
    // Progress on a terminal (not with -q): the numerics, then the combinations.
    let bar = if super::show_progress() {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_message("numerics: programming the tiles and evaluating the model");
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    // The numerics once, for the report and the trace (their tile passes time both).
    let num = crate::run::evaluate_numerics(&loaded);
    let combos_all = loaded.combinations();
    bar.disable_steady_tick();
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} combinations  ETA {eta}  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_length(combos_all.len() as u64);
    bar.set_message("");
    let report = num.and_then(|num| {
        // the traced combinations' replays are kept from the run itself (not replayed again)
        let keep: &[usize] = if args.trace.is_some() { &combos } else { &[] };
        crate::run::run_observed(
            &loaded,
            &combos_all,
            num.as_ref(),
            &mut |done, _| bar.set_position(done as u64),
            keep,
        )
    });
    let report = report.and_then(|(mut report, replayed)| {
        if loaded.scenario.accuracy.is_some() {
            bar.disable_steady_tick();
            bar.set_message("accuracy: the real model at every inference time");
            report.accuracy = crate::run::evaluate_accuracy(&loaded)?;
        }
        Ok((report, replayed))
    });
    bar.finish_and_clear();
    let (report, replayed) = report?;
    let opts = crate::report::TableOptions {
        rows: args.rows,
        wide: args.wide,
    };
    emit(out, format_args!("{}", report.table_with(opts)))?;
    if let Some(p) = &args.csv {
        Report::write(p, &report.csv()?)?;
    }
    if let Some(p) = &args.accuracy_csv {
        match &report.accuracy {
            Some(a) => Report::write(p, &a.csv()?)?,
            None => note(format_args!(
                "note: --accuracy-csv: the scenario has no accuracy section; {} not written",
                p.display()
            )),
        }
    }
    if let Some(p) = &args.json {
        // the scenario as it was run, for `hetsim report` (it was read moments ago)
        let text = hetsim_models::diag::read_text(&loaded.path, "a scenario").ok();
        let json = report.json_with(vec![
            ("scenario_path", loaded.path.display().to_string().into()),
            ("scenario_text", text.into()),
        ])?;
        Report::write(p, &json)?;
    }
    if let Some(p) = &args.trace {
        let trace = crate::trace_event::system::trace_replayed(&loaded, &replayed, &filter);
        trace.write(p)?;
        note(format_args!(
            "trace: {} event(s) of {} combination(s) written to {}",
            trace.len(),
            combos.len(),
            p.display()
        ));
    }
    Ok(0)
}

/// Runs `hetsim validate` (in either mode: it only checks).
pub fn validate(args: &ValidateArgs, _mode: Mode, out: &mut dyn Write) -> Result<i32, Error> {
    let loaded = scenario::load(&args.scenario)?;
    let backend = crate::backend::build(
        &loaded.scenario.hardware.cluster_backend,
        loaded.path.parent().unwrap_or(std::path::Path::new(".")),
    )?;
    crate::run::check_lora_shapes(&loaded, backend.as_ref())?;
    let combos = loaded.combinations().len();
    let m = crate::mapping::Mapping::new(&loaded.schedule, &loaded.scenario, 1)?;
    emit(
        out,
        format_args!(
            "{}: valid; model {} (SL {}), {} layer instance(s) on {} tile(s) and {} cluster(s); \
             {combos} combination(s){}\n",
            args.scenario.display(),
            loaded.schedule.model,
            loaded.schedule.seq_len,
            m.instances.len(),
            m.tiles,
            m.clusters,
            if loaded.scenario.sweep.axes.is_empty() {
                String::new()
            } else {
                format!(
                    "; with sweep.axes, {} point(s) for `hetsim sweep` (`hetsim run` refuses \
                     sweep.axes)",
                    crate::sweep::plan(&args.scenario)?.points.len()
                )
            }
        ),
    )?;
    Ok(0)
}
