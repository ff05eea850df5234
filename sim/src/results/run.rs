//! Running a scenario: every sweep combination is replayed (hybrid under its strategy, and the
//! pure-AIMC baseline) and measured into report rows.
//!
//! This module builds the whole model's task graph (every layer instance, every operation), runs
//! it on the engine (`crate::replay`) and aggregates task times per operation, per layer
//! instance and for the model. Operations wait for their operands to be complete (an operation
//! boundary is a barrier); operations without a dependency between them run concurrently on
//! their own tiles and clusters, sharing the interconnect.

use crate::backend::{self, ClusterBackend, LoraShape};
use crate::engine::{ns_to_ps, ps_to_ns, Time};
use crate::error::Error;
use crate::mapping::{piece_shape, Mapping, L2};
use crate::numerics::{self, NumericsResult, TilePasses};
use crate::replay::{execute, Graph, Stage, TaskId, Timing, Work};
use crate::report::{Report, Row};
use crate::scenario::{Combination, DynamicMapping, Loaded, RowBlocks};
use crate::split::{Part, Split};
use crate::strategy::{self, baseline, Costs, JobSlice, LinearJob, Strategy};
use crate::workload::{OpKind, BLOCK_INPUT};
use hetsim_models::aimc::{mvm_latency, TileConfig};
use hetsim_models::interconnect::{Endpoint, Interconnect};
use std::collections::BTreeMap;

/// Tile time charged to one token's MVM of a linear operation of `in x out`, ns: the tile
/// model's rule ([`mvm_latency`], written only there) over the MVMs the numerics ran for this
/// operation and the analog passes they took, divided by the number of MVMs. Every token is
/// thus charged the operation's mean passes per MVM, and the operation's tile time over the
/// sample equals the tile model's. Without a count (`numerics: None`, or an instance beyond
/// `numerics.max_instances`) every MVM is charged one pass; with bound management off the tile
/// model counts one pass per MVM anyway.
pub fn tile_ns_per_token(
    cfg: &TileConfig,
    in_features: usize,
    out_features: usize,
    counted: Option<TilePasses>,
) -> f64 {
    let c = counted
        .filter(|c| c.mvms > 0)
        .unwrap_or(TilePasses { mvms: 1, passes: 1 });
    mvm_latency(cfg, in_features, out_features, c.mvms, c.passes).total_ns() / c.mvms as f64
}

/// Power of the tile group of a linear operation of `in_features x out_features` while it
/// integrates, W: each tile block's power at the rows and columns the operation uses
/// (`hetsim_models::energy::AimcEnergy::mvm_power`; unused converters and rows draw nothing).
pub fn group_power_w(
    energy: &hetsim_models::energy::EnergyConfig,
    tile: &TileConfig,
    in_features: usize,
    out_features: usize,
) -> f64 {
    let (rows, cols) = (tile.rows.max(1), tile.cols.max(1));
    let mut w = 0.0;
    for r0 in (0..in_features).step_by(rows) {
        for c0 in (0..out_features).step_by(cols) {
            let (r, c) = (rows.min(in_features - r0), cols.min(out_features - c0));
            w += energy
                .aimc
                .mvm_power(r, c, tile.dac.bits, tile.adc.bits)
                .total_w();
        }
    }
    w
}

/// An operation instance in a built graph.
#[derive(Debug, Clone)]
struct OpRec {
    inst: usize,
    op: usize,
    clusters: usize,
    batches: usize,
    tcdm: u64,
    /// Mean analog passes per MVM charged to a linear operation's tiles (`None`: dynamic).
    passes: Option<f64>,
    /// Power of the operation's tile group while it integrates, W (0 for dynamic operations).
    tile_w: f64,
    /// Tiles in the operation's group.
    tiles: u32,
}

/// Operation tag of the final write-back to L2 (no operation record).
const WRITE_BACK: u32 = u32::MAX;

/// What an operation left behind: the tasks to wait for, where its output lives, its shape.
type Produced = (Vec<TaskId>, Endpoint, (usize, usize));

struct Built {
    graph: Graph,
    ops: Vec<OpRec>,
}

/// Measured quantities of one operation or instance.
#[derive(Debug, Clone, Copy, Default)]
struct Agg {
    begin: Time,
    end: Time,
    tile: Time,
    cluster: Time,
    /// Part of `cluster` spent on cold starts (`Stage::Startup`).
    startup: Time,
    transfer: Time,
    out_transfer: Time,
    /// Energy of the tiles' MVMs, J.
    tile_j: f64,
    /// Dynamic energy of the cluster tasks, J.
    cluster_j: f64,
    /// Energy of the transfers (links and L2 accesses), J.
    noc_j: f64,
    /// Part of `cluster_j` of LoRA tasks (every cluster stage but `Dynamic`), J.
    lora_j: f64,
    seen: bool,
}

impl Agg {
    fn latency(&self) -> Time {
        self.end.saturating_sub(self.begin)
    }
    /// Energy of the tasks in scope (tiles, cluster tasks, transfers), J.
    fn energy_j(&self) -> f64 {
        self.tile_j + self.cluster_j + self.noc_j
    }
    fn merge(&mut self, o: &Agg) {
        if !o.seen {
            return;
        }
        if self.seen {
            self.begin = self.begin.min(o.begin);
            self.end = self.end.max(o.end);
        } else {
            self.begin = o.begin;
            self.end = o.end;
        }
        self.tile += o.tile;
        self.cluster += o.cluster;
        self.startup += o.startup;
        self.transfer += o.transfer;
        self.out_transfer += o.out_transfer;
        self.tile_j += o.tile_j;
        self.cluster_j += o.cluster_j;
        self.noc_j += o.noc_j;
        self.lora_j += o.lora_j;
        self.seen = true;
    }
}

/// The dynamic operations' cost queries [`build`] makes, in its order: per layer instance and
/// operation, the operation (operand shapes from their producers) or, when the mapping splits
/// it over clusters, each piece.
fn dynamic_requests(loaded: &Loaded, mapping: &Mapping) -> Vec<backend::DynRequest> {
    let sched = &loaded.schedule;
    let mut reqs = Vec::new();
    let mut prev_shape = (sched.seq_len, sched.input_features);
    for inst in &mapping.instances {
        let Some(block) = sched.blocks.get(inst.block) else {
            break;
        };
        let mut shapes: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        shapes.insert(BLOCK_INPUT, prev_shape);
        for (op, place) in block.ops.iter().zip(&inst.ops) {
            if !matches!(op.kind, OpKind::Linear { .. }) {
                let ins: Vec<(usize, usize)> = op
                    .inputs
                    .iter()
                    .filter_map(|i| shapes.get(i.as_str()).copied())
                    .collect();
                if place.pieces.len() > 1 {
                    for piece in &place.pieces {
                        reqs.push(piece_shape(&op.kind, &ins, op.out, piece.units));
                    }
                } else {
                    reqs.push((op.kind.clone(), ins, op.out));
                }
            }
            shapes.insert(&op.name, op.out);
            prev_shape = op.out;
        }
    }
    reqs
}

