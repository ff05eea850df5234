//! kernels/gemm_redmule.c on the study preset's cluster: a 256 x 256 x 256 FP16 GEMM,
//! Z = X W + Y, with X, W, Y and Z in L2, tiled into TCDM by the DMA core and computed by
//! RedMulE in 32 back-to-back jobs of 64 x 256 x 32 (the kernel's header has the schedule).
//!
//! Pinned: Z bit for bit against a host reference (binary16 FMAs in the engine's order,
//! docs/redmule.md), the inputs against the kernel's documented generator, a corrupted input
//! being detected, the DMA keeping up (no idle engine cycle between jobs), and the engine's
//! cycles between two bounds derived by hand below, which put its utilisation at >= 95 %.

use hetsim_isa::fp::Rounding;
use hetsim_isa::fp16;
use hetsim_isa::Program;
use hetsim_models::cluster::redmule::RedmuleConfig;
use hetsim_models::cluster::{Cluster, ClusterConfig, ClusterReport};
use hetsim_tests::workspace_root;

const DIM: usize = 256;
const MACS: u64 = (DIM * DIM * DIM) as u64;
/// The kernel's default gemm_seed.
const SEED: u32 = 0x1234_abcd;

/// The kernel's generator (gemm_redmule.c header): matrix t (0 = X, 1 = W, 2 = Y), row r:
/// a xorshift32 stream from seed ^ 0x9E3779B9 * (256 t + r + 1); each element takes the
/// stream's next value s and makes fp16 (v & 0x8000) | (11 + ((v >> 10) & 3)) << 10 |
/// (v & 0x3ff) of v = s >> 16.
fn generate(seed: u32, t: usize) -> Vec<u16> {
    let mut out = Vec::with_capacity(DIM * DIM);
    for r in 0..DIM {
        let mut s = seed ^ 0x9e37_79b9u32.wrapping_mul((256 * t + r + 1) as u32);
        if s == 0 {
            s = 1;
        }
        for _ in 0..DIM {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let v = s >> 16;
            out.push(((v & 0x8000) | ((11 + ((v >> 10) & 3)) << 10) | (v & 0x3ff)) as u16);
        }
    }
    out
}

/// Z[m][k] = Y[m][k]; for n in 0..256: Z = fma(X[m][n], W[n][k], Z), FP16 round to nearest
/// even: the engine's documented order (docs/redmule.md), computed on the host.
fn reference(x: &[u16], w: &[u16], y: &[u16]) -> Vec<u16> {
    let mut z = Vec::with_capacity(DIM * DIM);
    for m in 0..DIM {
        let xr = &x[m * DIM..(m + 1) * DIM];
        for k in 0..DIM {
            let mut acc = y[m * DIM + k];
            for (n, &xv) in xr.iter().enumerate() {
                acc = fp16::mul_add(xv, w[n * DIM + k], acc, Rounding::Rne);
            }
            z.push(acc);
        }
    }
    z
}

fn to_u16(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

fn to_bytes(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|h| h.to_le_bytes()).collect()
}

/// Indices where `got` differs from `want`.
fn mismatches(got: &[u16], want: &[u16]) -> Vec<usize> {
    assert_eq!(got.len(), want.len());
    (0..got.len()).filter(|&i| got[i] != want[i]).collect()
}

/// Runs the kernel, after `bind` has written symbols; returns the report and the cluster.
fn run(bind: impl FnOnce(&mut Cluster)) -> (ClusterReport, Cluster) {
    let cfg = ClusterConfig::snitch_study();
    let path = workspace_root().join("kernels/build/gemm_redmule.elf");
    let mut c = Cluster::new(&cfg, &Program::load(&path).expect("ELF")).expect("cluster");
    bind(&mut c);
    let r = c.run().expect("run");
    (r, c)
}

fn matrix(c: &mut Cluster, name: &str) -> Vec<u16> {
    to_u16(&c.read_symbol(name, None).expect(name))
}

