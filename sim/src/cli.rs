//! Command-line parsing and dispatch for the `hetsim` binary.
//!
//! Exit status: a command's own result (for `exec` and `kernel`, the program's exit code,
//! truncated to 8 bits, with non-zero codes that truncate to 0 reported as 1; for `sweep`, 1
//! when a point failed; 137 when GDB killed the program under `--gdb`); 2 for a command-line
//! usage error; 125 when the simulator stops with an
//! error (one paragraph on stderr, never a backtrace); 141, silently, when standard output is a
//! pipe that was closed (`| head`).
//!
//! [`run`] is the whole command line in one call (parse, dispatch, render errors); `main` only
//! calls it with the process's arguments and streams. [`Mode::Check`] stops every command
//! after its inputs are read and checked, which is what the CLI fuzz harness runs.
//!
//! Logging: `-v` (info), `-vv` (debug), `-vvv` (trace), `-q` (errors only); `RUST_LOG`
//! (tracing's env-filter syntax) overrides them.

use crate::cmd;
use crate::error::Error;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::Write;

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
    /// Write one self-contained HTML page (summary, sortable tables, plots, scenario,
    /// versions) from a sweep directory or a `hetsim run --json` file.
    #[command(after_help = cmd::report::EXAMPLES)]
    Report(cmd::report::ReportArgs),
    /// Compare adapting a scenario's model to a new task by reprogramming its tiles against
    /// swapping its LoRA adapters: time and energy per model, tile and operation.
    #[command(after_help = cmd::switch::EXAMPLES)]
    Switch(cmd::switch::SwitchArgs),
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

/// Exit status when standard output is a pipe whose reader has gone (`hetsim ... | head`):
/// nothing is printed, as for a program killed by SIGPIPE (128 + 13).
pub const EXIT_BROKEN_PIPE: i32 = 141;

/// Exit status of a sweep stopped by Ctrl-C (128 + SIGINT, as a shell reports it); the finished
/// points are kept and the same command resumes.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Exit status of `exec` and `kernel` when GDB killed the program (`kill` in gdb; 128 +
/// SIGKILL, as a shell reports a killed process).
pub const EXIT_KILLED: i32 = 137;

/// How far [`run`] goes once the command line is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run the command.
    Run,
    /// Check only: parse every option value and read and validate every input file the
    /// command names (ELF, RON, scenario, `.npy`, CSV, sweep directories), then stop before
    /// anything is simulated, generated or written. No file is created or changed. The CLI
    /// fuzz harness uses this (docs/robustness.md).
    Check,
}

/// Parses the process's arguments, runs the chosen command and returns the exit code.
pub fn main() -> i32 {
    use std::io::IsTerminal;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut err = std::io::stderr();
    let styled = std::env::var_os("NO_COLOR").is_none();
    let term = Terminal {
        color_out: styled && std::io::stdout().is_terminal(),
        color_err: styled && std::io::stderr().is_terminal(),
        width: terminal_width(),
    };
    run_with(std::env::args_os(), Mode::Run, &mut out, &mut err, term)
}

/// What [`run_with`] knows of the terminals it writes to.
#[derive(Debug, Clone, Copy, Default)]
struct Terminal {
    /// ANSI styles on stdout (clap's help).
    color_out: bool,
    /// ANSI styles on stderr (clap's errors, source excerpts).
    color_err: bool,
    /// The width source excerpts are cut to; `None`: [`crate::diag::DEFAULT_WIDTH`].
    width: Option<usize>,
}

/// The width of the terminal on stderr, for source excerpts in error messages: `COLUMNS` when
/// set, else the terminal's own width, else none (the default width applies).
fn terminal_width() -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
    {
        return Some(c);
    }
    console::Term::stderr()
        .size_checked()
        .map(|(_, w)| usize::from(w))
}

/// The message for a failed command, after `hetsim: `: `error: ` and the error, or for an
/// error at a position of a file, the line with a caret under the column ([`crate::diag`]).
fn report(e: &Error, term: Terminal) -> String {
    match e.source_error() {
        Some(s) => crate::diag::render(s, term.width.unwrap_or(0), term.color_err),
        None => format!("error: {e}"),
    }
}

/// Parses `args` (the first is the program name), runs (or, in [`Mode::Check`], checks) the
/// command and returns the exit code. The command's output goes to `out`; errors, usage
/// messages and notes go to `err` (progress and notes of running commands go to the process's
/// stderr). Never panics on any argument vector: a bad one ends in a message on `err` and a
/// non-zero code (2 for usage errors, [`EXIT_SIM_ERROR`] for the rest).
pub fn run<I, T>(args: I, mode: Mode, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with(args, mode, out, err, Terminal::default())
}