#[allow(clippy::too_many_arguments)]
fn build(
    loaded: &Loaded,
    mapping: &Mapping,
    strategy: Option<&dyn Strategy>,
    tile_cfg: &TileConfig,
    t: usize,
    num: Option<&NumericsResult>,
    costs: &mut Costs,
) -> Result<Built, Error> {
    costs
        .backend()
        .prefetch_dynamic(&dynamic_requests(loaded, mapping))?;
    let sched = &loaded.schedule;
    let eb = loaded.scenario.element_bytes();
    let batches = strategy::batches(sched.seq_len, t);
    let mut g = Graph::default();
    let mut recs: Vec<OpRec> = Vec::new();
    let mut prev_finals: Vec<TaskId> = Vec::new();
    let mut prev_loc: Endpoint = L2;
    let mut prev_shape = (sched.seq_len, sched.input_features);
    for (ii, inst) in mapping.instances.iter().enumerate() {
        let block = sched
            .blocks
            .get(inst.block)
            .ok_or_else(|| Error::Mapping("internal: block index".into()))?;
        // Per op of this instance: (record index, location endpoint).
        let mut done: BTreeMap<&str, Produced> = BTreeMap::new();
        done.insert(BLOCK_INPUT, (prev_finals.clone(), prev_loc, prev_shape));
        let mut last: Option<(Vec<TaskId>, Endpoint)> = None;
        for (oi, (op, place)) in block.ops.iter().zip(&inst.ops).enumerate() {
            let rec = recs.len() as u32;
            let mut deps: Vec<TaskId> = Vec::new();
            let mut srcs: Vec<(Endpoint, Vec<TaskId>, (usize, usize))> = Vec::new();
            for i in &op.inputs {
                let (f, loc, shape) = done
                    .get(i.as_str())
                    .ok_or_else(|| Error::Mapping(format!("internal: operand {i}")))?;
                deps.extend_from_slice(f);
                srcs.push((*loc, f.clone(), *shape));
            }
            let home_ep = mapping.cluster_ep(place.home);
            let mut passes = None;
            let mut tile_w = 0.0;
            let (finals, tcdm) = match op.kind {
                OpKind::Linear {
                    in_features,
                    out_features,
                    lora,
                } => {
                    let src = srcs.first().map_or(L2, |s| s.0);
                    let slices: Vec<JobSlice> = place
                        .slices
                        .iter()
                        .map(|s| JobSlice {
                            tile_ep: mapping.tile_ep(s.tile),
                            cluster: s.cluster,
                            cluster_ep: mapping.cluster_ep(s.cluster),
                            cols: s.cols,
                        })
                        .collect();
                    let chains: Vec<Vec<(u32, Endpoint)>> = place
                        .chains
                        .iter()
                        .map(|c| c.iter().map(|&cl| (cl, mapping.cluster_ep(cl))).collect())
                        .collect();
                    let counted = num.and_then(|n| n.op_passes.get(&(ii, oi)).copied());
                    passes = Some(counted.map_or(1.0, |c| c.mean()));
                    tile_w = group_power_w(
                        &loaded.scenario.hardware.energy,
                        tile_cfg,
                        in_features,
                        out_features,
                    );
                    let tile_ps = ns_to_ps(tile_ns_per_token(
                        tile_cfg,
                        in_features,
                        out_features,
                        counted,
                    ))
                    .ok_or_else(|| Error::Mapping("tile latency out of range".into()))?;
                    let job = LinearJob {
                        op: rec,
                        batches: &batches,
                        tile: place.first_tile,
                        tile_ep: mapping.tile_ep(place.first_tile),
                        slices: &slices,
                        src,
                        in_features,
                        out_features,
                        element_bytes: eb,
                        tile_ps_per_token: tile_ps,
                        rank: strategy.and(lora).map(|l| l.rank),
                        deps: &deps,
                        row_rows: &place.row_rows,
                        chains: &chains,
                        reduce: loaded.scenario.mapping.row_blocks == RowBlocks::ReduceXA,
                        history: Default::default(),
                        partials: Default::default(),
                    };
                    let mut tcdm = 0;
                    let f = match (strategy, lora) {
                        (Some(s), Some(_)) => {
                            // Peak over the strategy's work units (chain segments, reduction
                            // row blocks, final stages), for the largest batch.
                            let t = batches.first().copied().unwrap_or(0);
                            for (i, sl) in s.lora_slices(&job).iter().enumerate() {
                                for u in job.units(i, sl, t) {
                                    let c = costs.lora(u.shape)?;
                                    tcdm = tcdm.max(c.resident_bytes + s.buffers() * c.batch_bytes);
                                }
                            }
                            s.expand(&job, &mut g, costs)?
                        }
                        _ => baseline::expand(&job, &mut g, costs)?,
                    };
                    (f, tcdm)
                }
                ref kind if place.pieces.len() > 1 => {
                    // Split over clusters (`mapping::Piece`): each piece receives its share of
                    // every operand, computes, and sends its share of the output home.
                    let ins: Vec<(usize, usize)> = srcs.iter().map(|s| s.2).collect();
                    let mut finals = Vec::with_capacity(place.pieces.len());
                    for piece in &place.pieces {
                        let (pkind, pins, pout) = piece_shape(kind, &ins, op.out, piece.units);
                        let ep = mapping.cluster_ep(piece.cluster);
                        let mut ready = Vec::new();
                        for ((loc, f, _), shape) in srcs.iter().zip(&pins) {
                            ready.push(g.add(
                                Work::Transfer {
                                    src: *loc,
                                    dst: ep,
                                    bytes: (shape.0 * shape.1) as u64 * eb,
                                },
                                rec,
                                Stage::Input,
                                f,
                            ));
                        }
                        let c = costs.backend().dynamic_cost(&pkind, &pins, pout)?;
                        let task = g.add(
                            Work::Cluster {
                                cluster: piece.cluster,
                                ps: costs.ps(c.cycles),
                            },
                            rec,
                            Stage::Dynamic,
                            &ready,
                        );
                        g.set_energy(task, costs.energy_j(&c.activity, c.cycles));
                        finals.push(g.add(
                            Work::Transfer {
                                src: ep,
                                dst: home_ep,
                                bytes: (pout.0 * pout.1) as u64 * eb,
                            },
                            rec,
                            Stage::Gather,
                            &[task],
                        ));
                    }
                    (finals, 0)
                }
                ref kind => {
                    let mut ready = Vec::new();
                    for (loc, f, shape) in &srcs {
                        ready.push(g.add(
                            Work::Transfer {
                                src: *loc,
                                dst: home_ep,
                                bytes: (shape.0 * shape.1) as u64 * eb,
                            },
                            rec,
                            Stage::Input,
                            f,
                        ));
                    }
                    let ins: Vec<(usize, usize)> = srcs.iter().map(|s| s.2).collect();
                    let c = costs.backend().dynamic_cost(kind, &ins, op.out)?;
                    let task = g.add(
                        Work::Cluster {
                            cluster: place.home,
                            ps: costs.ps(c.cycles),
                        },
                        rec,
                        Stage::Dynamic,
                        &ready,
                    );
                    g.set_energy(task, costs.energy_j(&c.activity, c.cycles));
                    (vec![task], 0)
                }
            };
            done.insert(&op.name, (finals.clone(), home_ep, op.out));
            last = Some((finals, home_ep));
            prev_shape = op.out;
            recs.push(OpRec {
                inst: ii,
                op: oi,
                clusters: place.clusters.len().max(1),
                batches: batches.len(),
                tcdm,
                passes,
                tile_w,
                tiles: place.tile_count,
            });
        }
        if let Some((f, loc)) = last {
            prev_finals = f;
            prev_loc = loc;
        }
    }
    // The model output goes back to L2 (counted in the model latency, not in any operation).
    g.add(
        Work::Transfer {
            src: prev_loc,
            dst: L2,
            bytes: (prev_shape.0 * prev_shape.1) as u64 * eb,
        },
        WRITE_BACK,
        Stage::Output,
        &prev_finals,
    );
    Ok(Built {
        graph: g,
        ops: recs,
    })
}

