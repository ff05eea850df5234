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
pub mod switch;
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

/// The flag a Ctrl-C sets for `exec` and `kernel`: the run stops at its next poll and reports
/// where every core was. A second Ctrl-C exits at once with status 130. The handler is
/// installed on the first call (later calls return the same flag).
pub(crate) fn stop_flag_on_ctrl_c() -> std::sync::Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<std::sync::Arc<AtomicBool>> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = std::sync::Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        // Another handler already installed (a library caller's) leaves Ctrl-C to it.
        let _ = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                std::process::exit(crate::cli::EXIT_INTERRUPTED);
            }
        });
        flag
    })
    .clone()
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
