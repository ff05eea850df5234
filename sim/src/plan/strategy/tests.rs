//! Strategies on hand-checkable cases. Interconnect: a bus with 0 latency and 0-byte
//! activations (element_bytes 0), so transfers take no time and only the tile and cluster
//! stages count. Tile: 100 ns per batch of one token. Cluster (fixed backend): 250 cycles at
//! 1 GHz = 250 ns per batch (branch 200 + add 50), scaled by out_features / 128 for column
//! slices, plus a once-per-operation start-up of `startup` cycles (0 unless a test sets it).

use super::*;
use crate::backend::{ClusterRun, LoraShape};
use crate::replay::execute;
use crate::workload::OpKind;
use hetsim_models::aimc::Matrix;
use hetsim_models::interconnect::{
    Bandwidth, Interconnect, InterconnectConfig, LinkConfig, Topology,
};

struct Fixed {
    startup: u64,
}

impl ClusterBackend for Fixed {
    fn label(&self) -> String {
        "fixed test cost".into()
    }
    fn clock(&self) -> ClockDomain {
        ClockDomain::from_ghz(1.0).unwrap()
    }
    fn tcdm_capacity(&self) -> u64 {
        1 << 17
    }
    fn lora_cost(&mut self, s: &LoraShape) -> Result<ClusterCost, Error> {
        let scale = s.out_features as u64;
        Ok(ClusterCost {
            cycles: 250 * scale / 128,
            branch_cycles: 200 * scale / 128,
            add_cycles: 50 * scale / 128,
            resident_bytes: 0,
            batch_bytes: 0,
            startup_cycles: self.startup,
            ..ClusterCost::default()
        })
    }
    fn lora(
        &mut self,
        _: &LoraShape,
        _: f32,
        _: &Matrix,
        _: &Matrix,
        _: &Matrix,
        _: &Matrix,
    ) -> Result<ClusterRun, Error> {
        Err(Error::Backend("not used".into()))
    }
    fn dynamic_cost(
        &mut self,
        _: &OpKind,
        _: &[(usize, usize)],
        _: (usize, usize),
    ) -> Result<ClusterCost, Error> {
        Ok(ClusterCost::default())
    }
    fn dynamic(&mut self, _: &OpKind, _: &[&Matrix]) -> Result<ClusterRun, Error> {
        Err(Error::Backend("not used".into()))
    }
}

/// Latency in ns of one 128 x 128 linear operation of 4 one-token batches with a tile taking
/// `tile_ns` per batch.
fn latency_ns(strategy: &dyn Strategy, tile_ns: u64, lora: bool) -> u64 {
    let n = strategy.clusters_per_tile();
    // One column block of 128 split over the tile's n clusters, as the mapping does.
    let slices: Vec<JobSlice> = (0..n)
        .map(|j| JobSlice {
            tile_ep: 1,
            cluster: j as u32,
            cluster_ep: 10 + j as u32,
            cols: crate::mapping::slice_cols(128, n, j),
        })
        .collect();
    latency_with(strategy, tile_ns, lora, &slices)
}

fn latency_with(strategy: &dyn Strategy, tile_ns: u64, lora: bool, slices: &[JobSlice]) -> u64 {
    latency_startup(strategy, tile_ns, lora, slices, 0)
}

fn latency_startup(
    strategy: &dyn Strategy,
    tile_ns: u64,
    lora: bool,
    slices: &[JobSlice],
    startup: u64,
) -> u64 {
    let batches = [1usize; 4];
    let n = slices.len();
    let job = LinearJob {
        op: 0,
        batches: &batches,
        tile: 0,
        tile_ep: 1,
        slices,
        src: 0,
        in_features: 128,
        out_features: 128,
        element_bytes: 0,
        tile_ps_per_token: tile_ns * 1000,
        rank: lora.then_some(8),
        deps: &[],
        row_rows: &[],
        chains: &[],
        reduce: true,
        history: Default::default(),
        partials: Default::default(),
    };
    makespan_ns(strategy, &job, startup, n as u32)
}