/// [`run`], with what is known of the terminals: ANSI styles for clap's messages on stdout
/// and stderr and for source excerpts on stderr, and the width of those excerpts.
fn run_with<I, T>(
    args: I,
    mode: Mode,
    out: &mut dyn Write,
    err: &mut dyn Write,
    term: Terminal,
) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            // --help and --version are "errors" that go to stdout with status 0.
            let (sink, color): (&mut dyn Write, bool) = if e.use_stderr() {
                (err, term.color_err)
            } else {
                (out, term.color_out)
            };
            let text = if color {
                e.render().ansi().to_string()
            } else {
                e.render().to_string()
            };
            let _ = sink.write_all(text.as_bytes());
            let _ = sink.flush();
            return e.exit_code();
        }
    };
    if mode == Mode::Run {
        init_logging(cli.verbose, cli.quiet);
    }
    cmd::QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    let result = match &cli.command {
        Command::Exec(args) => cmd::exec::run(args, mode, out),
        Command::Kernel(args) => cmd::kernel::run(args, mode, out),
        Command::Tile(args) => cmd::tile::run(args, mode, out),
        Command::Trace(args) => cmd::trace::run(args, mode, out),
        Command::Run(args) => cmd::run::run(args, mode, out),
        Command::Validate(args) => cmd::run::validate(args, mode, out),
        Command::Sweep(args) => cmd::sweep::run(args, mode, out),
        Command::Merge(args) => cmd::sweep::merge(args, mode, out),
        Command::Plot(args) => cmd::plot::run(args, mode, out),
        Command::Report(args) => cmd::report::run(args, mode, out),
        Command::Switch(args) => cmd::switch::run(args, mode, out),
    };
    let result = result.and_then(|code| out.flush().map(|()| code).map_err(Error::Stdout));
    match result {
        Ok(code) => {
            let c = code & 0xff;
            if code != 0 && c == 0 {
                1
            } else {
                c
            }
        }
        Err(Error::Stdout(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_BROKEN_PIPE,
        Err(e) if e.is_interrupt() => {
            let _ = writeln!(err, "hetsim: {e}");
            let _ = err.flush();
            EXIT_INTERRUPTED
        }
        Err(e) => {
            // A full or closed stderr leaves nowhere to report; the status still says it.
            let _ = writeln!(err, "hetsim: {}", report(&e, term));
            let _ = err.flush();
            EXIT_SIM_ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hetsim_models::diag::SourceError;

    #[test]
    fn located_errors_get_an_excerpt_others_a_line() {
        let text = "(\n    corez: 2,\n)";
        let e = hetsim_models::cluster::ClusterConfig::from_ron_str(text, "c.ron").unwrap_err();
        let e = Error::Cluster(e);
        assert_eq!(e.source_error().map(|s| (s.line, s.column)), Some((2, 5)));
        let plain = report(&e, Terminal::default());
        assert!(
            plain.starts_with("error: Unexpected field named `corez`"),
            "{plain}"
        );
        assert!(plain.contains("\n --> c.ron:2:5\n"), "{plain}");
        assert!(
            plain.ends_with("2 |     corez: 2,\n  |     ^^^^^"),
            "{plain}"
        );
        // Colours only when stderr takes them; the location is there either way.
        let styled = Terminal {
            color_err: true,
            ..Terminal::default()
        };
        let coloured = report(&e, styled);
        assert!(coloured.contains('\u{1b}') && coloured.contains("c.ron:2:5"));
        // The width reaches the renderer: a long line is cut at 30 columns.
        let long = format!("({}corez: 2)", " ".repeat(100));
        let e = Error::Ron(Box::new(SourceError::new("l.ron", &long, 1, 102, "bad")));
        let narrow = Terminal {
            width: Some(30),
            ..Terminal::default()
        };
        assert!(report(&e, narrow).lines().all(|l| l.chars().count() <= 30));
        // Without a width: the default, 100.
        let wide = report(&e, Terminal::default());
        let longest = wide.lines().map(|l| l.chars().count()).max();
        assert!(
            longest > Some(30) && longest <= Some(crate::diag::DEFAULT_WIDTH),
            "{wide}"
        );
        // Any other error: one `error: ` line.
        let e = Error::Mapping("no tile".into());
        assert_eq!(report(&e, styled), "error: mapping: no tile");
    }
}
