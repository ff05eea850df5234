//! Pipeline strategies (DESIGN.md section 6): how one linear operation with a LoRA branch is
//! turned into tile, transfer and cluster tasks, token batch by token batch.
//!
//! Each strategy is a small module implementing [`Strategy`] over the same task graph
//! (`crate::replay`); none touches a component model. Adding a strategy means adding a module
//! and a [`StrategyChoice`] variant. The pure-AIMC
//! [`baseline`] (LoRA removed) is expanded the same way for every strategy.
//!
//! Common rules: the tokens are split into batches of `t` (the last may be smaller); x of every
//! batch is available when the operation's inputs are done (the producer's output is complete);
//! a tile MVM batch takes `tokens x tile latency per token` (all tiles of the matrix in
//! lockstep, one task); the LoRA work is split into slices by output columns (one per column
//! block of the matrix, see `mapping::Slice`), each on its cluster, which receives x and its
//! columns of XW and sends its columns of Y to the home cluster; a slice of a matrix with
//! several row blocks runs along its chain of row-block clusters instead
//! ([`LinearJob::lora_chain`]: each receives its rows of x and the running Y, the last sends
//! Y home), each segment double-buffered on its own; the clusters keep two batches of
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
use std::cell::RefCell;
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
    /// Input features of each row block of the matrix (`mapping::OpPlace::row_rows`).
    pub row_rows: &'a [usize],
    /// Per slice (same order as `slices`), the cluster and endpoint of each row block's tile in
    /// the slice's column: the chain its LoRA work runs along (empty or one entry: the slice's
    /// cluster does it all).
    pub chains: &'a [Vec<(u32, Endpoint)>],
    /// Cluster tasks already added per (slice, chain segment), for the segments' double
    /// buffering ([`LinearJob::lora_chain`]).
    pub history: RefCell<BTreeMap<(usize, usize), Vec<TaskId>>>,
}

/// One slice's LoRA of one batch along its chain ([`LinearJob::lora_chain`]).
#[derive(Debug, Clone, Copy)]
pub struct ChainTasks {
    /// The first segment's cluster task (it holds the batch's XW buffer).
    pub first: TaskId,
    /// The last segment's cluster task (Y is complete after it).
    pub last: TaskId,
    /// Where Y is then.
    pub last_ep: Endpoint,
}

impl ChainTasks {
    /// The chain so far (`prev`) extended by `task` at `ep`.
    fn then(prev: Option<ChainTasks>, task: TaskId, ep: Endpoint) -> ChainTasks {
        ChainTasks {
            first: prev.map_or(task, |p| p.first),
            last: task,
            last_ep: ep,
        }
    }

    /// The whole chain (an error if it has no segment, which the mapping never gives).
    fn whole(chain: Option<ChainTasks>) -> Result<ChainTasks, Error> {
        chain.ok_or_else(|| Error::Mapping("internal: LoRA slice without a segment".into()))
    }
}