#[test]
fn gemm_256_cubed_is_bit_exact_and_keeps_redmule_above_95_percent() {
    let (r, mut c) = run(|_| {});
    assert_eq!(
        r.exit_code,
        0,
        "console: {}",
        String::from_utf8_lossy(&r.console)
    );

    // The inputs are the documented generator's, and Z is the host reference, bit for bit.
    let (x, w, y) = (generate(SEED, 0), generate(SEED, 1), generate(SEED, 2));
    assert_eq!(matrix(&mut c, "gemm_X"), x);
    assert_eq!(matrix(&mut c, "gemm_W"), w);
    assert_eq!(matrix(&mut c, "gemm_Y"), y);
    let z = matrix(&mut c, "gemm_Z");
    let want = reference(&x, &w, &y);
    let bad = mismatches(&z, &want);
    assert!(
        bad.is_empty(),
        "{} wrong outputs, first {:?}",
        bad.len(),
        &bad[..bad.len().min(8)]
    );
    // Not a degenerate result: most outputs differ from their bias.
    assert!((0..DIM * DIM).filter(|&i| z[i] != y[i]).count() > DIM * DIM * 9 / 10);

    // Engine cycles by hand (study preset: H = 4 CEs per row, P = 3 pipeline registers,
    // L = 8 rows, 32-byte port, start latency 2, tile gap 0; D = H (P + 1) = 16 cycles per
    // pass = columns per engine tile; the model's schedule is in docs/redmule.md).
    let rm = RedmuleConfig::default();
    assert_eq!(ClusterConfig::snitch_study().redmule, Some(rm.clone()));
    // One job is 64 x 256 x 32 (GEMM): T = (64 / 8) (32 / 16) = 16 engine tiles of
    // J = 256 / 4 = 64 passes, each tile (J + 1) D = 1040 cycles of array time (fill and
    // drain once per tile): 16,640. Its first pass needs F = 8 bias beats (8 rows of 16 fp16 =
    // 32 bytes) + 8 X beats (the first 16 elements of 8 rows) + 4 W beats (4 rows of 16) = 20
    // beats first; its last tile stores S = 8 beats.
    let (t, array, f, s) = (16u64, 16 * 65 * 16u64, 8 + 8 + 4u64, 8u64);
    assert_eq!(array, t * 1040);
    // Job 0: start latency + F + array + S - 1 = 16,669 cycles from TRIGGER to last beat
    // (the closed form of docs/redmule.md, which the model also implements).
    let job0 = 2 + f + array + s - 1;
    assert_eq!(rm.compute_bound_cycles(true, 64, 256, 32), Some(job0));
    // A later job starts at the earliest in the cycle after the previous job's last beat and
    // needs F + array + S - 1 more cycles to its own last beat: 16,668 cycles per job. With
    // a free port the 32 jobs span 16,669 + 31 x 16,668 = 533,377 cycles from the first
    // TRIGGER to the last beat: the lower bound.
    let lower = job0 + 31 * (f + array + s);
    assert_eq!(lower, 533_377);
    // DMA beats (64 bytes per cycle, a beat never spans rows): per job W (256 rows of
    // 64 bytes) 256, Y (64 rows of 64 bytes) 64, Z write-back 64; per row block X (32 KiB)
    // 512: 32 x 384 + 4 x 512 = 14,336.
    let dma_beats = 32 * (256 + 64 + 64) + 4 * 512u64;
    assert_eq!(r.dma_busy_cycles, dma_beats);
    // The DMA has priority at the TCDM banks, the cores have less than the engine: a port
    // stall needs a DMA beat in that cycle, so stalls <= DMA beats; and a refused grant
    // delays the engine by at most one cycle (checked on random refusals by the redmule
    // module's test `each_refused_grant_delays_a_job_by_at_most_one_cycle`). Upper bound:
    // 533,377 + 14,336 = 547,713 cycles, i.e. >= 2^24 / (547,713 x 32) = 95.7 % of peak.
    let upper = lower + dma_beats;
    let rs = r.redmule.expect("the study preset has RedMulE");
    assert_eq!((rs.jobs, rs.macs), (32, MACS));
    // The DMA keeps up: every job starts in the cycle after the previous one's last beat.
    assert_eq!(rs.gap_cycles, 0, "the engine waited for data");
    let span = rs.span_cycles();
    assert!(
        rs.port_stalls <= dma_beats,
        "{} port stalls",
        rs.port_stalls
    );
    assert!(
        (lower..=lower + rs.port_stalls).contains(&span),
        "span {span}, bounds {lower}..={} ({} port stalls)",
        lower + rs.port_stalls,
        rs.port_stalls
    );
    assert!(span <= upper);
    let util = MACS as f64 / span as f64 / f64::from(rm.fmas());
    assert!(util >= 0.95, "utilisation {util}");
    assert!(MACS as f64 / upper as f64 / 32.0 >= 0.95);

    // The whole kernel region (DMA core, region 1) adds the first loads before job 0's
    // TRIGGER (setup 10 + X 512 + W 256 + Y 64 beats) and the last write-back after the last
    // beat (setup 10 + 64 beats); over it RedMulE still does >= 95 % of its peak.
    let region = r.regions[&(1, 8)].counters.cycles;
    assert!(
        region >= span + 10 + 832 + 10 + 64,
        "region {region}, span {span}"
    );
    assert!(
        MACS as f64 / region as f64 / 32.0 >= 0.95,
        "region {region}"
    );
    let gemm_cycles = u64::from(u32::from_le_bytes(
        c.read_symbol("gemm_cycles", None).unwrap()[..4]
            .try_into()
            .unwrap(),
    ));
    assert!(gemm_cycles > span && gemm_cycles <= region);

    // `hetsim kernel` prints the span figure and the kernel's own line.
    let text = r.to_string();
    let line = format!(
        "RedMulE span (first TRIGGER to last job's last beat): {span} cycles, {:.2} MAC/cycle, \
         {:.1}% of the 32-FMA peak",
        MACS as f64 / span as f64,
        100.0 * util
    );
    assert!(text.contains(&line), "{text}");
    assert!(text.contains("0 cycles idle between jobs"), "{text}");
    let console = String::from_utf8_lossy(&r.console);
    assert!(
        console.contains(&format!("GEMM in {gemm_cycles} cycles")),
        "{console}"
    );
}