/// When a tile group or cluster was powered and busy (for the static energy).
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    first: Option<Time>,
    last: Time,
    /// Busy time in ps, times the tiles of the group.
    busy: f64,
    /// Tiles of the group (1 for a cluster).
    units: u32,
}

impl Window {
    fn add(&mut self, start: Time, end: Time, ps: Time, units: u32) {
        self.first = Some(self.first.map_or(start, |f| f.min(start)));
        self.last = self.last.max(end);
        self.busy += ps as f64 * f64::from(units);
        self.units = self.units.max(units);
    }

    /// Powered unit-time in ps: from the first task's start to the last task's end with
    /// power gating (none without a task), the whole `span` without.
    fn powered(&self, gate: bool, span: Time) -> f64 {
        let t = if gate {
            self.first.map_or(0, |f| self.last.saturating_sub(f))
        } else {
            span
        };
        t as f64 * f64::from(self.units.max(1))
    }

    /// Powered but idle unit-time in ps.
    fn idle(&self, gate: bool, span: Time) -> f64 {
        (self.powered(gate, span) - self.busy).max(0.0)
    }
}

struct Measured {
    ops: Vec<Agg>,
    makespan: Time,
    events: u64,
    /// Energy outside the tasks over the makespan: idle tiles, idle cluster cores and the
    /// clusters' leakage, J.
    static_j: f64,
    /// Energy of the final write-back (no operation record), J.
    write_back_j: f64,
    /// Per operation record, its latency split ([`Split`]).
    op_split: Vec<Split>,
    /// Per layer instance, its latency split.
    inst_split: Vec<Split>,
    /// The whole model's latency (the makespan) split.
    model_split: Split,
}

#[allow(clippy::too_many_arguments)]
fn measure(
    loaded: &Loaded,
    mapping: &Mapping,
    strategy: Option<&dyn Strategy>,
    tile_cfg: &TileConfig,
    t: usize,
    num: Option<&NumericsResult>,
    backend: &mut dyn ClusterBackend,
    keep: bool,
) -> Result<Measurement, Error> {
    let energy = &loaded.scenario.hardware.energy;
    let (cores, redmule) = backend.energy_shape();
    let clock_ghz = backend.clock().ghz();
    let mut costs = Costs::with_energy(backend, energy);
    let Built { mut graph, ops } = build(loaded, mapping, strategy, tile_cfg, t, num, &mut costs)?;
    let mut ic = Interconnect::new(&loaded.scenario.hardware.interconnect)?;
    mapping.place(&mut ic)?;
    let tm = execute(&mut graph, &mut ic, mapping.tiles, mapping.clusters)?;
    let mut aggs = vec![Agg::default(); ops.len()];
    // per tile group and cluster: powered window and busy time, for the static energy
    let mut tile_win = vec![Window::default(); mapping.tiles as usize];
    let mut cluster_win = vec![Window::default(); mapping.clusters as usize];
    let mut write_back_j = 0.0;
    // per operation record: its tasks' (start, end, part), for the latency splits
    let mut spans: Vec<Vec<(Time, Time, Part)>> = vec![Vec::new(); ops.len()];
    let mut loose: Vec<(Time, Time, Part)> = Vec::new();
    for (i, task) in graph.tasks.iter().enumerate() {
        let span = (tm.start[i], tm.end[i], Part::of(&task.work, task.stage));
        match spans.get_mut(task.op as usize) {
            Some(v) => v.push(span),
            None => loose.push(span),
        }
        let rec = ops.get(task.op as usize);
        let task_j = match task.work {
            Work::Tile { ps, tile } => {
                let (w, n) = rec.map_or((0.0, 1), |r| (r.tile_w, r.tiles.max(1)));
                if let Some(win) = tile_win.get_mut(tile as usize) {
                    win.add(tm.start[i], tm.end[i], ps, n);
                }
                w * ps as f64 * 1e-12
            }
            Work::Cluster { ps, cluster } => {
                if let Some(win) = cluster_win.get_mut(cluster as usize) {
                    win.add(tm.start[i], tm.end[i], ps, 1);
                }
                task.energy_j
            }
            Work::Transfer { src, dst, bytes } => {
                let l2 = u64::from(src == L2) + u64::from(dst == L2);
                energy.noc.transfer_j(bytes, tm.hops[i])
                    + (l2 * bytes) as f64 * energy.memory.sram_byte_j()
            }
        };
        let Some(a) = aggs.get_mut(task.op as usize) else {
            write_back_j += task_j;
            continue;
        };
        match task.work {
            Work::Tile { .. } => a.tile_j += task_j,
            Work::Cluster { .. } => {
                a.cluster_j += task_j;
                if task.stage != Stage::Dynamic {
                    a.lora_j += task_j;
                }
            }
            Work::Transfer { .. } => a.noc_j += task_j,
        }
        let (r, s, e) = (tm.ready[i], tm.start[i], tm.end[i]);
        if a.seen {
            a.begin = a.begin.min(r);
            a.end = a.end.max(e);
        } else {
            a.begin = r;
            a.end = e;
            a.seen = true;
        }
        match task.work {
            Work::Tile { ps, .. } => a.tile += ps,
            Work::Cluster { ps, .. } => {
                a.cluster += ps;
                if task.stage == Stage::Startup {
                    a.startup += ps;
                }
            }
            Work::Transfer { .. } => {
                a.transfer += e - s;
                if task.stage == Stage::Output {
                    a.out_transfer += e - s;
                }
            }
        }
    }
    let gate = energy.power_gating;
    let tile_idle_w = energy.aimc.idle_power_w(tile_cfg);
    let leak_w = energy.cluster_leakage_w(redmule);
    let core_idle_w = energy.cluster_idle_power_w(cores, clock_ghz, redmule) - leak_w;
    let mut static_ps_w = 0.0;
    for w in &tile_win {
        static_ps_w += tile_idle_w * w.idle(gate, tm.makespan);
    }
    for w in &cluster_win {
        static_ps_w +=
            leak_w * w.powered(gate, tm.makespan) + core_idle_w * w.idle(gate, tm.makespan);
    }
    let static_j = static_ps_w * 1e-12;
    let op_split = aggs
        .iter()
        .zip(&spans)
        .map(|(a, v)| Split::of(a.begin, a.end, v.iter().copied()))
        .collect();
    // per layer instance: its window (the merged aggregate) and its operations' spans
    let mut inst_spans = vec![(Agg::default(), Vec::new()); mapping.instances.len()];
    for ((r, g), v) in ops.iter().zip(&aggs).zip(&spans) {
        if let Some((a, all)) = inst_spans.get_mut(r.inst) {
            a.merge(g);
            all.extend_from_slice(v);
        }
    }
    let inst_split = inst_spans
        .into_iter()
        .map(|(a, all)| Split::of(a.begin, a.end, all))
        .collect();
    let model_split = Split::of(
        0,
        tm.makespan,
        spans.iter().flatten().chain(&loose).copied(),
    );
    let measured = Measured {
        ops: aggs,
        makespan: tm.makespan,
        events: tm.events,
        static_j,
        write_back_j,
        op_split,
        inst_split,
        model_split,
    };
    Ok((measured, ops, keep.then_some((graph, tm))))
}

