//! `hetsim run` and `hetsim validate`: load a scenario, and replay every sweep combination.

use crate::error::Error;
use crate::report::Report;
use crate::scenario;
use std::path::PathBuf;

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
}

/// Options of `hetsim validate`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Scenario file (RON).
    pub scenario: PathBuf,
}

/// Runs `hetsim run`.
pub fn run(args: &RunArgs) -> Result<i32, Error> {
    let loaded = scenario::load(&args.scenario)?;
    let report = crate::run::run(&loaded)?;
    print!("{}", report.table());
    if let Some(p) = &args.csv {
        Report::write(p, &report.csv())?;
    }
    if let Some(p) = &args.json {
        Report::write(p, &report.json()?)?;
    }
    Ok(0)
}

/// Runs `hetsim validate`.
pub fn validate(args: &ValidateArgs) -> Result<i32, Error> {
    let loaded = scenario::load(&args.scenario)?;
    crate::backend::build(
        &loaded.scenario.hardware.cluster_backend,
        loaded.path.parent().unwrap_or(std::path::Path::new(".")),
    )?;
    let combos = loaded.combinations().len();
    let m = crate::mapping::Mapping::new(&loaded.schedule, &loaded.scenario, 1)?;
    println!(
        "{}: valid; model {} (SL {}), {} layer instance(s) on {} tile(s) and {} cluster(s); \
         {combos} combination(s)",
        args.scenario.display(),
        loaded.schedule.model,
        loaded.schedule.seq_len,
        m.instances.len(),
        m.tiles,
        m.clusters
    );
    Ok(0)
}
