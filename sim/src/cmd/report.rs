//! `hetsim report`: one self-contained HTML page from a sweep directory or a `hetsim run
//! --json` file; the page itself is built by `crate::html`.

use super::emit;
use crate::cli::Mode;
use crate::error::Error;
use std::io::Write;
use std::path::PathBuf;

/// Examples shown by `hetsim report --help`.
pub const EXAMPLES: &str = "Examples:\n  \
    hetsim run scenarios/ahwa-lora-mobilebert.ron --json run.json && \
    hetsim report run.json --out report.html\n  \
    hetsim report sweeps/main --out sweep.html\n\n\
    The page needs no network: styles, the sorting script and the plots (SVG) are inside it. \
    See docs/traces-and-plots.md.";

/// Options of `hetsim report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// A sweep directory (`hetsim sweep --out DIR`) or a `hetsim run --json` file.
    pub input: PathBuf,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE.html", default_value = "report.html")]
    pub out: PathBuf,
}

/// Runs `hetsim report`; [`Mode::Check`] reads the input and builds the page without writing
/// it.
pub fn run(args: &ReportArgs, mode: Mode, out: &mut dyn Write) -> Result<i32, Error> {
    if mode == Mode::Check {
        crate::html::load(&args.input)?;
        return Ok(0);
    }
    let w = crate::html::write(&args.input, &args.out)?;
    emit(
        out,
        format_args!(
            "wrote {} ({} KiB): the summary, {} plot(s), {} table row(s), the scenario and \
             the versions\n",
            w.out.display(),
            w.bytes.div_ceil(1024),
            w.plots,
            w.rows
        ),
    )?;
    Ok(0)
}