/// What [`measure`] gives: the aggregates, the operation records and, when asked to keep them,
/// the replayed graph and its timing.
type Measurement = (Measured, Vec<OpRec>, Option<(Graph, Timing)>);

fn bound(a: &Agg, rec: &OpRec) -> &'static str {
    let b = rec.batches.max(1) as f64;
    let tile = a.tile as f64 / b;
    // per batch: the cold starts are charged once, not per batch
    let cluster = (a.cluster - a.startup) as f64 / (b * rec.clusters as f64);
    let link = a.out_transfer as f64 / b;
    if tile >= cluster && tile >= link {
        "tile"
    } else if cluster >= link {
        "cluster"
    } else {
        "link"
    }
}

fn ratio(a: Time, b: Time) -> f64 {
    if b == 0 {
        if a == 0 {
            1.0
        } else {
            f64::INFINITY
        }
    } else {
        a as f64 / b as f64
    }
}

/// Largest task graph a combination may build (about 100 bytes per task plus its edges).
pub const MAX_TASKS: u64 = 50_000_000;

/// Upper estimate of the tasks of one combination: per linear operation and batch, an input
/// transfer and a tile task, and per cluster an input, an output, a cluster and a gather task;
/// per dynamic operation its operand transfers and one cluster task.
fn estimate_tasks(loaded: &Loaded, mapping: &Mapping, t: usize, cpt: usize) -> u64 {
    let batches = loaded.schedule.seq_len.div_ceil(t.max(1)) as u64;
    let mut n = 0u64;
    for inst in &mapping.instances {
        for op in &inst.ops {
            n = n.saturating_add(if op.tile_count > 0 {
                batches.saturating_mul(2 + 4 * cpt as u64)
            } else {
                3
            });
        }
    }
    n
}

