//! Mapping: static matrices onto tiles, tiles onto clusters, dynamic operations onto clusters,
//! and everything onto interconnect endpoints.
//!
//! Rules (documented in `docs/architecture.md`):
//! - every linear operation of every layer instance gets its own tiles (weight-stationary, all
//!   weights on chip), `ceil(in/rows) x ceil(out/cols)` of them, numbered consecutively in
//!   schedule order, exactly as `aimc::AnalogMatrix::program_at` numbers them (tested);
//! - clusters: `PerTile` gives tile `i` cluster `i` (or clusters `n i .. n i + n - 1` under
//!   `MultiCluster(n)`); `Shared(k)` gives tile `i` cluster `i / k`. A linear operation's LoRA
//!   work is split by output columns into one [`Slice`] per column block of the matrix, done by
//!   the cluster of that column block's first-row tile (n slices on its n clusters under
//!   `MultiCluster(n)`); the output is gathered on the first slice's cluster (its *home*). A
//!   matrix of several row blocks lists, per slice, the clusters of its column of tiles (row
//!   block k's tile in that column, same member under `MultiCluster(n)`: [`OpPlace::chains`]);
//!   the strategies reduce the partial X A over them or pass Y down them
//!   (`scenario::RowBlocks`, `strategy::LinearJob::reducers`);
//! - a dynamic operation's output lives on the home cluster of its first operand (the previous
//!   layer instance's output home for the block input); `mapping.dynamic` says who computes it
//!   (`scenario::DynamicMapping`): the home cluster alone (`OneCluster`), or [`Piece`]s split
//!   by [`split_of`] (key/value head groups for scores and context, token rows otherwise) over
//!   the clusters of the layer instance's tiles (each tile's first member under
//!   `MultiCluster(n)`, so that the hybrid and its baseline spread alike), home first
//!   (`Spread`), or, for the attention kinds,
//!   over `attention_clusters` extra clusters per layer instance with attention, numbered after every tile's
//!   cluster, whose first is then the home (`Dedicated`); a split never has more pieces than
//!   units or clusters, and a split into one piece is the whole operation on that cluster;
//! - endpoints: L2 is 0, tile `i` is `1 + i`, cluster `j` is `1 + tiles + j`. On a mesh (w x h
//!   routers) L2 sits at router 0, tile `i` at router `(1 + i) mod (w h)` (row-major) and each
//!   cluster at the router of its first tile (a dedicated attention cluster at the router of its
//!   layer instance's first tile).

use crate::error::Error;
use crate::scenario::{ClusterPairing, DynamicMapping, Scenario};
use crate::workload::{OpKind, Schedule, BLOCK_INPUT};
use hetsim_models::interconnect::{Endpoint, Interconnect, Topology};

/// Columns of slice `j` when `out` columns are split over `n` clusters (the first
/// `out mod n` slices get one more): how the mapping lists a tile's n clusters.
pub fn slice_cols(out: usize, n: usize, j: usize) -> usize {
    let n = n.max(1);
    out / n + usize::from(j < out % n)
}

/// Endpoint of the shared L2 memory (where the model input comes from).
pub const L2: Endpoint = 0;

/// A share of a linear operation's LoRA work: the output columns one cluster computes, fed by
/// the tile that produces those columns of XW.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// Tile whose outputs (a column block) feed this slice.
    pub tile: u32,
    /// Cluster doing the slice.
    pub cluster: u32,
    /// Output columns of the slice.
    pub cols: usize,
}

/// A share of a dynamic operation: `units` consecutive units of its split dimension
/// ([`split_of`]) starting at `first`, computed by `cluster`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Cluster doing the share.
    pub cluster: u32,
    /// First unit (token row or key/value head group).
    pub first: usize,
    /// Units.
    pub units: usize,
}

/// The dimension a dynamic operation is split along over several clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitBy {
    /// Token rows (row-wise and elementwise kinds: every row is independent).
    Rows,
    /// Key/value head groups (scores and context: a group is one key/value head and the query
    /// heads that read it).
    HeadGroups,
}

