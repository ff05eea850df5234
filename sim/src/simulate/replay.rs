//! Replay: a task graph executed by the event engine over tile, cluster and interconnect
//! components.
//!
//! Strategies (`crate::strategy`) and the layer builder (`crate::run`) express work as a graph
//! of [`Task`]s: a tile busy for a time, a cluster busy for a time, or a transfer of bytes between
//! endpoints, each with dependencies. [`execute`] runs the graph on the engine:
//!
//! - a task whose dependencies are done posts a `Ready` request (priority
//!   [`PRIORITY_REQUEST`]) at that time;
//! - a tile or cluster is a component that serves one task at a time, first come first served
//!   (ties in the engine's deterministic order); it posts `Done` (priority
//!   [`PRIORITY_COMPLETION`]) after the task's duration and then starts the next queued task;
//! - a transfer asks the interconnect model for its timing at request time (links are reserved
//!   in request order) and posts `Done` at the returned end.
//!
//! Components never call each other: everything goes through events.

use crate::engine::{Engine, Time, PRIORITY_COMPLETION, PRIORITY_REQUEST};
use crate::error::Error;
use hetsim_models::interconnect::{Endpoint, Interconnect};
use std::collections::VecDeque;

/// Index of a task in its graph.
pub type TaskId = u32;

/// What a task occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Tile `tile` busy for `ps` picoseconds.
    Tile {
        /// Tile index.
        tile: u32,
        /// Duration.
        ps: Time,
    },
    /// Cluster `cluster` busy for `ps` picoseconds.
    Cluster {
        /// Cluster index.
        cluster: u32,
        /// Duration.
        ps: Time,
    },
    /// `bytes` moved from `src` to `dst` over the interconnect.
    Transfer {
        /// Source endpoint.
        src: Endpoint,
        /// Destination endpoint.
        dst: Endpoint,
        /// Bytes.
        bytes: u64,
    },
}

/// Role of a task within its operation (for reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// x moved to a tile or cluster.
    Input,
    /// Tile MVMs of a batch.
    Tile,
    /// XW moved from the tile to a cluster.
    Output,
    /// A cluster's once-per-operation cold start before its first LoRA batch.
    Startup,
    /// LoRA branch plus add of a batch.
    Lora,
    /// LoRA branch only (parallel-branch).
    Branch,
    /// The add only (parallel-branch).
    Add,
    /// A slice of Y gathered to the home cluster (multi-cluster).
    Gather,
    /// A running Y (partial sum over row blocks) moved to the next row block's cluster of a
    /// layer wider than one tile.
    Partial,
    /// A dynamic operation.
    Dynamic,
}

/// One task.
#[derive(Debug, Clone)]
pub struct Task {
    /// What it occupies.
    pub work: Work,
    /// Index of the operation record it belongs to.
    pub op: u32,
    /// Its role.
    pub stage: Stage,
    /// Dynamic energy of a cluster task in J (the energy model on its cost's counters; 0 for
    /// other tasks, whose energy follows from their work).
    pub energy_j: f64,
    deps_left: u32,
    dependents: Vec<TaskId>,
}

/// A task graph.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Tasks in creation order.
    pub tasks: Vec<Task>,
}

impl Graph {
    /// Adds a task that starts once every task in `deps` is done; returns its id.
    pub fn add(&mut self, work: Work, op: u32, stage: Stage, deps: &[TaskId]) -> TaskId {
        let id = self.tasks.len() as TaskId;
        let mut n = 0;
        for &d in deps {
            if let Some(t) = self.tasks.get_mut(d as usize) {
                t.dependents.push(id);
                n += 1;
            }
        }
        self.tasks.push(Task {
            work,
            op,
            stage,
            energy_j: 0.0,
            deps_left: n,
            dependents: Vec::new(),
        });
        id
    }

    /// Sets the dynamic energy of task `id` (a cluster task) in J.
    pub fn set_energy(&mut self, id: TaskId, energy_j: f64) {
        if let Some(t) = self.tasks.get_mut(id as usize) {
            t.energy_j = energy_j;
        }
    }
}

/// When each task ran.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    /// Time the task was ready (all dependencies done), ps.
    pub ready: Vec<Time>,
    /// Time it started (got its resource / entered the first link), ps.
    pub start: Vec<Time>,
    /// Time it finished, ps.
    pub end: Vec<Time>,
    /// Links each transfer crossed (0 for other tasks).
    pub hops: Vec<u32>,
    /// Time of the last event, ps.
    pub makespan: Time,
    /// Events delivered.
    pub events: u64,
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    Ready(TaskId),
    Done(TaskId),
}

