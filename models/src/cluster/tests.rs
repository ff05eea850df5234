//! Timing rules pinned by programs whose cycle counts are derived by hand from the
//! configuration (each derivation is in the test's comment). Programs are assembled with
//! `hetsim_isa::asm`; they end by storing to the EXIT register, so the run's cycle count is
//! (cycle of that store) + 1.

use super::config::{ClusterConfig, ICacheConfig};
use super::*;
use hetsim_isa::asm::*;
use hetsim_isa::elf::Segment;

// Register numbers.
const T0: u32 = 5;
const T1: u32 = 6;
const T2: u32 = 7;
const T3: u32 = 28;
const T4: u32 = 29;
const A0: u32 = 10;
const A1: u32 = 11;
const A2: u32 = 12;

/// `lui t2, PERIPH_BASE >> 12` (t2 = 0x1002_0000).
fn periph_t2() -> u32 {
    lui(T2, map::PERIPH_BASE >> 12)
}
/// `sw zero, EXIT(t2)`.
fn exit_store() -> u32 {
    sw(0, T2, map::periph::EXIT as i32)
}

fn program(words: &[u32]) -> Program {
    let data: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    Program {
        name: "test".into(),
        entry: map::L2_BASE,
        segments: vec![Segment {
            addr: map::L2_BASE,
            mem_size: data.len() as u32,
            data,
            exec: true,
            write: false,
        }],
        symbols: Default::default(),
        symbolizer: Default::default(),
    }
}

/// A configuration with `cores` cores and an ideal I-cache (fetch never stalls).
fn cfg(cores: usize) -> ClusterConfig {
    ClusterConfig {
        cores,
        icache: ICacheConfig::Ideal,
        ..ClusterConfig::default()
    }
}

fn run(cfg: &ClusterConfig, words: &[u32]) -> ClusterReport {
    let mut c = Cluster::new(cfg, &program(words)).unwrap();
    let r = c.run().unwrap();
    check_accounting(&r);
    r
}

/// The error message of a run that must fail.
fn run_err(cfg: &ClusterConfig, words: &[u32]) -> String {
    match Cluster::new(cfg, &program(words)).unwrap().run() {
        Ok(r) => panic!("expected an error, the run ended with {}", r.exit_code),
        Err(e) => e.to_string(),
    }
}

/// Every active cycle of every core is an issue cycle or a stall of one cause.
fn check_accounting(r: &ClusterReport) {
    for (i, c) in r.cores.iter().enumerate() {
        let stalls: u64 = c.stalls.iter().sum();
        assert_eq!(
            c.cycles,
            c.instructions + stalls,
            "core {i}: cycles = instructions + stalls: {c:?}"
        );
    }
}

#[test]
fn straight_line_code_issues_one_instruction_per_cycle() {
    // addi at 0, dependent addi at 1 (ALU latency 1 = back to back), lui at 2, exit store at
    // 3: 4 cycles, 4 instructions.
    let r = run(
        &cfg(1),
        &[addi(T0, 0, 1), addi(T1, T0, 1), periph_t2(), exit_store()],
    );
    assert_eq!((r.cycles, r.instructions()), (4, 4));
}

/// lui t2 at 0; K dependent fmadd.s f1 = f1*f2 + f3 at 1..K; fmv.x.w a0, f1 at K+1;
/// add t3, a0, zero (waits for a0); exit store.
fn fma_chain(k: usize) -> Vec<u32> {
    let mut p = vec![periph_t2()];
    p.extend(std::iter::repeat_n(fmadd(1, 1, 2, 3), k));
    p.extend([fmv_x_w(A0, 1), add(T3, A0, 0), exit_store()]);
    p
}

#[test]
fn dependent_fma_chain_pays_the_fma_latency() {
    // fmadd j (j = 0..K-1) is offloaded at cycle 1 + j. The FPU issues fmadd 0 at
    // 1 + offload(1) = 2 and each next one when f1 is ready: 2 + j*L; the last result is ready
    // at 2 + K*L. fmv.x.w (offloaded at K + 1) issues in the FPU at 2 + K*L and a0 is ready
    // at 2 + K*L + mv. The add waits for a0 and issues then; the exit store follows:
    // cycles = 2 + K*L + mv + 2 = 4 + K*L + mv. (K = 4 keeps the queue below its depth.)
    for (l, mv) in [(4u32, 2u32), (2, 1)] {
        let mut c = cfg(1);
        c.fpu.fma = l;
        c.fpu.mv = mv;
        let r = run(&c, &fma_chain(4));
        assert_eq!(
            r.cycles,
            u64::from(4 + 4 * l + mv),
            "fma latency {l}, mv {mv}"
        );
        // The add stalled on a0 (RAW) for 2 + 4L + mv - 6 cycles (it reached issue at 6).
        assert_eq!(r.cores[0].stall(StallCause::Raw), u64::from(4 * l + mv - 4));
        assert_eq!(r.cores[0].fp_ops, 5);
    }
}

#[test]
fn independent_fma_stream_issues_one_per_cycle() {
    // Eight fmadds on accumulators f1..f8 (no dependence within 8, FMA latency <= 8):
    // fmadd j is offloaded at 1 + j and issues in the FPU at 2 + j; the last (into f8) issues
    // at 9 and is ready at 9 + L. fmv.x.w a0, f8 is offloaded at 9 and issues at 9 + L, a0 is
    // ready at 9 + L + mv, the add issues then and the exit store one cycle later:
    // cycles = 11 + L + mv.
    for l in [4u32, 2] {
        let mut c = cfg(1);
        c.fpu.fma = l;
        let mut p = vec![periph_t2()];
        p.extend((1..=8).map(|f| fmadd(f, 10, 11, f)));
        p.extend([fmv_x_w(A0, 8), add(T3, A0, 0), exit_store()]);
        let r = run(&c, &p);
        assert_eq!(r.cycles, u64::from(11 + l + c.fpu.mv), "fma latency {l}");
        assert_eq!(r.cores[0].stall(StallCause::FpuQueueFull), 0);
    }
}

#[test]
fn a_full_offload_queue_stalls_the_integer_core() {
    // Queue depth 2, FMA latency 4, a chain of 4 dependent fmadds (offloaded from cycle 1):
    // FPU issue times are 2, 6, 10, 14 (2 + 4j). At cycle 1 the queue is empty; fmadd 1 at
    // cycle 2 finds op 0 already issued (2 <= 2): queue [6]... precisely, entries leave the
    // queue once their FPU issue cycle is reached:
    //   cycle 1: queue {} -> offload op0 (issue 2); queue {2}
    //   cycle 2: op0 left (2 <= 2) -> offload op1 (issue 6); queue {6}
    //   cycle 3: offload op2 (issue 10); queue {6, 10}
    //   cycle 4: full (2 entries > 4) -> stall until the oldest issues, cycle 6
    //   cycle 6: queue {10} -> offload op3 (issue 14)
    // fmv.x.w at 7 (queue {10, 14}: full at 7? yes: 2 entries > 7) -> stall until 10;
    // offload at 10: FPU issue = f1 ready = 14 + 4 = 18, a0 ready at 18 + mv(2) = 20.
    // add at 11 waits until 20; exit store at 21: cycles = 22.
    let mut c = cfg(1);
    c.fpu.queue_depth = 2;
    let r = run(&c, &fma_chain(4));
    assert_eq!(r.cycles, 22);
    assert_eq!(r.cores[0].stall(StallCause::FpuQueueFull), 2 + 3);
}

