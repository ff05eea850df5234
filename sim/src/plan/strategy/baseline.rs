//! The pure-AIMC baseline: the same linear operation with its LoRA branch removed.
//!
//! Per batch k: x_k to the tile, the tile's MVMs, each column block's XW_k to the home cluster
//! (where the next operation reads it). The tile streams batch after batch; nothing waits for a
//! cluster.

use super::{Costs, LinearJob};
use crate::error::Error;
use crate::replay::{Graph, Stage, TaskId, Work};

/// Expands `job` without LoRA; returns the XW transfers.
pub fn expand(job: &LinearJob, g: &mut Graph, _costs: &mut Costs) -> Result<Vec<TaskId>, Error> {
    let (_, home_ep) = job.home()?;
    let mut out = Vec::with_capacity(job.batches.len() * job.slices.len());
    for &t in job.batches {
        let tile = job.tile_batch(g, t, &[]);
        for s in job.slices {
            out.push(g.add(
                Work::Transfer {
                    src: s.tile_ep,
                    dst: home_ep,
                    bytes: job.bytes(t, s.cols),
                },
                job.op,
                Stage::Output,
                &[tile],
            ));
        }
    }
    Ok(out)
}