/// Makespan in ns of `job` expanded by `strategy` on the fixed backend (start-up `startup`)
/// with `clusters` clusters and the zero-time bus.
fn makespan_ns(strategy: &dyn Strategy, job: &LinearJob, startup: u64, clusters: u32) -> u64 {
    let mut backend = Fixed { startup };
    let mut costs = Costs::new(&mut backend);
    let mut g = Graph::default();
    strategy.expand(job, &mut g, &mut costs).unwrap();
    let mut ic = Interconnect::new(&InterconnectConfig {
        topology: Topology::Bus(LinkConfig {
            latency_ns: 0.0,
            bandwidth: Bandwidth::BytesPerNs(1.0),
        }),
    })
    .unwrap();
    execute(&mut g, &mut ic, 1, clusters).unwrap().makespan / 1000
}

#[test]
fn sequential_adds_every_stage() {
    // Tile 100 ns + cluster 250 ns per batch, no overlap: 4 x 350 = 1400 ns.
    assert_eq!(latency_ns(&sequential::Sequential, 100, true), 1400);
    // Tile-bound numbers: 4 x (300 + 250) = 2200 ns.
    assert_eq!(latency_ns(&sequential::Sequential, 300, true), 2200);
}

#[test]
fn pipelined_cluster_bound() {
    // tile0 0-100, cl0 100-350; tile1 100-200, cl1 350-600; tile2 waits for cl0's buffer:
    // 350-450, cl2 600-850; tile3 waits for cl1: 600-700, cl3 850-1100.
    // = first tile batch + 4 cluster batches = 100 + 4 x 250 = 1100 ns.
    assert_eq!(latency_ns(&pipelined::Pipelined, 100, true), 1100);
}

#[test]
fn pipelined_tile_bound() {
    // Tile 300 ns > cluster 250 ns: tiles back to back 0-1200, the last cluster batch
    // 1200-1450: 4 x 300 + 250 = 1450 ns. Baseline 4 x 300 = 1200: overhead 1450/1200.
    assert_eq!(latency_ns(&pipelined::Pipelined, 300, true), 1450);
    assert_eq!(latency_ns(&pipelined::Pipelined, 300, false), 1200);
}

#[test]
fn baseline_is_the_tile_alone() {
    // No LoRA: 4 tile batches back to back, 4 x 100 = 400 ns, for every strategy.
    for s in [
        for_choice(StrategyChoice::Sequential),
        for_choice(StrategyChoice::Pipelined),
        for_choice(StrategyChoice::ParallelBranch),
        for_choice(StrategyChoice::MultiCluster(2)),
    ] {
        assert_eq!(latency_ns(s.as_ref(), 100, false), 400, "{}", s.name());
    }
}

#[test]
fn parallel_branch_hides_the_tile() {
    // br0 0-200 (x is there at 0) while tile0 0-100; add0 200-250; br1 250-450, add1 450-500;
    // br2 500-700, add2 700-750; br3 750-950, add3 950-1000 (tiles 2, 3 wait for the buffers
    // of adds 0, 1: 250-350, 500-600, never late). Total 4 x 250 = 1000 ns.
    assert_eq!(
        latency_ns(&parallel_branch::ParallelBranch, 100, true),
        1000
    );
}

#[test]
fn multi_cluster_deals_the_batches_over_the_clusters() {
    // Two clusters, each taking whole batches (all 128 columns, 250 ns): batches 0, 2 on
    // cluster 0, batches 1, 3 on cluster 1. Tiles back to back 0-100, 100-200, 200-300,
    // 300-400 (a cluster's two buffers free the tile 2n = 4 batches ahead: never waits here).
    // c0: b0 100-350, b2 350-600; c1: b1 200-450, b3 450-700. = 700 ns (one cluster: 1100).
    assert_eq!(
        latency_ns(&multi_cluster::MultiCluster { clusters: 2 }, 100, true),
        700
    );
    // Four clusters: b0..b3 each on its own cluster, starting when their tile batch ends:
    // the last, b3, 400-650. = 650 ns: the tile (400) plus one cluster batch.
    assert_eq!(
        latency_ns(&multi_cluster::MultiCluster { clusters: 4 }, 100, true),
        650
    );
    assert_eq!(crate::mapping::slice_cols(129, 2, 0), 65);
    assert_eq!(crate::mapping::slice_cols(129, 2, 1), 64);
}

#[test]
fn batching_splits_the_tail() {
    assert_eq!(batches(320, 128), vec![128, 128, 64]);
    assert_eq!(batches(16, 8), vec![8, 8]);
    assert_eq!(batches(3, 8), vec![3]);
}

