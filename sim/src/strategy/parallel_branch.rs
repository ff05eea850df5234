//! `parallel-branch`: the LoRA branch needs only x, so each cluster computes (X A) B of batch k
//! as soon as x_k has arrived (and it has finished batch k-1), concurrently with the tile's
//! X W; it adds when both are ready. Cluster order per batch: branch, then add. Double
//! buffered like `pipelined`.

use super::{Costs, LinearJob, Strategy};
use crate::error::Error;
use crate::replay::{Graph, Stage, TaskId, Work};

/// The parallel-branch strategy.
pub struct ParallelBranch;

impl Strategy for ParallelBranch {
    fn name(&self) -> String {
        "parallel-branch".into()
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
        let Some(rank) = job.rank else {
            return super::baseline::expand(job, g, costs);
        };
        let n = job.slices.len();
        // adds[k][s]: the add task of batch k on slice s.
        let mut adds: Vec<Vec<TaskId>> = Vec::with_capacity(job.batches.len());
        let mut finals = Vec::new();
        let startups = job.startups(g, costs, rank)?;
        for (k, &t) in job.batches.iter().enumerate() {
            let free: Vec<TaskId> = k
                .checked_sub(2)
                .and_then(|j| adds.get(j))
                .cloned()
                .unwrap_or_default();
            let prev: Vec<TaskId> = k
                .checked_sub(1)
                .and_then(|j| adds.get(j))
                .cloned()
                .unwrap_or_default();
            let mut branches = Vec::with_capacity(n);
            let mut costs_k = Vec::with_capacity(n);
            for (i, s) in job.slices.iter().enumerate() {
                let cost = costs.lora(job.shape(t, s, rank))?;
                let mut d = job.deps.to_vec();
                d.extend(free.get(i));
                let xc = g.add(
                    Work::Transfer {
                        src: job.src,
                        dst: s.cluster_ep,
                        bytes: job.bytes(t, job.in_features),
                    },
                    job.op,
                    Stage::Input,
                    &d,
                );
                let mut d = vec![xc];
                d.extend(prev.get(i));
                d.extend(startups.before(i, k == 0));
                branches.push(g.add(
                    Work::Cluster {
                        cluster: s.cluster,
                        ps: costs.ps(cost.branch_cycles),
                    },
                    job.op,
                    Stage::Branch,
                    &d,
                ));
                costs_k.push(cost);
            }
            let tile = job.tile_batch(g, t, &free);
            let mut this = Vec::with_capacity(n);
            for ((s, &br), cost) in job.slices.iter().zip(&branches).zip(&costs_k) {
                let wt = g.add(
                    Work::Transfer {
                        src: s.tile_ep,
                        dst: s.cluster_ep,
                        bytes: job.bytes(t, s.cols),
                    },
                    job.op,
                    Stage::Output,
                    &[tile],
                );
                let add = g.add(
                    Work::Cluster {
                        cluster: s.cluster,
                        ps: costs.ps(cost.add_cycles),
                    },
                    job.op,
                    Stage::Add,
                    &[br, wt],
                );
                this.push(add);
                finals.push(job.gather(g, s, t, add)?);
            }
            adds.push(this);
        }
        Ok(finals)
    }
}