/// Runs `g` to completion on a fresh engine; tiles and clusters are numbered below `tiles` and
/// `clusters`.
pub fn execute(
    g: &mut Graph,
    ic: &mut Interconnect,
    tiles: u32,
    clusters: u32,
) -> Result<Timing, Error> {
    let n = g.tasks.len();
    let mut tm = Timing {
        ready: vec![0; n],
        start: vec![0; n],
        end: vec![0; n],
        hops: vec![0; n],
        makespan: 0,
        events: 0,
    };
    let mut busy_tile = vec![false; tiles as usize];
    let mut busy_cluster = vec![false; clusters as usize];
    let mut q_tile: Vec<VecDeque<TaskId>> = vec![VecDeque::new(); tiles as usize];
    let mut q_cluster: Vec<VecDeque<TaskId>> = vec![VecDeque::new(); clusters as usize];
    let mut eng: Engine<Ev> = Engine::new();
    for (i, t) in g.tasks.iter().enumerate() {
        if t.deps_left == 0 {
            eng.schedule_at(0, PRIORITY_REQUEST, Ev::Ready(i as TaskId))?;
        }
    }
    let bad = |what: &str, i: u32| Error::Mapping(format!("internal: {what} {i} out of range"));
    while let Some(f) = eng.pop() {
        let now = f.time;
        match f.event {
            Ev::Ready(id) => {
                let i = id as usize;
                tm.ready[i] = now;
                match g.tasks[i].work {
                    Work::Transfer { src, dst, bytes } => {
                        let t = ic.transfer(src, dst, bytes, now);
                        tm.start[i] = t.start;
                        tm.hops[i] = t.hops;
                        eng.schedule_at(t.end, PRIORITY_COMPLETION, Ev::Done(id))?;
                    }
                    Work::Tile { tile, ps } => {
                        let b = busy_tile
                            .get_mut(tile as usize)
                            .ok_or_else(|| bad("tile", tile))?;
                        if *b {
                            q_tile[tile as usize].push_back(id);
                        } else {
                            *b = true;
                            tm.start[i] = now;
                            eng.schedule_at(now + ps, PRIORITY_COMPLETION, Ev::Done(id))?;
                        }
                    }
                    Work::Cluster { cluster, ps } => {
                        let b = busy_cluster
                            .get_mut(cluster as usize)
                            .ok_or_else(|| bad("cluster", cluster))?;
                        if *b {
                            q_cluster[cluster as usize].push_back(id);
                        } else {
                            *b = true;
                            tm.start[i] = now;
                            eng.schedule_at(now + ps, PRIORITY_COMPLETION, Ev::Done(id))?;
                        }
                    }
                }
            }
            Ev::Done(id) => {
                let i = id as usize;
                tm.end[i] = now;
                // Free the resource and start the next queued task on it.
                let next = match g.tasks[i].work {
                    Work::Tile { tile, .. } => {
                        let q = &mut q_tile[tile as usize];
                        let nx = q.pop_front();
                        if nx.is_none() {
                            busy_tile[tile as usize] = false;
                        }
                        nx
                    }
                    Work::Cluster { cluster, .. } => {
                        let q = &mut q_cluster[cluster as usize];
                        let nx = q.pop_front();
                        if nx.is_none() {
                            busy_cluster[cluster as usize] = false;
                        }
                        nx
                    }
                    Work::Transfer { .. } => None,
                };
                if let Some(nx) = next {
                    let ps = match g.tasks[nx as usize].work {
                        Work::Tile { ps, .. } | Work::Cluster { ps, .. } => ps,
                        Work::Transfer { .. } => 0,
                    };
                    tm.start[nx as usize] = now;
                    eng.schedule_at(now + ps, PRIORITY_COMPLETION, Ev::Done(nx))?;
                }
                let deps = std::mem::take(&mut g.tasks[i].dependents);
                for &d in &deps {
                    let t = &mut g.tasks[d as usize];
                    t.deps_left -= 1;
                    if t.deps_left == 0 {
                        eng.schedule_at(now, PRIORITY_REQUEST, Ev::Ready(d))?;
                    }
                }
                g.tasks[i].dependents = deps;
            }
        }
    }
    tm.makespan = eng.now();
    tm.events = eng.delivered();
    Ok(tm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hetsim_models::interconnect::{Bandwidth, InterconnectConfig, LinkConfig, Topology};

    fn ic() -> Interconnect {
        Interconnect::new(&InterconnectConfig {
            topology: Topology::Bus(LinkConfig {
                latency_ns: 1.0,
                bandwidth: Bandwidth::BytesPerNs(1.0),
            }),
        })
        .unwrap()
    }

    #[test]
    fn resources_serialise_and_dependencies_hold() {
        // Two tile tasks of 10 ns on tile 0 (FIFO: 0-10, 10-20); a transfer of 5 bytes after
        // the first (bus 1 ns + 5 ns: 10-16); a cluster task of 3 ns after both the transfer
        // and the second tile task: 20-23.
        let mut g = Graph::default();
        let a = g.add(
            Work::Tile {
                tile: 0,
                ps: 10_000,
            },
            0,
            Stage::Tile,
            &[],
        );
        let b = g.add(
            Work::Tile {
                tile: 0,
                ps: 10_000,
            },
            0,
            Stage::Tile,
            &[],
        );
        let x = g.add(
            Work::Transfer {
                src: 1,
                dst: 2,
                bytes: 5,
            },
            0,
            Stage::Output,
            &[a],
        );
        let c = g.add(
            Work::Cluster {
                cluster: 0,
                ps: 3_000,
            },
            0,
            Stage::Lora,
            &[x, b],
        );
        let t = execute(&mut g, &mut ic(), 1, 1).unwrap();
        assert_eq!((t.start[a as usize], t.end[a as usize]), (0, 10_000));
        assert_eq!((t.start[b as usize], t.end[b as usize]), (10_000, 20_000));
        assert_eq!(t.end[x as usize], 16_000);
        assert_eq!((t.start[c as usize], t.end[c as usize]), (20_000, 23_000));
        assert_eq!(t.makespan, 23_000);
    }

    #[test]
    fn bad_resource_is_an_error_not_a_panic() {
        let mut g = Graph::default();
        g.add(Work::Tile { tile: 5, ps: 1 }, 0, Stage::Tile, &[]);
        assert!(execute(&mut g, &mut ic(), 1, 1).is_err());
    }
}
