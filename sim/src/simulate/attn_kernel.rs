//! The attention-scores kernel `kernels/build/attn_f16.elf` (binary16 with SSR + FREP + packed
//! SIMD on the study cluster): `S = (Q K^T) * scale` per head, optional causal mask,
//! grouped-query heads. How it is run with data bound to its symbols, its bit-exact host
//! reference ([`reference()`]) and its per-shape cycle cache ([`AttnKernel::cycles`]).
//!
//! Kernel ABI (docs/kernels.md, "attn_f16"): `attn_desc` = {seq, seq_k, heads, kv_heads,
//! head_dim, causal, scale bits} as u32; inputs `attn_Q` (seq x heads*head_dim), `attn_K`
//! (seq_k x kv_heads*head_dim), output `attn_S` (seq x heads*seq_k), row-major binary16;
//! `attn_check` != 0 compares S bit for bit with `attn_expected`.
//!
//! Cycle caching: no data-dependent control flow, fixed FPU latencies: cycles are a function
//! of (kernel bytes, cluster configuration, [`AttnShape`]) (`cycles_do_not_depend_on_data`).

use crate::simulate::kernel_image::{bytes, cached_cost, run_checked, CycleCache, KernelImage};
use hetsim_isa::fp::Rounding;
use hetsim_isa::fp16;
use hetsim_models::cluster::{Cluster, ClusterConfig};
use hetsim_models::energy::ClusterActivity;
use std::path::Path;
use std::sync::OnceLock;

/// The shipped ELF, relative to the repository root.
pub const SHIPPED_ELF: &str = "kernels/build/attn_f16.elf";
/// Elements of the kernel's Q and K buffers (`ATTN_MAX_IN`).
pub const MAX_IN: usize = 128 * 1024;
/// Elements of the kernel's S buffer (`ATTN_MAX_OUT`).
pub const MAX_OUT: usize = 704 * 1024;

/// One run's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttnShape {
    /// Query rows.
    pub seq: usize,
    /// Key rows.
    pub seq_k: usize,
    /// Query heads.
    pub heads: usize,
    /// Key heads (grouped-query attention when fewer than `heads`).
    pub kv_heads: usize,
    /// Features per head.
    pub head_dim: usize,
    /// Causal mask: scores of keys after the query's row are -inf.
    pub causal: bool,
}

impl std::fmt::Display for AttnShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "scores of {} queries x {} keys, {} heads ({} kv), head_dim {}{}",
            self.seq,
            self.seq_k,
            self.heads,
            self.kv_heads,
            self.head_dim,
            if self.causal { ", causal" } else { "" }
        )
    }
}

impl AttnShape {
    /// Why the kernel cannot run this shape, if it cannot (its exit codes 3, 4 and 6; TCDM is
    /// checked by the kernel, exit code 5).
    pub fn error(&self) -> Option<String> {
        let s = self;
        if [s.seq, s.seq_k, s.heads, s.kv_heads, s.head_dim].contains(&0) {
            return Some(format!("{s}: a zero dimension"));
        }
        if s.head_dim % 2 == 1 || s.head_dim > 256 || s.heads % s.kv_heads != 0 {
            return Some(format!(
                "{s}: head_dim must be even and <= 256, heads a multiple of kv_heads"
            ));
        }
        if s.seq * s.heads * s.head_dim > MAX_IN
            || s.seq_k * s.kv_heads * s.head_dim > MAX_IN
            || s.seq * s.heads * s.seq_k > MAX_OUT
        {
            return Some(format!(
                "{s}: beyond the kernel's L2 buffers (Q, K <= {MAX_IN} elements, S <= {MAX_OUT})"
            ));
        }
        None
    }
}

/// Scores on the host, bit-identical to the kernel's: per i, h, j, `acc = dotp_ex(acc, q pair,
/// k pair)` over the head's pairs from +0, `fp16(acc * scale)` (f32 multiply), -inf above the
/// diagonal when causal. Panics if the data does not fit the shape.
pub fn reference(s: AttnShape, q: &[u16], k: &[u16], scale: f32) -> Vec<u16> {
    let (hd, sk, heads) = (s.head_dim, s.seq_k, s.heads);
    let group = heads / s.kv_heads;
    let mut out = vec![0u16; s.seq * heads * sk];
    for i in 0..s.seq {
        for h in 0..heads {
            let kh = h / group;
            let qr = &q[i * heads * hd + h * hd..][..hd];
            for j in 0..sk {
                let o = &mut out[i * heads * sk + h * sk + j];
                if s.causal && j > i {
                    *o = 0xfc00;
                    continue;
                }
                let kr = &k[j * s.kv_heads * hd + kh * hd..][..hd];
                let acc = qr
                    .chunks_exact(2)
                    .zip(kr.chunks_exact(2))
                    .fold(0u32, |acc, (a, b)| {
                        fp16::dotp_ex(acc, [a[0], a[1]], [b[0], b[1]], Rounding::Rne).0
                    });
                let v = f32::from_bits(acc) * scale;
                *o = fp16::from_f32(v.to_bits(), Rounding::Rne).0;
            }
        }
    }
    out
}

