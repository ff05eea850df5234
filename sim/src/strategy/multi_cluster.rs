//! `multi-cluster`: pipelined, with the LoRA work of one tile split by output columns over `n`
//! clusters. The mapping gives every tile n clusters and the operation n slices per column block
//! (balanced columns, [`slice_cols`]); each cluster receives x_k and its columns of XW_k,
//! computes X A (redundantly: every slice needs it), its columns of (X A) B and the add, and
//! sends its columns of Y to the home cluster. The expansion is `pipelined`'s.

use super::{Costs, LinearJob, Strategy};
use crate::error::Error;
use crate::replay::{Graph, TaskId};

/// The multi-cluster strategy.
pub struct MultiCluster {
    /// Clusters per tile.
    pub clusters: usize,
}

/// Columns of slice `j` when `out` columns are split over `n` clusters (the first
/// `out mod n` slices get one more).
pub fn slice_cols(out: usize, n: usize, j: usize) -> usize {
    let n = n.max(1);
    out / n + usize::from(j < out % n)
}

impl Strategy for MultiCluster {
    fn name(&self) -> String {
        format!("multi-cluster({})", self.clusters)
    }

    fn buffers(&self) -> u64 {
        2
    }

    fn clusters_per_tile(&self) -> usize {
        self.clusters
    }

    fn expand(
        &self,
        job: &LinearJob,
        g: &mut Graph,
        costs: &mut Costs,
    ) -> Result<Vec<TaskId>, Error> {
        super::pipelined::expand_pipelined(job, g, costs)
    }
}
