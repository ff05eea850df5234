//! Pipeline strategies (DESIGN.md section 6): how one linear operation with a LoRA branch is
//! turned into tile, transfer and cluster tasks, token batch by token batch.
//!
//! Each strategy is a small module implementing [`Strategy`] over the same task graph
//! (`crate::replay`); none touches a component model. Adding a strategy means adding a module
//! and a [`StrategyChoice`](crate::scenario::StrategyChoice) variant. The pure-AIMC
//! [`baseline`] (LoRA removed) is expanded the same way for every strategy.
//!
//! Common rules: the tokens are split into batches of `t` (the last may be smaller); x of every
//! batch is available when the operation's inputs are done (the producer's output is complete);
//! a tile MVM batch takes `tokens x tile latency per token` (all tiles of the matrix in
//! lockstep, one task); the LoRA work is split into slices by output columns (one per column
//! block of the matrix, see `mapping::Slice`), each on its cluster, which receives x and its
//! columns of XW and sends its columns of Y to the home cluster; the clusters keep two batches of
//! buffers (double buffering) unless the strategy says otherwise, so the tile may run at most
//! two batches ahead of the clusters. A backend's start-up cycles (a persistent kernel's cold
//! start, `ClusterCost::startup_cycles`) are charged once per operation on each of its
//! clusters ([`LinearJob::startups`]): a `Stage::Startup` task that starts when the operation's
//! inputs are ready (concurrently with the tile's first batch) and that the slice's first
//! cluster task waits for.

pub mod baseline;
pub mod multi_cluster;
pub mod parallel_branch;
pub mod pipelined;
pub mod sequential;

use crate::backend::{ClusterBackend, ClusterCost, LoraShape};
use crate::engine::{ClockDomain, Time};
use crate::error::Error;
use crate::replay::{Graph, Stage, TaskId, Work};
use crate::scenario::StrategyChoice;
use hetsim_models::interconnect::Endpoint;
use std::collections::BTreeMap;

/// A share of the LoRA work (see `mapping::Slice`) with its endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSlice {
    /// Endpoint of the tile producing these columns of XW.
    pub tile_ep: Endpoint,
    /// The cluster.
    pub cluster: u32,
    /// Its endpoint.
    pub cluster_ep: Endpoint,
    /// Output columns.
    pub cols: usize,
}

/// One linear operation to expand.
#[derive(Debug, Clone)]
pub struct LinearJob<'a> {
    /// Operation record index (tags every task).
    pub op: u32,
    /// Tokens of each batch.
    pub batches: &'a [usize],
    /// The tile (first tile of the matrix; all its tiles work in parallel).
    pub tile: u32,
    /// The tile's endpoint.
    pub tile_ep: Endpoint,
    /// The LoRA work by output columns (the first slice's cluster is the home, where Y is
    /// gathered and the next operation reads it).
    pub slices: &'a [JobSlice],
    /// Where x comes from.
    pub src: Endpoint,
    /// Rows of W.
    pub in_features: usize,
    /// Columns of W.
    pub out_features: usize,
    /// Bytes per activation element on the interconnect.
    pub element_bytes: u64,
    /// Tile time of one token's MVM, ps: the tile's timing rule with the operation's mean
    /// bound-management passes per MVM (`run::tile_ns_per_token`).
    pub tile_ps_per_token: Time,
    /// LoRA rank (`None`: no LoRA, the baseline expansion is used).
    pub rank: Option<usize>,
    /// Tasks the input depends on.
    pub deps: &'a [TaskId],
}

impl LinearJob<'_> {
    /// The home cluster and its endpoint.
    pub fn home(&self) -> Result<(u32, Endpoint), Error> {
        self.slices
            .first()
            .map(|s| (s.cluster, s.cluster_ep))
            .ok_or_else(|| Error::Mapping("internal: linear operation without a cluster".into()))
    }

    /// Adds, after the batch's `tile` task, slice `s`'s XW transfer, x transfer (also after
    /// `extra`) and its LoRA + add task of `ps`; returns the cluster task.
    pub fn slice_lora(
        &self,
        g: &mut Graph,
        s: &JobSlice,
        tokens: usize,
        tile: TaskId,
        extra: &[TaskId],
        ps: Time,
    ) -> TaskId {
        let wt = g.add(
            Work::Transfer {
                src: s.tile_ep,
                dst: s.cluster_ep,
                bytes: self.bytes(tokens, s.cols),
            },
            self.op,
            Stage::Output,
            &[tile],
        );
        let mut d = vec![tile];
        d.extend_from_slice(extra);
        let xc = g.add(
            Work::Transfer {
                src: self.src,
                dst: s.cluster_ep,
                bytes: self.bytes(tokens, self.in_features),
            },
            self.op,
            Stage::Input,
            &d,
        );
        g.add(
            Work::Cluster {
                cluster: s.cluster,
                ps,
            },
            self.op,
            Stage::Lora,
            &[wt, xc],
        )
    }

    /// The cold start of each slice's cluster for this operation (`Stage::Startup`, once per
    /// operation): a cluster task of the backend's `startup_cycles` for the first batch's shape,
    /// after the operation's inputs, one per slice (none when the cost has no start-up); the
    /// slice's first cluster task waits for it ([`Startups::before`]).
    pub fn startups(
        &self,
        g: &mut Graph,
        costs: &mut Costs,
        rank: usize,
    ) -> Result<Startups, Error> {
        let Some(&t) = self.batches.first() else {
            return Ok(Startups(vec![None; self.slices.len()]));
        };
        let mut out = Vec::with_capacity(self.slices.len());
        for s in self.slices {
            let cost = costs.lora(self.shape(t, s, rank))?;
            out.push((cost.startup_cycles > 0).then(|| {
                g.add(
                    Work::Cluster {
                        cluster: s.cluster,
                        ps: costs.ps(cost.startup_cycles),
                    },
                    self.op,
                    Stage::Startup,
                    self.deps,
                )
            }));
        }
        Ok(Startups(out))
    }

    /// Moves slice `s`'s part of Y (after `task`) to the home cluster; returns the task to wait
    /// for (`task` itself when the slice is at home).
    pub fn gather(
        &self,
        g: &mut Graph,
        s: &JobSlice,
        tokens: usize,
        task: TaskId,
    ) -> Result<TaskId, Error> {
        let (_, home) = self.home()?;
        if s.cluster_ep == home {
            return Ok(task);
        }
        Ok(g.add(
            Work::Transfer {
                src: s.cluster_ep,
                dst: home,
                bytes: self.bytes(tokens, s.cols),
            },
            self.op,
            Stage::Gather,
            &[task],
        ))
    }

    /// LoRA shape of a batch of `tokens` for slice `s`.
    pub fn shape(&self, tokens: usize, s: &JobSlice, rank: usize) -> LoraShape {
        LoraShape {
            tokens,
            in_features: self.in_features,
            out_features: s.cols,
            rank,
        }
    }

    /// Bytes of `tokens` rows of `features` activations.
    pub fn bytes(&self, tokens: usize, features: usize) -> u64 {
        (tokens * features) as u64 * self.element_bytes
    }

    /// Adds the x transfer to the tile and the tile task of one batch.
    pub fn tile_batch(&self, g: &mut Graph, tokens: usize, extra: &[TaskId]) -> TaskId {
        let xt = g.add(
            Work::Transfer {
                src: self.src,
                dst: self.tile_ep,
                bytes: self.bytes(tokens, self.in_features),
            },
            self.op,
            Stage::Input,
            self.deps,
        );
        let mut d = vec![xt];
        d.extend_from_slice(extra);
        g.add(
            Work::Tile {
                tile: self.tile,
                ps: self.tile_ps_per_token * tokens as Time,
            },
            self.op,
            Stage::Tile,
            &d,
        )
    }
}

