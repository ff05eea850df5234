//! The hetsim crate's error type, rendered once by the CLI.

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
}
