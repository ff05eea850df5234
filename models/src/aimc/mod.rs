//! Analog in-memory computing (AIMC) crossbar tile model.
//!
//! This module owns the numerical and timing model of PCM crossbar tiles: the tile
//! configuration ([`TileConfig`], RON presets in `models/presets/`), programming a weight matrix
//! onto one or more tiles ([`AnalogMatrix::program`]) with clipping, differential conductance
//! mapping, programming noise and drift exponents, evaluation at an inference time
//! ([`AnalogMatrix::mvm`]) with drift, 1/f read noise, drift compensation, DAC, output noise,
//! ADC and bound management, the memory-mapped device face a cluster drives ([`AimcMmio`]),
//! accuracy reports against the ideal f32 product ([`accuracy_report`]) and f32 `.npy` I/O.
//! It does not own the cluster, the interconnect or any scheduling: latencies are returned,
//! never waited for. The tile's timing rule is one pure function, [`mvm_latency`], used by the
//! tile model and the system replay alike. Formulas, defaults and sources: `docs/aimc.md`.
//!
//! All randomness comes from ChaCha8 streams derived from (seed, tile index, purpose), so a
//! given configuration, weight matrix and call sequence always gives the same bits.

mod analog;
mod config;
mod crossbar;
mod error;
mod matrix;
pub mod mmio;
mod npy;
pub mod pcm;
mod report;
mod rng;

pub use analog::{mvm_latency, AnalogMatrix, Latency, MappingReport, TileUse};
pub use config::{
    BoundManagement, Clipping, ConverterConfig, DriftCompensation, MappingConfig, NoiseModel,
    PcmConfig, ReadNoiseRedraw, Realise, Scaling, TileConfig, TransferConfig, WeightNoiseConfig,
    MAX_DIM,
};
pub use error::{AimcError, Result};
pub use matrix::{reference_mvm, Matrix};
pub use mmio::AimcMmio;
pub use npy::{
    npy_limit, read_npy, read_npy_bytes, read_npy_limited, write_npy, NPY_HEADER_ROOM,
    NPY_MAX_VALUES,
};
pub use report::{
    accuracy_report, format_duration, parse_duration, AccuracyReport, AccuracyRow, REPORT_TIMES_S,
};
pub use rng::derive_seed;
