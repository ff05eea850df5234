//! `multi-cluster`: pipelined, with the token batches of each tile dealt round-robin over its
//! `n` clusters (split by tokens). The mapping gives every tile n clusters; each of them holds
//! A and the tile's whole column block of B, takes batches k = m, m + n, m + 2n, ... (cluster
//! m of the tile), receives x_k and the block's XW_k, computes X_k A once, (X_k A) B and the
//! add, and sends Y_k to the home cluster. Every cluster pays its own start-up once per
//! operation (they run in parallel) and double-buffers its own batches, so the tile may run
//! up to 2n batches ahead. Splitting by output columns instead would recompute X A on every
//! cluster (it needs all of x and all of A): for a 512 x 128 layer at r = 8, X A is most of the
//! work, and two column-split clusters were only 1.07x faster than one.

use super::{Costs, JobSlice, LinearJob, Strategy};
use crate::error::Error;
use crate::replay::{Graph, TaskId};

/// The multi-cluster strategy.
pub struct MultiCluster {
    /// Clusters per tile.
    pub clusters: usize,
}

/// The clusters of each column block (the mapping's slices of one tile, in order), each with
/// the block's whole columns: the work units of a token split.
pub fn token_groups(slices: &[JobSlice]) -> Vec<Vec<JobSlice>> {
    let mut groups: Vec<Vec<JobSlice>> = Vec::new();
    for s in slices {
        match groups.last_mut() {
            Some(g) if g.first().is_some_and(|f| f.tile_ep == s.tile_ep) => g.push(*s),
            _ => groups.push(vec![*s]),
        }
    }
    for g in &mut groups {
        let cols = g.iter().map(|s| s.cols).sum();
        for s in g.iter_mut() {
            s.cols = cols;
        }
    }
    groups
}

impl Strategy for MultiCluster {
    fn name(&self) -> String {
        format!("multi-cluster({})", self.clusters)
    }

    fn buffers(&self) -> u64 {
        2
    }

    fn clusters_per_tile(&self) -> usize {
        self.clusters
    }

    fn lora_slices(&self, job: &LinearJob) -> Vec<JobSlice> {
        token_groups(job.slices).concat()
    }

    fn expand(
        &self,
        job: &LinearJob,
        g: &mut Graph,
        costs: &mut Costs,
    ) -> Result<Vec<TaskId>, Error> {
        if job.rank.is_none() {
            return super::baseline::expand(job, g, costs);
        }
        let groups = token_groups(job.slices);
        let members: Vec<JobSlice> = groups.concat();
        let n = groups.iter().map(Vec::len).max().unwrap_or(1);
        // one start-up per cluster, before its first batch
        let full = LinearJob {
            slices: &members,
            ..job.clone()
        };
        let startups = full.startups(g, costs)?;
        let mut done: Vec<Vec<TaskId>> = Vec::with_capacity(job.batches.len());
        let mut finals = Vec::new();
        for (k, &t) in job.batches.iter().enumerate() {
            // Each cluster double-buffers its own batches: batch k reuses the buffers of
            // batch k - 2n, on the same cluster.
            let free: Vec<TaskId> = super::freed_by(&done, k, 2 * n);
            let tile = job.tile_batch(g, t, &free);
            let mut this = Vec::with_capacity(groups.len());
            let mut offset = 0;
            for grp in &groups {
                let m = k % grp.len();
                let s = &grp[m];
                let (i, first) = (offset + m, k < grp.len());
                let mut extra = free.clone();
                extra.extend(startups.before(i, first));
                let y = job.lora_chain(g, costs, i, s, t, tile, &extra, &startups, first, k)?;
                this.push(y.first);
                finals.push(job.gather(g, s, t, y)?);
                offset += grp.len();
            }
            done.push(this);
        }
        Ok(finals)
    }
}