#[test]
fn divisions_occupy_the_shared_unit() {
    // div a0 at 1 occupies the unit until 1 + D; the second div waits (MulDivBusy) and issues
    // at 1 + D; a1 is ready at 1 + 2D, so the add issues then and the exit store at 2 + 2D:
    // cycles = 3 + 2D.
    for d in [34u32, 10] {
        let mut c = cfg(1);
        c.muldiv.div_latency = d;
        let r = run(
            &c,
            &[
                periph_t2(),
                div(A0, T0, T1),
                div(A1, T0, T1),
                add(A2, A1, 0),
                exit_store(),
            ],
        );
        assert_eq!(r.cycles, u64::from(3 + 2 * d), "div latency {d}");
        assert_eq!(r.cores[0].stall(StallCause::MulDivBusy), u64::from(d - 1));
    }
    // mul at 1 with latency M: the dependent add issues at 1 + M, the exit store at 2 + M.
    let r = run(
        &cfg(1),
        &[periph_t2(), mul(A0, T0, T1), add(A1, A0, 0), exit_store()],
    );
    assert_eq!(r.cycles, 3 + 4);
}

/// Every core: csrr t3, mhartid; lui t0, TCDM; [slli t4, t3, 2; add t0, t0, t4]; lw t1, 0(t0);
/// barrier; lui t2 .. core 0 exits, the others sleep.
fn bank_program(own_bank: bool) -> Vec<u32> {
    let mut p = vec![
        periph_t2(),
        csrrs(T3, 0xF14, 0),
        lui(T0, map::TCDM_BASE >> 12),
    ];
    if own_bank {
        p.extend([i(2, T3, 1, T4, 0x13), add(T0, T0, T4)]); // slli t4, t3, 2
    } else {
        p.extend([NOP, NOP]);
    }
    p.extend([
        lw(T1, T0, 0),
        lw(0, T2, map::periph::BARRIER as i32),
        bne(T3, 0, 8),
        exit_store(),
        WFI,
    ]);
    p
}

#[test]
fn bank_conflicts_serialise_same_bank_loads() {
    // 8 cores, all load the same TCDM word at cycle 5 (after lui, csrr, lui, nop, nop).
    // Bank 0's round-robin pointer starts at core 0: core 0 wins at 5 (7 conflict), the
    // pointer moves to 1, so core 1 wins at 6 (6 conflict), ..., core 7 at 12. Conflicts =
    // 7+6+...+1 = 28. Each core's barrier load follows its own load by one cycle; the last
    // (core 7) arrives at 13, release at 13 + 2 = 15; the bne at 15 (core 0 not taken), exit
    // store at 16: cycles = 17.
    let r = run(&cfg(8), &bank_program(false));
    assert_eq!(r.bank_conflicts(), 28);
    assert_eq!(r.cycles, 17);
    // Each core on its own bank (word i): no conflicts; all loads at cycle 5, barrier
    // arrivals at 6, release at 8, exit store at 9: cycles = 10.
    let r = run(&cfg(8), &bank_program(true));
    assert_eq!((r.bank_conflicts(), r.cycles), (0, 10));
    // With 4 banks, cores i and i + 4 share bank i: at cycle 5 cores 0-3 win (each bank's
    // pointer is at core 0) and cores 4-7 conflict once, winning at 6. Last barrier arrival 7,
    // release 9, exit store at 10: cycles = 11.
    let mut c = cfg(8);
    c.tcdm.banks = 4;
    let r = run(&c, &bank_program(true));
    assert_eq!((r.bank_conflicts(), r.cycles), (4, 11));
}

#[test]
fn bank_arbitration_is_round_robin_per_bank() {
    // 4 cores each issue 16 back-to-back loads of the same TCDM word from cycle 1. The bank's
    // pointer moves past each winner, so core i's k-th load is granted at 1 + i + 4k: the last
    // (core 3, k = 15) at 64. Conflicts: every load after a core's first waits 3 cycles
    // (15 * 3 = 45 per core), and core i's first load waits i cycles: 45 * 4 + 0 + 1 + 2 + 3 =
    // 186.
    let mut p = vec![lui(T0, map::TCDM_BASE >> 12)];
    // (Loads into x0: no destination, so no WAW between a core's own loads.)
    p.extend(std::iter::repeat_n(lw(0, T0, 0), 16));
    p.extend([
        periph_t2(),
        lw(0, T2, map::periph::BARRIER as i32),
        csrrs(T3, 0xF14, 0),
        bne(T3, 0, 8),
        exit_store(),
        WFI,
    ]);
    // lui t2 sits between the loads and the barrier: core i's last load at 1 + i + 60, its
    // lui at 62 + i, its barrier load at 63 + i; the last arrival (core 3) at 66, release 68,
    // csrr 68, bne 69, exit store 70: cycles = 71.
    let r = run(&cfg(4), &p);
    assert_eq!(r.bank_conflicts(), 186);
    let per_core: Vec<u64> = r.cores.iter().map(|c| c.bank_conflicts).collect();
    assert_eq!(per_core, vec![45, 46, 47, 48]);
    assert_eq!(r.cycles, 71);
}

#[test]
fn dma_copy_timing_and_data() {
    // cycle 0 lui t2; 1 lui t0 (src 0x80001000); 2 lui t1 (dst TCDM); 3 sw SRC; 4 sw DST;
    // 5 addi t3, 200; 6 sw SIZE; 7 sw START (queued at q = 7). Beats at q + setup(10) = 17,
    // 18, 19, 20 (64 + 64 + 64 + 8 bytes): DONE_ID = 1 from cycle 20.
    // Poll loop: lw t4, DONE_ID at 8 (periph latency 2: ready 10), beq t4, zero, -4 at 10
    // (taken), lw at 11, beq at 13, lw at 14, beq at 16, lw at 17, beq at 19, lw at 20 reads 1,
    // beq at 22 falls through, exit store at 23: cycles = 24.
    use map::dma as d;
    let p = [
        periph_t2(),
        lui(T0, 0x80001),
        lui(T1, map::TCDM_BASE >> 12),
        sw(T0, T2, (0x400 + d::SRC) as i32),
        sw(T1, T2, (0x400 + d::DST) as i32),
        addi(T3, 0, 200),
        sw(T3, T2, (0x400 + d::SIZE) as i32),
        sw(0, T2, (0x400 + d::START) as i32),
        lw(T4, T2, (0x400 + d::DONE_ID) as i32),
        beq(T4, 0, -4),
        exit_store(),
    ];
    let mut c = Cluster::new(&cfg(1), &program(&p)).unwrap();
    let pattern: Vec<u8> = (0..200u32).map(|v| (v * 7 + 3) as u8).collect();
    c.mem
        .slice(0x8000_1000, 200)
        .unwrap()
        .copy_from_slice(&pattern);
    let r = c.run().unwrap();
    check_accounting(&r);
    assert_eq!(r.cycles, 24);
    assert_eq!((r.dma_busy_cycles, r.dma_bytes), (4, 200));
    assert_eq!(c.mem.slice(map::TCDM_BASE, 200).unwrap(), &pattern[..]);
}

/// A 64-byte I-cache: 2 sets of 2 ways of 16-byte (4-instruction) lines.
fn tiny_icache(miss_latency: u32) -> ICacheConfig {
    ICacheConfig::Cache {
        size: 64,
        ways: 2,
        line: 16,
        miss_latency,
    }
}

