//! Differential pin of the cycle-level cluster's timing: every committed cluster ELF
//! (`kernels/build/*.elf`, the micro-benchmarks included) runs on four configurations, and a
//! fingerprint of each run must equal the one recorded in `tests/golden/cluster_timing.txt`.
//!
//! The fingerprint covers the issue cycle, core, pc and register write of every instruction
//! (a trace sink), the stall counters at every issue, the report's counters (cycles,
//! instructions, stalls by cause, FP operations, bank conflicts, regions, DMA, I-cache,
//! RedMulE), the console output, the exit code or error, and every byte of TCDM and L2 after
//! the run. The golden file was written by the cluster model as it was before the host-speed
//! work of issue 17 item 4 (event skipping, cheaper arbitration and issue): a speed change
//! must leave every fingerprint unchanged. A change that is meant to alter timing re-records
//! the file with `HETSIM_BLESS=1 cargo nextest run --release -p hetsim-tests -E
//! 'test(cluster_timing)'` and says why in its commit.

use hetsim_isa::Program;
use hetsim_models::cluster::{map, Cluster, ClusterConfig, ClusterReport};
use hetsim_tests::{cluster_pin_configs, committed_elves, workspace_root};
use std::cell::Cell;
use std::fmt::Write as _;
use std::rc::Rc;

/// FNV-1a, 64 bits.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(mut self, b: &[u8]) -> Fnv {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }
    fn u64(self, v: u64) -> Fnv {
        self.bytes(&v.to_le_bytes())
    }
}

fn counters(h: Fnv, c: &hetsim_models::cluster::CoreCounters) -> Fnv {
    let mut h = h
        .u64(c.cycles)
        .u64(c.instructions)
        .u64(c.fp_ops)
        .u64(c.bank_conflicts);
    for s in c.stalls {
        h = h.u64(s);
    }
    h
}

fn report_hash(r: &ClusterReport) -> Fnv {
    let mut h = Fnv::new()
        .u64(r.exit_code as u64)
        .u64(r.cycles)
        .u64(r.dma_busy_cycles)
        .u64(r.dma_bytes)
        .u64(r.icache_accesses)
        .u64(r.icache_misses)
        .bytes(&r.console);
    for c in &r.cores {
        h = counters(h, c);
    }
    for (&(id, core), s) in &r.regions {
        h = counters(
            h.u64(u64::from(id)).u64(core as u64).u64(s.count),
            &s.counters,
        );
    }
    if let Some(m) = &r.redmule {
        h = h
            .u64(m.jobs)
            .u64(m.busy_cycles)
            .u64(m.macs)
            .u64(m.beats)
            .u64(m.bytes_read)
            .u64(m.bytes_written);
    }
    h
}

/// One line: `elf config outcome cycles instructions trace=.. report=.. memory=..`.
fn fingerprint(elf: &str, name: &str, cfg: &ClusterConfig, program: &Program) -> String {
    let mut cl = match Cluster::new(cfg, program) {
        Ok(c) => c,
        Err(e) => {
            let h = Fnv::new().bytes(e.to_string().as_bytes());
            return format!("{elf} {name} new-error {:016x}", h.0);
        }
    };
    let trace = Rc::new(Cell::new(Fnv::new()));
    let sink = trace.clone();
    cl.set_trace(Box::new(move |e| {
        let mut h = sink
            .get()
            .u64(e.cycle)
            .u64(e.core as u64)
            .u64(u64::from(e.pc));
        if let Some((reg, v)) = e.write {
            h = h.bytes(reg.as_bytes()).u64(u64::from(v));
        }
        for s in e.stalls {
            h = h.u64(s);
        }
        sink.set(h);
    }));
    let outcome = cl.run();
    let mut mem = Fnv::new();
    let mut buf = vec![0u8; cfg.tcdm.size as usize];
    let n = cl.peek(map::TCDM_BASE, &mut buf);
    mem = mem.bytes(&buf[..n]);
    let mut buf = vec![0u8; cfg.l2.size as usize];
    let n = cl.peek(map::L2_BASE, &mut buf);
    mem = mem.bytes(&buf[..n]);
    let t = trace.get().0;
    match outcome {
        Ok(r) => format!(
            "{elf} {name} exit={} cycles={} instructions={} trace={t:016x} report={:016x} \
             memory={:016x}",
            r.exit_code,
            r.cycles,
            r.instructions(),
            report_hash(&r).0,
            mem.0
        ),
        Err(e) => {
            let h = Fnv::new().bytes(e.to_string().as_bytes());
            format!(
                "{elf} {name} error={:016x} at={} trace={t:016x} memory={:016x}",
                h.0,
                cl.now(),
                mem.0
            )
        }
    }
}

#[test]
fn cluster_timing_matches_the_recorded_fingerprints() {
    let mut out = String::new();
    for (elf, program) in &committed_elves() {
        for (name, cfg) in cluster_pin_configs() {
            writeln!(out, "{}", fingerprint(elf, name, &cfg, program)).expect("string");
        }
    }
    let golden = workspace_root().join("tests/golden/cluster_timing.txt");
    if std::env::var("HETSIM_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&golden, &out).expect("write the golden file");
        return;
    }
    let want = std::fs::read_to_string(&golden).expect("tests/golden/cluster_timing.txt");
    let mut diffs = Vec::new();
    for (got, want) in out.lines().zip(want.lines()) {
        if got != want {
            diffs.push(format!("  want {want}\n  got  {got}"));
        }
    }
    assert_eq!(
        out.lines().count(),
        want.lines().count(),
        "number of runs differs from the golden file"
    );
    assert!(
        diffs.is_empty(),
        "{} of {} runs differ from tests/golden/cluster_timing.txt:\n{}",
        diffs.len(),
        out.lines().count(),
        diffs.join("\n")
    );
}
