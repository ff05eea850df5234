//! `sequential`: per token batch, tile MVMs, then the transfers, then the clusters' LoRA branch
//! and add (and the gather of Y); batch k+1 starts only when batch k is done (no overlap).

use super::{Costs, LinearJob, Strategy};
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
        if job.rank.is_none() {
            return super::baseline::expand(job, g, costs);
        }
        let mut prev: Vec<TaskId> = Vec::new();
        let startups = job.startups(g, costs)?;
        for (k, &t) in job.batches.iter().enumerate() {
            // x_k to the tile waits for the previous batch to be completely done.
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
            let mut this = Vec::with_capacity(job.slices.len());
            for (i, s) in job.slices.iter().enumerate() {
                let extra = startups.before(i, k == 0);
                let y = job.lora_chain(
                    g,
                    costs,
                    i,
                    s,
                    t,
                    tile,
                    extra.as_slice(),
                    &startups,
                    k == 0,
                    k,
                )?;
                this.push(job.gather(g, s, t, y)?);
            }
            prev = this;
        }
        Ok(prev)
    }
}