#[test]
fn icache_misses_stall_fetch() {
    // 16-byte lines (4 instructions), miss latency 5. Line 0 misses at cycle 0 (ready 5):
    // instructions 0-3 issue at 5..8; instruction 4 starts line 1, which misses at 9 (ready
    // 14): instructions 4-7 issue at 14..17; the last is the exit store: cycles = 18.
    let mut c = cfg(1);
    c.icache = tiny_icache(5);
    let mut p = vec![periph_t2()];
    p.extend([NOP; 6]);
    p.push(exit_store());
    let r = run(&c, &p);
    assert_eq!(r.cycles, 18);
    assert_eq!(
        (r.icache_misses, r.cores[0].stall(StallCause::ICache)),
        (2, 10)
    );
}

#[test]
fn regions_and_deadlock_and_watchdog() {
    // REGION_BEGIN 3 stored at cycle 2, nops at 3 and 4, REGION_END 3 stored at 5: the region
    // spans cycles 3..=5 (from the cycle after the begin store through the end store):
    // 3 cycles, 3 instructions.
    let r = run(
        &cfg(1),
        &[
            periph_t2(),
            addi(T0, 0, 3),
            sw(T0, T2, map::periph::REGION_BEGIN as i32),
            NOP,
            NOP,
            sw(T0, T2, map::periph::REGION_END as i32),
            exit_store(),
        ],
    );
    let reg = &r.regions[&(3, 0)];
    assert_eq!(
        (reg.count, reg.counters.cycles, reg.counters.instructions),
        (1, 3, 3)
    );

    // Core 0 waits at a barrier that core 1 (asleep) never reaches.
    let p = [
        periph_t2(),
        csrrs(T3, 0xF14, 0),
        beq(T3, 0, 8),
        WFI,
        lw(0, T2, map::periph::BARRIER as i32),
        exit_store(),
    ];
    let e = run_err(&cfg(2), &p);
    assert!(e.contains("deadlock") && e.contains("core 1 asleep"), "{e}");

    // jal zero, 0: a hung core stops at the watchdog with its pc.
    let mut c1 = cfg(1);
    c1.max_cycles = 1000;
    let e = run_err(&c1, &[jal(0, 0)]);
    assert!(
        e.contains("1000 cycles") && e.contains("pc 0x80000000"),
        "{e}"
    );
}

#[test]
fn faults_name_core_pc_and_address() {
    // lw from 0x0 (unmapped) on core 0.
    let e = run_err(&cfg(1), &[NOP, lw(T0, 0, 0)]);
    assert!(
        e.contains("core 0") && e.contains("pc 0x80000004") && e.contains("0x00000000"),
        "{e}"
    );
    // A DMA transfer from an unmapped source.
    use map::dma as d;
    let p = [
        periph_t2(),
        addi(T3, 0, 64),
        sw(T3, T2, (0x400 + d::SIZE) as i32),
        sw(0, T2, (0x400 + d::START) as i32),
    ];
    let e = run_err(&cfg(1), &p);
    assert!(e.contains("DMA") && e.contains("source"), "{e}");
}

#[test]
fn pulp_preset_shares_its_fpu() {
    // Two cores each offload one independent fmadd at cycle 1 and read it back. With private
    // FPUs both issue at 2; with the shared FPU the second in priority order issues at 3.
    // Program: lui t2 (0); fmadd f1 (1); fmv.x.w a0, f1 (2); add t3, a0 (waits); csrr t4,
    // mhartid; bne t4 -> wfi; exit.
    let p = [
        periph_t2(),
        fmadd(1, 2, 3, 4),
        fmv_x_w(A0, 1),
        add(T3, A0, 0),
        csrrs(T4, 0xF14, 0),
        bne(T4, 0, 8),
        exit_store(),
        WFI,
    ];
    let private = run(&cfg(2), &p);
    let mut shared = cfg(2);
    shared.fpu.shared = true;
    let shared = run(&shared, &p);
    // Private: fmadd FPU issue 2, ready 2 + 4 = 6; fmv.x.w offloaded at 2, FPU issue 6,
    // a0 ready 8; add at 8; csrr 9; bne 10; exit 11: cycles 12.
    assert_eq!(private.cycles, 12);
    // Shared: at cycle 1 core 1 goes first (1 % 2): its fmadd takes FPU cycle 2, core 0's
    // takes cycle 3 (f1 ready 7). At cycle 2 core 0's fmv.x.w waits for its f1: FPU cycle 7,
    // a0 ready 9; core 1's fmv.x.w takes the free cycle 6. Core 0: add 9, csrr 10, bne 11,
    // exit 12: cycles 13.
    assert_eq!(shared.cycles, 13);
    assert!(ClusterConfig::pulp().fpu.shared);
}

#[test]
fn a_core_drives_an_attached_aimc_tile() {
    use crate::aimc::{AimcMmio, AnalogMatrix, Matrix, TileConfig};
    // W (4 inputs x 2 outputs) = [[1,0],[0,1],[1,1],[0,0]] on an ideal tile; x = [1,2,3,4]
    // gives y = [1 + 3, 2 + 3] = [4, 5] exactly.
    // Program (one core): 0 lui t2 (periph); 1 lui a0 (tile); 2 lui t6 (tile + 0x1000 = IN);
    // 3-10 four (lui t0, float; sw t0, IN[i]); 11 addi t1, 1; 12 sw t1, CTRL (START at q = 12,
    // busy for ceil(T ns * 1 GHz) = T cycles: DONE from cycle 12 + T);
    // poll: lw t4, STATUS at L = 13 + 4m (ready L + 2); andi t5, t4, 2 at L + 2; beq at L + 3.
    // The first poll load at or after 12 + T reads DONE; then andi (L+2), beq (L+3, falls
    // through), lui t6 (OUT) L+4, lw a1 L+5 (ready L+7), lui t3 L+6, bne a1, t3 L+7 (not
    // taken), exit store L+8: cycles = L + 9.
    let mut p = vec![
        periph_t2(),
        lui(A0, map::AIMC_BASE >> 12),
        lui(31, (map::AIMC_BASE + 0x1000) >> 12),
    ];
    for (k, f) in [0x3f800u32, 0x40000, 0x40400, 0x40800]
        .into_iter()
        .enumerate()
    {
        p.extend([lui(T0, f), sw(T0, 31, 4 * k as i32)]);
    }
    p.extend([
        addi(T1, 0, 1),
        sw(T1, A0, 0x0c),          // CTRL: START
        lw(T4, A0, 0x10),          // STATUS
        i(2, T4, 7, T3 + 2, 0x13), // andi t5 (x30), t4, 2
        beq(T3 + 2, 0, -8),
        lui(31, (map::AIMC_BASE + 0x2000) >> 12),
        lw(A1, 31, 0),
        lui(T3, 0x40800), // 4.0
        bne(A1, T3, 8),
        exit_store(),
        jal(0, 0), // a mismatch spins into the watchdog
    ]);
    for t_ns in [128.0, 256.0] {
        let tile_cfg = TileConfig {
            rows: 4,
            cols: 2,
            integration_time_ns: t_ns,
            ..TileConfig::ideal()
        };
        let w = Matrix::new(4, 2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]).unwrap();
        let m = AnalogMatrix::program(&tile_cfg, &w).unwrap();
        let mut c1 = cfg(1);
        c1.max_cycles = 10_000;
        let mut c = Cluster::new(&c1, &program(&p)).unwrap();
        c.attach_aimc(AimcMmio::new(m, c1.clock_ghz).unwrap());
        let r = c.run().unwrap();
        let t = t_ns as u64;
        let m_polls = (12 + t - 13).div_ceil(4);
        assert_eq!(r.cycles, 13 + 4 * m_polls + 9, "integration time {t_ns} ns");
        check_accounting(&r);
    }
}