#[test]
fn a_corrupted_input_is_detected_and_bound_inputs_are_used() {
    // gemm_seed = 0: the kernel keeps the X, W, Y bound by the host. Bind the default data
    // with one element of X changed (row 77): the check against the reference of the
    // unchanged data must fail in row 77 and only there (the other rows show that the bound
    // data were used).
    let (x, w, y) = (generate(SEED, 0), generate(SEED, 1), generate(SEED, 2));
    let mut xc = x.clone();
    let (row, col) = (77, 130);
    xc[row * DIM + col] ^= 0x0200; // a mantissa bit
    let (r, mut c) = run(|c| {
        c.write_symbol("gemm_seed", &0u32.to_le_bytes()).unwrap();
        c.write_symbol("gemm_X", &to_bytes(&xc)).unwrap();
        c.write_symbol("gemm_W", &to_bytes(&w)).unwrap();
        c.write_symbol("gemm_Y", &to_bytes(&y)).unwrap();
    });
    assert_eq!(r.exit_code, 0);
    assert_eq!(matrix(&mut c, "gemm_X"), xc);
    let z = matrix(&mut c, "gemm_Z");
    let bad = mismatches(&z, &reference(&x, &w, &y));
    assert!(
        !bad.is_empty(),
        "the corrupted X[{row}][{col}] went unnoticed"
    );
    assert!(
        bad.iter().all(|&i| i / DIM == row),
        "mismatches outside row {row}: {:?}",
        bad.iter().find(|&&i| i / DIM != row)
    );
    // And the result is right for the data actually bound.
    assert!(mismatches(&z, &reference(&xc, &w, &y)).is_empty());
}
