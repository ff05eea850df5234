//! `parallel-branch`: the LoRA branch needs only x, so the cluster computes (X A) B of batch k
//! as soon as x_k has arrived (and it has finished batch k-1), concurrently with the tile's
//! X W; it adds when both are ready. Cluster order per batch: branch, then add. Double
//! buffered like `pipelined`.

use super::{Costs, LinearJob, Strategy};
use crate::backend::LoraShape;
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
        let (cluster, cl_ep) = job.home()?;
        let mut adds: Vec<TaskId> = Vec::with_capacity(job.batches.len());
        for (k, &t) in job.batches.iter().enumerate() {
            let free: Vec<TaskId> = k
                .checked_sub(2)
                .and_then(|j| adds.get(j))
                .copied()
                .into_iter()
                .collect();
            let prev: Vec<TaskId> = k
                .checked_sub(1)
                .and_then(|j| adds.get(j))
                .copied()
                .into_iter()
                .collect();
            let cost = costs.lora(LoraShape {
                tokens: t,
                in_features: job.in_features,
                out_features: job.out_features,
                rank,
            })?;
            let xc = g.add(
                Work::Transfer {
                    src: job.src,
                    dst: cl_ep,
                    bytes: job.bytes(t, job.in_features),
                },
                job.op,
                Stage::Input,
                &[job.deps, &free].concat(),
            );
            let branch = g.add(
                Work::Cluster {
                    cluster,
                    ps: costs.ps(cost.branch_cycles),
                },
                job.op,
                Stage::Branch,
                &[&[xc][..], &prev].concat(),
            );
            let tile = job.tile_batch(g, t, &free);
            let wt = g.add(
                Work::Transfer {
                    src: job.tile_ep,
                    dst: cl_ep,
                    bytes: job.bytes(t, job.out_features),
                },
                job.op,
                Stage::Output,
                &[tile],
            );
            adds.push(g.add(
                Work::Cluster {
                    cluster,
                    ps: costs.ps(cost.add_cycles),
                },
                job.op,
                Stage::Add,
                &[branch, wt],
            ));
        }
        Ok(adds)
    }
}