#[test]
fn packed_fp16_runs_only_with_the_extension_and_pays_the_simd_latency() {
    // The fma-chain program with vfmac.h f1 += f2 * f3 (K = 4, each reads f1): the same
    // derivation as `dependent_fma_chain_pays_the_fma_latency` with L = fpu.simd:
    // cycles = 4 + 4 * simd + mv.
    let mut p = vec![periph_t2()];
    p.extend(std::iter::repeat_n(vfmac_h(1, 2, 3), 4));
    p.extend([fmv_x_w(A0, 1), add(T3, A0, 0), exit_store()]);
    for simd in [4u32, 3] {
        let mut c = cfg(1);
        c.extensions.xfvec = true;
        c.fpu.simd = simd;
        let r = run(&c, &p);
        assert_eq!(
            r.cycles,
            u64::from(4 + 4 * simd + c.fpu.mv),
            "simd latency {simd}"
        );
    }
    // Without the extension the first vfmac.h is an illegal instruction.
    let e = run_err(&cfg(1), &p);
    assert!(
        e.contains("illegal instruction") && e.contains("pc 0x80000004"),
        "{e}"
    );
}

#[test]
fn half_precision_loads_and_stores_time_like_flw_and_fsw() {
    // 2 flh f1 (TCDM): f1 ready at 2 + Lt. 3 fadd.h f2, f1, f1: offloaded at 3, FPU issue at
    // max(4, 2 + Lt), f2 ready add cycles later. 4 fsh f2 waits for f2 (fp-dep) and issues
    // then; the exit store follows: cycles = max(4, 2 + Lt) + add + 2.
    for lt in [2u32, 4] {
        let p = [
            periph_t2(),
            lui(T1, map::TCDM_BASE >> 12),
            flh(1, T1, 0),
            fadd_h(2, 1, 1),
            fsh(2, T1, 4),
            exit_store(),
        ];
        let mut c = cfg(1);
        c.extensions.zfh = true;
        c.tcdm.latency = lt;
        let r = run(&c, &p);
        let issue = 4u32.max(2 + lt);
        assert_eq!(
            r.cycles,
            u64::from(issue + c.fpu.add + 2),
            "TCDM latency {lt}"
        );
        assert_eq!(
            r.cores[0].stall(StallCause::FpDependency),
            u64::from(issue + c.fpu.add - 4)
        );
    }
}

#[test]
fn a_core_runs_a_redmule_gemm_in_the_cluster() {
    use super::redmule::{arith, mcfg0, RedmuleConfig, FORMAT_FP16, OP_GEMM};
    use hetsim_isa::fp16;
    // Z (M x K) = X (M x N) W (N x K) + Z in fp16, M = N = K = 16, at TCDM 0x0, 0x200, 0x400.
    // Program (one core): lui t2 (periph), lui a0 (RedMulE window = periph + 0x800, addi),
    // write X, W, Z, MCFG0, MCFG1, ARITH, TRIGGER; poll STATUS until 0; exit.
    let (m, n, k) = (16u32, 16u32, 16u32);
    let base = map::TCDM_BASE;
    let (xa, wa, za) = (base, base + 0x200, base + 0x400);
    let mut p = vec![periph_t2(), addi(A0, T2, 0x7ff), addi(A0, A0, 1)]; // a0 = periph + 0x800
    let reg = |off: u32, value: u32| {
        let [hi, lo] = li(T0, value);
        vec![hi, lo, sw(T0, A0, off as i32)]
    };
    for (off, v) in [
        (0x40, xa),
        (0x44, wa),
        (0x48, za),
        (0x4c, mcfg0(m as u16, k as u16)),
        (0x50, n),
        (0x54, arith(OP_GEMM, FORMAT_FP16)),
        (0x00, 0), // TRIGGER
    ] {
        p.extend(reg(off, v));
    }
    let poll = p.len() as i32;
    p.extend([
        lw(T1, A0, 0x0c),
        bne(T1, 0, 4 * (poll - p.len() as i32 - 1)),
    ]);
    p.push(exit_store());
    let f16 = |i: u32| fp16::from_f32_value((i % 7) as f32 * 0.25 - 0.5);
    let x: Vec<u16> = (0..m * n).map(f16).collect();
    let w: Vec<u16> = (0..n * k).map(|i| f16(i * 3 + 1)).collect();
    let z: Vec<u16> = (0..m * k).map(|i| f16(i * 5 + 2)).collect();
    let mut c1 = cfg(1);
    c1.redmule = Some(RedmuleConfig::default());
    let mut c = Cluster::new(&c1, &program(&p)).unwrap();
    for (addr, v) in [(xa, &x), (wa, &w), (za, &z)] {
        let bytes: Vec<u8> = v.iter().flat_map(|h| h.to_le_bytes()).collect();
        c.mem
            .slice(addr, bytes.len() as u32)
            .unwrap()
            .copy_from_slice(&bytes);
    }
    let r = c.run().unwrap();
    check_accounting(&r);
    // Reference: z[i][j] = fma over nn in increasing order, fp16, RNE (docs/redmule.md).
    let out = c.mem.slice(za, m * k * 2).unwrap().to_vec();
    for i in 0..m {
        for j in 0..k {
            let mut acc = z[(i * k + j) as usize];
            for nn in 0..n {
                let (a, b) = (x[(i * n + nn) as usize], w[(nn * k + j) as usize]);
                acc = fp16::mul_add(a, b, acc, hetsim_isa::fp::Rounding::Rne);
            }
            let o = (i * k + j) as usize * 2;
            assert_eq!(u16::from_le_bytes([out[o], out[o + 1]]), acc, "Z[{i}][{j}]");
        }
    }
    // Nothing contends for the engine's banks here, so the job takes the engine's closed-form
    // cycle count (pinned by hand in the redmule module's own tests).
    let rs = r.redmule.expect("RedMulE stats");
    let job = c.redmule.as_ref().and_then(|e| e.last_job()).unwrap();
    let expect = RedmuleConfig::default()
        .compute_bound_cycles(true, m, n, k)
        .unwrap();
    assert_eq!((rs.jobs, job.cycles()), (1, expect));
    assert_eq!(rs.port_stalls, 0);
}

/// Cycles 0-6: lui t2 (periph); lui t0 (src 0x80001000); lui t1 (TCDM); dmsrc t0; dmdst t1;
/// addi t3, 200; dmcpyi a0, t3, 0 (a 200-byte 1-D copy queued at cycle 6, id 1 in a0).
fn xdma_copy_prologue() -> Vec<u32> {
    vec![
        periph_t2(),
        lui(T0, 0x80001),
        lui(T1, map::TCDM_BASE >> 12),
        dmsrc(T0, 0),
        dmdst(T1, 0),
        addi(T3, 0, 200),
        dmcpyi(A0, T3, 0),
    ]
}

