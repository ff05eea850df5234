//! One module per `hetsim` subcommand.

pub mod exec;
pub mod kernel;
pub mod tile;
