//! `hetsim sweep` and `hetsim merge`: parallel, resumable, shardable sweeps (see
//! [`crate::sweep`] and docs/sweeps.md).

use super::{emit, note};
use crate::cli::{Mode, EXIT_INTERRUPTED};
use crate::error::Error;
use crate::sweep::{self, SweepOptions};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;

/// Options of `hetsim sweep`.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The scenario (RON); its `sweep` lists and `sweep.axes` define the points.
    pub scenario: PathBuf,
    /// Output directory: manifest.json, results.jsonl, results.csv. Rerunning the same command
    /// resumes an interrupted sweep.
    #[arg(long)]
    pub out: PathBuf,
    /// Run only every N-th point starting at I (I/N, 0-based): one shard of a job array.
    #[arg(long, value_parser = parse_shard, value_name = "I/N")]
    pub shard: Option<(usize, usize)>,
    /// Worker threads, 1 to 1024 (default: every core).
    #[arg(long, short = 'j', value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Only list the points (index, id, parameters) and exit.
    #[arg(long)]
    pub dry_run: bool,
}

/// Options of `hetsim merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Shard output directories of one sweep.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Directory for the merged results.
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("{s:?}: expected I/N with 0 <= I < N, e.g. 0/4");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The most worker threads `--jobs` accepts.
pub const MAX_JOBS: usize = 1024;

fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!(
            "{s:?}: expected a number of threads from 1 to {MAX_JOBS}"
        )),
    }
}

/// Runs `hetsim sweep`. The scenario is loaded and every point planned before the output
/// directory is touched; [`Mode::Check`] stops there.
pub fn run(args: &SweepArgs, mode: Mode, out: &mut dyn Write) -> Result<i32, Error> {
    let plan = sweep::plan(&args.scenario)?;
    if mode == Mode::Check {
        return Ok(0);
    }
    if args.dry_run {
        for p in &plan.points {
            let params: Vec<String> = p.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            emit(
                out,
                format_args!(
                    "{:>5} {} {} {} ns t={} {}\n",
                    p.index,
                    p.id,
                    p.combination.strategy.name(),
                    p.combination.integration_time_ns,
                    p.combination.tokens_per_batch,
                    params.join(" ")
                ),
            )?;
        }
        emit(out, format_args!("{} points\n", plan.points.len()))?;
        return Ok(0);
    }
    let interactive = super::show_progress();
    let quiet = super::QUIET.load(std::sync::atomic::Ordering::Relaxed);
    let bar = if interactive {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} points  {per_sec}  ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let bar2 = bar.clone();
    let opts = SweepOptions {
        out: args.out.clone(),
        shard: args.shard,
        jobs: args.jobs,
        progress: Box::new(move |done, total, p, status| {
            if interactive {
                bar2.set_length(total as u64);
                bar2.set_position(done as u64);
                bar2.set_message(format!("last: point {} {status}", p.index));
            } else if !quiet {
                note(format_args!(
                    "hetsim sweep: {done}/{total} point {} ({}) {status}",
                    p.index, p.id
                ));
            }
        }),
    };
    // Ctrl-C: finish the running points, keep everything on disk, say how to resume; a
    // second Ctrl-C stops at once (a torn last line is cut again on resume).
    let _ = ctrlc::set_handler(|| {
        if sweep::INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(EXIT_INTERRUPTED);
        }
    });
    let summary = sweep::sweep(&plan, &opts);
    bar.finish_and_clear();
    let summary = summary?;
    note(format_args!(
        "hetsim sweep: {} points ({} already done, {} run now, {} failed) -> {} (best t per \
         strategy: {})",
        summary.points,
        summary.skipped,
        summary.ran,
        summary.failed,
        args.out.join("results.csv").display(),
        args.out.join("summary.md").display()
    ));
    Ok(if summary.failed > 0 { 1 } else { 0 })
}

/// Runs `hetsim merge`; [`Mode::Check`] reads and checks the shards without writing.
pub fn merge(args: &MergeArgs, mode: Mode, _out: &mut dyn Write) -> Result<i32, Error> {
    let merged = sweep::merge_read(&args.dirs)?;
    if mode == Mode::Check {
        return Ok(0);
    }
    let n = merged.write(&args.out)?;
    note(format_args!(
        "hetsim merge: {n} points from {} directories -> {}",
        args.dirs.len(),
        args.out.join("results.csv").display()
    ));
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn shards() {
        assert_eq!(super::parse_shard("1/4"), Ok((1, 4)));
        assert!(super::parse_shard("4/4").is_err());
        assert!(super::parse_shard("0/0").is_err());
        assert!(super::parse_shard("x").is_err());
        assert!(super::parse_shard("18446744073709551615/0").is_err());
        assert_eq!(super::parse_jobs("2"), Ok(2));
        assert!(super::parse_jobs("0").is_err());
        assert!(super::parse_jobs("1025").is_err());
        assert!(super::parse_jobs("99999999999999999999").is_err());
    }
}
