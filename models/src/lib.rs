//! Hardware component models for hetsim.
//!
//! This crate owns the cycle-level and analog models that the system level (`hetsim`)
//! composes: the Snitch-class RISC-V cluster, the AIMC crossbar tile and the interconnect.
//! Each component owns its state and timing parameters (one documented struct with a
//! `Default`, loadable from RON) and never reaches into another component.
//!
//! Status: the AIMC tile model ([`aimc`]) and the interconnect ([`interconnect`]) are in place;
//! the cluster is being built (see the project's open issues).

pub mod aimc;
pub mod cluster;
pub mod diag;
pub mod energy;
pub mod interconnect;
