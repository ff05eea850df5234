//! The error type of the AIMC tile model.

use std::path::PathBuf;

/// Everything that can go wrong when configuring, programming, evaluating or driving an AIMC
/// tile. Each variant names the offending field, value, file or register so that the CLI can
/// render it once without further context.
#[derive(Debug, thiserror::Error)]
pub enum AimcError {
    /// A configuration field holds a value outside its documented range.
    #[error("invalid tile config: `{field}` = {value}: {reason}")]
    InvalidConfig {
        /// Dotted path of the field, e.g. `dac.bits`.
        field: &'static str,
        /// The rejected value, rendered.
        value: String,
        /// What the value must satisfy.
        reason: &'static str,
    },
    /// A matrix or vector does not have the shape the operation needs.
    #[error("shape mismatch in {what}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// Which operand (e.g. `weights`, `input vector`).
        what: &'static str,
        /// The shape that was expected.
        expected: String,
        /// The shape that was given.
        found: String,
    },
    /// A matrix or vector holds NaN or an infinity.
    #[error("{what} contains a non-finite value {value} at {position}")]
    NonFinite {
        /// Which operand (e.g. `weights`, `inputs`).
        what: &'static str,
        /// Where, e.g. `row 3, column 7`.
        position: String,
        /// The offending value.
        value: f32,
    },
    /// A time argument is negative, NaN or infinite.
    #[error("invalid {what}: {value} s (must be finite and >= 0)")]
    InvalidTime {
        /// Which time (e.g. `inference time t_inf`).
        what: &'static str,
        /// The rejected value in seconds.
        value: f64,
    },
    /// Some other argument of a call is out of range.
    #[error("invalid argument `{name}` = {value}: {reason}")]
    InvalidArgument {
        /// Argument name.
        name: &'static str,
        /// The rejected value, rendered.
        value: String,
        /// What it must satisfy.
        reason: &'static str,
    },
    /// A duration string such as `1y` or `3600s` could not be parsed.
    #[error("cannot parse duration {input:?}: {reason}")]
    Duration {
        /// The text given.
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A RON tile configuration could not be parsed: file (or `<tile config>`), line, column,
    /// message and the line (the CLI shows it with a caret under the column).
    #[error(transparent)]
    Ron(Box<crate::diag::SourceError>),
    /// A tile configuration could not be rendered as RON.
    #[error("cannot serialise tile config: {0}")]
    RonWrite(#[from] ron::Error),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A `.npy` file is malformed or holds something other than a 1-D/2-D float array.
    #[error("{}: not a usable .npy file: {reason}", path.display())]
    Npy {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An MMIO access hit an offset that is not a register or buffer word, or is misaligned.
    #[error("AIMC MMIO {access} at offset {offset:#x}: {reason}")]
    Mmio {
        /// `read` or `write`.
        access: &'static str,
        /// Byte offset from the device base.
        offset: u32,
        /// Why it was refused.
        reason: &'static str,
    },
}

/// Result alias of the AIMC module.
pub type Result<T> = std::result::Result<T, AimcError>;
