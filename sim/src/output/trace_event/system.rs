//! The system trace of `hetsim run --trace`: one replayed scenario combination drawn as tracks.
//!
//! One process per traced combination (named by strategy, integration time and t). Tracks:
//!
//! - **tile groups**: one track per linear operation's tiles (named by their first tile, e.g.
//!   `tile 12 (2 tiles) encoder.layer.0/query`); one slice `MVM layer/op` per token batch;
//! - **clusters**: one track per cluster; slices `LoRA layer/op` (branch plus add of a batch),
//!   `LoRA branch`, `add`, and `KIND layer/op` for dynamic operations (softmax, layer norm, ...);
//! - **links**: one track per interconnect link (point-to-point: a `src -> dst` pair; bus: the
//!   bus; mesh: a `src -> dst` route); slices `x`, `XW`, `gather`, `write-back` from the head
//!   entering the link to the last byte arriving. Transfers that overlap in time on one link
//!   (cut-through: a later transfer enters while the previous one's tail is in flight) go to
//!   extra lanes named `#2`, `#3`, ... since a track's slices must nest;
//! - **counters**: `TCDM cluster N` (bytes resident for the LoRA operations in progress on the
//!   cluster: A and B plus the strategy's batch buffers, from their first to their last cluster
//!   task there), `queue tile N` / `queue cluster N` (tasks ready but waiting for the
//!   resource; only for resources that ever have a queue) and `power tiles (dynamic)` /
//!   `power clusters (dynamic)` (µW: each tile task its group's MVM power, each cluster task
//!   its dynamic energy over its duration; docs/energy.md).
//!
//! Every slice's args carry the layer, the operation, the stage, and the ready, start and end
//! times, so waiting (a stall) is visible as `wait_ns`. A [`TraceFilter`] keeps only work whose
//! `layer/op` label contains a text and slices that overlap a time window; tracks without a kept
//! slice are left out.

use super::{ps_to_us, Lanes, Pid, Tid, Trace, TraceFilter};
use crate::error::Error;
use crate::mapping::L2;
use crate::numerics::NumericsResult;
use crate::replay::{Stage, Work};
use crate::run::{evaluate_numerics, replay_combination, Replayed};
use crate::scenario::Loaded;
use hetsim_models::interconnect::{Endpoint, Topology};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Track ids: tile groups from 1 (first tile + 1), clusters and links in their own ranges.
const CLUSTER_TID: Tid = 1_000_000;
const LINK_TID: Tid = 2_000_000;

/// Traces the combinations of `loaded` numbered `combos` (0-based, in the order of
/// `Loaded::combinations`), each in its own process, keeping what `filter` keeps. Evaluates the
/// scenario's numerics first (their tile pass counts time the tiles, as in `run::run`); a
/// caller that already has them calls [`trace_with_numerics`].
pub fn trace(loaded: &Loaded, combos: &[usize], filter: &TraceFilter) -> Result<Trace, Error> {
    let num = evaluate_numerics(loaded)?;
    trace_with_numerics(loaded, combos, filter, num.as_ref())
}

/// As [`trace`], with the scenario's numerics result already evaluated (`None`: numerics off,
/// one analog pass per tile MVM).
pub fn trace_with_numerics(
    loaded: &Loaded,
    combos: &[usize],
    filter: &TraceFilter,
    num: Option<&NumericsResult>,
) -> Result<Trace, Error> {
    let all = loaded.combinations();
    let mut replayed = Vec::with_capacity(combos.len());
    for &k in combos {
        let combo = all.get(k).ok_or_else(|| Error::Usage {
            option: "--trace-combination".into(),
            message: format!(
                "combination {k} does not exist: the scenario has {} (0 to {})",
                all.len(),
                all.len().saturating_sub(1)
            ),
        })?;
        replayed.push((k, replay_combination(loaded, combo, num)?));
    }
    Ok(trace_replayed(loaded, &replayed, filter))
}

