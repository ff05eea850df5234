//! hetsim: the system level of the heterogeneous AIMC + RISC-V simulator.
//!
//! This crate owns the command-line interface and (as it grows) the discrete-event engine,
//! scenario loading, schedule replay, pipeline strategies and reports. Components come from
//! `hetsim-models`, instruction semantics from `hetsim-isa`.

pub mod backend;
pub mod cli;
pub mod cmd;
pub mod diag;
pub mod engine;
pub mod error;
pub mod fnv;
pub mod html;
pub mod lora_f16_kernel;
pub mod lora_kernel;
pub mod mapping;
pub mod numerics;
pub mod plot;
pub mod replay;
pub mod report;
pub mod run;
pub mod scenario;
pub mod strategy;
pub mod summary;
pub mod sweep;
pub mod trace_event;
pub mod workload;

pub use error::Error;
