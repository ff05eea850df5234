//! One module per `hetsim` subcommand.
//!
//! Each command's `run` takes the [`Mode`](crate::cli::Mode) and the writer for its output
//! (standard output in the binary). Everything a command checks about its options and input
//! files happens before the first simulated cycle, so [`Mode::Check`](crate::cli::Mode::Check)
//! returns there.

pub mod exec;
pub mod kernel;
pub mod plot;
pub mod report;
pub mod run;
pub mod sweep;
pub mod tile;
pub mod trace;

use crate::error::Error;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set from `-q`: commands show no progress.
pub(crate) static QUIET: AtomicBool = AtomicBool::new(false);

/// Whether a command should draw a progress bar: stderr is a terminal and `-q` is not given.
pub(crate) fn show_progress() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// Writes command output; a failure (full disk, closed pipe) is [`Error::Stdout`].
pub(crate) fn emit(out: &mut dyn Write, text: std::fmt::Arguments<'_>) -> Result<(), Error> {
    out.write_fmt(text).map_err(Error::Stdout)
}

/// A line for the user on stderr (progress, notes, summaries). A full or closed stderr is
/// ignored: there is nowhere left to report it, and it must not stop a run (`eprintln!` would
/// panic).
pub(crate) fn note(text: std::fmt::Arguments<'_>) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(text);
    let _ = e.write_all(b"\n");
}