/// The trace of combinations already replayed, each numbered by its index in
/// `Loaded::combinations` (`hetsim run --trace` passes the ones its run kept,
/// `crate::run::run_observed`, so the timeline shows the run itself).
pub fn trace_replayed(
    loaded: &Loaded,
    replayed: &[(usize, Replayed)],
    filter: &TraceFilter,
) -> Trace {
    let all = loaded.combinations();
    let mut trace = Trace::new();
    for (k, r) in replayed {
        let (it, t) = all.get(*k).map_or((f64::NAN, 0), |c| {
            (c.integration_time_ns, c.tokens_per_batch)
        });
        let name = format!("#{k} {} · {it} ns · t = {t}", r.strategy);
        add_combination(&mut trace, *k as Pid + 1, &name, loaded, r, filter);
    }
    trace
}

/// What a task belongs to, for names and the filter.
fn label(loaded: &Loaded, r: &Replayed, op: u32) -> (String, String, &'static str) {
    let Some(&(inst, oi, _)) = r.ops.get(op as usize) else {
        return ("model".into(), "write-back".into(), "transfer");
    };
    let layer = r
        .mapping
        .instances
        .get(inst)
        .map_or_else(|| format!("instance {inst}"), |i| i.name.clone());
    let o = r
        .mapping
        .instances
        .get(inst)
        .and_then(|i| loaded.schedule.blocks.get(i.block))
        .and_then(|b| b.ops.get(oi));
    match o {
        Some(o) => (layer, o.name.clone(), o.kind.label()),
        None => (layer, format!("op {oi}"), "op"),
    }
}

fn endpoint_name(r: &Replayed, e: Endpoint) -> String {
    let tiles = r.mapping.tiles;
    if e == L2 {
        "L2".into()
    } else if e <= tiles {
        format!("tile {}", e - 1)
    } else {
        format!("cluster {}", e - 1 - tiles)
    }
}

/// Power of the tile group of operation record `op` while it integrates, W (0 for a dynamic
/// operation): `crate::run::group_power_w` of its shape.
fn tile_power_w(loaded: &Loaded, r: &Replayed, op: u32) -> f64 {
    let Some(&(inst, oi, _)) = r.ops.get(op as usize) else {
        return 0.0;
    };
    let kind = r
        .mapping
        .instances
        .get(inst)
        .and_then(|i| loaded.schedule.blocks.get(i.block))
        .and_then(|b| b.ops.get(oi))
        .map(|o| &o.kind);
    match kind {
        Some(crate::workload::OpKind::Linear {
            in_features,
            out_features,
            ..
        }) => crate::run::group_power_w(
            &loaded.scenario.hardware.energy,
            &loaded.scenario.hardware.tile,
            *in_features,
            *out_features,
        ),
        _ => 0.0,
    }
}

/// Emits a counter from (time, delta) steps: one sample per distinct time, restricted to the
/// window (with the value in force at the window's start).
fn counter(
    trace: &mut Trace,
    pid: Pid,
    name: &str,
    series: &str,
    mut steps: Vec<(u64, i64)>,
    filter: &TraceFilter,
) {
    steps.sort_unstable();
    let mut samples: Vec<(u64, i64)> = Vec::new();
    let mut v = 0i64;
    for (t, d) in steps {
        v += d;
        match samples.last_mut() {
            Some(last) if last.0 == t => last.1 = v,
            _ => samples.push((t, v)),
        }
    }
    let (w0, w1) = filter.window_us;
    let mut before: Option<i64> = None;
    let mut opened = false;
    for (t, v) in samples {
        let us = ps_to_us(t);
        if w0.is_some_and(|w| us < w) {
            before = Some(v);
            continue;
        }
        if w1.is_some_and(|w| us > w) {
            break;
        }
        if !opened {
            if let (Some(w), Some(b)) = (w0, before) {
                if us > w {
                    trace.counter(pid, name, w, &[(series, b as f64)]);
                }
            }
            opened = true;
        }
        trace.counter(pid, name, us, &[(series, v as f64)]);
    }
}