#[test]
fn xdma_instructions_drive_the_dma_engine() {
    // 0 lui t2 (periph); 1 lui t0 (src 0x80001000); 2 lui t1 (TCDM); 3 dmsrc t0; 4 dmdst t1;
    // 5 addi t3, 200; 6 dmcpyi a0, t3, 0 (1-D, queued at q = 6, id 1 into a0). Beats at
    // q + setup(10) = 16..19 (64 + 64 + 64 + 8 bytes): DONE from cycle 19.
    // Poll: dmstati t4, 0 at 7 + 2m (ALU-like latency 1), bltu t4, a0 at 8 + 2m; the first
    // dmstati at or after 19 is at 19 (m = 6) and reads 1; bltu at 20 falls through; exit store
    // at 21: cycles = 22.
    let mut p = xdma_copy_prologue();
    p.extend([
        dmstati(T4, 0),
        b(-4, A0, T4, 6), // bltu t4, a0, -4
        exit_store(),
    ]);
    let mut c1 = cfg(1);
    c1.extensions.xdma = true;
    let mut c = Cluster::new(&c1, &program(&p)).unwrap();
    let pattern: Vec<u8> = (0..200u32).map(|v| (v * 11 + 5) as u8).collect();
    c.mem
        .slice(0x8000_1000, 200)
        .unwrap()
        .copy_from_slice(&pattern);
    let r = c.run().unwrap();
    check_accounting(&r);
    assert_eq!(r.cycles, 22);
    assert_eq!(c.mem.slice(map::TCDM_BASE, 200).unwrap(), &pattern[..]);
    // Without Xdma the first dmsrc is illegal.
    let e = run_err(&cfg(1), &p);
    assert!(
        e.contains("illegal instruction") && e.contains("pc 0x8000000c"),
        "{e}"
    );
}

#[test]
fn a_full_dma_queue_back_pressures_dmcpy() {
    // Queue depth 1. As in `xdma_instructions_drive_the_dma_engine`, the first dmcpyi (cycle 6)
    // queues transfer 1, whose beats run 16..19. The second dmcpyi reaches issue at 7, finds
    // the queue full and stalls (DmaQueueFull) until the first leaves it at 19 (12 cycles);
    // transfer 2 queued at 19 starts at max(19 + 10, 20) = 29, beats 29..32, done at 32.
    // Poll: dmstati at 20 + 2m reads the done id; the first at or after 32 is at 32 (m = 6);
    // bltu at 33 falls through; exit store at 34: cycles = 35.
    let mut p = xdma_copy_prologue();
    p.extend([
        dmcpyi(A1, T3, 0),
        dmstati(T4, 0),
        b(-4, A1, T4, 6), // bltu t4, a1, -4
        exit_store(),
    ]);
    let mut c1 = cfg(1);
    c1.extensions.xdma = true;
    c1.dma.queue_depth = 1;
    let r = run(&c1, &p);
    assert_eq!(r.cycles, 35);
    assert_eq!(r.cores[0].stall(StallCause::DmaQueueFull), 12);
    assert_eq!(r.dma_bytes, 400);
}

#[test]
fn frep_repeats_a_dependent_fma_without_integer_issue_slots() {
    // 0 lui t2; 1 addi t0, K - 1; 2 frep.o t0, 1, 0, 0; 3 fmadd f1, f1, f2, f3 (offloaded at
    // 3, FPU issue 4, f1 ready 4 + L). The sequencer replays it K - 1 times, each when f1 is
    // ready: repetition k issues at 4 + kL, the last result is ready at 4 + KL. 4 fmv.x.w a0,
    // f1 (FPU issue 4 + KL, a0 ready + mv); 5 add t3, a0 (waits); exit store one cycle later:
    // cycles = 6 + K*L + mv.
    for (k, l) in [(4u32, 4u32), (8, 2)] {
        let p = [
            periph_t2(),
            addi(T0, 0, (k - 1) as i32),
            frep_o(T0, 1, 0, 0),
            fmadd(1, 1, 2, 3),
            fmv_x_w(A0, 1),
            add(T3, A0, 0),
            exit_store(),
        ];
        let mut c = cfg(1);
        c.extensions.xfrep = true;
        c.fpu.fma = l;
        let r = run(&c, &p);
        assert_eq!(
            r.cycles,
            u64::from(6 + k * l + c.fpu.mv),
            "K = {k}, L = {l}"
        );
        assert_eq!(r.cores[0].fp_ops, u64::from(k + 1));
        assert_eq!(
            r.instructions(),
            7,
            "the repetitions take no integer issue slots"
        );
    }
}

/// Streams X (ssr0) and Y (ssr1), 8 words each from the TCDM, into a 4-accumulator FREP dot
/// product, then disables streaming and exits.
fn ssr_dot_program() -> Vec<u32> {
    const N: i32 = 8;
    vec![
        periph_t2(),                   // 0
        lui(T1, map::TCDM_BASE >> 12), // 1  t1 = X (banks 0..7)
        addi(T0, 0, N - 1),            // 2
        scfgwi(T0, 2 << 5 | 31),       // 3  bound0 = N - 1, all streams
        addi(T0, 0, 4),                // 4
        scfgwi(T0, 6 << 5 | 31),       // 5  stride0 = 4
        scfgwi(T1, 24 << 5),           // 6  ssr0: 1-D read of X
        addi(T1, T1, 64),              // 7  Y = X + 64 (banks 16..23)
        scfgwi(T1, 24 << 5 | 1),       // 8  ssr1: 1-D read of Y
        csrrsi(0, 0x7c0, 1),           // 9  streaming on
        addi(T0, 0, N - 1),            // 10
        frep_o(T0, 1, 3, 0b1001),      // 11 N times, rd/rs3 staggered over f3..f6
        fmadd(3, 0, 1, 3),             // 12
        csrrci(0, 0x7c0, 1),           // 13 waits for the FP subsystem to drain
        exit_store(),                  // 14
    ]
}

#[test]
fn ssr_streams_feed_the_fpu_through_their_fifos() {
    // Both jobs: 8 elements, one request per cycle from launch + 1, data usable Lt (TCDM
    // latency) cycles after the request; FIFO depth D. ssr0 is launched at 6 (requests from 7,
    // element e at 7 + e while credits last), ssr1 at 8 (from 9). The banks never collide
    // (X in banks 0..7 and Y in 16..23 at the same pace). The fmadd body is offloaded at 12:
    // instance 0 issues at 13 (offload latency 1; X0 ready 7 + Lt, Y0 ready 9 + Lt <= 13).
    // Releasing an element at FPU issue t frees its entry at t + 1, when the generator
    // requests element e + D; it is usable at t + 1 + Lt.
    // - D = 4: the refill (1 + Lt <= 3 cycles) stays ahead of one instance per cycle, and the
    //   4 staggered accumulators cover the FMA latency 4: instances at 13..=20.
    // - D = 1: element k + 1 is requested only after element k's release: instance k + 1
    //   issues at issue_k + 1 + Lt, so the last at 13 + 7 (1 + Lt).
    // The last result is ready at last + 4; csrrci (13) waits for it (FP CSR access) and the
    // exit store follows: cycles = last + 4 + 2.
    for (depth, lt, last) in [(4u32, 1u32, 20u64), (4, 2, 20), (1, 1, 27), (1, 2, 34)] {
        let mut c = cfg(1);
        c.extensions.xfrep = true;
        c.extensions.xssr = true;
        c.ssr.fifo_depth = depth;
        c.tcdm.latency = lt;
        let r = run(&c, &ssr_dot_program());
        assert_eq!(r.cycles, last + 6, "fifo {depth}, TCDM latency {lt}");
        assert_eq!(r.cores[0].fp_ops, 8);
        assert_eq!(r.cores[0].stall(StallCause::FpDependency), last + 4 - 13);
    }
}