/// The start-up tasks of an operation's slices ([`LinearJob::startups`]), by slice index.
pub struct Startups(Vec<Option<TaskId>>);

impl Startups {
    /// What slice `i`'s cluster task waits for besides its data: its start-up when the task is
    /// the first that cluster runs for the operation (`first`), nothing otherwise.
    pub fn before(&self, i: usize, first: bool) -> Option<TaskId> {
        self.0.get(i).copied().flatten().filter(|_| first)
    }
}

/// Cluster costs for strategies: the backend's answers in picoseconds, memoised by shape
/// (backends are deterministic in the shape; the analytic model's cost is data-independent,
/// tested in `backend::analytic`).
pub struct Costs<'a> {
    backend: &'a mut dyn ClusterBackend,
    clock: ClockDomain,
    cache: BTreeMap<LoraShape, ClusterCost>,
}

impl<'a> Costs<'a> {
    /// Wraps a backend.
    pub fn new(backend: &'a mut dyn ClusterBackend) -> Self {
        let clock = backend.clock();
        Self {
            backend,
            clock,
            cache: BTreeMap::new(),
        }
    }

    /// Cost of a LoRA task.
    pub fn lora(&mut self, shape: LoraShape) -> Result<ClusterCost, Error> {
        if let Some(c) = self.cache.get(&shape) {
            return Ok(*c);
        }
        let c = self.backend.lora_cost(&shape)?;
        self.cache.insert(shape, c);
        Ok(c)
    }

    /// Cycles of the cluster clock in ps (rounded up).
    pub fn ps(&self, cycles: u64) -> Time {
        self.clock.cycles_to_ps(cycles)
    }

    /// The backend.
    pub fn backend(&mut self) -> &mut dyn ClusterBackend {
        self.backend
    }
}

/// A pipeline strategy.
pub trait Strategy {
    /// Report name.
    fn name(&self) -> String;
    /// Batch buffers the cluster holds at once (for the TCDM footprint).
    fn buffers(&self) -> u64;
    /// Clusters per tile the mapping must provide (the LoRA work of a tile is split over
    /// them).
    fn clusters_per_tile(&self) -> usize {
        1
    }
    /// The LoRA work units of `job` as this strategy runs them (one per cluster and shape;
    /// for the TCDM footprint): the mapping's column slices unless the strategy regroups them.
    fn lora_slices(&self, job: &LinearJob) -> Vec<JobSlice> {
        job.slices.to_vec()
    }
    /// Expands `job` (with LoRA) into tasks; returns the tasks a consumer must wait for.
    fn expand(
        &self,
        job: &LinearJob,
        g: &mut Graph,
        costs: &mut Costs,
    ) -> Result<Vec<TaskId>, Error>;
}

/// The strategy a scenario names.
pub fn for_choice(c: StrategyChoice) -> Box<dyn Strategy> {
    match c {
        StrategyChoice::Sequential => Box::new(sequential::Sequential),
        StrategyChoice::Pipelined => Box::new(pipelined::Pipelined),
        StrategyChoice::ParallelBranch => Box::new(parallel_branch::ParallelBranch),
        StrategyChoice::MultiCluster(n) => Box::new(multi_cluster::MultiCluster { clusters: n }),
    }
}

/// Splits `tokens` into batches of `t` (the last may be smaller).
pub fn batches(tokens: usize, t: usize) -> Vec<usize> {
    let t = t.max(1);
    (0..tokens.div_ceil(t))
        .map(|k| t.min(tokens - k * t))
        .collect()
}

#[cfg(test)]
mod tests;
