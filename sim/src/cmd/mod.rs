//! One module per `hetsim` subcommand.

pub mod exec;
pub mod kernel;
pub mod plot;
pub mod run;
pub mod sweep;
pub mod tile;
pub mod trace;
