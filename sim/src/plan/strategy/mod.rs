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
//! columns of XW and sends its columns of Y to the home cluster. For a matrix with several row
//! blocks, either the partial X A is reduced ([`LinearJob::reduces`], the default): per batch
//! each row block's `X_k s A_k` is computed once on a reducer cluster
//! ([`LinearJob::partial_h`]) and every slice's cluster sums the partials into its Y; or each
//! slice runs along its chain of row-block clusters ([`LinearJob::lora_chain`]: each receives
//! its rows of x and the running Y, the last sends Y home). Every work unit ([`Unit`]) is
//! double-buffered on its own; the clusters keep two batches of
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
use hetsim_models::energy::{ClusterActivity, EnergyConfig};
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
    /// The row blocks share the LoRA by the partial X A reduction
    /// (`scenario::RowBlocks::ReduceXA`, [`LinearJob::partial_h`]) rather than by passing Y
    /// down each slice's chain.
    pub reduce: bool,
    /// Cluster tasks already added per buffer owner, for double buffering
    /// ([`LinearJob::lora_chain`]).
    pub history: RefCell<BTreeMap<Buf, Vec<TaskId>>>,
    /// The reduction's partial-H tasks and their endpoints per (member position, batch
    /// index), so the slices of a batch share them ([`LinearJob::partial_h`]).
    pub partials: RefCell<BTreeMap<(usize, usize), Partials>>,
}

/// The partial-H tasks of one batch's reduction and where each partial is
/// ([`LinearJob::partial_h`]).
pub type Partials = Vec<(TaskId, Endpoint)>;

/// Who owns a cluster task's batch buffers (double buffering, [`Startups`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Buf {
    /// Segment `k` of slice `i`'s chain (`k` = 0 also for a reduction's final `H B` stage).
    Slice(usize, usize),
    /// Row block `k` of the partial X A reduction of the slices at member position `p`
    /// (`Partial(p, k)`).
    Partial(usize, usize),
}