/// How a dynamic operation of output shape `out` splits: the dimension and its units
/// (`None` for a linear operation).
pub fn split_of(kind: &OpKind, out: (usize, usize)) -> Option<(SplitBy, usize)> {
    match *kind {
        OpKind::Linear { .. } => None,
        OpKind::Scores { kv_heads, .. } | OpKind::Context { kv_heads, .. } => {
            Some((SplitBy::HeadGroups, kv_heads.max(1)))
        }
        // one share: split by tokens, its partial means would need a reduction step
        OpKind::MeanPool => Some((SplitBy::Rows, 1)),
        _ => Some((SplitBy::Rows, out.0.max(1))),
    }
}

/// The operation, operand shapes and output shape of a piece of `units` units of a dynamic
/// operation `kind` with operands `ins` and output `out` (schedule-validated shapes).
pub fn piece_shape(
    kind: &OpKind,
    ins: &[(usize, usize)],
    out: (usize, usize),
    units: usize,
) -> (OpKind, Vec<(usize, usize)>, (usize, usize)) {
    let (heads, kv) = match *kind {
        OpKind::Scores {
            heads, kv_heads, ..
        }
        | OpKind::Context {
            heads, kv_heads, ..
        } => (heads.max(1), kv_heads.max(1)),
        ref k => {
            let shapes = ins
                .iter()
                .map(|&(r, c)| if r == out.0 { (units, c) } else { (r, c) })
                .collect();
            return (k.clone(), shapes, (units, out.1));
        }
    };
    // `units` key/value heads and the query heads that read them
    let h = units * (heads / kv);
    let k = match *kind {
        OpKind::Scores {
            head_dim, causal, ..
        } => OpKind::Scores {
            heads: h,
            kv_heads: units,
            head_dim,
            causal,
        },
        OpKind::Context { head_dim, .. } => OpKind::Context {
            heads: h,
            kv_heads: units,
            head_dim,
        },
        ref k => k.clone(),
    };
    // the first operand (queries, or probabilities) and the output have a column group per
    // query head, the second (keys, or values) one per key/value head
    let shapes = ins
        .iter()
        .enumerate()
        .map(|(i, &(r, c))| match i {
            0 => (r, c / heads * h),
            _ => (r, c / kv * units),
        })
        .collect();
    (k, shapes, (out.0, out.1 / heads * h))
}

/// Whether `kind` is attention (scores, softmax, context): what dedicated attention clusters
/// run.
pub fn is_attention(kind: &OpKind) -> bool {
    matches!(
        kind,
        OpKind::Scores { .. } | OpKind::Softmax { .. } | OpKind::Context { .. }
    )
}

/// Cluster numbers from here on are placeholders for dedicated attention clusters while
/// mapping; [`Mapping::new`] renumbers them after every tile's cluster.
const DEDICATED: u64 = 1 << 31;

/// Placement of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpPlace {
    /// First tile (linear operations; 0 and `tile_count` 0 otherwise).
    pub first_tile: u32,
    /// Tiles used.
    pub tile_count: u32,
    /// Row blocks of the matrix.
    pub row_blocks: u32,
    /// Column blocks of the matrix.
    pub col_blocks: u32,
    /// Clusters doing the LoRA work (linear) or the operation (dynamic), distinct, in slice
    /// order.
    pub clusters: Vec<u32>,
    /// Linear: the LoRA work split by output columns, one slice per column block of the
    /// matrix (per cluster of the tile under `MultiCluster(n)`: n slices per column block).
    pub slices: Vec<Slice>,
    /// Linear: input features of each row block of the matrix (one entry when the layer fits
    /// one tile's rows).
    pub row_rows: Vec<usize>,
    /// Linear: per slice (same order), the cluster of each row block's tile in the slice's
    /// column (the same member cluster under `MultiCluster(n)`): the chain the slice's LoRA
    /// work runs along, row block 0 first (its first entry is the slice's cluster).
    pub chains: Vec<Vec<u32>>,
    /// Dynamic: the shares of the operation when it is split over several clusters (empty: the
    /// whole operation on `home`).
    pub pieces: Vec<Piece>,
    /// Cluster where the output lives.
    pub home: u32,
}