#[test]
fn a_stream_request_wins_its_bank_against_a_core_load() {
    // ssr0 (stride 0: every element is X0, bank 0) is launched at 4 and requests its four
    // elements at 5, 6, 7, 8. A lw at 5 from X0 finds bank 0 taken in each of those cycles
    // and issues at 9 (4 cycles of BankConflict); one from X4 (bank 4) issues at 5. The exit
    // store follows: cycles = 7 + conflict.
    for (offset, conflict) in [(0i32, 4u64), (16, 0)] {
        let p = [
            periph_t2(),                   // 0
            lui(T1, map::TCDM_BASE >> 12), // 1
            addi(T0, 0, 3),                // 2
            scfgwi(T0, 2 << 5),            // 3 bound0 = 3 (4 elements), stride0 = 0
            scfgwi(T1, 24 << 5),           // 4 launch
            lw(A0, T1, offset),            // 5
            exit_store(),
        ];
        let mut c = cfg(1);
        c.extensions.xssr = true;
        let r = run(&c, &p);
        assert_eq!(r.cores[0].stall(StallCause::BankConflict), conflict);
        assert_eq!(r.cycles, 7 + conflict, "offset {offset}");
    }
}

#[test]
fn stream_misuse_stops_the_run_with_the_reason() {
    // Streaming on with no job: the fadd would wait forever in hardware.
    let mut c = cfg(1);
    c.extensions.xssr = true;
    let p = [csrrsi(0, 0x7c0, 1), fadd(10, 0, 1), exit_store()];
    let err = run_err(&c, &p);
    assert!(err.contains("ft0") && err.contains("no job"), "{err}");
    // A stream outside the TCDM (L2) is refused when the job is launched.
    let p = [
        lui(T1, map::L2_BASE >> 12),
        scfgwi(T1, 24 << 5),
        exit_store(),
    ];
    let err = run_err(&c, &p);
    assert!(err.contains("outside the TCDM"), "{err}");
    // A third job queued before the first is consumed hangs the hardware: an error.
    let p = [
        lui(T1, map::TCDM_BASE >> 12),
        addi(T0, 0, 7),
        scfgwi(T0, 2 << 5), // 8 elements: 4 credits cannot cover the job
        scfgwi(T1, 24 << 5),
        scfgwi(T1, 24 << 5),
        scfgwi(T1, 24 << 5),
        exit_store(),
    ];
    let err = run_err(&c, &p);
    assert!(err.contains("would wait forever"), "{err}");
}

/// Issue 15: a jump to an unmapped address is an instruction access fault naming the address
/// and the jump's pc (it was "illegal instruction 0x00000000", the word read from nowhere).
#[test]
fn a_fetch_from_an_unmapped_address_is_an_access_fault() {
    let mut p = li(T0, 0x1234_5678).to_vec();
    p.push(i(0, T0, 0, 0, 0x67)); // jalr zero, 0(t0)
    let mut c = Cluster::new(&cfg(1), &program(&p)).unwrap();
    match c.run() {
        Err(e @ ClusterError::Trap { .. }) => {
            let ClusterError::Trap { exception, pc, .. } = &e else {
                unreachable!()
            };
            assert_eq!(*exception, Exception::InstructionAccessFault(0x1234_5678));
            assert_eq!(*pc, 0x1234_5678);
            let text = e.to_string();
            assert!(
                text.contains("(mcause 1, mtval 0x12345678)")
                    && text.contains("nothing is mapped there")
                    && text.contains("reached from pc 0x80000008"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// Issue 15: with `stack_guard`, a core whose sp leaves its stack (the `stack_guard` bytes
/// below TCDM_END - core * stack_guard) stops the run naming the core, sp and the stack;
/// without it the same program runs (the overflow is silent).
#[test]
fn the_stack_guard_catches_an_overflow_into_the_next_cores_stack() {
    let end = map::TCDM_BASE + 128 * 1024;
    // Core 0: sp = TCDM_END (its stack top); sp -= 1040 (one frame too many); exit.
    let mut p = li(2, end).to_vec();
    p.push(addi(2, 2, -1040));
    p.extend([periph_t2(), exit_store()]);
    let mut guarded = cfg(1);
    guarded.stack_guard = Some(1024);
    let e = run_err(&guarded, &p);
    assert!(
        e.starts_with("core 0: stack overflow: sp = 0x1001fbf0 leaves the core's stack 0x1001fc00..0x10020000 (1024 bytes")
            && e.contains("pc 0x80000008"),
        "{e}"
    );
    run(&cfg(1), &p);
    // Inside the stack: no error.
    let mut p = li(2, end).to_vec();
    p.push(addi(2, 2, -1024));
    p.extend([periph_t2(), exit_store()]);
    run(&guarded, &p);
    // A guard larger than the TCDM per core is refused, naming the field.
    guarded.stack_guard = Some(1 << 20);
    let e = Cluster::new(&guarded, &program(&p))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("`stack_guard` = Some(1048576)"), "{e}");
}

/// Ctrl-C: a set stop flag ends an endless loop with the cycle and each core's pc.
#[test]
fn the_stop_flag_interrupts_a_run() {
    let mut c = Cluster::new(&cfg(2), &program(&[jal(0, 0)])).unwrap();
    let flag = Arc::new(AtomicBool::new(true));
    c.set_stop_flag(flag);
    let e = c.run().unwrap_err().to_string();
    assert!(
        e.starts_with("interrupted at cycle ")
            && e.contains("core 0 running at pc 0x80000000; core 1 running at pc 0x80000000"),
        "{e}"
    );
}

/// Issue 15: reading more bytes than a symbol holds is refused (it returned the neighbours).
#[test]
fn reading_past_a_symbol_is_refused() {
    let mut prog = program(&[periph_t2(), exit_store()]);
    prog.symbols.insert(
        "buf".into(),
        hetsim_isa::elf::Symbol {
            addr: map::L2_BASE,
            size: 4,
        },
    );
    let mut c = Cluster::new(&cfg(1), &prog).unwrap();
    assert_eq!(c.read_symbol("buf", Some(4)).unwrap().len(), 4);
    let e = c.read_symbol("buf", Some(9999)).unwrap_err().to_string();
    assert!(
        e.contains("9999 bytes asked for, but the symbol is 4 bytes long"),
        "{e}"
    );
}

/// Issue 15: DMA errors name the symbol of the pc that started the transfer, as traps do.
#[test]
fn dma_and_trap_reports_name_the_symbol() {
    use map::dma as d;
    // Source 0x0 (unmapped): the START is refused.
    let p = [
        periph_t2(),
        sw(0, T2, (0x400 + d::SRC) as i32),
        addi(T3, 0, 4),
        sw(T3, T2, (0x400 + d::SIZE) as i32),
        sw(0, T2, (0x400 + d::START) as i32),
        exit_store(),
    ];
    let mut prog = program(&p);
    prog.symbolizer = Arc::new(Symbolizer::from_symbols([(
        "kernel_main",
        map::L2_BASE,
        32,
    )]));
    let e = Cluster::new(&cfg(1), &prog)
        .unwrap()
        .run()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("DMA: source row 0 at 0x00000000")
            && e.contains("(pc 0x80000010 in kernel_main+0x10, cycle"),
        "{e}"
    );
    let mut prog = program(&[addi(T0, 0, 1), 0xffff_ffff]);
    prog.symbolizer = Arc::new(Symbolizer::from_symbols([("kernel_main", map::L2_BASE, 8)]));
    let e = Cluster::new(&cfg(1), &prog)
        .unwrap()
        .run()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("illegal instruction 0xffffffff (mcause 2, mtval 0xffffffff) at pc 0x80000004 in kernel_main+0x4 ("),
        "{e}"
    );
}

/// A program with `words` at L2_BASE, `tohost`/`fromhost` at L2 + 0x1000/0x1040 and `data`
/// placed at L2 + 0x2000.
fn htif_program(words: &[u32], data: Vec<u8>) -> Program {
    let mut prog = program(words);
    prog.segments.push(Segment {
        addr: map::L2_BASE + 0x1000,
        mem_size: 0x1000 + data.len() as u32,
        data: [vec![0; 0x1000], data].concat(),
        exec: false,
        write: true,
    });
    for (name, off) in [("tohost", 0x1000), ("fromhost", 0x1040)] {
        prog.symbols.insert(
            name.into(),
            hetsim_isa::elf::Symbol {
                addr: map::L2_BASE + off,
                size: 8,
            },
        );
    }
    prog
}

fn block(words: [u64; 4]) -> Vec<u8> {
    let mut b: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    b.resize(64, 0);
    b
}

/// Issue 15: HTIF syscalls (riscv-tests' syscalls.c) are served on the cluster: a write block
/// prints on the core's console lines and answers through fromhost, an exit block ends the run.
#[test]
fn htif_syscalls_write_and_exit() {
    let l2 = u64::from(map::L2_BASE);
    // 0x2000: write(1, 0x2100, 3); 0x2040: exit(7); 0x2100: "hi\n".
    let mut data = block([64, 1, l2 + 0x2100, 3]);
    data.extend(block([93, 7, 0, 0]));
    data.resize(0x100, 0);
    data.extend(b"hi\n");
    let p = [
        lui(T0, (map::L2_BASE + 0x1000) >> 12),
        lui(T1, (map::L2_BASE + 0x2000) >> 12),
        sw(T1, T0, 0),
        lw(A0, T0, 0x40), // fromhost = 1
        addi(T1, T1, 0x40),
        sw(T1, T0, 0),
    ];
    let mut c = Cluster::new(&cfg(1), &htif_program(&p, data.clone())).unwrap();
    let r = c.run().unwrap();
    assert_eq!(r.exit_code, 7);
    assert_eq!(String::from_utf8_lossy(&r.console), "[core 0] hi\n");
    assert_eq!(c.cores[0].hart.x[A0 as usize], 1);
    assert_eq!(
        c.read_symbol("fromhost", Some(8)).unwrap(),
        1u64.to_le_bytes()
    );
    // An unknown syscall is an error naming its number, the core and the pc.
    data[..8].copy_from_slice(&1234u64.to_le_bytes());
    let e = Cluster::new(&cfg(1), &htif_program(&p, data))
        .unwrap()
        .run()
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("core 0: tohost written with 0x80002000: HTIF syscall 1234")
            && e.contains("(pc 0x80000008"),
        "{e}"
    );
}

/// Issue 15: `ecall` write (a7 = 64) is served on the cluster as under exec, and console
/// output (ecall or the CONSOLE byte port) is collected per core, each line prefixed.
#[test]
fn ecall_write_and_console_lines_are_per_core() {
    let mut p = vec![periph_t2(), addi(T3, 0, b'>' as i32)];
    p.push(sw(T3, T2, map::periph::CONSOLE as i32));
    p.extend(li(A0, 1));
    p.extend(li(A1, map::L2_BASE + 0x2000));
    p.extend([addi(A2, 0, 3), addi(17, 0, 64), ECALL]);
    p.push(sw(A0, T2, map::periph::CONSOLE as i32)); // a0 = 3 (bytes written): "\x03"
    p.push(exit_store());
    let r = Cluster::new(&cfg(1), &htif_program(&p, b"ok\n".to_vec()))
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(r.console, b"[core 0] >ok\n[core 0] \x03");
    // A buffer outside memory names the call and the address.
    let mut bad = p.clone();
    bad[5..7].copy_from_slice(&li(A1, 0x40));
    let e = Cluster::new(&cfg(1), &htif_program(&bad, vec![]))
        .unwrap()
        .run()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("core 0: ecall write(1, 0x00000040, 3): the buffer is not inside L2 or TCDM"),
        "{e}"
    );
}

