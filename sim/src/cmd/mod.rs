//! One module per `hetsim` subcommand.

pub mod exec;
