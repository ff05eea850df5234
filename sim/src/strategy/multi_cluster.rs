//! `multi-cluster`: pipelined, with the LoRA work of one tile split by output columns over `n`
//! clusters. Cluster j receives x_k and its slice of XW_k (`ceil`-balanced columns), computes
//! X A (redundantly: every slice needs it) and its columns of (X A) B and the add, then sends
//! its slice of Y to the home cluster (cluster 0 of the group). Double buffered.

use super::{Costs, LinearJob, Strategy};
use crate::backend::LoraShape;
use crate::error::Error;
use crate::replay::{Graph, Stage, TaskId, Work};

/// The multi-cluster strategy.
pub struct MultiCluster {
    /// Clusters per tile.
    pub clusters: usize,
}

/// Columns of slice `j` when `out` columns are split over `n` clusters (the first
/// `out mod n` slices get one more).
pub fn slice_cols(out: usize, n: usize, j: usize) -> usize {
    let n = n.max(1);
    out / n + usize::from(j < out % n)
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

    fn expand(
        &self,
        job: &LinearJob,
        g: &mut Graph,
        costs: &mut Costs,
    ) -> Result<Vec<TaskId>, Error> {
        let Some(rank) = job.rank else {
            return super::baseline::expand(job, g, costs);
        };
        let (_, home_ep) = job.home()?;
        let n = job.clusters.len().min(job.cluster_eps.len()).max(1);
        let mut done: Vec<Vec<TaskId>> = Vec::with_capacity(job.batches.len());
        let mut finals = Vec::new();
        for (k, &t) in job.batches.iter().enumerate() {
            let free: Vec<TaskId> = k
                .checked_sub(2)
                .and_then(|j| done.get(j))
                .cloned()
                .unwrap_or_default();
            let tile = job.tile_batch(g, t, &free);
            let mut this = Vec::with_capacity(n);
            for (j, (&cluster, &ep)) in job.clusters.iter().zip(job.cluster_eps).enumerate().take(n)
            {
                let cols = slice_cols(job.out_features, n, j);
                if cols == 0 {
                    continue;
                }
                let wt = g.add(
                    Work::Transfer {
                        src: job.tile_ep,
                        dst: ep,
                        bytes: job.bytes(t, cols),
                    },
                    job.op,
                    Stage::Output,
                    &[tile],
                );
                let xc = g.add(
                    Work::Transfer {
                        src: job.src,
                        dst: ep,
                        bytes: job.bytes(t, job.in_features),
                    },
                    job.op,
                    Stage::Input,
                    &[&[tile][..], &free].concat(),
                );
                let cost = costs.lora(LoraShape {
                    tokens: t,
                    in_features: job.in_features,
                    out_features: cols,
                    rank,
                })?;
                let cl = g.add(
                    Work::Cluster {
                        cluster,
                        ps: costs.ps(cost.cycles),
                    },
                    job.op,
                    Stage::Lora,
                    &[wt, xc],
                );
                this.push(cl);
                if j > 0 {
                    finals.push(g.add(
                        Work::Transfer {
                            src: ep,
                            dst: home_ep,
                            bytes: job.bytes(t, cols),
                        },
                        job.op,
                        Stage::Gather,
                        &[cl],
                    ));
                } else {
                    finals.push(cl);
                }
            }
            done.push(this);
        }
        Ok(finals)
    }
}