/// The debugger's stepping entry point is the run loop's body: stepping cycle by cycle
/// (`step_cycle`, what `--gdb` does) ends in the same report as `run` (cycles, stalls, bank
/// conflicts, I-cache misses), the clock only moves forward, and cycles without activity are
/// skipped as in `run`.
#[test]
fn step_cycle_reproduces_run() {
    let words = [
        periph_t2(),
        lui(T0, map::TCDM_BASE >> 12),
        lw(T1, T0, 0),
        mul(T3, T1, T1),
        sw(T3, T0, 4),
        lw(A0, T2, map::periph::BARRIER as i32),
        lw(A1, T0, 4),
        div(A2, A1, T1),
        exit_store(),
    ];
    let cfg = ClusterConfig {
        cores: 4,
        ..ClusterConfig::default()
    };
    let expected = Cluster::new(&cfg, &program(&words)).unwrap().run().unwrap();
    let mut c = Cluster::new(&cfg, &program(&words)).unwrap();
    let (mut steps, mut last) = (0u64, 0u64);
    let report = loop {
        steps += 1;
        if let Some(r) = c.step_cycle().unwrap() {
            break r;
        }
        assert!(c.now() > last, "the clock moves forward");
        last = c.now();
    };
    assert_eq!(report, expected);
    // The I-cache misses and the divide leave idle cycles, which a step skips.
    assert!(
        steps < expected.cycles,
        "{steps} steps, {} cycles",
        expected.cycles
    );
}

/// Core 0 counts down and exits while core 1 spins in a private loop (`addi; jal`), which a
/// private run issues up to 256 cycles ahead of the clock: the exit cuts the run back to the
/// exit's cycle, so the report is the cycle-by-cycle one, derived by hand here, with runs on
/// and off.
#[test]
fn an_exit_cuts_back_another_cores_private_run() {
    const T5: u32 = 30;
    let p = [
        csrrs(T3, 0xF14, 0), // 0: t3 = hart id
        periph_t2(),         // 1
        bne(T3, 0, 20),      // 2: core 1 -> 7
        addi(T0, 0, 3),      // 3: core 0: t0 = 3
        addi(T0, T0, -1),    // 4
        bne(T0, 0, -4),      // 5: -> 4 while t0 != 0
        exit_store(),        // 6
        addi(T5, T5, 1),     // 7: core 1: t5 += 1
        jal(0, -4),          // 8: -> 7
    ];
    let mut c = cfg(2);
    c.core.branch_taken_penalty = 1;
    c.core.jump_penalty = 2;
    // Core 0: csrr 0, lui 1, bne 2 (not taken), addi 3; loop addi 4, bne 5 (taken, 1 stall),
    // addi 7, bne 8 (taken, 1 stall), addi 10, bne 11 (falls through), exit store 12: 13
    // cycles, 11 instructions, 2 control stalls.
    // Core 1: csrr 0, lui 1, bne 2 (taken, stall 3), addi 4, jal 5 (stalls 6-7), addi 8,
    // jal 9 (stalls 10-11), addi 12: by the end of cycle 12, 8 instructions, 5 control stall
    // cycles, t5 = 3, the pc at the jal.
    for runs in [true, false] {
        let mut cl = Cluster::new(&c, &program(&p)).unwrap();
        cl.set_private_runs(runs);
        let r = cl.run().unwrap();
        check_accounting(&r);
        assert_eq!(r.cycles, 13, "runs {runs}");
        let k = |i: usize| {
            let c = &r.cores[i];
            (c.instructions, c.stall(StallCause::Control), c.cycles)
        };
        assert_eq!((k(0), k(1)), ((11, 2, 13), (8, 5, 13)), "runs {runs}");
        let h = cl.hart(1);
        assert_eq!(
            (h.x[T5 as usize], h.pc, h.instret),
            (3, map::L2_BASE + 8 * 4, 8),
            "runs {runs}"
        );
    }
}