/// One cluster's share of a slice's LoRA per batch ([`LinearJob::units`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// Whose buffers and start-up it uses.
    pub buf: Buf,
    /// The cluster.
    pub cluster: u32,
    /// Its endpoint.
    pub ep: Endpoint,
    /// The LoRA call it makes.
    pub shape: LoraShape,
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

    /// Whether the row blocks share the LoRA by the partial X A reduction: asked for
    /// ([`LinearJob::reduce`]) and the matrix has several row blocks with a chain per slice.
    pub fn reduces(&self) -> bool {
        self.reduce
            && self.row_rows.len() > 1
            && self.chains.len() == self.slices.len()
            && self.chains.iter().all(|c| c.len() == self.row_rows.len())
    }

    /// Slice `i`'s member position: how many slices of the same tile come before it (0 unless
    /// a strategy gives a tile several clusters, as `MultiCluster` does).
    fn position(&self, i: usize) -> usize {
        let Some(me) = self.slices.get(i) else {
            return 0;
        };
        self.slices[..i]
            .iter()
            .filter(|s| s.tile_ep == me.tile_ep)
            .count()
    }

    /// The first slice at member position `p` (it owns the reduction's start-ups).
    fn lead(&self, p: usize) -> usize {
        (0..self.slices.len())
            .find(|&j| self.position(j) == p)
            .unwrap_or(0)
    }

    /// Where the partial X A reduction of the slices at member position `p` runs: row block
    /// k's `X_k s A_k` on the k-th cluster of the list of their chains' clusters below the
    /// first row (row 1 of every column, then row 2, ...), so that it does not queue behind
    /// the columns' final `H B` stages on the first row's clusters; the first row's clusters
    /// complete the list when there are fewer clusters below it than row blocks (one column).
    /// (cluster, endpoint, input features) per row block.
    pub fn reducers(&self, p: usize) -> Vec<(u32, Endpoint, usize)> {
        let cols: Vec<usize> = (0..self.slices.len())
            .filter(|&j| self.position(j) == p)
            .collect();
        let rows = self.row_rows.len();
        let mut list: Vec<(u32, Endpoint)> = Vec::new();
        for k in 1..rows {
            list.extend(cols.iter().filter_map(|&j| self.chains[j].get(k).copied()));
        }
        if list.len() < rows {
            list.extend(cols.iter().filter_map(|&j| self.chains[j].first().copied()));
        }
        list.iter()
            .zip(self.row_rows)
            .map(|(&(c, ep), &r)| (c, ep, r))
            .collect()
    }

    /// The cluster tasks slice `i` (`s`) adds per batch of `tokens` (for start-ups and the
    /// TCDM footprint): its chain's segments, or with the reduction its final `H B` stage,
    /// preceded by the reduction's row blocks when it leads its member position.
    pub fn units(&self, i: usize, s: &JobSlice, tokens: usize) -> Vec<Unit> {
        let rank = self.rank.unwrap_or(0);
        if !self.reduces() {
            return self
                .segments(i, s)
                .into_iter()
                .enumerate()
                .map(|(k, (cluster, ep, rows))| Unit {
                    buf: Buf::Slice(i, k),
                    cluster,
                    ep,
                    shape: self.segment_shape(tokens, rows, s, rank),
                })
                .collect();
        }
        let p = self.position(i);
        let mut out = Vec::new();
        if self.lead(p) == i {
            for (k, (cluster, ep, rows)) in self.reducers(p).into_iter().enumerate() {
                out.push(Unit {
                    buf: Buf::Partial(p, k),
                    cluster,
                    ep,
                    shape: partial_shape(tokens, rows, rank),
                });
            }
        }
        out.push(Unit {
            buf: Buf::Slice(i, 0),
            cluster: s.cluster,
            ep: s.cluster_ep,
            shape: final_shape(tokens, s.cols, rank, self.row_rows.len()),
        });
        out
    }

    /// The partial X A reduction of one batch (index `batch`, `tokens`) for the slices at
    /// member position `p`, added once and shared by them: on each reducer
    /// ([`LinearJob::reducers`]) a cluster task (stage `stage`) computing the partial
    /// `H_k = X_k s A_k` (tokens x rank) after its rows of x (sent after `after`), the
    /// reducer's task two batches back and its start-up (on the position's first batch,
    /// `first`). The reducers work in parallel; each slice's final stage sums their partials
    /// ([`final_shape`]). The backend runs a partial as a LoRA call of in = the row block,
    /// out = rank, with B the identity and XW zero. Returns each partial's task and endpoint.
    #[allow(clippy::too_many_arguments)]
    pub fn partial_h(
        &self,
        g: &mut Graph,
        costs: &mut Costs,
        p: usize,
        batch: usize,
        tokens: usize,
        after: &[TaskId],
        stage: Stage,
        startups: &Startups,
        first: bool,
    ) -> Result<Partials, Error> {
        if let Some(h) = self.partials.borrow().get(&(p, batch)) {
            return Ok(h.clone());
        }
        let rank = self.rank.unwrap_or(0);
        let mut out = Vec::new();
        for (k, (cluster, ep, rows)) in self.reducers(p).into_iter().enumerate() {
            let buf = Buf::Partial(p, k);
            let cost = costs.lora(partial_shape(tokens, rows, rank))?;
            let mut d = after.to_vec();
            d.extend(self.buffer(buf, None));
            d.extend(startups.get(buf, first));
            let xc = self.x_to(g, tokens, rows, ep, &d);
            let task = g.add(
                Work::Cluster {
                    cluster,
                    ps: costs.ps(cost.cycles),
                },
                self.op,
                stage,
                &[xc],
            );
            g.set_energy(task, costs.batch_energy_j(&cost, cost.cycles));
            self.buffer(buf, Some(task));
            out.push((task, ep));
        }
        self.partials.borrow_mut().insert((p, batch), out.clone());
        Ok(out)
    }

    /// Brings the partials `hs` of a batch of `tokens` to `to` (a transfer each, stage
    /// `Partial`, unless one is already there); returns what to wait for.
    fn partials_to(
        &self,
        g: &mut Graph,
        tokens: usize,
        hs: &[(TaskId, Endpoint)],
        to: Endpoint,
    ) -> Vec<TaskId> {
        hs.iter()
            .map(|&(t, from)| self.move_h(g, tokens, from, to, t))
            .collect()
    }

    /// What brings H (`tokens` x rank, complete after `after` at `from`) to `to`: a transfer
    /// (stage `Partial`), or `after` itself when it is already there.
    fn move_h(
        &self,
        g: &mut Graph,
        tokens: usize,
        from: Endpoint,
        to: Endpoint,
        after: TaskId,
    ) -> TaskId {
        if from == to {
            return after;
        }
        g.add(
            Work::Transfer {
                src: from,
                dst: to,
                bytes: self.bytes(tokens, self.rank.unwrap_or(0)),
            },
            self.op,
            Stage::Partial,
            &[after],
        )
    }

    /// Records `task` as the newest of `buf`'s; returns the task two before it there, whose
    /// buffers it reuses (double buffering).
    fn buffer(&self, buf: Buf, task: Option<TaskId>) -> Option<TaskId> {
        let mut h = self.history.borrow_mut();
        let v = h.entry(buf).or_default();
        if let Some(t) = task {
            v.push(t);
            return None;
        }
        v.len().checked_sub(2).map(|j| v[j])
    }

    /// The newest cluster task of `buf`'s, if any.
    fn latest(&self, buf: Buf) -> Option<TaskId> {
        self.history
            .borrow()
            .get(&buf)
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
        batch: usize,
    ) -> Result<ChainTasks, Error> {
        let rank = self.rank.unwrap_or(0);
        if self.reduces() {
            // the shared reduction after the tile, then this slice's H B + XW
            let p = self.position(i);
            let hs = self.partial_h(
                g,
                costs,
                p,
                batch,
                tokens,
                &[tile],
                Stage::Lora,
                startups,
                first,
            )?;
            let cost = costs.lora(final_shape(tokens, s.cols, rank, hs.len()))?;
            let mut d = self.partials_to(g, tokens, &hs, s.cluster_ep);
            d.push(self.xw_to(g, s, tokens, &[&[tile], extra].concat()));
            let task = g.add(
                Work::Cluster {
                    cluster: s.cluster,
                    ps: costs.ps(cost.cycles),
                },
                self.op,
                Stage::Lora,
                &d,
            );
            g.set_energy(task, costs.batch_energy_j(&cost, cost.cycles));
            self.buffer(Buf::Slice(i, 0), Some(task));
            return Ok(ChainTasks::then(None, task, s.cluster_ep));
        }
        let mut done: Option<ChainTasks> = None;
        for (k, (cluster, ep, rows)) in self.segments(i, s).into_iter().enumerate() {
            let cost = costs.lora(self.segment_shape(tokens, rows, s, rank))?;
            let y_in = self.y_in(g, s, tokens, ep, tile, done);
            let mut d = vec![tile];
            if k == 0 {
                d.extend_from_slice(extra);
            } else {
                d.extend(self.buffer(Buf::Slice(i, k), None));
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
            g.set_energy(task, costs.batch_energy_j(&cost, cost.cycles));
            self.buffer(Buf::Slice(i, k), Some(task));
            done = Some(ChainTasks::then(done, task, ep));
        }
        ChainTasks::whole(done)
    }

    /// Moves slice `s`'s XW (`tokens` rows) from its tile to its cluster after `deps`
    /// (stage `Output`).
    fn xw_to(&self, g: &mut Graph, s: &JobSlice, tokens: usize, deps: &[TaskId]) -> TaskId {
        g.add(
            Work::Transfer {
                src: s.tile_ep,
                dst: s.cluster_ep,
                bytes: self.bytes(tokens, s.cols),
            },
            self.op,
            Stage::Output,
            deps,
        )
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
    /// operation): per work unit ([`LinearJob::units`]: chain segment, reduction row block or
    /// final stage), a cluster task of the backend's `startup_cycles` for the first batch's
    /// shape, after the operation's inputs (none when the cost has no start-up); the unit's
    /// first cluster task waits for it ([`Startups::before`], [`Startups::get`]).
    pub fn startups(&self, g: &mut Graph, costs: &mut Costs) -> Result<Startups, Error> {
        let mut out = BTreeMap::new();
        let Some(&t) = self.batches.first() else {
            return Ok(Startups(out));
        };
        for (i, s) in self.slices.iter().enumerate() {
            for u in self.units(i, s, t) {
                let cost = costs.lora(u.shape)?;
                if cost.startup_cycles > 0 {
                    let task = g.add(
                        Work::Cluster {
                            cluster: u.cluster,
                            ps: costs.ps(cost.startup_cycles),
                        },
                        self.op,
                        Stage::Startup,
                        self.deps,
                    );
                    g.set_energy(task, costs.startup_energy_j(&cost));
                    out.insert(u.buf, task);
                }
            }
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

/// The start-up tasks of an operation's work units ([`LinearJob::startups`]), by buffer
/// owner.
pub struct Startups(BTreeMap<Buf, TaskId>);

impl Startups {
    /// What slice `i`'s (first segment's or final stage's) cluster task waits for besides its
    /// data: its start-up when the task is the first that cluster runs for the operation
    /// (`first`), nothing otherwise.
    pub fn before(&self, i: usize, first: bool) -> Option<TaskId> {
        self.segment(i, 0, first)
    }

    /// The same for segment `k` of slice `i`'s chain.
    pub fn segment(&self, i: usize, k: usize, first: bool) -> Option<TaskId> {
        self.get(Buf::Slice(i, k), first)
    }

    /// The same for any work unit.
    pub fn get(&self, buf: Buf, first: bool) -> Option<TaskId> {
        self.0.get(&buf).copied().filter(|_| first)
    }
}

/// The LoRA call of one row block of the partial X A reduction: `rows` input features, out =
/// rank (B is the identity, XW zero): the partial `H_k = X_k s A_k`.
pub fn partial_shape(tokens: usize, rows: usize, rank: usize) -> LoraShape {
    LoraShape {
        tokens,
        in_features: rows,
        out_features: rank,
        rank,
    }
}

/// The LoRA call of a reduction's final stage on a slice of `cols` columns that sums
/// `partials` partial H: x is the partials side by side (tokens x partials * rank), A the
/// identities stacked (so X A is their sum), scale 1: `Y = XW + (sum_k H_k) B`.
pub fn final_shape(tokens: usize, cols: usize, rank: usize, partials: usize) -> LoraShape {
    LoraShape {
        tokens,
        in_features: rank * partials,
        out_features: cols,
        rank,
    }
}

/// Cluster costs for strategies: the backend's answers in picoseconds, memoised by shape
/// (backends are deterministic in the shape; the analytic model's cost is data-independent,
/// tested in `backend::analytic`).
pub struct Costs<'a> {
    backend: &'a mut dyn ClusterBackend,
    clock: ClockDomain,
    cache: BTreeMap<LoraShape, ClusterCost>,
    energy: EnergyConfig,
}

impl<'a> Costs<'a> {
    /// Wraps a backend (energies from the default preset).
    pub fn new(backend: &'a mut dyn ClusterBackend) -> Self {
        Self::with_energy(backend, &EnergyConfig::default())
    }

    /// Wraps a backend; cluster task energies from `energy`.
    pub fn with_energy(backend: &'a mut dyn ClusterBackend, energy: &EnergyConfig) -> Self {
        let clock = backend.clock();
        Self {
            backend,
            clock,
            cache: BTreeMap::new(),
            energy: energy.clone(),
        }
    }

    /// Dynamic energy (everything but leakage, which the system charges over its whole time)
    /// in J of `part` of the cycles of activity `a`: the energy model on `a`, times
    /// `part / a.cycles`.
    pub fn energy_j(&self, a: &ClusterActivity, part: u64) -> f64 {
        if a.cycles == 0 {
            return 0.0;
        }
        let e = self.energy.cluster_energy(a, self.clock.ghz()).dynamic_j();
        e * part as f64 / a.cycles as f64
    }

    /// Dynamic energy of a LoRA cost's `part` of its per-batch cycles.
    pub fn batch_energy_j(&self, c: &ClusterCost, part: u64) -> f64 {
        self.energy_j(&c.activity, part)
    }

    /// Dynamic energy of a LoRA cost's start-up.
    pub fn startup_energy_j(&self, c: &ClusterCost) -> f64 {
        self.energy_j(&c.startup_activity, c.startup_activity.cycles)
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

/// The tasks of batch `k - back` recorded in `done` (none for the first `back` batches): the
/// tasks whose buffers batch `k` reuses when `back` batches are in flight per buffer set.
fn freed_by(done: &[Vec<TaskId>], k: usize, back: usize) -> Vec<TaskId> {
    k.checked_sub(back)
        .and_then(|j| done.get(j))
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
