//! `hetsim sweep` and `hetsim merge`: parallel, resumable, shardable sweeps (see
//! [`crate::sweep`] and docs/sweeps.md).

use crate::error::Error;
use crate::sweep::{self, SweepOptions};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
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
    /// Worker threads (default: every core).
    #[arg(long, short = 'j')]
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

/// Runs `hetsim sweep`.
pub fn run(args: &SweepArgs) -> Result<i32, Error> {
    let plan = sweep::plan(&args.scenario)?;
    if args.dry_run {
        for p in &plan.points {
            let params: Vec<String> = p.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!(
                "{:>5} {} {} {} ns t={} {}",
                p.index,
                p.id,
                p.combination.strategy.name(),
                p.combination.integration_time_ns,
                p.combination.tokens_per_batch,
                params.join(" ")
            );
        }
        println!("{} points", plan.points.len());
        return Ok(0);
    }
    let interactive = std::io::stderr().is_terminal();
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
            } else {
                eprintln!(
                    "hetsim sweep: {done}/{total} point {} ({}) {status}",
                    p.index, p.id
                );
            }
        }),
    };
    let summary = sweep::sweep(&plan, &opts)?;
    bar.finish_and_clear();
    eprintln!(
        "hetsim sweep: {} points ({} already done, {} run now, {} failed) -> {}",
        summary.points,
        summary.skipped,
        summary.ran,
        summary.failed,
        args.out.join("results.csv").display()
    );
    Ok(if summary.failed > 0 { 1 } else { 0 })
}

/// Runs `hetsim merge`.
pub fn merge(args: &MergeArgs) -> Result<i32, Error> {
    let n = sweep::merge(&args.dirs, &args.out)?;
    eprintln!(
        "hetsim merge: {n} points from {} directories -> {}",
        args.dirs.len(),
        args.out.join("results.csv").display()
    );
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
    }
}