fn add_combination(
    trace: &mut Trace,
    pid: Pid,
    name: &str,
    loaded: &Loaded,
    r: &Replayed,
    filter: &TraceFilter,
) {
    trace.process(pid, name, i64::from(pid));
    let tm = &r.timing;
    // Tile groups by first tile: (tiles in the group, label).
    let mut groups: BTreeMap<u32, (u32, String)> = BTreeMap::new();
    for (ii, inst) in r.mapping.instances.iter().enumerate() {
        for (oi, op) in inst.ops.iter().enumerate() {
            if op.tile_count > 0 {
                let opname = loaded
                    .schedule
                    .blocks
                    .get(inst.block)
                    .and_then(|b| b.ops.get(oi))
                    .map_or_else(|| format!("op {oi}"), |o| o.name.clone());
                groups.insert(
                    op.first_tile,
                    (
                        op.tile_count,
                        format!("{}/{opname}", r.mapping.instances[ii].name),
                    ),
                );
            }
        }
    }
    let mut used: BTreeSet<Tid> = BTreeSet::new();
    let mut tcdm: BTreeMap<u32, BTreeMap<u32, (u64, u64, u64)>> = BTreeMap::new();
    let mut queues: BTreeMap<Tid, Vec<(u64, i64)>> = BTreeMap::new();
    let mut transfers: Vec<usize> = Vec::new();
    // dynamic power steps (time, +/- microwatts) of the tiles and of the clusters
    let mut power: [Vec<(u64, i64)>; 2] = [Vec::new(), Vec::new()];
    for (i, task) in r.graph.tasks.iter().enumerate() {
        let (Some(&ready), Some(&start), Some(&end)) =
            (tm.ready.get(i), tm.start.get(i), tm.end.get(i))
        else {
            continue;
        };
        let (layer, op, kind) = label(loaded, r, task.op);
        let full = format!("{layer}/{op}");
        if !filter.matches(&full) {
            continue;
        }
        let (tid, slice_name) = match task.work {
            Work::Transfer { .. } => {
                transfers.push(i);
                continue;
            }
            Work::Tile { tile, .. } => (1 + tile, format!("MVM {full}")),
            Work::Cluster { cluster, .. } => {
                let n = match task.stage {
                    Stage::Lora => format!("LoRA {full}"),
                    Stage::Branch => format!("LoRA branch {full}"),
                    Stage::Add => format!("add {full}"),
                    Stage::Startup => format!("cold start {full}"),
                    _ => format!("{kind} {full}"),
                };
                if let Some(&(_, _, bytes)) = r.ops.get(task.op as usize) {
                    if bytes > 0 {
                        let e = tcdm
                            .entry(cluster)
                            .or_default()
                            .entry(task.op)
                            .or_insert((start, end, bytes));
                        e.0 = e.0.min(start);
                        e.1 = e.1.max(end);
                    }
                }
                (CLUSTER_TID + cluster, n)
            }
        };
        let watts = match task.work {
            Work::Tile { .. } => tile_power_w(loaded, r, task.op),
            _ if end > start => task.energy_j / ((end - start) as f64 * 1e-12),
            _ => 0.0,
        };
        let uw = (watts * 1e6).round() as i64;
        if uw > 0 {
            let k = usize::from(tid >= CLUSTER_TID);
            power[k].push((start, uw));
            power[k].push((end, -uw));
        }
        if start > ready {
            let q = queues.entry(tid).or_default();
            q.push((ready, 1));
            q.push((start, -1));
        }
        let (s_us, e_us) = (ps_to_us(start), ps_to_us(end));
        if !filter.in_window(s_us, e_us) {
            continue;
        }
        used.insert(tid);
        trace.slice(
            pid,
            tid,
            slice_name,
            if tid >= CLUSTER_TID {
                "cluster"
            } else {
                "tile"
            },
            s_us,
            e_us - s_us,
            Some(json!({
                "layer": layer, "op": op, "stage": format!("{:?}", task.stage),
                "ready_ns": ready as f64 / 1e3, "wait_ns": (start - ready) as f64 / 1e3,
            })),
        );
    }
    // Links: lanes per link so that overlapping transfers do not break nesting.
    let bus = matches!(
        loaded.scenario.hardware.interconnect.topology,
        Topology::Bus(_)
    );
    let mesh = matches!(
        loaded.scenario.hardware.interconnect.topology,
        Topology::Mesh(_)
    );
    transfers.sort_by_key(|&i| (tm.start[i], tm.end[i], i));
    let mut lanes: BTreeMap<(Endpoint, Endpoint), (Lanes, Vec<Tid>)> = BTreeMap::new();
    let mut link_names: BTreeMap<Tid, String> = BTreeMap::new();
    let mut next_tid = LINK_TID;
    for i in transfers {
        let task = &r.graph.tasks[i];
        let Work::Transfer { src, dst, bytes } = task.work else {
            continue;
        };
        if src == dst {
            continue; // local: no link, no time
        }
        let (ready, start, end) = (tm.ready[i], tm.start[i], tm.end[i]);
        let (s_us, e_us) = (ps_to_us(start), ps_to_us(end));
        if !filter.in_window(s_us, e_us) {
            continue;
        }
        let key = if bus { (0, 0) } else { (src, dst) };
        let (l, tids) = lanes.entry(key).or_default();
        let lane = l.place(start, end);
        if lane >= tids.len() {
            let base = if bus {
                "bus".to_string()
            } else {
                format!(
                    "{} {} -> {}",
                    if mesh { "route" } else { "link" },
                    endpoint_name(r, src),
                    endpoint_name(r, dst)
                )
            };
            let n = if lane == 0 {
                base
            } else {
                format!("{base} #{}", lane + 1)
            };
            link_names.insert(next_tid, n);
            tids.push(next_tid);
            next_tid += 1;
        }
        let tid = tids[lane];
        let (layer, op, _) = label(loaded, r, task.op);
        let what = match task.stage {
            Stage::Input => "x",
            Stage::Output if layer == "model" => "write-back",
            Stage::Output => "XW",
            Stage::Gather => "gather",
            Stage::Partial => "partial Y",
            _ => "transfer",
        };
        trace.slice(
            pid,
            tid,
            format!("{what} {layer}/{op}"),
            "link",
            s_us,
            e_us - s_us,
            Some(json!({
                "layer": layer, "op": op, "bytes": bytes,
                "from": endpoint_name(r, src), "to": endpoint_name(r, dst),
                "ready_ns": ready as f64 / 1e3, "wait_ns": (start - ready) as f64 / 1e3,
            })),
        );
    }
    // Track names for the tracks that kept a slice, in order: tiles, clusters, links.
    for &tid in &used {
        let n = if tid >= CLUSTER_TID {
            format!("cluster {}", tid - CLUSTER_TID)
        } else {
            let t = tid - 1;
            match groups.get(&t) {
                Some((1, l)) => format!("tile {t} {l}"),
                Some((n, l)) => format!("tile {t} ({n} tiles) {l}"),
                None => format!("tile {t}"),
            }
        };
        trace.thread(pid, tid, &n, i64::from(tid));
    }
    for (tid, n) in &link_names {
        trace.thread(pid, *tid, n, i64::from(*tid));
    }
    // Counters for the kept tracks.
    for (cluster, ops) in &tcdm {
        if !used.contains(&(CLUSTER_TID + cluster)) {
            continue;
        }
        let steps: Vec<(u64, i64)> = ops
            .values()
            .flat_map(|&(s, e, b)| [(s, b as i64), (e, -(b as i64))])
            .collect();
        counter(
            trace,
            pid,
            &format!("TCDM cluster {cluster}"),
            "bytes",
            steps,
            filter,
        );
    }
    for (name, steps) in ["power tiles (dynamic)", "power clusters (dynamic)"]
        .iter()
        .zip(power)
    {
        if !steps.is_empty() {
            counter(trace, pid, name, "uW", steps, filter);
        }
    }
    for (tid, steps) in queues {
        if !used.contains(&tid) {
            continue;
        }
        let n = if tid >= CLUSTER_TID {
            format!("queue cluster {}", tid - CLUSTER_TID)
        } else {
            format!("queue tile {}", tid - 1)
        };
        counter(trace, pid, &n, "tasks", steps, filter);
    }
}
