//! kernels/xdma_copy.c: the Xdma instruction macros of kernels/include/snitch.h drive the
//! cluster's DMA engine from C (a 2-D copy L2 -> TCDM and back, checked by the kernel).

use hetsim_isa::Program;
use hetsim_models::cluster::{Cluster, ClusterConfig};
use hetsim_tests::workspace_root;

fn run(cfg: &ClusterConfig) -> Result<hetsim_models::cluster::ClusterReport, String> {
    let path = workspace_root().join("kernels/build/xdma_copy.elf");
    let program = Program::load(&path).expect("xdma_copy ELF");
    Cluster::new(cfg, &program)
        .expect("cluster")
        .run()
        .map_err(|e| e.to_string())
}

#[test]
fn xdma_macros_copy_a_2d_block_both_ways() {
    let study = ClusterConfig::from_ron_file(
        &workspace_root().join("models/presets/cluster-snitch-study.ron"),
    )
    .unwrap();
    let r = run(&study).expect("run");
    assert_eq!(r.exit_code, 0, "the kernel checks both copies");
    // Two transfers of 12 rows x 96 bytes.
    assert_eq!(r.dma_bytes, 2 * 12 * 96);
    // A beat moves at most dma.bytes_per_cycle = 64 bytes of one row: 96-byte rows take two.
    assert_eq!(r.dma_busy_cycles, 2 * 12 * 2);
}

#[test]
fn without_xdma_the_first_dma_instruction_is_illegal() {
    let e = run(&ClusterConfig::default()).unwrap_err();
    assert!(
        e.contains("core 8") && e.contains("illegal instruction"),
        "{e}"
    );
}
