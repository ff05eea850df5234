//! One module per `hetsim` subcommand.

pub mod exec;
pub mod tile;