/// Placement of one layer instance (a block repetition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancePlace {
    /// Block index in the schedule.
    pub block: usize,
    /// Repetition.
    pub rep: usize,
    /// `block.rep`, e.g. `encoder.layer.0` (a block run once keeps its plain name).
    pub name: String,
    /// One entry per operation of the block.
    pub ops: Vec<OpPlace>,
}

/// The whole mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Layer instances in execution order.
    pub instances: Vec<InstancePlace>,
    /// Tiles used.
    pub tiles: u32,
    /// Clusters used.
    pub clusters: u32,
    pairing: ClusterPairing,
    clusters_per_tile: u32,
    /// The first dedicated attention cluster (every cluster before it serves tiles).
    dedicated_base: u32,
    /// Attention clusters per layer instance (`mapping.attention_clusters` under `Dedicated`).
    dedicated_per: u32,
    /// Per layer instance with dedicated clusters, the first tile at or after its start (their
    /// place on a mesh).
    dedicated_tiles: Vec<u32>,
}

impl Mapping {
    /// Maps `schedule` with the scenario's tile size and pairing; `clusters_per_tile` is the
    /// multi-cluster split (1 otherwise).
    pub fn new(
        schedule: &Schedule,
        scenario: &Scenario,
        clusters_per_tile: usize,
    ) -> Result<Self, Error> {
        let tile = &scenario.hardware.tile;
        let pairing = scenario.mapping.clusters;
        let cpt = clusters_per_tile.max(1) as u64;
        let cluster_of = |t: u64| -> u64 {
            match pairing {
                ClusterPairing::PerTile => t * cpt,
                ClusterPairing::Shared(k) => t / k.max(1) as u64,
            }
        };
        let dynamic = scenario.mapping.dynamic;
        let per = scenario.mapping.attention_clusters.max(1) as u64;
        let mut dedicated_tiles: Vec<u32> = Vec::new();
        let mut next_tile: u64 = 0;
        let mut instances = Vec::new();
        let mut prev_home: Option<u32> = None;
        let mut first_cluster_needed = 0u64;
        for (bi, b) in schedule.blocks.iter().enumerate() {
            for rep in 0..b.repeat {
                let name = if b.repeat == 1 {
                    b.name.clone()
                } else {
                    format!("{}.{rep}", b.name)
                };
                // Linear operations first (they number the tiles), then the dynamic ones, which
                // may spread over every tile cluster of the instance.
                let mut placed: Vec<Option<OpPlace>> = Vec::with_capacity(b.ops.len());
                let mut tiles_before: Vec<u64> = Vec::with_capacity(b.ops.len());
                for op in &b.ops {
                    tiles_before.push(next_tile);
                    let place = if let OpKind::Linear {
                        in_features,
                        out_features,
                        ..
                    } = op.kind
                    {
                        let rb = in_features.div_ceil(tile.rows) as u64;
                        let cb = out_features.div_ceil(tile.cols) as u64;
                        let first = next_tile;
                        next_tile += rb * cb;
                        if let Some(avail) = scenario.hardware.tiles_available {
                            if next_tile > avail as u64 {
                                return Err(Error::Mapping(format!(
                                    "`{name}` op `{}` ({in_features} x {out_features}) needs {} \
                                     tile(s) of {} x {}, {next_tile} in total up to here, but only \
                                     {avail} are available",
                                    op.name,
                                    rb * cb,
                                    tile.rows,
                                    tile.cols
                                )));
                            }
                        }
                        if next_tile > u64::from(u32::MAX / 2) {
                            return Err(Error::Mapping(format!(
                                "`{name}` op `{}`: more than {} tiles",
                                op.name,
                                u32::MAX / 2
                            )));
                        }
                        let c0 = cluster_of(first);
                        let mut slices = Vec::new();
                        for b in 0..cb {
                            let tile_id = first + b;
                            let block_cols = tile.cols.min(out_features - (b as usize) * tile.cols);
                            let per = match pairing {
                                ClusterPairing::PerTile => cpt,
                                ClusterPairing::Shared(_) => 1,
                            };
                            for j in 0..per {
                                let cols = slice_cols(block_cols, per as usize, j as usize);
                                if cols > 0 {
                                    slices.push(Slice {
                                        tile: tile_id as u32,
                                        cluster: (cluster_of(tile_id) + j) as u32,
                                        cols,
                                    });
                                }
                            }
                        }
                        let row_rows: Vec<usize> = (0..rb as usize)
                            .map(|k| tile.rows.min(in_features - k * tile.rows))
                            .collect();
                        // a slice's cluster is its tile's cluster plus its member offset
                        // (MultiCluster); row block k's tile in that column has the same offset
                        let chains: Vec<Vec<u32>> = slices
                            .iter()
                            .map(|sl| {
                                let b = u64::from(sl.tile) - first;
                                let off = u64::from(sl.cluster) - cluster_of(u64::from(sl.tile));
                                (0..rb)
                                    .map(|k| (cluster_of(first + k * cb + b) + off) as u32)
                                    .collect()
                            })
                            .collect();
                        let mut clusters: Vec<u32> = Vec::new();
                        for c in chains.iter().flatten() {
                            if !clusters.contains(c) {
                                clusters.push(*c);
                            }
                        }
                        Some(OpPlace {
                            first_tile: first as u32,
                            tile_count: (rb * cb) as u32,
                            row_blocks: rb as u32,
                            col_blocks: cb as u32,
                            home: c0 as u32,
                            clusters,
                            slices,
                            row_rows,
                            chains,
                            pieces: Vec::new(),
                        })
                    } else {
                        None
                    };
                    placed.push(place);
                }
                let inst_first_tile = tiles_before.first().copied().unwrap_or(next_tile);
                // the clusters of the instance's tiles in tile order (a tile's first member under
                // MultiCluster(n), so that the hybrid and its one-cluster-per-tile baseline
                // spread over as many clusters)
                let mut layer_clusters: Vec<u32> = Vec::new();
                for p in placed.iter().flatten() {
                    for t in p.first_tile..p.first_tile + p.tile_count {
                        let c = cluster_of(u64::from(t)) as u32;
                        if !layer_clusters.contains(&c) {
                            layer_clusters.push(c);
                        }
                    }
                }
                let has_attention = b.ops.iter().any(|o| is_attention(&o.kind));
                let dedicated: Vec<u32> = if dynamic == DynamicMapping::Dedicated && has_attention {
                    let base = DEDICATED + dedicated_tiles.len() as u64 * per;
                    dedicated_tiles.push(inst_first_tile as u32);
                    (0..per).map(|j| (base + j) as u32).collect()
                } else {
                    Vec::new()
                };
                let mut ops: Vec<OpPlace> = Vec::with_capacity(b.ops.len());
                for (oi, (op, lin)) in b.ops.iter().zip(placed).enumerate() {
                    if let Some(p) = lin {
                        ops.push(p);
                        continue;
                    }
                    let operand_home = op
                        .inputs
                        .first()
                        .and_then(|i| {
                            if i == BLOCK_INPUT {
                                prev_home
                            } else {
                                b.ops
                                    .iter()
                                    .position(|o| o.name == *i)
                                    .and_then(|p| ops.get(p))
                                    .map(|p| p.home)
                            }
                        })
                        .unwrap_or_else(|| cluster_of(tiles_before[oi]) as u32);
                    let attention = is_attention(&op.kind);
                    // the clusters that may share the operation, its home first
                    let candidates: Vec<u32> = match dynamic {
                        DynamicMapping::Dedicated if attention => dedicated.clone(),
                        DynamicMapping::Spread => std::iter::once(operand_home)
                            .chain(
                                layer_clusters
                                    .iter()
                                    .copied()
                                    .filter(|&c| c != operand_home),
                            )
                            .collect(),
                        _ => vec![operand_home],
                    };
                    let home = candidates.first().copied().unwrap_or(operand_home);
                    if u64::from(home) < DEDICATED {
                        first_cluster_needed = first_cluster_needed.max(u64::from(home) + 1);
                    }
                    let units = split_of(&op.kind, op.out).map_or(1, |s| s.1);
                    let n = candidates.len().min(units).max(1);
                    let mut pieces = Vec::new();
                    if n > 1 {
                        let mut first = 0;
                        for (j, &cluster) in candidates.iter().take(n).enumerate() {
                            let units = slice_cols(units, n, j);
                            pieces.push(Piece {
                                cluster,
                                first,
                                units,
                            });
                            first += units;
                        }
                    }
                    let clusters = if pieces.is_empty() {
                        vec![home]
                    } else {
                        pieces.iter().map(|p| p.cluster).collect()
                    };
                    ops.push(OpPlace {
                        first_tile: 0,
                        tile_count: 0,
                        row_blocks: 0,
                        col_blocks: 0,
                        clusters,
                        slices: Vec::new(),
                        row_rows: Vec::new(),
                        chains: Vec::new(),
                        pieces,
                        home,
                    });
                }
                prev_home = ops.last().map(|o| o.home);
                instances.push(InstancePlace {
                    block: bi,
                    rep,
                    name,
                    ops,
                });
            }
        }
        let tile_clusters = match pairing {
            ClusterPairing::PerTile => next_tile * cpt,
            ClusterPairing::Shared(k) => next_tile.div_ceil(k.max(1) as u64),
        }
        .max(first_cluster_needed);
        let extra = dedicated_tiles.len() as u64 * per;
        let clusters = (tile_clusters + extra).max(1);
        if clusters >= DEDICATED {
            return Err(Error::Mapping(format!(
                "{clusters} clusters: more than the {DEDICATED} a mapping can number"
            )));
        }
        // dedicated attention clusters are numbered after every tile's cluster
        let renumber = |c: &mut u32| {
            if u64::from(*c) >= DEDICATED {
                *c = (u64::from(*c) - DEDICATED + tile_clusters) as u32;
            }
        };
        for op in instances.iter_mut().flat_map(|i| i.ops.iter_mut()) {
            renumber(&mut op.home);
            op.clusters.iter_mut().for_each(renumber);
            op.pieces.iter_mut().for_each(|p| renumber(&mut p.cluster));
        }
        Ok(Self {
            instances,
            tiles: next_tile as u32,
            clusters: clusters as u32,
            pairing,
            clusters_per_tile: cpt as u32,
            dedicated_base: tile_clusters as u32,
            dedicated_per: per as u32,
            dedicated_tiles,
        })
    }

