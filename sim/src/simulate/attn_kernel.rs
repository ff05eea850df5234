//! The attention kernel `kernels/build/attn_f16.elf` (binary16 with SSR + FREP + packed SIMD on
//! the study cluster): the scores `S = (Q K^T) * scale` per head (optional causal mask,
//! grouped-query heads) and the context `C = P V` per head (`attn_op` = 1). How it is run with
//! data bound to its symbols, its bit-exact host references ([`reference()`],
//! [`context_reference()`]) and its per-shape cycle caches ([`AttnKernel::cycles`],
//! [`AttnKernel::context_cost`]).
//!
//! Kernel ABI (docs/kernels.md, "attn_f16"): `attn_op` = 0 (scores) or 1 (context);
//! `attn_desc` = {seq, seq_k, heads, kv_heads, head_dim, causal, scale bits} as u32. Scores:
//! inputs `attn_Q` (seq x heads*head_dim), `attn_K` (seq_k x kv_heads*head_dim), output
//! `attn_S` (seq x heads*seq_k). Context: inputs `attn_S` (P, seq x heads*seq_k), `attn_K` (V,
//! seq_k x kv_heads*head_dim), output `attn_C` (seq x heads*head_dim). All row-major binary16;
//! `attn_check` != 0 compares the output bit for bit with `attn_expected`.
//!
//! Cycle caching: no data-dependent control flow, fixed FPU latencies: cycles are a function
//! of (kernel bytes, cluster configuration, shape) (`cycles_do_not_depend_on_data`,
//! `context_cycles_do_not_depend_on_data`).

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
/// Elements of the kernel's S buffer (`ATTN_MAX_OUT`), which holds P for the context.
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

/// One context run's shape: `C = P V` per head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CtxShape {
    /// Query rows (rows of P and C).
    pub seq: usize,
    /// Key rows (rows of V, columns of each head's P).
    pub seq_k: usize,
    /// Query heads.
    pub heads: usize,
    /// Value heads (grouped-query attention when fewer than `heads`).
    pub kv_heads: usize,
    /// Features per head.
    pub head_dim: usize,
}

impl std::fmt::Display for CtxShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "context of {} queries x {} keys, {} heads ({} kv), head_dim {}",
            self.seq, self.seq_k, self.heads, self.kv_heads, self.head_dim
        )
    }
}

impl CtxShape {
    /// Why the kernel cannot run this shape, if it cannot (its exit codes 3, 4 and 6; TCDM is
    /// checked by the kernel, exit code 5).
    pub fn error(&self) -> Option<String> {
        let s = self;
        if [s.seq, s.seq_k, s.heads, s.kv_heads, s.head_dim].contains(&0) {
            return Some(format!("{s}: a zero dimension"));
        }
        if s.head_dim % 8 != 0 || s.head_dim > 256 || s.heads % s.kv_heads != 0 {
            return Some(format!(
                "{s}: head_dim must be a multiple of 8 and <= 256, heads a multiple of kv_heads"
            ));
        }
        if s.seq * s.heads * s.head_dim > MAX_IN
            || s.seq_k * s.kv_heads * s.head_dim > MAX_IN
            || s.seq * s.heads * s.seq_k > MAX_OUT
        {
            return Some(format!(
                "{s}: beyond the kernel's L2 buffers (V, C <= {MAX_IN} elements, P <= {MAX_OUT})"
            ));
        }
        None
    }
}

/// `bytes` rounded up to 64 (`round64` in the kernels).
fn round64(bytes: usize) -> u64 {
    bytes.div_ceil(64) as u64 * 64
}

impl AttnShape {
    /// TCDM bytes the kernel's buffers take with tiles of `rows` query rows (its `tile_bytes`:
    /// K_kh padded, two query tiles, two score tiles).
    pub fn tcdm_bytes(&self, rows: usize) -> u64 {
        let (pk, kp) = (self.seq_k.div_ceil(8) * 8, self.head_dim + 2);
        round64(2 * pk * kp) + 2 * round64(2 * rows * kp) + 2 * round64(2 * rows * pk)
    }
}

impl CtxShape {
    /// TCDM bytes the kernel's context buffers take with tiles of `rows` query rows (its
    /// `ctx_bytes`: V_kh staged, Vt, two P tiles, two C tiles).
    pub fn tcdm_bytes(&self, rows: usize) -> u64 {
        let (sk, hd) = (self.seq_k, self.head_dim);
        let vp = sk.div_ceil(8) * 8 + 2;
        round64(2 * sk * hd)
            + round64(2 * hd * vp)
            + 2 * round64(2 * rows * vp)
            + 2 * round64(2 * rows * hd)
    }
}

