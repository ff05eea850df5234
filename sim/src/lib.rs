//! hetsim: the system level of the heterogeneous AIMC + RISC-V simulator.
//!
//! This crate owns the command-line interface, the discrete-event engine, scenario loading,
//! schedule replay, pipeline strategies, reports and their outputs (folders: `input`, `plan`,
//! `simulate`, `results`, `output`, and `cli`/`cmd`). Components come from
//! `hetsim-models`, instruction semantics from `hetsim-isa`.

// The source tree follows the flow of a run: what it reads, how it is laid out, what
// simulates it, what it answers, how that is shown, and the command line. The re-exports keep
// one short path per module (`hetsim::run`, `hetsim::report`, ...) for users of the library.
pub mod input;
pub mod output;
pub mod plan;
pub mod results;
pub mod simulate;

pub mod cli;
pub mod cmd;
pub mod error;
pub mod fnv;
pub mod gdb;

pub use input::{checkpoint, scenario, workload};
pub use output::{diag, html, plot, profile, trace_event};
pub use plan::{mapping, strategy};
pub use results::{report, run, split, summary, sweep, switch};
pub use simulate::{
    accuracy, attn_kernel, backend, dyn_kernel, engine, lora_f16_kernel, lora_kernel, numerics,
    replay,
};

pub use error::Error;