impl LinearJob<'_> {
    /// The home cluster and its endpoint.
    pub fn home(&self) -> Result<(u32, Endpoint), Error> {
        self.slices
            .first()
            .map(|s| (s.cluster, s.cluster_ep))
            .ok_or_else(|| Error::Mapping("internal: linear operation without a cluster".into()))
    }

    /// The segments of slice `i` (`s`): (cluster, endpoint, input features) per row block of
    /// its chain, or the slice's own cluster with all the input features when it has no chain.
    pub fn segments(&self, i: usize, s: &JobSlice) -> Vec<(u32, Endpoint, usize)> {
        match self.chains.get(i) {
            Some(c) if c.len() > 1 && c.len() == self.row_rows.len() => c
                .iter()
                .zip(self.row_rows)
                .map(|(&(cl, ep), &rows)| (cl, ep, rows))
                .collect(),
            _ => vec![(s.cluster, s.cluster_ep, self.in_features)],
        }
    }

    /// Records `task` as the newest of (slice `i`, segment `k`); returns the task two before
    /// it there, whose buffers it reuses (double buffering).
    fn buffer(&self, i: usize, k: usize, task: Option<TaskId>) -> Option<TaskId> {
        let mut h = self.history.borrow_mut();
        let v = h.entry((i, k)).or_default();
        if let Some(t) = task {
            v.push(t);
            return None;
        }
        v.len().checked_sub(2).map(|j| v[j])
    }

    /// The newest cluster task of (slice `i`, segment `k`), if any.
    fn latest(&self, i: usize, k: usize) -> Option<TaskId> {
        self.history
            .borrow()
            .get(&(i, k))
            .and_then(|v| v.last().copied())
    }

    /// Adds slice `i`'s (`s`) LoRA of one batch of `tokens` after the batch's `tile` task,
    /// along its chain of row blocks (module doc): segment 0 receives XW from the tile, each
    /// later one the running Y from the one before (a transfer when the clusters differ, stage
    /// `Partial`), and each receives its row block's x (the first after `extra` too, the later
    /// ones after the task two batches back on their segment); each segment's cluster task
    /// costs the backend's LoRA of (tokens, its input features, the slice's columns, `rank`)
    /// and waits for its start-up on its first batch (`first`).
    #[allow(clippy::too_many_arguments)]
    pub fn lora_chain(
        &self,
        g: &mut Graph,
        costs: &mut Costs,
        i: usize,
        s: &JobSlice,
        tokens: usize,
        tile: TaskId,
        extra: &[TaskId],
        startups: &Startups,
        first: bool,
    ) -> Result<ChainTasks, Error> {
        let rank = self.rank.unwrap_or(0);
        let mut done: Option<ChainTasks> = None;
        for (k, (cluster, ep, rows)) in self.segments(i, s).into_iter().enumerate() {
            let cost = costs.lora(self.segment_shape(tokens, rows, s, rank))?;
            let y_in = self.y_in(g, s, tokens, ep, tile, done);
            let mut d = vec![tile];
            if k == 0 {
                d.extend_from_slice(extra);
            } else {
                d.extend(self.buffer(i, k, None));
                d.extend(startups.segment(i, k, first));
            }
            let xc = self.x_to(g, tokens, rows, ep, &d);
            let task = g.add(
                Work::Cluster {
                    cluster,
                    ps: costs.ps(cost.cycles),
                },
                self.op,
                Stage::Lora,
                &[y_in, xc],
            );
            self.buffer(i, k, Some(task));
            done = Some(ChainTasks::then(done, task, ep));
        }
        ChainTasks::whole(done)
    }

    /// LoRA shape of a batch of `tokens` on a segment of `rows` input features of slice `s`.
    fn segment_shape(&self, tokens: usize, rows: usize, s: &JobSlice, rank: usize) -> LoraShape {
        LoraShape {
            tokens,
            in_features: rows,
            out_features: s.cols,
            rank,
        }
    }

    /// Moves `tokens` rows of `rows` input features of x (a segment's, or all for the tile) to
    /// `ep` after `deps`.
    fn x_to(
        &self,
        g: &mut Graph,
        tokens: usize,
        rows: usize,
        ep: Endpoint,
        deps: &[TaskId],
    ) -> TaskId {
        g.add(
            Work::Transfer {
                src: self.src,
                dst: ep,
                bytes: self.bytes(tokens, rows),
            },
            self.op,
            Stage::Input,
            deps,
        )
    }

    /// What brings slice `s`'s running Y (of `tokens`) to the segment at `ep`: for the first
    /// segment (`prev` None) XW from the tile after `tile` (stage `Output`), else the previous
    /// segment's Y, moved (stage `Partial`) unless it is already at `ep`.
    fn y_in(
        &self,
        g: &mut Graph,
        s: &JobSlice,
        tokens: usize,
        ep: Endpoint,
        tile: TaskId,
        prev: Option<ChainTasks>,
    ) -> TaskId {
        let (src, stage, after) = match prev {
            None => (s.tile_ep, Stage::Output, tile),
            Some(p) if p.last_ep == ep => return p.last,
            Some(p) => (p.last_ep, Stage::Partial, p.last),
        };
        g.add(
            Work::Transfer {
                src,
                dst: ep,
                bytes: self.bytes(tokens, s.cols),
            },
            self.op,
            stage,
            &[after],
        )
    }

    /// The cold start of each slice's clusters for this operation (`Stage::Startup`, once per
    /// operation): per slice and chain segment, a cluster task of the backend's
    /// `startup_cycles` for the first batch's shape on that segment, after the operation's
    /// inputs (none when the cost has no start-up); the segment's first cluster task waits for
    /// it ([`Startups::before`], [`Startups::segment`]).
    pub fn startups(
        &self,
        g: &mut Graph,
        costs: &mut Costs,
        rank: usize,
    ) -> Result<Startups, Error> {
        let Some(&t) = self.batches.first() else {
            return Ok(Startups(vec![Vec::new(); self.slices.len()]));
        };
        let mut out = Vec::with_capacity(self.slices.len());
        for (i, s) in self.slices.iter().enumerate() {
            let mut segs = Vec::new();
            for (cluster, _, rows) in self.segments(i, s) {
                let cost = costs.lora(self.segment_shape(t, rows, s, rank))?;
                segs.push((cost.startup_cycles > 0).then(|| {
                    g.add(
                        Work::Cluster {
                            cluster,
                            ps: costs.ps(cost.startup_cycles),
                        },
                        self.op,
                        Stage::Startup,
                        self.deps,
                    )
                }));
            }
            out.push(segs);
        }
        Ok(Startups(out))
    }

    /// Moves slice `s`'s part of Y (complete after `y`, on its chain's last cluster) to the
    /// home cluster; returns the task to wait for (`y.last` itself when Y is at home).
    pub fn gather(
        &self,
        g: &mut Graph,
        s: &JobSlice,
        tokens: usize,
        y: ChainTasks,
    ) -> Result<TaskId, Error> {
        let (_, home) = self.home()?;
        if y.last_ep == home {
            return Ok(y.last);
        }
        Ok(g.add(
            Work::Transfer {
                src: y.last_ep,
                dst: home,
                bytes: self.bytes(tokens, s.cols),
            },
            self.op,
            Stage::Gather,
            &[y.last],
        ))
    }

    /// Bytes of `tokens` rows of `features` activations.
    pub fn bytes(&self, tokens: usize, features: usize) -> u64 {
        (tokens * features) as u64 * self.element_bytes
    }

    /// Adds the x transfer to the tile and the tile task of one batch.
    pub fn tile_batch(&self, g: &mut Graph, tokens: usize, extra: &[TaskId]) -> TaskId {
        let xt = self.x_to(g, tokens, self.in_features, self.tile_ep, self.deps);
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

/// The start-up tasks of an operation's slices ([`LinearJob::startups`]), by slice index and
/// chain segment.
pub struct Startups(Vec<Vec<Option<TaskId>>>);

impl Startups {
    /// What slice `i`'s (first segment's) cluster task waits for besides its data: its start-up
    /// when the task is the first that cluster runs for the operation (`first`), nothing
    /// otherwise.
    pub fn before(&self, i: usize, first: bool) -> Option<TaskId> {
        self.segment(i, 0, first)
    }

    /// The same for segment `k` of slice `i`'s chain.
    pub fn segment(&self, i: usize, k: usize, first: bool) -> Option<TaskId> {
        self.0
            .get(i)
            .and_then(|s| s.get(k))
            .copied()
            .flatten()
            .filter(|_| first)
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
