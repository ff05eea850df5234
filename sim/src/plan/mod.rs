//! How the workload is laid on the hardware: the `mapping` (tiles, clusters, slices, row-block
//! chains, endpoints) and the pipeline `strategy` that turns each linear operation into tile,
//! transfer and cluster tasks.

pub mod mapping;
pub mod strategy;