/// Checks every LoRA shape the scenario would give its backend (every adapted linear operation
/// at every swept t, per row block and column block of the tile, and at the numerics' sample
/// size per row block with the whole output) against the backend's limits ([`ClusterBackend::check_lora`]); the error
/// names the scenario field, the operation, the value and the limit. [`evaluate_numerics`]
/// (which `run`, `sweep` and the trace call before any combination) and `validate` call it
/// before anything is simulated.
pub fn check_lora_shapes(loaded: &Loaded, backend: &dyn ClusterBackend) -> Result<(), Error> {
    use crate::backend::ShapePart;
    /// One kind of LoRA call: its tokens, whether it gets the whole output (the numerics) or
    /// one column block, and the field and value that set its tokens.
    struct Call {
        tokens: usize,
        whole: bool,
        field: &'static str,
        /// How the value is shown after the field (`t = 8`, `16`).
        shown: String,
    }
    let sc = &loaded.scenario;
    let seq = loaded.schedule.seq_len;
    let cols = sc.hardware.tile.cols;
    let mut calls: Vec<Call> = sc
        .sweep
        .tokens_per_batch
        .iter()
        .map(|&t| Call {
            tokens: t.min(seq),
            whole: false,
            field: "sweep.tokens_per_batch",
            shown: format!("t = {t}"),
        })
        .collect();
    if let Some(n) = &sc.numerics {
        calls.push(Call {
            tokens: n.sample_tokens.min(seq),
            whole: true,
            field: "numerics.sample_tokens",
            shown: n.sample_tokens.to_string(),
        });
    }
    for block in &loaded.schedule.blocks {
        for op in &block.ops {
            let OpKind::Linear {
                in_features,
                out_features,
                lora: Some(l),
            } = &op.kind
            else {
                continue;
            };
            // the row blocks' input features: the LoRA runs along them (mapping::OpPlace::chains)
            // or reduces X A over them (strategy::LinearJob::partial_h)
            let rows = sc.hardware.tile.rows.max(1);
            let mut ins = vec![(*in_features).min(rows)];
            if *in_features > rows && *in_features % rows != 0 {
                ins.push(*in_features % rows);
            }
            let reduce = *in_features > rows && sc.mapping.row_blocks == RowBlocks::ReduceXA;
            for call in &calls {
                let out = if call.whole {
                    *out_features
                } else {
                    (*out_features).min(cols)
                };
                let shapes: Vec<LoraShape> = if reduce {
                    ins.iter()
                        .map(|&r| strategy::partial_shape(call.tokens, r, l.rank))
                        .chain([strategy::final_shape(
                            call.tokens,
                            out,
                            l.rank,
                            in_features.div_ceil(rows),
                        )])
                        .collect()
                } else {
                    ins.iter()
                        .map(|&r| LoraShape {
                            tokens: call.tokens,
                            in_features: r,
                            out_features: out,
                            rank: l.rank,
                        })
                        .collect()
                };
                for shape in shapes {
                    if let Err(r) = backend.check_lora(&shape) {
                        let (field, hint) = match r.part {
                            ShapePart::Tokens => (
                                call.field.to_string(),
                                "use fewer tokens per batch (or per numerics sample)".to_string(),
                            ),
                            ShapePart::Rank => (
                                "workload.lora".to_string(),
                                "use a rank the kernel takes, or `kernel: Redmule` or `Fp32`, \
                             which take any rank"
                                    .to_string(),
                            ),
                            ShapePart::Features => (
                                "workload.schedule".to_string(),
                                "use a model whose adapted layers the kernel takes, \
                             `kernel: Redmule` or `Fp32` (any shape), or \
                             `cluster_backend: Analytic(..)`"
                                    .to_string(),
                            ),
                            ShapePart::Memory => (
                                "hardware.cluster_backend.Kernel.cluster.tcdm".to_string(),
                                "give the cluster more TCDM (each core's stack takes 1 KiB of it)"
                                    .to_string(),
                            ),
                        };
                        return Err(Error::Scenario {
                            path: loaded.path.clone(),
                            field,
                            message: format!(
                            "LoRA of `{}` op `{}` (in {in_features}, out {}, rank {}){} with {} \
                             tokens from {} ({}): {}",
                            block.name,
                            op.name,
                            if reduce { *out_features } else { shape.out_features },
                            l.rank,
                            if reduce {
                                format!(
                                    ", reduced over its row blocks (mapping.row_blocks: \
                                     ReduceXA), kernel call {shape}"
                                )
                            } else {
                                String::new()
                            },
                            shape.tokens,
                            call.field,
                            call.shown,
                            r.message
                        ),
                            hint,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// Runs every combination of the scenario; returns the report.
pub fn run(loaded: &Loaded) -> Result<Report, Error> {
    let num = evaluate_numerics(loaded)?;
    let mut report = run_combinations(loaded, &loaded.combinations(), num.as_ref())?;
    report.accuracy = evaluate_accuracy(loaded)?;
    Ok(report)
}

/// The accuracy evaluation of a scenario (None without its `accuracy` section;
/// `crate::accuracy`).
pub fn evaluate_accuracy(
    loaded: &Loaded,
) -> Result<Option<crate::accuracy::AccuracyResult>, Error> {
    if loaded.scenario.accuracy.is_none() {
        return Ok(None);
    }
    let base_map = Mapping::new(&loaded.schedule, &loaded.scenario, 1)?;
    crate::accuracy::evaluate(loaded, &base_map)
}

/// The numerical-error evaluation of a scenario (None when its `numerics` is off). It does not
/// depend on the strategy, integration time or t, so a sweep computes it once per scenario.
pub fn evaluate_numerics(loaded: &Loaded) -> Result<Option<NumericsResult>, Error> {
    let mut backend = backend::build(
        &loaded.scenario.hardware.cluster_backend,
        loaded.path.parent().unwrap_or(std::path::Path::new(".")),
    )?;
    check_lora_shapes(loaded, backend.as_ref())?;
    let base_map = Mapping::new(&loaded.schedule, &loaded.scenario, 1)?;
    numerics::evaluate(loaded, &base_map, backend.as_mut())
}

/// Runs the given combinations of the scenario with an already evaluated numerics result
/// (from [`evaluate_numerics`] on the same scenario); returns their report.
pub fn run_combinations(
    loaded: &Loaded,
    combinations: &[Combination],
    num: Option<&NumericsResult>,
) -> Result<Report, Error> {
    run_combinations_with(loaded, combinations, num, &mut |_, _| ())
}

/// [`run_combinations`], calling `progress(done, total)` after each combination.
pub fn run_combinations_with(
    loaded: &Loaded,
    combinations: &[Combination],
    num: Option<&NumericsResult>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Report, Error> {
    run_observed(loaded, combinations, num, progress, &[]).map(|(r, _)| r)
}

/// [`run_combinations_with`], also keeping the hybrid graph and timing of the combinations
/// numbered `keep` (indices into `combinations`) as they were replayed for the report's rows,
/// for a trace that observes the run rather than replaying it again
/// (`crate::trace_event::system::trace_replayed`). Returned in `keep`'s order; an index
/// beyond `combinations` is left out.
pub fn run_observed(
    loaded: &Loaded,
    combinations: &[Combination],
    num: Option<&NumericsResult>,
    progress: &mut dyn FnMut(usize, usize),
    keep: &[usize],
) -> Result<(Report, Vec<(usize, Replayed)>), Error> {
    let mut kept: BTreeMap<usize, Replayed> = BTreeMap::new();
    let mut backend = backend::build(
        &loaded.scenario.hardware.cluster_backend,
        loaded.path.parent().unwrap_or(std::path::Path::new(".")),
    )?;
    let mut label = backend.label();
    let m = &loaded.scenario.mapping;
    match m.dynamic {
        DynamicMapping::OneCluster => {}
        DynamicMapping::Spread => label.push_str(
            "; dynamic operations split over each layer instance's tile clusters \
             (mapping.dynamic: Spread)",
        ),
        DynamicMapping::Dedicated => label.push_str(&format!(
            "; attention on {} dedicated cluster(s) per layer instance (mapping.dynamic: \
             Dedicated)",
            m.attention_clusters
        )),
    }
    let tcdm_cap = backend.tcdm_capacity();
    let base_map = Mapping::new(&loaded.schedule, &loaded.scenario, 1)?;
    let mut rows = Vec::new();
    let mut warnings = Vec::new();
    let mut events = 0u64;
    let mut baselines: BTreeMap<(u64, usize), (Measured, Vec<OpRec>)> = BTreeMap::new();
    let mut maps: BTreeMap<usize, Mapping> = BTreeMap::new();
    maps.insert(1, base_map.clone());
    let sched = &loaded.schedule;
    for (done, &combo) in combinations.iter().enumerate() {
        progress(done, combinations.len());
        let Combination {
            strategy: choice,
            integration_time_ns: it,
            tokens_per_batch: t,
        } = combo;
        let strat = strategy::for_choice(choice);
        let cpt = strat.clusters_per_tile();
        let tasks = estimate_tasks(loaded, &base_map, t, cpt);
        if tasks > MAX_TASKS {
            return Err(Error::Scenario {
                path: loaded.path.clone(),
                field: "sweep.tokens_per_batch".into(),
                message: format!(
                    "t = {t} with {} tokens over {} layer instances makes about {tasks} tasks \
                     (limit {MAX_TASKS})",
                    sched.seq_len,
                    base_map.instances.len()
                ),
                hint: "use larger token batches, a shorter sequence or fewer layers".into(),
            });
        }
        if let std::collections::btree_map::Entry::Vacant(e) = maps.entry(cpt) {
            e.insert(Mapping::new(sched, &loaded.scenario, cpt)?);
        }
        let mapping = maps
            .get(&cpt)
            .ok_or_else(|| Error::Mapping("internal: mapping cache".into()))?;
        let tile_cfg = TileConfig {
            integration_time_ns: it,
            ..loaded.scenario.hardware.tile.clone()
        };
        let key = (it.to_bits(), t);
        if let std::collections::btree_map::Entry::Vacant(e) = baselines.entry(key) {
            let (m, recs, _) = measure(
                loaded,
                &base_map,
                None,
                &tile_cfg,
                t,
                num,
                backend.as_mut(),
                false,
            )?;
            events += m.events;
            e.insert((m, recs));
        }
        let (base, base_recs) = baselines
            .get(&key)
            .ok_or_else(|| Error::Mapping("internal: baseline cache".into()))?;
        let (hyb, recs, replayed) = measure(
            loaded,
            mapping,
            Some(strat.as_ref()),
            &tile_cfg,
            t,
            num,
            backend.as_mut(),
            keep.contains(&done),
        )?;
        events += hyb.events;
        let name = strat.name();
        if let Some((graph, timing)) = replayed {
            kept.insert(
                done,
                Replayed {
                    graph,
                    timing,
                    ops: recs.iter().map(|r| (r.inst, r.op, r.tcdm)).collect(),
                    mapping: mapping.clone(),
                    strategy: name.clone(),
                },
            );
        }
        let mk = |scope: &str, layer: &str, op: &str, kind: &str, shape: String| Row {
            strategy: name.clone(),
            integration_time_ns: it,
            tokens_per_batch: t,
            scope: scope.into(),
            layer: layer.into(),
            op: op.into(),
            kind: kind.into(),
            shape,
            cluster_model: label.clone(),
            ..Row::default()
        };
        let mut inst_aggs: Vec<(Agg, Agg, u64)> =
            vec![(Agg::default(), Agg::default(), 0); mapping.instances.len()];
        // Per instance: linear operations (tile groups working in parallel) and clusters used.
        let scope: Vec<(u64, u64)> = mapping
            .instances
            .iter()
            .map(|i| {
                let lin = i.ops.iter().filter(|o| o.tile_count > 0).count() as u64;
                let mut cl: Vec<u32> = i
                    .ops
                    .iter()
                    .flat_map(|o| o.clusters.iter().copied())
                    .collect();
                cl.sort_unstable();
                cl.dedup();
                (lin, cl.len() as u64)
            })
            .collect();
        let mut over = 0usize;
        // op and layer rows that get a share of the static energy: (row index, the op's
        // instance or None for a layer row, hybrid and baseline aggregates, work)
        let mut shared: Vec<(usize, Option<usize>, Agg, Agg, Work2)> = Vec::new();
        let mut inst_work = vec![Work2::default(); mapping.instances.len()];
        let mut model_work = Work2::default();
        for (k, rec) in recs.iter().enumerate() {
            let (Some(h), Some(b), Some(brec)) =
                (hyb.ops.get(k), base.ops.get(k), base_recs.get(k))
            else {
                continue;
            };
            debug_assert_eq!((brec.inst, brec.op), (rec.inst, rec.op));
            let inst = &mapping.instances[rec.inst];
            let Some(op) = sched.blocks.get(inst.block).and_then(|b| b.ops.get(rec.op)) else {
                continue;
            };
            if let Some(ia) = inst_aggs.get_mut(rec.inst) {
                ia.0.merge(h);
                ia.1.merge(b);
                ia.2 = ia.2.max(rec.tcdm);
            }
            let shape = match op.kind {
                OpKind::Linear {
                    in_features,
                    out_features,
                    ..
                } => format!("{in_features}x{out_features}"),
                _ => format!("{}x{}", op.out.0, op.out.1),
            };
            let work = op_work(&op.kind, sched.seq_len);
            if let Some(w) = inst_work.get_mut(rec.inst) {
                *w = w.add(&work);
            }
            model_work = model_work.add(&work);
            let mut row = mk("op", &inst.name, &op.name, op.kind.label(), shape);
            fill_energy(&mut row, h, b, &work);
            shared.push((rows.len(), Some(rec.inst), *h, *b, work));
            let lat = h.latency().max(1);
            row.tile_ns = ps_to_ns(h.tile);
            row.tile_passes = rec.passes;
            row.cluster_ns = ps_to_ns(h.cluster);
            row.cluster_startup_ns = ps_to_ns(h.startup);
            row.transfer_ns = ps_to_ns(h.transfer);
            row.hybrid_ns = ps_to_ns(h.latency());
            row.baseline_ns = ps_to_ns(b.latency());
            row.overhead = ratio(h.latency(), b.latency());
            row.bound = if matches!(op.kind, OpKind::Linear { .. }) {
                bound(h, rec).into()
            } else {
                "cluster".into()
            };
            row.tile_util = h.tile as f64 / lat as f64;
            row.cluster_util = h.cluster as f64 / (lat as f64 * rec.clusters as f64);
            row.tcdm_peak_bytes = rec.tcdm;
            row.tcdm_over = rec.tcdm > tcdm_cap;
            over += usize::from(row.tcdm_over);
            fill_split(&mut row, hyb.op_split.get(k), base.op_split.get(k));
            row.rel_err = num
                .as_ref()
                .and_then(|n| n.op_err.get(&(rec.inst, rec.op)).copied());
            rows.push(row);
        }
        for (ii, (h, b, tcdm)) in inst_aggs.iter().enumerate() {
            let inst = &mapping.instances[ii];
            let mut row = mk("layer", &inst.name, "(all)", "layer", String::new());
            let (lin, cl) = scope.get(ii).copied().unwrap_or((1, 1));
            fill_total(&mut row, h, b, *tcdm, tcdm_cap, (lin, cl));
            fill_energy(&mut row, h, b, &inst_work[ii]);
            fill_split(&mut row, hyb.inst_split.get(ii), base.inst_split.get(ii));
            shared.push((rows.len(), None, *h, *b, inst_work[ii]));
            row.rel_err = num.as_ref().and_then(|n| n.layer_err.get(ii).copied());
            rows.push(row);
        }
        share_static(&mut rows, &shared, &inst_aggs, hyb.static_j, base.static_j);
        let mut m = mk("model", "(all)", "(all)", "model", String::new());
        let mut th = Agg::default();
        let mut tb = Agg::default();
        for (h, b, _) in &inst_aggs {
            th.merge(h);
            tb.merge(b);
        }
        th.end = hyb.makespan;
        th.begin = 0;
        tb.end = base.makespan;
        tb.begin = 0;
        let peak = inst_aggs.iter().map(|x| x.2).max().unwrap_or(0);
        let lin: u64 = scope.iter().map(|x| x.0).sum();
        fill_total(
            &mut m,
            &th,
            &tb,
            peak,
            tcdm_cap,
            (lin, u64::from(mapping.clusters)),
        );
        th.noc_j += hyb.write_back_j;
        tb.noc_j += base.write_back_j;
        fill_energy(&mut m, &th, &tb, &model_work);
        m.static_energy_j = hyb.static_j;
        m.energy_j += hyb.static_j;
        m.baseline_energy_j += base.static_j;
        finish_energy(&mut m, &th, &tb, &model_work);
        m.area_mm2 = area_mm2(
            &loaded.scenario.hardware.energy,
            &loaded.scenario.hardware.tile,
            mapping.tiles,
            mapping.clusters,
            backend.energy_shape().1,
        );
        fill_split(&mut m, Some(&hyb.model_split), Some(&base.model_split));
        m.rel_err = num.as_ref().and_then(|n| n.model_err);
        rows.push(m);
        if over > 0 {
            warnings.push(format!(
                "{name}, {it} ns, t = {t}: {over} LoRA operation(s) need more TCDM than the \
                 cluster's {} KiB (peak {} KiB)",
                tcdm_cap / 1024,
                peak.div_ceil(1024)
            ));
        }
    }
    if let Some(n) = &num {
        if n.instances < base_map.instances.len() {
            warnings.push(format!(
                "numerics: evaluated the first {} of {} layer instances; the model error is \
                 after instance {}, and the tiles of later instances are charged one analog \
                 pass per MVM (passes are counted only where the tile model ran)",
                n.instances,
                base_map.instances.len(),
                n.instances
            ));
        }
    }
    let report = Report {
        scenario: loaded.scenario.name.clone(),
        cluster_model: label,
        sample_tokens: num.as_ref().map(|n| n.tokens),
        numerics: num.as_ref().and_then(|n| {
            numerics_summary(n, loaded.npy_dir.is_none() && loaded.checkpoint.is_none())
        }),
        rows,
        warnings,
        events,
        accuracy: None,
    };
    let kept = keep
        .iter()
        .filter_map(|k| kept.get(k).map(|r| (*k, r.clone())))
        .collect();
    Ok((report, kept))
}

/// What the model-level error means, in one sentence with the numbers behind it (the chained
/// error's growth, the per-layer range, the largest activation against binary16's range);
/// `synthetic`: the weights are the seeded synthetic ones (their NoNorm gains are calibrated).
fn numerics_summary(n: &NumericsResult, synthetic: bool) -> Option<String> {
    let model = n.model_err?;
    let range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    let (lo, hi) = range(&n.layer_err);
    let first = n.chain_err.first().copied().unwrap_or(model);
    let largest = n.ideal_max_abs.iter().copied().fold(0.0, f64::max);
    let gains = if synthetic {
        "; the synthetic NoNorm gains keep activations at unit RMS, docs/scenarios.md"
    } else {
        ""
    };
    Some(format!(
        "model error {model:.3}: relative L2 error of the last layer instance's output against \
         the ideal f32 model, chained from the model input through {} instance(s) on a {}-token \
         sample ({first:.3} after the first); one instance alone, from the ideal input, errs by \
         {lo:.3}-{hi:.3} (mostly the tiles' noise, docs/aimc.md); largest ideal activation \
         {largest:.1} (binary16 holds 65504{gains})",
        n.instances, n.tokens
    ))
}

/// One combination's hybrid graph as replayed, for traces (`crate::trace_event::system`).
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The task graph (each task's `op` indexes [`Replayed::ops`], or is `u32::MAX` for the
    /// final write-back to L2).
    pub graph: Graph,
    /// When each task was ready, started and ended.
    pub timing: Timing,
    /// Per operation record: (layer instance index in the mapping, operation index in its
    /// block, peak TCDM bytes of its LoRA work).
    pub ops: Vec<(usize, usize, u64)>,
    /// The mapping the graph was built on.
    pub mapping: Mapping,
    /// The strategy's name.
    pub strategy: String,
}

/// Builds and replays the hybrid task graph of one combination (no baseline), exactly as
/// [`run`] does for its rows given the same numerics result (its tile pass counts are charged;
/// `None` charges one pass per MVM), for a trace without a run (`crate::trace_event::system::
/// trace`). `hetsim run --trace` does not call it: it keeps the run's own replay
/// ([`run_observed`]), which a test proves equal to this.
pub fn replay_combination(
    loaded: &Loaded,
    combo: &Combination,
    num: Option<&NumericsResult>,
) -> Result<Replayed, Error> {
    let mut backend = backend::build(
        &loaded.scenario.hardware.cluster_backend,
        loaded.path.parent().unwrap_or(std::path::Path::new(".")),
    )?;
    let strat = strategy::for_choice(combo.strategy);
    let cpt = strat.clusters_per_tile();
    let t = combo.tokens_per_batch;
    let mapping = Mapping::new(&loaded.schedule, &loaded.scenario, cpt)?;
    let tasks = estimate_tasks(loaded, &mapping, t, cpt);
    if tasks > MAX_TASKS {
        return Err(Error::Mapping(format!(
            "t = {t} makes about {tasks} tasks (limit {MAX_TASKS}); trace a combination with \
             larger token batches"
        )));
    }
    let tile_cfg = TileConfig {
        integration_time_ns: combo.integration_time_ns,
        ..loaded.scenario.hardware.tile.clone()
    };
    let mut costs = Costs::new(backend.as_mut());
    let Built { mut graph, ops } = build(
        loaded,
        &mapping,
        Some(strat.as_ref()),
        &tile_cfg,
        t,
        num,
        &mut costs,
    )?;
    let mut ic = Interconnect::new(&loaded.scenario.hardware.interconnect)?;
    mapping.place(&mut ic)?;
    let timing = execute(&mut graph, &mut ic, mapping.tiles, mapping.clusters)?;
    Ok(Replayed {
        graph,
        timing,
        ops: ops.iter().map(|r| (r.inst, r.op, r.tcdm)).collect(),
        mapping,
        strategy: strat.name(),
    })
}

/// Operations of a scope for the efficiency figures.
#[derive(Debug, Clone, Copy, Default)]
struct Work2 {
    /// Analog MVM operations (2 per MAC).
    analog_ops: f64,
    /// LoRA flops (2 per MAC).
    lora_flops: f64,
}

impl Work2 {
    fn add(&self, o: &Work2) -> Work2 {
        Work2 {
            analog_ops: self.analog_ops + o.analog_ops,
            lora_flops: self.lora_flops + o.lora_flops,
        }
    }
}

/// The operations of one operation over `seq` tokens: a linear layer's MVMs (2 in out per
/// token) and its LoRA branch if it has one (2 r (in + out) per token, which every strategy
/// runs and the baseline does not); dynamic operations count none (the efficiency figures are
/// the linear layers').
fn op_work(kind: &OpKind, seq: usize) -> Work2 {
    match kind {
        OpKind::Linear {
            in_features,
            out_features,
            lora: l,
        } => Work2 {
            analog_ops: 2.0 * (in_features * out_features * seq) as f64,
            lora_flops: match l {
                Some(l) => 2.0 * (l.rank * (in_features + out_features) * seq) as f64,
                None => 0.0,
            },
        },
        _ => Work2::default(),
    }
}

/// Fills the energy columns of a row from its hybrid and baseline aggregates (the tasks'
/// energies) and its operations.
fn fill_energy(row: &mut Row, h: &Agg, b: &Agg, w: &Work2) {
    row.tile_energy_j = h.tile_j;
    row.cluster_energy_j = h.cluster_j;
    row.transfer_energy_j = h.noc_j;
    row.energy_j = h.energy_j();
    row.baseline_energy_j = b.energy_j();
    finish_energy(row, h, b, w);
}

/// Shares the model's static energy (idle tiles, idle cores, leakage) out to the layer and op
/// rows by time span (docs/energy.md): a layer gets `static x its latency / the sum of the
/// layers' latencies`, an op its layer's share x `its latency / the sum of its layer's op
/// latencies`; the hybrid design and the baseline each by their own spans. The layer rows'
/// shares add up to the model row's static energy, the op rows' to their layer's.
fn share_static(
    rows: &mut [Row],
    shared: &[(usize, Option<usize>, Agg, Agg, Work2)],
    layers: &[(Agg, Agg, u64)],
    hyb_static_j: f64,
    base_static_j: f64,
) {
    let span = |a: &Agg| a.latency() as f64;
    let frac = |part: f64, whole: f64| if whole > 0.0 { part / whole } else { 0.0 };
    let (lh, lb): (f64, f64) = layers
        .iter()
        .fold((0.0, 0.0), |(x, y), (h, b, _)| (x + span(h), y + span(b)));
    let mut op_h = vec![0.0; layers.len()];
    let mut op_b = vec![0.0; layers.len()];
    for (_, inst, h, b, _) in shared {
        if let Some(i) = *inst {
            op_h[i] += span(h);
            op_b[i] += span(b);
        }
    }
    for (k, inst, h, b, w) in shared {
        let (sh, sb) = match *inst {
            None => (frac(span(h), lh), frac(span(b), lb)),
            Some(i) => {
                let (layer_h, layer_b) = (&layers[i].0, &layers[i].1);
                (
                    frac(span(layer_h), lh) * frac(span(h), op_h[i]),
                    frac(span(layer_b), lb) * frac(span(b), op_b[i]),
                )
            }
        };
        let row = &mut rows[*k];
        row.static_energy_j = hyb_static_j * sh;
        row.energy_j += row.static_energy_j;
        row.baseline_energy_j += base_static_j * sb;
        finish_energy(row, h, b, w);
    }
}

/// The derived energy columns (overhead, EDP, power, efficiencies) from `energy_j` and
/// `baseline_energy_j` as set.
fn finish_energy(row: &mut Row, h: &Agg, b: &Agg, w: &Work2) {
    use hetsim_models::energy::ops_per_joule;
    let (lh, lb) = (ps_to_ns(h.latency()) * 1e-9, ps_to_ns(b.latency()) * 1e-9);
    row.energy_overhead = if row.baseline_energy_j > 0.0 {
        row.energy_j / row.baseline_energy_j
    } else {
        1.0
    };
    row.edp_js = row.energy_j * lh;
    row.baseline_edp_js = row.baseline_energy_j * lb;
    row.power_w = if lh > 0.0 { row.energy_j / lh } else { 0.0 };
    row.tops_per_w = ops_per_joule(w.analog_ops + w.lora_flops, row.energy_j) / 1e12;
    row.baseline_tops_per_w = ops_per_joule(w.analog_ops, row.baseline_energy_j) / 1e12;
    row.lora_gflops_per_w = ops_per_joule(w.lora_flops, h.lora_j) / 1e9;
}

/// Silicon area of `tiles` tiles and `clusters` clusters, mm² (docs/energy.md, "Area").
pub fn area_mm2(
    energy: &hetsim_models::energy::EnergyConfig,
    tile: &TileConfig,
    tiles: u32,
    clusters: u32,
    redmule: bool,
) -> f64 {
    f64::from(tiles) * energy.area.tile_mm2(tile.rows, tile.cols)
        + f64::from(clusters) * energy.area.cluster_mm2(redmule)
}

/// Fills a layer or model row; utilisations are busy time over latency times the number of
/// tile groups (linear operations: a matrix's tiles work in lockstep) or clusters in scope.
/// The latency splits of the hybrid (`h`) and the baseline (`b`) into the row, ns.
fn fill_split(row: &mut Row, h: Option<&Split>, b: Option<&Split>) {
    let (h, b) = (
        h.copied().unwrap_or_default(),
        b.copied().unwrap_or_default(),
    );
    row.static_ns = ps_to_ns(h.static_ps);
    row.dynamic_ns = ps_to_ns(h.dynamic_ps);
    row.lora_ns = ps_to_ns(h.lora_ps);
    row.link_ns = ps_to_ns(h.link_ps);
    row.wait_ns = ps_to_ns(h.wait_ps);
    row.baseline_static_ns = ps_to_ns(b.static_ps);
    row.baseline_dynamic_ns = ps_to_ns(b.dynamic_ps);
    row.baseline_link_ns = ps_to_ns(b.link_ps);
    row.baseline_wait_ns = ps_to_ns(b.wait_ps);
}

fn fill_total(
    row: &mut Row,
    h: &Agg,
    b: &Agg,
    tcdm: u64,
    cap: u64,
    (groups, clusters): (u64, u64),
) {
    let lat = h.latency().max(1) as f64;
    row.tile_ns = ps_to_ns(h.tile);
    row.cluster_ns = ps_to_ns(h.cluster);
    row.cluster_startup_ns = ps_to_ns(h.startup);
    row.transfer_ns = ps_to_ns(h.transfer);
    row.hybrid_ns = ps_to_ns(h.latency());
    row.baseline_ns = ps_to_ns(b.latency());
    row.overhead = ratio(h.latency(), b.latency());
    row.bound = String::new();
    row.tile_util = h.tile as f64 / (lat * groups.max(1) as f64);
    row.cluster_util = h.cluster as f64 / (lat * clusters.max(1) as f64);
    row.tcdm_peak_bytes = tcdm;
    row.tcdm_over = tcdm > cap;
}

#[cfg(test)]
mod tests {
    use super::*;
    use hetsim_models::aimc::{AnalogMatrix, Matrix};

    #[test]
    fn tile_time_per_token_is_the_aimc_rule() {
        // 600 x 300 on 256 x 256 tiles: 3 row blocks. With ports of 2 B/ns in and 4 B/ns out,
        // 1-byte inputs and 2-byte outputs, 5 ns per extra row block, 128 ns integration:
        // in = min(600, 256) * 1 / 2 = 128 ns; out = min(300, 256) * 2 / 4 = 128 ns;
        // accumulation = 2 * 5 = 10 ns; total = 128 + 128 + 128 + 10 = 394 ns.
        let mut cfg = TileConfig {
            rows: 256,
            cols: 256,
            accumulation_ns_per_row_block: 5.0,
            ..TileConfig::ideal()
        };
        cfg.transfer.input_bytes_per_ns = Some(2.0);
        cfg.transfer.output_bytes_per_ns = Some(4.0);
        let a = AnalogMatrix::program(&cfg, &Matrix::zeros(600, 300)).unwrap();
        assert_eq!(tile_ns_per_token(&cfg, 600, 300, None), 394.0);
        assert_eq!(a.mvm_latency(1).total_ns(), 394.0);
        // 4 tokens that took 10 passes: mean 2.5 passes per MVM, so each token costs
        // 2.5 * 128 + 128 + 128 + 10 = 586 ns (= (10 * 128 + 4 * 266) / 4).
        let counted = TilePasses {
            mvms: 4,
            passes: 10,
        };
        assert_eq!(tile_ns_per_token(&cfg, 600, 300, Some(counted)), 586.0);
        // Nothing counted: one pass.
        let none = TilePasses { mvms: 0, passes: 0 };
        assert_eq!(tile_ns_per_token(&cfg, 600, 300, Some(none)), 394.0);
        // The study's tile: the integration time alone.
        assert_eq!(
            tile_ns_per_token(&TileConfig::default(), 512, 128, None),
            128.0
        );
    }
}