fn cycle_cache() -> &'static CycleCache<AttnShape> {
    static C: OnceLock<CycleCache<AttnShape>> = OnceLock::new();
    C.get_or_init(Default::default)
}

/// The loaded kernel on one cluster configuration.
#[derive(Clone)]
pub struct AttnKernel {
    image: KernelImage,
    cache: bool,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct AttnRun {
    /// S (seq x heads*seq_k binary16).
    pub s: Vec<u16>,
    /// Cycles of the run (boot to exit).
    pub cycles: u64,
    /// What the cluster did in them (the energy model's counters).
    pub activity: ClusterActivity,
}

impl AttnKernel {
    /// Loads the kernel for `config` (it needs zfh, xfvec, xfrep and xssr); `cache` caches
    /// cycles per shape.
    pub fn load(path: &Path, config: &ClusterConfig, cache: bool) -> Result<Self, String> {
        let image = KernelImage::load(
            path,
            config,
            "attn_f16_abi",
            "attention-scores",
            SHIPPED_ELF,
        )?;
        Ok(AttnKernel { image, cache })
    }

    /// Runs one product on a fresh cycle-level cluster (never cached); with `expected`, the
    /// kernel's self-check compares S with it.
    pub fn run(
        &self,
        s: AttnShape,
        q: &[u16],
        k: &[u16],
        scale: f32,
        expected: Option<&[u16]>,
    ) -> Result<AttnRun, String> {
        if let Some(e) = s.error() {
            return Err(format!("attn_f16 cannot run {e}"));
        }
        let (nq, nk, ns) = (
            s.seq * s.heads * s.head_dim,
            s.seq_k * s.kv_heads * s.head_dim,
            s.seq * s.heads * s.seq_k,
        );
        if q.len() != nq || k.len() != nk {
            return Err(format!(
                "{s}: Q has {} values (needs {nq}), K {} (needs {nk})",
                q.len(),
                k.len()
            ));
        }
        let err = |e: hetsim_models::cluster::ClusterError| format!("{s}: {e}");
        let mut c = Cluster::new(&self.image.config, &self.image.program).map_err(err)?;
        let desc: Vec<u8> = [
            s.seq as u32,
            s.seq_k as u32,
            s.heads as u32,
            s.kv_heads as u32,
            s.head_dim as u32,
            u32::from(s.causal),
            scale.to_bits(),
        ]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
        c.write_symbol("attn_desc", &desc).map_err(err)?;
        c.write_symbol("attn_check", &u32::from(expected.is_some()).to_le_bytes())
            .map_err(err)?;
        c.write_symbol("attn_Q", &bytes(q)).map_err(err)?;
        c.write_symbol("attn_K", &bytes(k)).map_err(err)?;
        let report = run_checked(&mut c, &self.image, &s, "attn_expected", expected, ns)?;
        let out = c.read_symbol("attn_S", Some(2 * ns as u32)).map_err(err)?;
        Ok(AttnRun {
            s: out
                .chunks_exact(2)
                .map(|w| u16::from_le_bytes([w[0], w[1]]))
                .collect(),
            cycles: report.cycles,
            activity: ClusterActivity::from_report(&report),
        })
    }

    /// Cycles of one run of `s` (zeros bound: the timing does not depend on the data),
    /// cached per (kernel, cluster, shape) when caching is on.
    pub fn cycles(&self, s: AttnShape) -> Result<u64, String> {
        self.cost(s).map(|c| c.0)
    }

