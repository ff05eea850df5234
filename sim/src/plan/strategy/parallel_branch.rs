//! `parallel-branch`: the LoRA branch needs only x, so each cluster computes (X A) B of batch k
//! as soon as x_k has arrived (and it has finished batch k-1), concurrently with the tile's
//! X W; it adds when both are ready. Cluster order per batch: branch, then add. Double
//! buffered like `pipelined`. With the partial X A reduction (`LinearJob::reduces`) the
//! reduction needs only x too, so it runs as branch work as soon as x has arrived; each
//! slice's final stage then sums the partial H and computes H B once they have arrived
//! (branch) and adds it to XW (add).

use super::{Buf, ChainTasks, Costs, LinearJob, Startups, Strategy};
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
        if job.reduces() {
            let startups = job.startups(g, costs)?;
            return expand_reduced(job, g, costs, &startups, rank);
        }
        let n = job.slices.len();
        // adds[k][s]: the first segment's add task of batch k on slice s.
        let mut adds: Vec<Vec<TaskId>> = Vec::with_capacity(job.batches.len());
        let mut finals = Vec::new();
        let startups = job.startups(g, costs)?;
        for (k, &t) in job.batches.iter().enumerate() {
            let free: Vec<TaskId> = super::freed_by(&adds, k, 2);
            // per slice, per segment of its chain: (cluster, endpoint, branch task, cost)
            let mut branches = Vec::with_capacity(n);
            for (i, s) in job.slices.iter().enumerate() {
                let mut segs = Vec::new();
                for (q, (cluster, ep, rows)) in job.segments(i, s).into_iter().enumerate() {
                    let cost = costs.lora(job.segment_shape(t, rows, s, rank))?;
                    // the segment's adds so far: the last orders this branch after it, the
                    // one before frees the buffers it reuses
                    let mut d = job.deps.to_vec();
                    d.extend(job.buffer(Buf::Slice(i, q), None));
                    let xc = job.x_to(g, t, rows, ep, &d);
                    let mut d = vec![xc];
                    d.extend(job.latest(Buf::Slice(i, q)));
                    d.extend(startups.segment(i, q, k == 0));
                    let br = g.add(
                        Work::Cluster {
                            cluster,
                            ps: costs.ps(cost.branch_cycles),
                        },
                        job.op,
                        Stage::Branch,
                        &d,
                    );
                    g.set_energy(br, costs.batch_energy_j(&cost, cost.branch_cycles));
                    segs.push((cluster, ep, br, cost));
                }
                branches.push(segs);
            }
            let tile = job.tile_batch(g, t, &free);
            let mut this = Vec::with_capacity(n);
            for (i, (s, segs)) in job.slices.iter().zip(&branches).enumerate() {
                let mut y: Option<ChainTasks> = None;
                for (q, &(cluster, ep, br, cost)) in segs.iter().enumerate() {
                    let y_in = job.y_in(g, s, t, ep, tile, y);
                    let add = g.add(
                        Work::Cluster {
                            cluster,
                            ps: costs.ps(cost.add_cycles),
                        },
                        job.op,
                        Stage::Add,
                        &[br, y_in],
                    );
                    g.set_energy(add, costs.batch_energy_j(&cost, cost.add_cycles));
                    job.buffer(Buf::Slice(i, q), Some(add));
                    y = Some(ChainTasks::then(y, add, ep));
                }
                let y = ChainTasks::whole(y)?;
                this.push(y.first);
                finals.push(job.gather(g, s, t, y)?);
            }
            adds.push(this);
        }
        Ok(finals)
    }
}

/// Parallel-branch with the partial X A reduction (module doc): per batch, the shared
/// reduction as branch work after x, then per slice the branch `H B` after H (and after the
/// slice's previous add; its buffers are those of the add two batches back), the tile's XW
/// and the add.
fn expand_reduced(
    job: &LinearJob,
    g: &mut Graph,
    costs: &mut Costs,
    startups: &Startups,
    rank: usize,
) -> Result<Vec<TaskId>, Error> {
    let mut adds: Vec<Vec<TaskId>> = Vec::with_capacity(job.batches.len());
    let mut finals = Vec::new();
    for (k, &t) in job.batches.iter().enumerate() {
        let free: Vec<TaskId> = super::freed_by(&adds, k, 2);
        let mut branches = Vec::with_capacity(job.slices.len());
        for (i, s) in job.slices.iter().enumerate() {
            let p = job.position(i);
            let hs = job.partial_h(g, costs, p, k, t, job.deps, Stage::Branch, startups, k == 0)?;
            let cost = costs.lora(super::final_shape(t, s.cols, rank, hs.len()))?;
            let mut d = job.partials_to(g, t, &hs, s.cluster_ep);
            d.extend(job.buffer(Buf::Slice(i, 0), None));
            d.extend(job.latest(Buf::Slice(i, 0)));
            d.extend(startups.before(i, k == 0));
            let br = g.add(
                Work::Cluster {
                    cluster: s.cluster,
                    ps: costs.ps(cost.branch_cycles),
                },
                job.op,
                Stage::Branch,
                &d,
            );
            g.set_energy(br, costs.batch_energy_j(&cost, cost.branch_cycles));
            branches.push((br, cost));
        }
        let tile = job.tile_batch(g, t, &free);
        let mut this = Vec::with_capacity(job.slices.len());
        for (i, (s, &(br, cost))) in job.slices.iter().zip(&branches).enumerate() {
            let xw = job.xw_to(g, s, t, &[tile]);
            let add = g.add(
                Work::Cluster {
                    cluster: s.cluster,
                    ps: costs.ps(cost.add_cycles),
                },
                job.op,
                Stage::Add,
                &[br, xw],
            );
            g.set_energy(add, costs.batch_energy_j(&cost, cost.add_cycles));
            job.buffer(Buf::Slice(i, 0), Some(add));
            this.push(add);
            finals.push(job.gather(g, s, t, ChainTasks::then(None, add, s.cluster_ep))?);
        }
        adds.push(this);
    }
    Ok(finals)
}
