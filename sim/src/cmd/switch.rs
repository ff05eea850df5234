//! `hetsim switch`: the cost of adapting a scenario's model to a new task, by reprogramming
//! its analog tiles or by swapping its LoRA adapters (`crate::results::switch`).

use super::emit;
use crate::cli::Mode;
use crate::error::Error;
use crate::report::Report;
use crate::scenario;
use std::io::Write;
use std::path::PathBuf;

/// Examples shown by `hetsim switch --help`.
pub const EXAMPLES: &str = "Examples:\n  \
    hetsim switch scenarios/ahwa-lora-mobilebert.ron\n  \
    hetsim switch scenarios/bert-base.ron --all --json switch.json\n\n\
    Constants (pulses, iterations, DRAM and DMA energies): hardware.energy, docs/energy.md.";

/// Options of `hetsim switch`.
#[derive(clap::Args, Debug)]
pub struct SwitchArgs {
    /// Scenario file (RON).
    pub scenario: PathBuf,
    /// List the adapted operations of every layer instance (default: the first one's).
    #[arg(long)]
    pub all: bool,
    /// Also write the whole comparison as JSON to this file.
    #[arg(long, value_name = "FILE.json")]
    pub json: Option<PathBuf>,
}

/// Runs `hetsim switch`; [`Mode::Check`] loads the scenario and stops.
pub fn run(args: &SwitchArgs, mode: Mode, out: &mut dyn Write) -> Result<i32, Error> {
    let loaded = scenario::load(&args.scenario)?;
    if mode == Mode::Check {
        return Ok(0);
    }
    let r = crate::switch::evaluate(&loaded)?;
    emit(out, format_args!("{}", r.text(args.all)))?;
    if let Some(p) = &args.json {
        Report::write(p, &r.json()?)?;
    }
    Ok(0)
}