    /// Cycles and cluster activity (the energy model's counters) of one run of `s`, zeros
    /// bound, cached like [`Self::cycles`].
    pub fn cost(&self, s: AttnShape) -> Result<(u64, ClusterActivity), String> {
        cached_cost(cycle_cache(), self.cache, &self.image, s, || {
            let q = vec![0u16; s.seq * s.heads * s.head_dim];
            let k = vec![0u16; s.seq_k * s.kv_heads * s.head_dim];
            let scale = 1.0 / (s.head_dim as f32).sqrt();
            let r = self.run(s, &q, &k, scale, None)?;
            Ok((r.cycles, r.activity))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(cache: bool) -> AttnKernel {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SHIPPED_ELF);
        AttnKernel::load(&path, &ClusterConfig::snitch_study(), cache).unwrap()
    }

    fn data(n: usize, seed: u64) -> Vec<u16> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                // uniform in [-2, 2)
                fp16::from_f32_value(((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0)
            })
            .collect()
    }

    fn shape(
        seq: usize,
        seq_k: usize,
        heads: usize,
        kv: usize,
        hd: usize,
        causal: bool,
    ) -> AttnShape {
        AttnShape {
            seq,
            seq_k,
            heads,
            kv_heads: kv,
            head_dim: hd,
            causal,
        }
    }

    /// Bit-exact against the reference (and by the kernel's self-check) over head dims 2..128,
    /// key counts not a multiple of 8, fewer query rows than cores, several tiles, grouped-query
    /// heads and the causal mask.
    #[test]
    fn kernel_is_bit_exact_with_the_reference() {
        let k = kernel(false);
        for (i, s) in [
            shape(1, 8, 1, 1, 2, false),
            shape(5, 13, 2, 2, 32, true),
            shape(40, 40, 4, 4, 32, false),
            shape(70, 70, 4, 2, 64, true),
            shape(16, 24, 8, 1, 128, false),
            shape(33, 9, 3, 3, 34, true),
        ]
        .into_iter()
        .enumerate()
        {
            let q = data(s.seq * s.heads * s.head_dim, 1 + i as u64);
            let kk = data(s.seq_k * s.kv_heads * s.head_dim, 100 + i as u64);
            let scale = 1.0 / (s.head_dim as f32).sqrt();
            let want = reference(s, &q, &kk, scale);
            let run = k.run(s, &q, &kk, scale, Some(&want)).unwrap();
            let bad = run.s.iter().zip(&want).position(|(a, b)| a != b);
            assert_eq!(bad, None, "{s}: first difference at {bad:?}");
        }
    }

    /// Zeros and random data take the same cycles; the cached count equals a full run.
    #[test]
    fn cycles_do_not_depend_on_data() {
        let k = kernel(true);
        let s = shape(24, 24, 2, 1, 32, true);
        let q = data(24 * 2 * 32, 3);
        let kk = data(24 * 32, 4);
        let full = k.run(s, &q, &kk, 0.5, None).unwrap().cycles;
        assert_eq!(k.cycles(s).unwrap(), full);
        assert_eq!(k.cycles(s).unwrap(), full);
    }

    /// Cycles between hand-derived bounds (study cluster: 8 compute cores, 2 binary16 MACs per
    /// core per cycle through vfdotpex.s.h). Lower: the MACs of the padded keys (seq_k rounded
    /// up to 8) at 16 per cycle. Upper: those MACs plus, per row and block of 8 keys, 64 cycles
    /// of block overhead (31 issued instructions: 2 SSR pointer writes, 8 initialisations, the
    /// frep, 8 fmul.s, 4 vfcpka.h.s, 4 stores, 4 of loop; plus the dependent latencies after
    /// the FREP: its last vfdotpex 4, fmul.s 4, vfcpka 4, store 2, and up to 19 cycles of the
    /// next block's SSR jobs refilling the stream FIFOs), spread over the 8 cores; the causal
    /// mask's integer stores (3 instructions per masked score) over the 8 cores; 5,000 cycles
    /// of start-up; per key head the K load (rows x ceil(2 hd / 64) beats and a set-up); per
    /// tile 300 cycles of DMA set-up, split and barriers.
    #[test]
    fn cycles_within_hand_derived_bounds() {
        let k = kernel(true);
        for s in [
            shape(320, 320, 4, 4, 32, false),
            shape(128, 128, 12, 12, 64, true),
        ] {
            let c = k.cycles(s).unwrap() as f64;
            let pk = s.seq_k.div_ceil(8) as f64 * 8.0;
            let macs = (s.seq * s.heads * s.head_dim) as f64 * pk;
            let lower = macs / 16.0;
            let blocks = (s.seq * s.heads) as f64 * pk / 8.0;
            let tiles = (s.heads * s.seq.div_ceil(32)) as f64;
            let kload = s.kv_heads as f64
                * (s.seq_k as f64 * (2.0 * s.head_dim as f64 / 64.0).ceil() + 20.0);
            let masked = if s.causal {
                (s.heads * s.seq * (s.seq - 1) / 2) as f64
            } else {
                0.0
            };
            let upper =
                lower + blocks * 64.0 / 8.0 + masked * 3.0 / 8.0 + 5000.0 + kload + tiles * 300.0;
            assert!(
                lower <= c && c <= upper,
                "{s}: {c} outside [{lower:.0}, {upper:.0}]"
            );
        }
    }

    #[test]
    fn refusals_are_named() {
        assert!(shape(4, 4, 4, 3, 32, false)
            .error()
            .unwrap()
            .contains("multiple"));
        assert!(shape(4, 4, 4, 4, 33, false)
            .error()
            .unwrap()
            .contains("even"));
        assert!(shape(4096, 4096, 32, 8, 128, true)
            .error()
            .unwrap()
            .contains("L2"));
        assert!(shape(320, 320, 4, 4, 32, false).error().is_none());
    }
}