/// The context on the host, bit-identical to the kernel's: per i, h, d, `acc = dotp_ex(acc,
/// P pair, V pair)` over the key pairs of seq_k rounded up to 8 (zeros beyond seq_k) from +0,
/// then `fp16(acc)`. Panics if the data does not fit the shape.
pub fn context_reference(s: CtxShape, p: &[u16], v: &[u16]) -> Vec<u16> {
    let (hd, sk, heads) = (s.head_dim, s.seq_k, s.heads);
    let group = heads / s.kv_heads;
    let pk = sk.div_ceil(8) * 8;
    let mut out = vec![0u16; s.seq * heads * hd];
    let mut pr = vec![0u16; pk];
    let mut vc = vec![0u16; pk];
    for h in 0..heads {
        let kh = h / group;
        for d in 0..hd {
            for (j, x) in vc.iter_mut().take(sk).enumerate() {
                *x = v[j * s.kv_heads * hd + kh * hd + d];
            }
            for i in 0..s.seq {
                pr[..sk].copy_from_slice(&p[i * heads * sk + h * sk..][..sk]);
                let acc = pr
                    .chunks_exact(2)
                    .zip(vc.chunks_exact(2))
                    .fold(0u32, |acc, (a, b)| {
                        fp16::dotp_ex(acc, [a[0], a[1]], [b[0], b[1]], Rounding::Rne).0
                    });
                out[i * heads * hd + h * hd + d] = fp16::from_f32(acc, Rounding::Rne).0;
            }
        }
    }
    out
}

fn cycle_cache() -> &'static CycleCache<AttnShape> {
    static C: OnceLock<CycleCache<AttnShape>> = OnceLock::new();
    C.get_or_init(Default::default)
}