    /// Endpoint of tile `t`.
    pub fn tile_ep(&self, t: u32) -> Endpoint {
        1 + t
    }

    /// Endpoint of cluster `c`.
    pub fn cluster_ep(&self, c: u32) -> Endpoint {
        1 + self.tiles + c
    }

    /// First tile served by cluster `c` (for a dedicated attention cluster: the first tile of its
    /// layer instance).
    pub fn first_tile_of_cluster(&self, c: u32) -> u32 {
        if c >= self.dedicated_base && !self.dedicated_tiles.is_empty() {
            let k = ((c - self.dedicated_base) / self.dedicated_per.max(1)) as usize;
            if let Some(&t) = self.dedicated_tiles.get(k) {
                return t;
            }
        }
        match self.pairing {
            ClusterPairing::PerTile => c / self.clusters_per_tile.max(1),
            ClusterPairing::Shared(k) => c.saturating_mul(k as u32),
        }
    }

    /// Places the endpoints on a mesh interconnect (no effect on other topologies).
    pub fn place(&self, ic: &mut Interconnect) -> Result<(), Error> {
        if let Topology::Mesh(m) = ic.config().topology {
            let routers = m.width * m.height;
            let at = |r: u32| (r % m.width, r / m.width);
            let (x, y) = at(0);
            ic.place(L2, x, y)?;
            for t in 0..self.tiles {
                let (x, y) = at((1 + t) % routers);
                ic.place(self.tile_ep(t), x, y)?;
            }
            for c in 0..self.clusters {
                let (x, y) = at((1 + self.first_tile_of_cluster(c)) % routers);
                ic.place(self.cluster_ep(c), x, y)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::models::{generate, MOBILEBERT};
    use hetsim_models::aimc::{AnalogMatrix, Matrix, TileConfig};

    fn scenario(rows: usize, pairing: ClusterPairing) -> Scenario {
        let text = r#"(name: "t", workload: (schedule: Model("mobilebert")))"#;
        let mut s: Scenario = ron::from_str(text).unwrap();
        s.hardware.tile.rows = rows;
        s.hardware.tile.cols = rows;
        s.mapping.clusters = pairing;
        s
    }

    #[test]
    fn tile_counts_match_the_aimc_mapping() {
        // A 384 x 512 matrix on 256 x 256 tiles: 2 x 2 = 4 tiles, as AnalogMatrix reports.
        let sc = scenario(256, ClusterPairing::PerTile);
        let sched = generate(&MOBILEBERT, 8, None);
        let m = Mapping::new(&sched, &sc, 1).unwrap();
        let emb = &m.instances[0].ops[0];
        let cfg = TileConfig {
            rows: 256,
            cols: 256,
            ..TileConfig::ideal()
        };
        let a = AnalogMatrix::program(&cfg, &Matrix::zeros(384, 512)).unwrap();
        assert_eq!(emb.tile_count as usize, a.mapping().tile_count());
        assert_eq!(emb.row_blocks as usize, a.mapping().row_blocks);
        assert_eq!(emb.col_blocks as usize, a.mapping().col_blocks);
        // MobileBERT on 512 x 512 tiles: 1 (embedding) + 24 x 15 + 1 (QA) = 362 tiles,
        // one cluster each.
        let m = Mapping::new(&sched, &scenario(512, ClusterPairing::PerTile), 1).unwrap();
        assert_eq!((m.tiles, m.clusters), (362, 362));
        // Shared by 2: 181 clusters; multi-cluster(2): 724.
        let m2 = Mapping::new(&sched, &scenario(512, ClusterPairing::Shared(2)), 1).unwrap();
        assert_eq!(m2.clusters, 181);
        let m3 = Mapping::new(&sched, &scenario(512, ClusterPairing::PerTile), 2).unwrap();
        assert_eq!(m3.clusters, 724);
        assert_eq!(m3.instances[1].ops[0].clusters, vec![2, 3]);
        let sl = &m3.instances[1].ops[0].slices;
        assert_eq!((sl[0].cols, sl[1].cols, sl[1].tile), (64, 64, 1));
        // 384 x 512 on 256 x 256 tiles: 2 column blocks of 256 -> 2 slices on the clusters
        // of tiles 0 and 1 (the first row block).
        let m4 = Mapping::new(&sched, &scenario(256, ClusterPairing::PerTile), 1).unwrap();
        let sl = &m4.instances[0].ops[0].slices;
        assert_eq!(sl.len(), 2);
        assert_eq!((sl[0].tile, sl[0].cluster, sl[0].cols), (0, 0, 256));
        assert_eq!((sl[1].tile, sl[1].cluster, sl[1].cols), (1, 1, 256));
    }

    /// A layer two row blocks deep (384 x 512 on 256 x 256 tiles: tiles 0, 1 in row block 0,
    /// 2, 3 in row block 1): each column slice's LoRA runs along its column's clusters, row
    /// block 0 first, with 256 then 128 input features.
    #[test]
    fn wide_layers_chain_their_columns_clusters() {
        let sched = generate(&MOBILEBERT, 8, None);
        let emb = |pairing, cpt| {
            let m = Mapping::new(&sched, &scenario(256, pairing), cpt).unwrap();
            m.instances[0].ops[0].clone()
        };
        let per_tile = emb(ClusterPairing::PerTile, 1);
        assert_eq!(per_tile.row_rows, vec![256, 128]);
        assert_eq!(per_tile.chains, vec![vec![0, 2], vec![1, 3]]);
        assert_eq!(per_tile.clusters, vec![0, 2, 1, 3]);
        // Two clusters per tile (tile t has 2t, 2t + 1): member m keeps its offset.
        let multi = emb(ClusterPairing::PerTile, 2);
        assert_eq!(
            multi.chains,
            vec![vec![0, 4], vec![1, 5], vec![2, 6], vec![3, 7]]
        );
        // Shared by 2 (tiles 0, 1 on cluster 0; 2, 3 on cluster 1).
        let shared = emb(ClusterPairing::Shared(2), 1);
        assert_eq!(shared.chains, vec![vec![0, 1], vec![0, 1]]);
    }

    #[test]
    fn dynamic_ops_follow_their_first_operand() {
        let sched = generate(&MOBILEBERT, 8, None);
        let m = Mapping::new(&sched, &scenario(512, ClusterPairing::PerTile), 1).unwrap();
        let l0 = &m.instances[1];
        // op 1 (bottleneck.input.LayerNorm) follows op 0 (bottleneck.input.dense, tile 1).
        assert_eq!(l0.ops[0].first_tile, 1);
        assert_eq!(l0.ops[1].home, l0.ops[0].home);
    }

    /// MobileBERT at SL 320 on 512 x 512 tiles: a layer instance has 15 tiles, so 15 clusters
    /// (1 + 15 i .. 15 i + 15 for encoder layer i; the embedding has cluster 0).
    #[test]
    fn spread_splits_over_the_layers_tile_clusters_home_first() {
        let sched = generate(&MOBILEBERT, 320, None);
        let mut sc = scenario(512, ClusterPairing::PerTile);
        sc.mapping.dynamic = DynamicMapping::Spread;
        let m = Mapping::new(&sched, &sc, 1).unwrap();
        assert_eq!((m.tiles, m.clusters), (362, 362));
        let l0 = &m.instances[1];
        let block = &sched.blocks[l0.block];
        let at = |name: &str| {
            let i = block.ops.iter().position(|o| o.name == name).unwrap();
            &l0.ops[i]
        };
        // scores: 4 heads, 4 key/value heads -> 4 shares of one head, on the query's home
        // (attention.self.query's tile) first, then the layer's clusters in tile order
        let q_home = at("attention.self.query").home;
        let scores = at("attention.self.scores");
        assert_eq!(scores.home, q_home);
        assert_eq!(scores.pieces.len(), 4);
        assert_eq!(scores.pieces[0].cluster, q_home);
        assert!(scores.pieces.iter().all(|p| p.units == 1));
        assert_eq!(
            scores.pieces.iter().map(|p| p.first).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        // softmax: 320 rows over 15 clusters -> 5 shares of 22 rows, then 10 of 21
        let sm = at("attention.self.softmax");
        assert_eq!(sm.pieces.len(), 15);
        let units: Vec<usize> = sm.pieces.iter().map(|p| p.units).collect();
        assert_eq!(units, [vec![22; 5], vec![21; 10]].concat());
        assert_eq!(sm.pieces[14].first, 5 * 22 + 9 * 21);
        let mut cl = sm.clusters.clone();
        cl.sort_unstable();
        assert_eq!(cl, (1..=15).collect::<Vec<u32>>());
        // the linear operations keep their placement
        let one = Mapping::new(&sched, &scenario(512, ClusterPairing::PerTile), 1).unwrap();
        for (a, b) in one.instances[1].ops.iter().zip(&l0.ops) {
            if a.tile_count > 0 {
                assert_eq!(a, b);
            } else {
                assert_eq!(a.home, b.home);
                assert!(a.pieces.is_empty());
            }
        }
    }

    #[test]
    fn dedicated_attention_clusters_follow_every_tile_cluster() {
        let sched = generate(&MOBILEBERT, 8, None);
        let mut sc = scenario(512, ClusterPairing::PerTile);
        sc.mapping.dynamic = DynamicMapping::Dedicated;
        sc.mapping.attention_clusters = 2;
        let m = Mapping::new(&sched, &sc, 1).unwrap();
        // 24 encoder layers have attention, the embedding and the QA head none
        assert_eq!((m.tiles, m.clusters), (362, 362 + 24 * 2));
        for (i, inst) in m.instances.iter().enumerate() {
            let block = &sched.blocks[inst.block];
            for (op, place) in block.ops.iter().zip(&inst.ops) {
                if is_attention(&op.kind) {
                    // encoder layer i (instance i) has clusters 362 + 2 (i - 1) and the next
                    let first = 362 + 2 * (i as u32 - 1);
                    assert_eq!(place.home, first, "{}", op.name);
                    let cl: Vec<u32> = place.pieces.iter().map(|p| p.cluster).collect();
                    assert!(cl.is_empty() || cl == vec![first, first + 1], "{cl:?}");
                    // placed at its layer's first tile
                    assert_eq!(m.first_tile_of_cluster(first), 1 + 15 * (i as u32 - 1));
                } else if place.tile_count == 0 {
                    assert!(place.home < 362 && place.pieces.is_empty());
                }
            }
        }
    }

    #[test]
    fn piece_shapes_split_head_groups_and_rows() {
        // LLaMA-3.1-8B attention: 32 query heads over 8 key/value heads, head_dim 128, SL 64;
        // two groups are 8 query heads over 2 key/value heads
        let scores = OpKind::Scores {
            heads: 32,
            kv_heads: 8,
            head_dim: 128,
            causal: true,
        };
        let (k, ins, out) = piece_shape(&scores, &[(64, 4096), (64, 1024)], (64, 32 * 64), 2);
        assert_eq!(
            k,
            OpKind::Scores {
                heads: 8,
                kv_heads: 2,
                head_dim: 128,
                causal: true
            }
        );
        assert_eq!((ins, out), (vec![(64, 1024), (64, 256)], (64, 8 * 64)));
        let ctx = OpKind::Context {
            heads: 32,
            kv_heads: 8,
            head_dim: 128,
        };
        let (k, ins, out) = piece_shape(&ctx, &[(64, 32 * 64), (64, 1024)], (64, 4096), 1);
        assert_eq!(
            k,
            OpKind::Context {
                heads: 4,
                kv_heads: 1,
                head_dim: 128
            }
        );
        assert_eq!((ins, out), (vec![(64, 4 * 64), (64, 128)], (64, 512)));
        assert_eq!(split_of(&ctx, (64, 4096)), Some((SplitBy::HeadGroups, 8)));
        let (k, ins, out) = piece_shape(&OpKind::Add, &[(320, 512), (320, 512)], (320, 512), 21);
        assert_eq!(
            (k, ins, out),
            (OpKind::Add, vec![(21, 512), (21, 512)], (21, 512))
        );
        assert_eq!(
            split_of(&OpKind::Add, (320, 512)),
            Some((SplitBy::Rows, 320))
        );
    }

    #[test]
    fn too_few_tiles_is_a_mapping_error() {
        let mut sc = scenario(512, ClusterPairing::PerTile);
        sc.hardware.tiles_available = Some(10);
        let e = Mapping::new(&generate(&MOBILEBERT, 8, None), &sc, 1).unwrap_err();
        assert!(e.to_string().contains("only 10 are available"), "{e}");
    }
}