#[test]
fn column_blocks_split_the_lora_work() {
    // A matrix of two column blocks of 64 (tiles at endpoints 1 and 2) with a cluster each:
    // each slice costs 250 * 64 / 128 = 125 ns per batch, so pipelined gives
    // 100 + 4 x 125 = 600 ns, sequential 4 x (100 + 125) = 900 ns.
    let slices = [
        JobSlice {
            tile_ep: 1,
            cluster: 0,
            cluster_ep: 10,
            cols: 64,
        },
        JobSlice {
            tile_ep: 2,
            cluster: 1,
            cluster_ep: 11,
            cols: 64,
        },
    ];
    assert_eq!(latency_with(&pipelined::Pipelined, 100, true, &slices), 600);
    assert_eq!(
        latency_with(&sequential::Sequential, 100, true, &slices),
        900
    );
    // Parallel-branch per slice: branch 100, add 25: br0 0-100 || tile0 0-100, add0 100-125,
    // br1 125-225, add1 225-250, ... 4 x 125 = 500 ns.
    assert_eq!(
        latency_with(&parallel_branch::ParallelBranch, 100, true, &slices),
        500
    );
}

#[test]
fn the_start_up_is_charged_once_per_operation() {
    // cluster j at endpoint 10 + j, fed by the tile at endpoint 1
    let slice = |j: u32, cols: usize| JobSlice {
        tile_ep: 1,
        cluster: j,
        cluster_ep: 10 + j,
        cols,
    };
    let one = [slice(0, 128)];
    // Start-up 300 ns from time 0 (the operation's inputs are ready), while tile0 runs 0-100;
    // cl0 waits for it: 300-550, then 550-800, 800-1050, 1050-1300 (tiles 1-3 are early).
    // = 300 + 4 x 250 = 1300 ns, against 1100 without: charged once, not per batch.
    assert_eq!(
        latency_startup(&pipelined::Pipelined, 100, true, &one, 300),
        1300
    );
    // A start-up shorter than the first tile batch (50 < 100 ns) is hidden: 1100 ns.
    assert_eq!(
        latency_startup(&pipelined::Pipelined, 100, true, &one, 50),
        1100
    );
    // Sequential: the start-up (0-300) overlaps tile0 (0-100); cl0 300-550, then batches 2-4
    // at 350 ns each: 550 + 3 x 350 = 1600 ns (1400 without).
    assert_eq!(
        latency_startup(&sequential::Sequential, 100, true, &one, 300),
        1600
    );
    // Parallel-branch: br0 waits for the start-up: 300-500, add0 500-550, then 3 x 250:
    // 550 + 750 = 1300 ns (1000 without).
    assert_eq!(
        latency_startup(&parallel_branch::ParallelBranch, 100, true, &one, 300),
        1300
    );
    // Multi-cluster(2): both clusters start up 0-300 (in parallel), batches of 250 ns (whole
    // columns): c0 b0 300-550, b2 550-800; c1 b1 300-550, b3 550-800. = 800 ns.
    let two = [slice(0, 64), slice(1, 64)];
    assert_eq!(
        latency_startup(
            &multi_cluster::MultiCluster { clusters: 2 },
            100,
            true,
            &two,
            300
        ),
        800
    );
    // The baseline (no LoRA) has no cluster, so no start-up: 400 ns.
    assert_eq!(
        latency_startup(&pipelined::Pipelined, 100, false, &one, 300),
        400
    );
}

/// Latency in ns of one 128-column slice of a 256 x 128 layer two row blocks deep (128 input
/// features each), whose LoRA runs along clusters 0 and 1 (one segment each, 250 ns; the
/// running Y moves between them in no time), 4 one-token batches, tile 100 ns per batch.
fn latency_chain(strategy: &dyn Strategy) -> u64 {
    let batches = [1usize; 4];
    let slices = [JobSlice {
        tile_ep: 1,
        cluster: 0,
        cluster_ep: 10,
        cols: 128,
    }];
    let chains = [vec![(0, 10), (1, 11)]];
    let job = LinearJob {
        op: 0,
        batches: &batches,
        tile: 0,
        tile_ep: 1,
        slices: &slices,
        src: 0,
        in_features: 256,
        out_features: 128,
        element_bytes: 0,
        tile_ps_per_token: 100_000,
        rank: Some(8),
        deps: &[],
        row_rows: &[128, 128],
        chains: &chains,
        reduce: false,
        history: Default::default(),
        partials: Default::default(),
    };
    makespan_ns(strategy, &job, 0, 2)
}

