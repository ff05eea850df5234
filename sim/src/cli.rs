//! Command-line parsing and dispatch for the `hetsim` binary.

use clap::Parser;

/// hetsim: a cycle-accurate heterogeneous (AIMC + RISC-V) simulator.
#[derive(Parser, Debug)]
#[command(name = "hetsim", version, about)]
pub struct Cli {}

/// Parses the arguments, runs the chosen command and returns the process exit code.
pub fn main() -> i32 {
    let _cli = Cli::parse();
    0
}
