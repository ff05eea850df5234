//! `pipelined`: the AHWA-LoRA study's two-stage, token-batched pipeline. The tile computes XW
//! of batch k+1 while the cluster(s) compute (X A) B and the add of batch k. With double
//! buffering the tile may run two batches ahead of the clusters.

use super::{Costs, LinearJob, Strategy};
use crate::error::Error;
use crate::replay::{Graph, TaskId};

/// The pipelined strategy.
pub struct Pipelined;

/// The pipelined expansion (shared with `multi-cluster`, whose mapping provides more slices).
pub fn expand_pipelined(
    job: &LinearJob,
    g: &mut Graph,
    costs: &mut Costs,
) -> Result<Vec<TaskId>, Error> {
    if job.rank.is_none() {
        return super::baseline::expand(job, g, costs);
    }
    let mut done: Vec<Vec<TaskId>> = Vec::with_capacity(job.batches.len());
    let mut finals = Vec::new();
    let startups = job.startups(g, costs)?;
    for (k, &t) in job.batches.iter().enumerate() {
        // Double buffering: batch k reuses the buffers of batch k-2.
        let free: Vec<TaskId> = super::freed_by(&done, k, 2);
        let tile = job.tile_batch(g, t, &free);
        let mut this = Vec::with_capacity(job.slices.len());
        for (i, s) in job.slices.iter().enumerate() {
            let mut extra = free.clone();
            extra.extend(startups.before(i, k == 0));
            let y = job.lora_chain(g, costs, i, s, t, tile, &extra, &startups, k == 0, k)?;
            this.push(y.first);
            finals.push(job.gather(g, s, t, y)?);
        }
        done.push(this);
    }
    Ok(finals)
}

impl Strategy for Pipelined {
    fn name(&self) -> String {
        "pipelined".into()
    }

    fn buffers(&self) -> u64 {
        2
    }

    fn expand(
        &self,
        job: &LinearJob,
        g: &mut Graph,
        costs: &mut Costs,
    ) -> Result<Vec<TaskId>, Error> {
        expand_pipelined(job, g, costs)
    }
}