/// Latency in ns of a 256 x 256 layer on 2 x 2 tiles (two row blocks of 128 input features,
/// two 128-column slices on clusters 0 and 1; row block 1's tiles have clusters 2 and 3) with
/// the partial X A reduction, 4 one-token batches, tile 100 ns per batch. The reducers are the
/// clusters below the first row: row block 0's partial on cluster 2, row block 1's on
/// cluster 3, each 15 ns (the fixed cost at out = rank 8: 250 x 8 / 128 = 15 cycles, branch
/// 12 + add 3); each slice's final stage (out 128) 250 ns (branch 200 + add 50).
fn latency_reduce(strategy: &dyn Strategy) -> u64 {
    let batches = [1usize; 4];
    let slices = [
        JobSlice {
            tile_ep: 1,
            cluster: 0,
            cluster_ep: 10,
            cols: 128,
        },
        JobSlice {
            tile_ep: 2,
            cluster: 1,
            cluster_ep: 11,
            cols: 128,
        },
    ];
    let chains = [vec![(0, 10), (2, 12)], vec![(1, 11), (3, 13)]];
    let job = LinearJob {
        op: 0,
        batches: &batches,
        tile: 0,
        tile_ep: 1,
        slices: &slices,
        src: 0,
        in_features: 256,
        out_features: 256,
        element_bytes: 0,
        tile_ps_per_token: 100_000,
        rank: Some(8),
        deps: &[],
        row_rows: &[128, 128],
        chains: &chains,
        reduce: true,
        history: Default::default(),
        partials: Default::default(),
    };
    assert_eq!(
        job.reducers(0),
        vec![(2, 12, 128), (3, 13, 128)],
        "the reducers are the clusters below the first row"
    );
    makespan_ns(strategy, &job, 0, 4)
}

#[test]
fn the_partial_xa_reduction_runs_its_row_blocks_in_parallel() {
    // Pipelined: batch k's partials run on clusters 2 and 3 after its tile (15 ns), the
    // finals on clusters 0 and 1 after them (250 ns each, one at a time per cluster); the
    // tile waits for the final of batch k - 2 (it holds that batch's XW). Tile 0-100,
    // partials 100-115, final0 115-365; tile1 100-200, final1 365-615; tile2 after final0:
    // 365-465, final2 615-865; tile3 after final1: 615-715, final3 865-1115 ns (passing Y down
    // the chain instead: 1350, `a_chain_of_row_blocks_pipelines_over_its_clusters`).
    assert_eq!(latency_reduce(&pipelined::Pipelined), 1115);
    // Sequential: per batch tile 100 + partials 15 (in parallel) + final 250 = 365 ns.
    assert_eq!(latency_reduce(&sequential::Sequential), 4 * 365);
    // Parallel-branch: the partials need only x (clusters 2 and 3: 0-15, 15-30, ...); each
    // final's branch (200) follows its previous add, its add (50) also the tile: br0 15-215,
    // add0 215-265, br1 265-465, add1 465-515, br2 515-715, add2 715-765, br3 765-965, add3
    // 965-1015 (the tiles, freed by the adds two batches back, never wait longer).
    assert_eq!(latency_reduce(&parallel_branch::ParallelBranch), 1015);
}

#[test]
fn a_chain_of_row_blocks_pipelines_over_its_clusters() {
    // Pipelined: c0 runs segment 0 of batch b at 100 + 250 b, c1 segment 1 250 ns later; the
    // tile (2 batches ahead of c0) never waits long enough to matter: the last segment ends
    // at 100 + 250 + 4 x 250 = 1350 ns (one cluster doing both: 100 + 4 x 500 = 2100).
    assert_eq!(latency_chain(&pipelined::Pipelined), 1350);
    // Sequential: per batch tile 100 + 250 + 250 = 600 ns, 4 x 600 = 2400 ns.
    assert_eq!(latency_chain(&sequential::Sequential), 2400);
    // Parallel-branch (branch 200 ns needs only x, add 50 ns needs the running Y): batch 0:
    // both branches 0-200, add0 200-250, add1 250-300; then each cluster's branch follows its
    // previous add: c0 br 250-450, add 450-500, br 500-700, add 700-750, br 750-950, add
    // 950-1000; c1 br 300-500, add 500-550, br 550-750, add 750-800, br 800-1000, add after
    // c0's last add: 1000-1050.
    assert_eq!(latency_chain(&parallel_branch::ParallelBranch), 1050);
}
