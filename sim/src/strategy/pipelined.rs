//! `pipelined`: the AHWA-LoRA study's two-stage, token-batched pipeline. The tile computes XW
//! of batch k+1 while the cluster computes (X A) B and the add of batch k. With double
//! buffering the tile may run two batches ahead of the cluster.

use super::{Costs, LinearJob, Strategy};
use crate::backend::LoraShape;
use crate::error::Error;
use crate::replay::{Graph, Stage, TaskId, Work};

/// The pipelined strategy.
pub struct Pipelined;

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
        let Some(rank) = job.rank else {
            return super::baseline::expand(job, g, costs);
        };
        let (cluster, cl_ep) = job.home()?;
        let mut done: Vec<TaskId> = Vec::with_capacity(job.batches.len());
        for (k, &t) in job.batches.iter().enumerate() {
            // Double buffering: batch k reuses the buffer of batch k-2.
            let free: Vec<TaskId> = k
                .checked_sub(2)
                .and_then(|j| done.get(j))
                .copied()
                .into_iter()
                .collect();
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
            let xc = g.add(
                Work::Transfer {
                    src: job.src,
                    dst: cl_ep,
                    bytes: job.bytes(t, job.in_features),
                },
                job.op,
                Stage::Input,
                &[&[tile][..], &free].concat(),
            );
            let cost = costs.lora(LoraShape {
                tokens: t,
                in_features: job.in_features,
                out_features: job.out_features,
                rank,
            })?;
            done.push(g.add(
                Work::Cluster {
                    cluster,
                    ps: costs.ps(cost.cycles),
                },
                job.op,
                Stage::Lora,
                &[wt, xc],
            ));
        }
        Ok(done)
    }
}
