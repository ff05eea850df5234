//! The hetsim crate's error type, rendered once by the CLI.

use hetsim_models::diag::SourceError;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Everything a hetsim command can fail with.
#[derive(Debug, Error)]
pub enum Error {
    /// Loading or running a program failed.
    #[error(transparent)]
    Isa(#[from] hetsim_isa::Error),
    /// An AIMC tile configuration, data file or evaluation failed.
    #[error(transparent)]
    Aimc(#[from] hetsim_models::aimc::AimcError),
    /// An interconnect configuration is invalid.
    #[error(transparent)]
    Interconnect(#[from] hetsim_models::interconnect::InterconnectError),
    /// The event engine was misused (a simulator bug, not user input).
    #[error("event engine: {0}")]
    Engine(#[from] crate::engine::EngineError),
    /// Building or running the cluster failed.
    #[error(transparent)]
    Cluster(#[from] hetsim_models::cluster::ClusterError),
    /// A data file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// A command-line value is malformed.
    #[error("{option}: {message}")]
    Usage {
        /// The option, e.g. `--ram`.
        option: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// Writing output failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
    /// Writing a command's output to standard output failed (a full disk behind a
    /// redirection, a closed pipe).
    #[error("writing standard output: {0}")]
    Stdout(std::io::Error),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A sweep was interrupted (Ctrl-C): the finished points are kept.
    #[error(
        "interrupted: {kept} point(s) kept in {}; rerun the same command to resume",
        dir.display()
    )]
    Interrupted {
        /// The sweep's output directory.
        dir: PathBuf,
        /// Points on disk.
        kept: usize,
    },
    /// Writing a sweep's output files failed (a full disk, a read-only directory).
    #[error(
        "{}: {source}\n  {kept} finished point(s) are kept in results.jsonl; make room (or fix \
         the directory) and run the same command again to resume",
        path.display()
    )]
    SweepWrite {
        /// The file being written.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
        /// Complete rows in results.jsonl.
        kept: usize,
    },
    /// A RON file (scenario or schedule) could not be parsed: file, line, column, message, the
    /// line and a hint (the CLI shows the line with a caret under the column, [`crate::diag`]).
    #[error(transparent)]
    Ron(Box<SourceError>),
    /// A scenario is well-formed RON but a field's value cannot be used.
    #[error("{}: field `{field}`: {message}\n  hint: {hint}", path.display())]
    Scenario {
        /// The scenario file.
        path: PathBuf,
        /// Dotted path of the field, e.g. `workload.schedule`.
        field: String,
        /// What is wrong.
        message: String,
        /// What to do about it.
        hint: String,
    },
    /// A layer schedule is inconsistent.
    #[error("schedule: {location}: {reason}")]
    Schedule {
        /// Block and operation.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A workload does not fit the hardware (tiles, mapping).
    #[error("mapping: {0}")]
    Mapping(String),
    /// The chosen cluster backend cannot run.
    #[error("cluster backend: {0}")]
    Backend(String),
    /// A sweep or merge cannot go on (another sweep's directory, missing or duplicated
    /// points, a manifest that is not one).
    #[error("sweep: {0}")]
    Sweep(String),
    /// Output could not be serialised.
    #[error("serialising output: {0}")]
    Serialise(String),
    /// A data file (e.g. a CSV to plot) has no such column, no rows, or a bad value.
    #[error("{}: {message}", path.display())]
    Data {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the column (and row) where it applies.
        message: String,
    },
    /// Drawing a plot failed.
    #[error("plot: {0}")]
    Plot(String),
    /// The GDB stub could not listen, or its connection failed.
    #[error("gdb: {0}")]
    Gdb(String),
}

impl Error {
    /// The located error (file, line, column, the line's text) this error is or wraps, for the
    /// CLI to show with its excerpt ([`crate::diag::render`]).
    pub fn source_error(&self) -> Option<&SourceError> {
        use hetsim_models::{aimc::AimcError, cluster::ClusterError};
        match self {
            Error::Ron(e)
            | Error::Aimc(AimcError::Ron(e))
            | Error::Cluster(ClusterError::Ron(e)) => Some(e),
            _ => None,
        }
    }

    /// True when the run was stopped by Ctrl-C (a sweep, or an `exec`/`kernel` run): the
    /// CLI exits with status 130 and prints the message without "error:".
    pub fn is_interrupt(&self) -> bool {
        matches!(
            self,
            Error::Interrupted { .. }
                | Error::Isa(hetsim_isa::Error::Interrupted { .. })
                | Error::Cluster(hetsim_models::cluster::ClusterError::Interrupted { .. })
        )
    }

    /// Wraps a RON parse error of `path` (whose text is `text`) with the position, the offending
    /// line and a hint.
    pub fn ron(path: &Path, text: &str, e: ron::error::SpannedError) -> Self {
        use ron::error::Error as R;
        let hint = match &e.code {
            R::NoSuchStructField { expected, .. } => format!(
                "remove or rename the field; allowed here: {}",
                expected.join(", ")
            ),
            R::NoSuchEnumVariant { expected, .. } => {
                format!("use one of: {}", expected.join(", "))
            }
            R::MissingStructField { field, .. } => format!("add `{field}: ...`"),
            R::DuplicateStructField { field, .. } => format!("give `{field}` only once"),
            R::InvalidValueForType { expected, .. } => format!("write {expected} here"),
            _ => "check the syntax near this position against docs/scenarios.md".into(),
        };
        Error::Ron(Box::new(
            SourceError::from_ron(path.display().to_string(), text, &e).with_hint(hint),
        ))
    }
}
