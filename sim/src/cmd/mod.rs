//! One module per `hetsim` subcommand.

pub mod exec;
pub mod run;
pub mod tile;
pub mod trace;
