//! Differential test of the cycle-level cluster's private runs (docs/cluster.md, "Private
//! runs"): every committed cluster ELF (`kernels/build/*.elf`, the set the timing pins run)
//! on the same four configurations as `cluster_timing_pins.rs`, once with private runs off
//! (one issue per core per cycle of the cycle loop, the reference) and once with them on, no
//! trace attached (a trace turns runs off). The two runs must end alike in everything the
//! cluster exposes: the report (cycles, every per-core counter and stall cause, regions,
//! DMA, I-cache, RedMulE, console) or the error message, the cycle the cluster stopped at,
//! every core's registers, pc, FP state and retired-instruction count, and every byte of
//! TCDM and L2.

use hetsim_isa::Program;
use hetsim_models::cluster::{map, Cluster, ClusterConfig};
use hetsim_tests::{cluster_pin_configs, committed_elves};

/// Everything observable after a run, as text (a difference shows where).
fn outcome(cfg: &ClusterConfig, program: &Program, runs: bool) -> Vec<String> {
    let mut cl = match Cluster::new(cfg, program) {
        Ok(c) => c,
        Err(e) => return vec![format!("new: {e}")],
    };
    cl.set_private_runs(runs);
    let mut out = vec![match cl.run() {
        Ok(r) => format!("report: {r:?}"),
        Err(e) => format!("error: {e}"),
    }];
    out.push(format!("now: {}", cl.now()));
    for i in 0..cl.cores() {
        let h = cl.hart(i);
        out.push(format!(
            "core {i}: {} pc={:#x} x={:?} f={:?} fflags={} frm={} mstatus={:#x} instret={} \
             cycle={}",
            cl.core_state(i),
            h.pc,
            h.x,
            h.f,
            h.fflags,
            h.frm,
            h.mstatus,
            h.instret,
            h.cycle
        ));
    }
    for (name, base, size) in [
        ("tcdm", map::TCDM_BASE, cfg.tcdm.size),
        ("l2", map::L2_BASE, cfg.l2.size),
    ] {
        let mut buf = vec![0u8; size as usize];
        let n = cl.peek(base, &mut buf);
        // FNV-1a of the bytes (a full dump would drown a failure message).
        let h = buf[..n].iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        out.push(format!("{name}: {n} bytes, fnv {h:016x}"));
    }
    out
}

#[test]
fn private_runs_change_nothing_on_every_committed_elf() {
    let mut diffs = Vec::new();
    let mut runs = 0;
    for (elf, program) in &committed_elves() {
        for (name, cfg) in cluster_pin_configs() {
            runs += 1;
            let off = outcome(&cfg, program, false);
            let on = outcome(&cfg, program, true);
            for (a, b) in off.iter().zip(&on) {
                if a != b {
                    diffs.push(format!("{elf} {name}:\n  off {a}\n  on  {b}"));
                }
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences over {runs} runs:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
