//! `sequential`: per token batch, tile MVMs, then the transfer of XW, then the cluster's LoRA
//! branch and add; batch k+1 starts only when batch k is done (no overlap).

use super::{Costs, LinearJob, Strategy};
use crate::backend::LoraShape;
use crate::error::Error;
use crate::replay::{Graph, Stage, TaskId, Work};

/// The sequential strategy.
pub struct Sequential;

impl Strategy for Sequential {
    fn name(&self) -> String {
        "sequential".into()
    }

    fn buffers(&self) -> u64 {
        1
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
        let mut prev: Vec<TaskId> = Vec::new();
        for &t in job.batches {
            // x_k to the tile waits for the previous batch's cluster work.
            let xt = g.add(
                Work::Transfer {
                    src: job.src,
                    dst: job.tile_ep,
                    bytes: job.bytes(t, job.in_features),
                },
                job.op,
                Stage::Input,
                &[job.deps, &prev].concat(),
            );
            let tile = g.add(
                Work::Tile {
                    tile: job.tile,
                    ps: job.tile_ps_per_token * t as u64,
                },
                job.op,
                Stage::Tile,
                &[xt],
            );
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
                &[tile],
            );
            let cost = costs.lora(LoraShape {
                tokens: t,
                in_features: job.in_features,
                out_features: job.out_features,
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
            prev = vec![cl];
        }
        Ok(prev)
    }
}