fn context_cache() -> &'static CycleCache<CtxShape> {
    static C: OnceLock<CycleCache<CtxShape>> = OnceLock::new();
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
    /// The output: S (seq x heads*seq_k binary16) or, for a context run, C (seq x
    /// heads*head_dim).
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
            "attention (scores and context)",
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

    /// Runs one context product on a fresh cycle-level cluster (never cached); with
    /// `expected`, the kernel's self-check compares C with it. The run's `s` field holds C.
    pub fn run_context(
        &self,
        s: CtxShape,
        p: &[u16],
        v: &[u16],
        expected: Option<&[u16]>,
    ) -> Result<AttnRun, String> {
        if let Some(e) = s.error() {
            return Err(format!("attn_f16 cannot run {e}"));
        }
        let (np, nv, nc) = (
            s.seq * s.heads * s.seq_k,
            s.seq_k * s.kv_heads * s.head_dim,
            s.seq * s.heads * s.head_dim,
        );
        if p.len() != np || v.len() != nv {
            return Err(format!(
                "{s}: P has {} values (needs {np}), V {} (needs {nv})",
                p.len(),
                v.len()
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
            0,
            0,
        ]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
        c.write_symbol("attn_desc", &desc).map_err(err)?;
        c.write_symbol("attn_op", &1u32.to_le_bytes())
            .map_err(err)?;
        c.write_symbol("attn_check", &u32::from(expected.is_some()).to_le_bytes())
            .map_err(err)?;
        c.write_symbol("attn_S", &bytes(p)).map_err(err)?;
        c.write_symbol("attn_K", &bytes(v)).map_err(err)?;
        let report = run_checked(&mut c, &self.image, &s, "attn_expected", expected, nc)?;
        let out = c.read_symbol("attn_C", Some(2 * nc as u32)).map_err(err)?;
        Ok(AttnRun {
            s: out
                .chunks_exact(2)
                .map(|w| u16::from_le_bytes([w[0], w[1]]))
                .collect(),
            cycles: report.cycles,
            activity: ClusterActivity::from_report(&report),
        })
    }

    /// Cycles and cluster activity of one context run of `s`, zeros bound, cached per
    /// (kernel, cluster, shape) when caching is on.
    pub fn context_cost(&self, s: CtxShape) -> Result<(u64, ClusterActivity), String> {
        cached_cost(context_cache(), self.cache, &self.image, s, || {
            let p = vec![0u16; s.seq * s.heads * s.seq_k];
            let v = vec![0u16; s.seq_k * s.kv_heads * s.head_dim];
            let r = self.run_context(s, &p, &v, None)?;
            Ok((r.cycles, r.activity))
        })
    }

    /// TCDM bytes free for the kernel's buffers.
    pub fn tcdm_free(&self) -> u64 {
        self.image.tcdm_free()
    }

    /// Query rows per tile the kernel aims for: 4 per compute core (fewer when the shape has
    /// fewer rows).
    pub fn full_tile_rows(&self, seq: usize) -> usize {
        (4 * self.image.config.cores.saturating_sub(1))
            .min(seq)
            .max(1)
    }

    /// The most keys (all of `keys`, else a multiple of 8) whose buffers, as `bytes(keys)`
    /// gives them, fit the free TCDM; 0 if not even 8 do.
    pub fn key_block(&self, keys: usize, bytes: impl Fn(usize) -> u64) -> usize {
        let free = self.tcdm_free();
        if bytes(keys) <= free {
            return keys;
        }
        let mut kb = keys / 8 * 8;
        while kb > 0 && bytes(kb) > free {
            kb -= 8;
        }
        kb
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

    fn cshape(seq: usize, seq_k: usize, heads: usize, kv: usize, hd: usize) -> CtxShape {
        CtxShape {
            seq,
            seq_k,
            heads,
            kv_heads: kv,
            head_dim: hd,
        }
    }

    /// Probabilities-like data: uniform in [0, 1).
    fn probs(n: usize, seed: u64) -> Vec<u16> {
        data(n, seed)
            .into_iter()
            .map(|h| fp16::from_f32_value(fp16::to_f32_value(h).abs() / 2.0))
            .collect()
    }

    /// The context is bit-exact against the reference (and by the kernel's self-check) over
    /// head dims 8..128, odd key counts and key counts not a multiple of 8, fewer query rows
    /// than cores, several tiles and grouped-query heads.
    #[test]
    fn context_is_bit_exact_with_the_reference() {
        let k = kernel(false);
        for (i, s) in [
            cshape(1, 8, 1, 1, 8),
            cshape(5, 13, 2, 2, 32),
            cshape(40, 40, 4, 4, 32),
            cshape(70, 70, 4, 2, 64),
            cshape(16, 24, 8, 1, 128),
            cshape(33, 9, 3, 3, 16),
        ]
        .into_iter()
        .enumerate()
        {
            let p = probs(s.seq * s.heads * s.seq_k, 7 + i as u64);
            let v = data(s.seq_k * s.kv_heads * s.head_dim, 200 + i as u64);
            let want = context_reference(s, &p, &v);
            let run = k.run_context(s, &p, &v, Some(&want)).unwrap();
            let bad = run.s.iter().zip(&want).position(|(a, b)| a != b);
            assert_eq!(bad, None, "{s}: first difference at {bad:?}");
        }
        // a wrong expectation is caught by the kernel's own self-check
        let s = cshape(4, 8, 1, 1, 8);
        let (p, v) = (probs(32, 1), data(64, 2));
        let mut want = context_reference(s, &p, &v);
        want[9] ^= 1;
        let e = k.run_context(s, &p, &v, Some(&want)).unwrap_err();
        assert!(e.contains("exited with code 1"), "{e}");
    }

    /// The context's f32 accumulation is within binary16 rounding of an f64 evaluation.
    #[test]
    fn context_is_close_to_exact() {
        let s = cshape(8, 40, 2, 1, 16);
        let p = probs(8 * 2 * 40, 5);
        let v = data(40 * 16, 6);
        let got = context_reference(s, &p, &v);
        for i in 0..8 {
            for h in 0..2 {
                for d in 0..16 {
                    let exact: f64 = (0..40)
                        .map(|j| {
                            f64::from(fp16::to_f32_value(p[i * 80 + h * 40 + j]))
                                * f64::from(fp16::to_f32_value(v[j * 16 + d]))
                        })
                        .sum();
                    let g = f64::from(fp16::to_f32_value(got[i * 32 + h * 16 + d]));
                    assert!(
                        (g - exact).abs() <= exact.abs() * 2f64.powi(-11) + 1e-6,
                        "{g} vs {exact}"
                    );
                }
            }
        }
    }

    /// Zeros and random data take the same context cycles; the cached count equals a full run.
    #[test]
    fn context_cycles_do_not_depend_on_data() {
        let k = kernel(true);
        let s = cshape(24, 21, 2, 1, 32);
        let p = probs(24 * 2 * 21, 3);
        let v = data(21 * 32, 4);
        let full = k.run_context(s, &p, &v, None).unwrap().cycles;
        assert_eq!(k.context_cost(s).unwrap().0, full);
        assert_eq!(k.context_cost(s).unwrap().0, full);
    }

    /// Context cycles between hand-derived bounds (study cluster: 8 compute cores, 16 binary16
    /// MACs per cycle through vfdotpex.s.h). Lower: the MACs over the padded keys (seq_k
    /// rounded up to 8) at 16 per cycle. Upper: those MACs plus, per row and block of 8
    /// features, 56 cycles of block overhead (23 issued instructions: 2 SSR pointer writes, 8
    /// initialisations, the frep, 4 vfcpka.h.s, 4 stores, 4 of loop; plus the dependent
    /// latencies after the FREP: its last vfdotpex 4, vfcpka 4, store 2, and up to 19 cycles
    /// of the next block's SSR jobs refilling the stream FIFOs) over the 8 cores; per value
    /// head the V load (seq_k x ceil(2 hd / 64) beats and a set-up) and the transpose (seq_k x
    /// hd elements at 6 cycles per key pair and feature, i.e. 3 per element: 2 lhu, shift, or,
    /// sw and 3 of loop, over the 8 cores, 2 more per element for bank conflicts and stalls);
    /// 5,000 cycles of start-up; per tile 300 cycles of DMA set-up, split and barriers.
    #[test]
    fn context_cycles_within_hand_derived_bounds() {
        let k = kernel(true);
        for s in [
            cshape(320, 320, 4, 4, 32),
            cshape(128, 128, 12, 12, 64),
            cshape(64, 128, 8, 2, 128),
        ] {
            let c = k.context_cost(s).unwrap().0 as f64;
            let pk = s.seq_k.div_ceil(8) as f64 * 8.0;
            let macs = (s.seq * s.heads * s.head_dim) as f64 * pk;
            let lower = macs / 16.0;
            let blocks = (s.seq * s.heads * s.head_dim / 8) as f64;
            let tiles = (s.heads * s.seq.div_ceil(32)) as f64;
            let kv = s.kv_heads as f64;
            let vload = kv * (s.seq_k as f64 * (2.0 * s.head_dim as f64 / 64.0).ceil() + 20.0);
            let transpose = kv * (s.seq_k * s.head_dim) as f64 * 5.0 / 8.0;
            let upper = lower + blocks * 56.0 / 8.0 + 5000.0 + vload + transpose + tiles * 300.0;
            assert!(
                lower <= c && c <= upper,
                "{s}: {c} outside [{lower:.0}, {upper:.0}]"
            );
        }
    }

    /// The host's TCDM layout of both operations matches the kernel's: the most keys that fit
    /// with one-row tiles run, 8 more exit with code 5 (does not fit in TCDM).
    #[test]
    fn tcdm_layout_matches_the_kernel() {
        let k = kernel(true);
        let c = cshape(1, 4096, 1, 1, 128);
        let kb = k.key_block(c.seq_k, |sk| CtxShape { seq_k: sk, ..c }.tcdm_bytes(1));
        assert!(kb > 8 && kb % 8 == 0 && kb < 4096, "{kb}");
        k.context_cost(CtxShape { seq_k: kb, ..c }).unwrap();
        let e = k.context_cost(CtxShape { seq_k: kb + 8, ..c }).unwrap_err();
        assert!(e.contains("exited with code 5"), "{e}");
        let s = shape(1, 4096, 1, 1, 128, false);
        let kb = k.key_block(s.seq_k, |sk| AttnShape { seq_k: sk, ..s }.tcdm_bytes(1));
        assert!(kb > 8 && kb % 8 == 0 && kb < 4096, "{kb}");
        k.cost(AttnShape { seq_k: kb, ..s }).unwrap();
        let e = k.cost(AttnShape { seq_k: kb + 8, ..s }).unwrap_err();
        assert!(e.contains("exited with code 5"), "{e}");
    }

    #[test]
    fn context_refusals_are_named() {
        assert!(cshape(4, 4, 4, 3, 32).error().unwrap().contains("multiple"));
        assert!(cshape(4, 4, 4, 4, 36)
            .error()
            .unwrap()
            .contains("multiple of 8"));
        assert!(cshape(4096, 4096, 32, 8, 128)
            .error()
            .unwrap()
            .contains("L2"));
        assert!(cshape(320, 320, 4, 4, 32).error().is_none());
        // seq_k 512 at head_dim 128 overflows TCDM: the kernel's exit code 5
        let e = kernel(false)
            .context_cost(cshape(8, 512, 1, 1, 128))
            .unwrap_err();
        assert!(e.contains("exited with code 5"), "{e}");
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