/// Core `i`'s architectural and timing state, for comparing a cut-back private run with the
/// cycle-by-cycle path.
#[allow(clippy::type_complexity)]
fn core_state(
    cl: &Cluster,
    i: usize,
) -> (
    ([u32; 32], [u32; 32], u32, u8, u32, u64, u64),
    ([u64; 32], [u64; 33], u64, u64, Vec<u64>),
    (CoreCounters, u64, Option<(StallCause, u64)>, Option<u32>),
) {
    let c = &cl.cores[i];
    let h = &c.hart;
    let q = &c.fpu.queue;
    let queue = (0..q.len)
        .map(|k| q.buf[(q.head + k) & (q.buf.len() - 1)])
        .collect();
    (
        (h.x, h.f, h.pc, h.fflags, h.mstatus, h.cycle, h.instret),
        (
            c.ready_x,
            c.ready_f,
            c.fpu.next_free,
            c.fpu.drained_at,
            queue,
        ),
        (c.counters.clone(), c.next_issue, c.last_stall, c.prev_pc),
    )
}

/// A private run of ALU operations, a jump and FP operations (a division occupying the FPU,
/// a full two-entry offload queue, an FP-to-integer move, flags raised by 0/0), issued 200
/// cycles ahead and then cut back to every cycle `L` from 0 to 200 through its undo journal
/// (`Cluster::rewind`), leaves the core exactly where the cycle-by-cycle path (runs off,
/// stopped by the watchdog at `L`) has it: registers, flags, counters, scoreboards, FPU queue.
#[test]
fn a_private_run_cut_at_every_cycle_equals_the_cycle_loop() {
    const F1: u32 = 1;
    const F2: u32 = 2;
    const F3: u32 = 3;
    const F4: u32 = 4;
    let p = [
        addi(T0, 0, 1),        // 0
        fdiv(F1, F2, F3),      // 1: 0/0 = NaN, raises NV
        fadd(F2, F2, F1),      // 2
        fmadd(F3, F1, F2, F3), // 3
        fmv_x_w(T1, F3),       // 4: FP result into an integer register
        add(T2, T1, T0),       // 5: waits for it
        fmul(F4, F4, F2),      // 6
        addi(T0, T0, 1),       // 7
        jal(0, -28),           // 8: -> 1
    ];
    let mut c = cfg(1);
    c.fpu.queue_depth = 2;
    c.core.jump_penalty = 1;
    const B: u64 = 200;
    let mut ran = 0;
    for limit in 0..=B {
        // The cycle-by-cycle path up to `limit`.
        let mut loop_cfg = c.clone();
        loop_cfg.max_cycles = limit;
        let mut x = Cluster::new(&loop_cfg, &program(&p)).unwrap();
        x.set_private_runs(false);
        assert!(matches!(x.run(), Err(ClusterError::Watchdog { .. })));
        // A run to B from reset, cut back to `limit`.
        let mut y = Cluster::new(&c, &program(&p)).unwrap();
        y.runs[0].save(&y.cores[0], B);
        y.cores[0].run_saved = true;
        y.private_run(0, B);
        assert!(y.cores[0].next_issue >= B - 8, "the run went to its bound");
        assert!(y.runs[0].journal_len > 0);
        y.rewind(0, limit);
        assert_eq!(core_state(&x, 0), core_state(&y, 0), "cut at {limit}");
        ran += x.cores[0].counters.instructions;
    }
    // The run is more than a handful of instructions, with FP and control stalls.
    let mut x = Cluster::new(&c, &program(&p)).unwrap();
    x.runs[0].save(&x.cores[0], B);
    x.private_run(0, B);
    let k = &x.cores[0].counters;
    assert!(k.instructions > 40 && k.fp_ops > 20, "{k:?}");
    assert!(k.stall(StallCause::FpuQueueFull) > 0 && k.stall(StallCause::Control) > 0);
    assert!(ran > 0);
}

/// Private runs cross I-cache lines that hit (their hits are recorded later, in issue
/// order); a miss while another core's run holds later hits first cuts that run back. Core 1
/// spins in a private loop over two lines of a 2-set, 2-way cache of 16-byte lines while core
/// 0 walks straight-line code through new lines of both sets, each a miss whose LRU victim is
/// either core 1's line or core 0's previous one. With runs on, the report (cycles, misses,
/// every stall), the stop cycle and both cores' registers equal the cycle-by-cycle run; and
/// a run of core 1 does cross its lines.
#[test]
fn private_runs_cross_i_cache_lines_and_misses_see_the_cycle_loops_lru() {
    // Core 0's straight-line code (40 instructions: 10 lines, each a miss) ends with `last`.
    let program_with = |last: u32| {
        let mut p = vec![
            csrrs(T3, 0xF14, 0), // 0: t3 = hart id
            periph_t2(),         // 1
            bne(T3, 0, 4 * 43),  // 2: core 1 -> its loop at 45
            NOP,                 // 3: core 0 from here
        ];
        p.extend((0..40).map(|k| addi(T0, T0, k)));
        p.push(last); // 44
                      // 45: core 1's loop, six addi over two lines, then back.
        p.extend([addi(T1, T1, 1); 6]);
        p.push(jal(0, -24));
        p
    };
    let mut c = cfg(2);
    c.icache = tiny_icache(3);
    let p = program_with(exit_store());
    let mut outcomes = Vec::new();
    for runs in [false, true] {
        let mut cl = Cluster::new(&c, &program(&p)).unwrap();
        cl.set_private_runs(runs);
        let r = cl.run().unwrap();
        check_accounting(&r);
        assert!(r.icache_misses >= 10, "{} misses", r.icache_misses);
        outcomes.push((r, cl.now(), cl.hart(0).x, cl.hart(1).x, cl.hart(1).pc));
    }
    assert!(
        outcomes[0] == outcomes[1],
        "runs off / on:\n{:?}\n{:?}",
        outcomes[0],
        outcomes[1]
    );
    // Core 0 spinning on its last line instead: both cores' lines stay in. Then one run of
    // core 1 goes round its loop, crossing its two lines.
    let mut cl = Cluster::new(&c, &program(&program_with(jal(0, 0)))).unwrap();
    cl.set_private_runs(false);
    cl.cfg.max_cycles = 300;
    assert!(cl.run().is_err(), "stopped by the watchdog");
    assert!(
        cl.hart(1).pc >= map::L2_BASE + 4 * 45,
        "core 1 is in its loop"
    );
    let t = cl.cores[1].next_issue;
    cl.cfg.max_cycles = 1_000;
    cl.runs[1].save(&cl.cores[1], t + 50);
    cl.cores[1].run_saved = true;
    cl.private_run(1, t + 50);
    assert!(
        cl.cores[1].next_issue >= t + 40,
        "the run went round the loop"
    );
    assert!(
        cl.runs[1].hits_len >= 8,
        "{} line crossings",
        cl.runs[1].hits_len
    );
}
