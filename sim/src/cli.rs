//! Command-line parsing and dispatch for the `hetsim` binary.
//!
//! Exit status: a command's own result (for `exec` and `kernel`, the program's exit code,
//! truncated to 8 bits, with non-zero codes that truncate to 0 reported as 1; for `sweep`, 1
//! when a point failed); 2 for a command-line usage error; 125 when the simulator stops with an
//! error (one paragraph on stderr, never a backtrace).
//!
//! Logging: `-v` (info), `-vv` (debug), `-vvv` (trace), `-q` (errors only); `RUST_LOG`
//! (tracing's env-filter syntax) overrides them.

use crate::cmd;
use clap::{Parser, Subcommand};

/// hetsim: a cycle-accurate heterogeneous (AIMC + RISC-V) simulator.
#[derive(Parser, Debug)]
#[command(name = "hetsim", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// hetsim's subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an RV32IMF ELF on the functional single-hart instruction-set simulator.
    #[command(
        after_help = "Examples:\n  hetsim exec kernels/build/lora_matvec.elf\n  \
                            hetsim exec prog.elf --trace --max-instructions 1000"
    )]
    Exec(cmd::exec::ExecArgs),
    /// Run a kernel ELF on the cycle-level cluster and report cycles, stalls and regions.
    #[command(after_help = "Examples:\n  hetsim kernel kernels/build/lora.elf\n  \
                            hetsim kernel k.elf --cluster models/presets/cluster-pulp.ron \
                            --input lora_X=x.npy --output lora_Y=y.npy")]
    Kernel(cmd::kernel::KernelArgs),
    /// Program an AIMC tile and report its accuracy against the ideal product over time.
    #[command(after_help = "Examples:\n  hetsim tile\n  \
                            hetsim tile --shape 128,128 --t-inf 1y --draws 3\n  \
                            hetsim tile --config models/presets/aimc-hermes-256.ron \
                            --weights w.npy --inputs x.npy")]
    Tile(cmd::tile::TileArgs),
    /// Workload schedules: generate a model's layer schedule (RON) from its dimensions.
    #[command(
        after_help = "Examples:\n  hetsim trace gen --model mobilebert --out traces/mobilebert.ron\n  \
                            hetsim trace gen --model bert-base --seq-len 128 --rank 16"
    )]
    Trace(cmd::trace::TraceArgs),
    /// Replay a scenario (every sweep combination) and print the per-layer overhead table.
    #[command(
        after_help = "Examples:\n  hetsim run scenarios/ahwa-lora-mobilebert.ron\n  \
                            hetsim run scenarios/ahwa-lora-mobilebert.ron --csv out.csv --json out.json"
    )]
    Run(cmd::run::RunArgs),
    /// Check a scenario (syntax, fields, files, mapping) without running it.
    Validate(cmd::run::ValidateArgs),
    /// Run every point of a scenario's sweep in parallel, resumably, into a results directory.
    #[command(
        after_help = "Examples:\n  hetsim sweep scenarios/ahwa-lora-mobilebert.ron --out sweep-out\n  \
                            hetsim sweep s.ron --out shard-0 --shard 0/4 --jobs 2\n  \
                            hetsim sweep s.ron --out d --dry-run\n\n\
                            Killed? Run the same command again: finished points are kept."
    )]
    Sweep(cmd::sweep::SweepArgs),
    /// Merge shard directories of one sweep (checks every point is there exactly once).
    #[command(after_help = "Example:\n  hetsim merge shard-0 shard-1 shard-2 --out merged")]
    Merge(cmd::sweep::MergeArgs),
    /// Plot a sweep directory's results.csv or a `hetsim run --csv` file (SVG or PNG).
    #[command(after_help = cmd::plot::EXAMPLES)]
    Plot(cmd::plot::PlotArgs),
}

/// Sets up `tracing` output on stderr from -v/-q, or RUST_LOG when it is set.
fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

/// Exit status used when the simulator (not the simulated program) fails.
pub const EXIT_SIM_ERROR: i32 = 125;

/// Parses the arguments, runs the chosen command and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let result = match &cli.command {
        Command::Exec(args) => cmd::exec::run(args),
        Command::Kernel(args) => cmd::kernel::run(args),
        Command::Tile(args) => cmd::tile::run(args),
        Command::Trace(args) => cmd::trace::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Validate(args) => cmd::run::validate(args),
        Command::Sweep(args) => cmd::sweep::run(args),
        Command::Merge(args) => cmd::sweep::merge(args),
        Command::Plot(args) => cmd::plot::run(args),
    };
    match result {
        Ok(code) => {
            let c = code & 0xff;
            if code != 0 && c == 0 {
                1
            } else {
                c
            }
        }
        Err(e) => {
            eprintln!("hetsim: error: {e}");
            EXIT_SIM_ERROR
        }
    }
}
