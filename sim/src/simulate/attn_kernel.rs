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
//! The binary32 build `kernels/build/attn_f32.elf` (kernels/attn_f32.c, scalar fmadd.s on the
//! plain RV32IMF cluster) has the same ABI with binary32 elements (marker `attn_f32_abi`), its
//! own evaluation order (one fma per feature or key, [`reference_f32`],
//! [`context_reference_f32`]) and half the elements in its L2 buffers ([`limits`]).
//!
//! Cycle caching: no data-dependent control flow, fixed FPU latencies: cycles are a function
//! of (kernel bytes, cluster configuration, shape) (`cycles_do_not_depend_on_data`,
//! `context_cycles_do_not_depend_on_data`).

use crate::lora_kernel::ElementFormat;
use crate::simulate::kernel_image::{
    bytes, cached_cost, elems, run_checked, CycleCache, Elem, KernelImage,
};
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
/// The shipped binary32 ELF (plain RV32IMF cluster), relative to the repository root.
pub const SHIPPED_ELF_F32: &str = "kernels/build/attn_f32.elf";

/// The (Q, K, V, C elements; S, P elements) of one run's L2 buffers for a kernel of `format`
/// (binary32: `ATTN_MAX_IN` 65,536 and `ATTN_MAX_OUT` 409,600 of kernels/attn_f32.c).
pub fn limits(format: ElementFormat) -> (usize, usize) {
    match format {
        ElementFormat::F16 => (MAX_IN, MAX_OUT),
        ElementFormat::F32 => (64 * 1024, 400 * 1024),
    }
}

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
    /// Why the kernel of `format` cannot run this shape, if it cannot (its exit codes 3, 4 and
    /// 6; TCDM is checked by the kernel, exit code 5). The binary32 build takes odd head dims.
    pub fn error(&self, format: ElementFormat) -> Option<String> {
        let s = self;
        if [s.seq, s.seq_k, s.heads, s.kv_heads, s.head_dim].contains(&0) {
            return Some(format!("{s}: a zero dimension"));
        }
        let odd = format == ElementFormat::F16 && s.head_dim % 2 == 1;
        if odd || s.head_dim > 256 || s.heads % s.kv_heads != 0 {
            return Some(format!(
                "{s}: head_dim must be {}<= 256, heads a multiple of kv_heads",
                if format == ElementFormat::F16 {
                    "even and "
                } else {
                    ""
                }
            ));
        }
        let (max_in, max_out) = limits(format);
        if s.seq * s.heads * s.head_dim > max_in
            || s.seq_k * s.kv_heads * s.head_dim > max_in
            || s.seq * s.heads * s.seq_k > max_out
        {
            return Some(format!(
                "{s}: beyond the kernel's L2 buffers (Q, K <= {max_in} elements, S <= {max_out})"
            ));
        }
        None
    }
}

/// Scores on the host, bit-identical to `attn_f32`'s: per i, h, j, `acc = fma(q, k, acc)` over
/// the head's features from +0, then `acc * scale`; -inf above the diagonal when causal.
/// Panics if the data does not fit the shape.
pub fn reference_f32(s: AttnShape, q: &[f32], k: &[f32], scale: f32) -> Vec<f32> {
    let (hd, sk, heads) = (s.head_dim, s.seq_k, s.heads);
    let group = heads / s.kv_heads;
    let mut out = vec![0f32; s.seq * heads * sk];
    for i in 0..s.seq {
        for h in 0..heads {
            let kh = h / group;
            let qr = &q[i * heads * hd + h * hd..][..hd];
            for j in 0..sk {
                let o = &mut out[i * heads * sk + h * sk + j];
                if s.causal && j > i {
                    *o = f32::NEG_INFINITY;
                    continue;
                }
                let kr = &k[j * s.kv_heads * hd + kh * hd..][..hd];
                let acc = qr
                    .iter()
                    .zip(kr)
                    .fold(0f32, |acc, (a, b)| a.mul_add(*b, acc));
                *o = acc * scale;
            }
        }
    }
    out
}

/// The context on the host, bit-identical to `attn_f32`'s: per i, h, d, `acc = fma(p, v, acc)`
/// over the keys in order from +0. Panics if the data does not fit the shape.
pub fn context_reference_f32(s: CtxShape, p: &[f32], v: &[f32]) -> Vec<f32> {
    let (hd, sk, heads) = (s.head_dim, s.seq_k, s.heads);
    let group = heads / s.kv_heads;
    let mut out = vec![0f32; s.seq * heads * hd];
    for i in 0..s.seq {
        for h in 0..heads {
            let kh = h / group;
            let pr = &p[i * heads * sk + h * sk..][..sk];
            for d in 0..hd {
                let acc = pr.iter().enumerate().fold(0f32, |acc, (j, a)| {
                    a.mul_add(v[j * s.kv_heads * hd + kh * hd + d], acc)
                });
                out[i * heads * hd + h * hd + d] = acc;
            }
        }
    }
    out
}

/// An element type of the attention kernels: its bit-exact host references (`u16`:
/// `attn_f16`, `f32`: `attn_f32`).
pub trait AttnElem: Elem {
    /// The scores as the kernel of this element type computes them.
    fn scores(s: AttnShape, q: &[Self], k: &[Self], scale: f32) -> Vec<Self>;
    /// The context as the kernel of this element type computes it.
    fn context(s: CtxShape, p: &[Self], v: &[Self]) -> Vec<Self>;
    /// The masked score (-inf).
    const NEG_INF: Self;
}

impl AttnElem for u16 {
    fn scores(s: AttnShape, q: &[u16], k: &[u16], scale: f32) -> Vec<u16> {
        reference(s, q, k, scale)
    }
    fn context(s: CtxShape, p: &[u16], v: &[u16]) -> Vec<u16> {
        context_reference(s, p, v)
    }
    const NEG_INF: u16 = 0xfc00;
}

impl AttnElem for f32 {
    fn scores(s: AttnShape, q: &[f32], k: &[f32], scale: f32) -> Vec<f32> {
        reference_f32(s, q, k, scale)
    }
    fn context(s: CtxShape, p: &[f32], v: &[f32]) -> Vec<f32> {
        context_reference_f32(s, p, v)
    }
    const NEG_INF: f32 = f32::NEG_INFINITY;
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
    /// Why the kernel of `format` cannot run this shape, if it cannot (its exit codes 3, 4 and
    /// 6; TCDM is checked by the kernel, exit code 5).
    pub fn error(&self, format: ElementFormat) -> Option<String> {
        let s = self;
        if [s.seq, s.seq_k, s.heads, s.kv_heads, s.head_dim].contains(&0) {
            return Some(format!("{s}: a zero dimension"));
        }
        if s.head_dim % 8 != 0 || s.head_dim > 256 || s.heads % s.kv_heads != 0 {
            return Some(format!(
                "{s}: head_dim must be a multiple of 8 and <= 256, heads a multiple of kv_heads"
            ));
        }
        let (max_in, max_out) = limits(format);
        if s.seq * s.heads * s.head_dim > max_in
            || s.seq_k * s.kv_heads * s.head_dim > max_in
            || s.seq * s.heads * s.seq_k > max_out
        {
            return Some(format!(
                "{s}: beyond the kernel's L2 buffers (V, C <= {max_in} elements, P <= {max_out})"
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
    /// TCDM bytes the kernel of `format` takes with tiles of `rows` query rows (binary16: its
    /// `tile_bytes`, K_kh padded, two query tiles, two score tiles; binary32: `plan_bytes`,
    /// K_kh by blocks of 8 keys, two query tiles of hd + 1 words per row, two score tiles).
    pub fn tcdm_bytes(&self, format: ElementFormat, rows: usize) -> u64 {
        let pk = self.seq_k.div_ceil(8) * 8;
        if format == ElementFormat::F32 {
            let (hd, qp) = (self.head_dim, self.head_dim + 1);
            return round64(4 * pk * hd) + 2 * round64(4 * rows * qp) + 2 * round64(4 * rows * pk);
        }
        let kp = self.head_dim + 2;
        round64(2 * pk * kp) + 2 * round64(2 * rows * kp) + 2 * round64(2 * rows * pk)
    }
}

impl CtxShape {
    /// TCDM bytes the kernel of `format` takes for the context with tiles of `rows` query rows
    /// (binary16: its `ctx_bytes`, V_kh staged, Vt, two P tiles, two C tiles; binary32:
    /// `plan_bytes`, V_kh, two P tiles of seq_k + 1 words per row, two C tiles).
    pub fn tcdm_bytes(&self, format: ElementFormat, rows: usize) -> u64 {
        let (sk, hd) = (self.seq_k, self.head_dim);
        if format == ElementFormat::F32 {
            return round64(4 * sk * hd)
                + 2 * round64(4 * rows * (sk + 1))
                + 2 * round64(4 * rows * hd);
        }
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
pub struct AttnRun<E = u16> {
    /// The output: S (seq x heads*seq_k) or, for a context run, C (seq x heads*head_dim).
    pub s: Vec<E>,
    /// Cycles of the run (boot to exit).
    pub cycles: u64,
    /// What the cluster did in them (the energy model's counters).
    pub activity: ClusterActivity,
}

impl AttnKernel {
    /// Loads the kernel for `config` (`attn_f16` needs zfh, xfvec, xfrep and xssr, `attn_f32`
    /// nothing beyond RV32IMF); `cache` caches cycles per shape.
    pub fn load(path: &Path, config: &ClusterConfig, cache: bool) -> Result<Self, String> {
        let image = KernelImage::load(
            path,
            config,
            &[
                ("attn_f16_abi", ElementFormat::F16),
                ("attn_f32_abi", ElementFormat::F32),
            ],
            "attention (scores and context)",
            &format!("{SHIPPED_ELF} or {SHIPPED_ELF_F32}"),
        )?;
        Ok(AttnKernel { image, cache })
    }

    /// The element format of the kernel's operands.
    pub fn format(&self) -> ElementFormat {
        self.image.format
    }

    /// The kernel's name (`attn_f16` or `attn_f32`).
    pub fn name(&self) -> &'static str {
        match self.format() {
            ElementFormat::F16 => "attn_f16",
            ElementFormat::F32 => "attn_f32",
        }
    }

    fn check_format<E: Elem>(&self, s: &dyn std::fmt::Display) -> Result<(), String> {
        if E::FORMAT == self.format() {
            Ok(())
        } else {
            Err(format!(
                "{s}: {:?} operands for the {} kernel",
                E::FORMAT,
                self.name()
            ))
        }
    }

    /// Runs one product on a fresh cycle-level cluster (never cached); with `expected`, the
    /// kernel's self-check compares S with it. `E` is the kernel's element type.
    pub fn run<E: Elem>(
        &self,
        s: AttnShape,
        q: &[E],
        k: &[E],
        scale: f32,
        expected: Option<&[E]>,
    ) -> Result<AttnRun<E>, String> {
        self.check_format::<E>(&s)?;
        if let Some(e) = s.error(self.format()) {
            return Err(format!("{} cannot run {e}", self.name()));
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
        let desc = [
            s.seq as u32,
            s.seq_k as u32,
            s.heads as u32,
            s.kv_heads as u32,
            s.head_dim as u32,
            u32::from(s.causal),
            scale.to_bits(),
        ];
        let ins = [("attn_Q", q), ("attn_K", k)];
        self.launch(&s, desc, None, ins, "attn_S", ns, expected)
    }

    /// Runs one context product on a fresh cycle-level cluster (never cached); with
    /// `expected`, the kernel's self-check compares C with it. The run's `s` field holds C.
    pub fn run_context<E: Elem>(
        &self,
        s: CtxShape,
        p: &[E],
        v: &[E],
        expected: Option<&[E]>,
    ) -> Result<AttnRun<E>, String> {
        self.check_format::<E>(&s)?;
        if let Some(e) = s.error(self.format()) {
            return Err(format!("{} cannot run {e}", self.name()));
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
        let desc = [
            s.seq as u32,
            s.seq_k as u32,
            s.heads as u32,
            s.kv_heads as u32,
            s.head_dim as u32,
            0,
            0,
        ];
        // V goes where the scores' K does
        let ins = [("attn_S", p), ("attn_K", v)];
        self.launch(&s, desc, Some(1), ins, "attn_C", nc, expected)
    }

    /// One run on a fresh cluster: the descriptor words, the operation (`attn_op`; `None`
    /// keeps the ELF's own, the scores), the two operands by symbol, and `n` elements of the
    /// output symbol `out` read back (self-checked against `expected` when given).
    #[allow(clippy::too_many_arguments)]
    fn launch<E: Elem>(
        &self,
        what: &dyn std::fmt::Display,
        desc: [u32; 7],
        op: Option<u32>,
        ins: [(&str, &[E]); 2],
        out: &str,
        n: usize,
        expected: Option<&[E]>,
    ) -> Result<AttnRun<E>, String> {
        let err = |e: hetsim_models::cluster::ClusterError| format!("{what}: {e}");
        let mut c = Cluster::new(&self.image.config, &self.image.program).map_err(err)?;
        let desc: Vec<u8> = desc.iter().flat_map(|v| v.to_le_bytes()).collect();
        c.write_symbol("attn_desc", &desc).map_err(err)?;
        if let Some(op) = op {
            c.write_symbol("attn_op", &op.to_le_bytes()).map_err(err)?;
        }
        c.write_symbol("attn_check", &u32::from(expected.is_some()).to_le_bytes())
            .map_err(err)?;
        for (sym, v) in ins {
            c.write_symbol(sym, &bytes(v)).map_err(err)?;
        }
        let report = run_checked(&mut c, &self.image, what, "attn_expected", expected, n)?;
        let es = E::FORMAT.bytes();
        let y = c.read_symbol(out, Some((es * n) as u32)).map_err(err)?;
        Ok(AttnRun {
            s: elems(&y),
            cycles: report.cycles,
            activity: ClusterActivity::from_report(&report),
        })
    }

    /// Cycles and cluster activity of one context run of `s`, zeros bound, cached per
    /// (kernel, cluster, shape) when caching is on.
    pub fn context_cost(&self, s: CtxShape) -> Result<(u64, ClusterActivity), String> {
        fn zeros<E: Elem>(k: &AttnKernel, s: CtxShape) -> Result<(u64, ClusterActivity), String> {
            let p = vec![E::default(); s.seq * s.heads * s.seq_k];
            let v = vec![E::default(); s.seq_k * s.kv_heads * s.head_dim];
            let r = k.run_context(s, &p, &v, None)?;
            Ok((r.cycles, r.activity))
        }
        cached_cost(context_cache(), self.cache, &self.image, s, || {
            match self.format() {
                ElementFormat::F16 => zeros::<u16>(self, s),
                ElementFormat::F32 => zeros::<f32>(self, s),
            }
        })
    }

    /// TCDM bytes free for the kernel's buffers.
    pub fn tcdm_free(&self) -> u64 {
        self.image.tcdm_free()
    }

    /// Query rows per tile the kernel aims for: 4 per compute core for `attn_f16`, 2 for
    /// `attn_f32` (fewer when the shape has fewer rows).
    pub fn full_tile_rows(&self, seq: usize) -> usize {
        let per_core = match self.format() {
            ElementFormat::F16 => 4,
            ElementFormat::F32 => 2,
        };
        (per_core * self.image.config.cores.saturating_sub(1))
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
        fn zeros<E: Elem>(k: &AttnKernel, s: AttnShape) -> Result<(u64, ClusterActivity), String> {
            let q = vec![E::default(); s.seq * s.heads * s.head_dim];
            let kk = vec![E::default(); s.seq_k * s.kv_heads * s.head_dim];
            let scale = 1.0 / (s.head_dim as f32).sqrt();
            let r = k.run(s, &q, &kk, scale, None)?;
            Ok((r.cycles, r.activity))
        }
        cached_cost(cycle_cache(), self.cache, &self.image, s, || {
            match self.format() {
                ElementFormat::F16 => zeros::<u16>(self, s),
                ElementFormat::F32 => zeros::<f32>(self, s),
            }
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
        let kb = k.key_block(c.seq_k, |sk| {
            CtxShape { seq_k: sk, ..c }.tcdm_bytes(ElementFormat::F16, 1)
        });
        assert!(kb > 8 && kb % 8 == 0 && kb < 4096, "{kb}");
        k.context_cost(CtxShape { seq_k: kb, ..c }).unwrap();
        let e = k.context_cost(CtxShape { seq_k: kb + 8, ..c }).unwrap_err();
        assert!(e.contains("exited with code 5"), "{e}");
        let s = shape(1, 4096, 1, 1, 128, false);
        let kb = k.key_block(s.seq_k, |sk| {
            AttnShape { seq_k: sk, ..s }.tcdm_bytes(ElementFormat::F16, 1)
        });
        assert!(kb > 8 && kb % 8 == 0 && kb < 4096, "{kb}");
        k.cost(AttnShape { seq_k: kb, ..s }).unwrap();
        let e = k.cost(AttnShape { seq_k: kb + 8, ..s }).unwrap_err();
        assert!(e.contains("exited with code 5"), "{e}");
    }

    #[test]
    fn context_refusals_are_named() {
        assert!(cshape(4, 4, 4, 3, 32)
            .error(ElementFormat::F16)
            .unwrap()
            .contains("multiple"));
        assert!(cshape(4, 4, 4, 4, 36)
            .error(ElementFormat::F16)
            .unwrap()
            .contains("multiple of 8"));
        assert!(cshape(4096, 4096, 32, 8, 128)
            .error(ElementFormat::F16)
            .unwrap()
            .contains("L2"));
        assert!(cshape(320, 320, 4, 4, 32)
            .error(ElementFormat::F16)
            .is_none());
        // seq_k 512 at head_dim 128 overflows TCDM: the kernel's exit code 5
        let e = kernel(false)
            .context_cost(cshape(8, 512, 1, 1, 128))
            .unwrap_err();
        assert!(e.contains("exited with code 5"), "{e}");
    }

    #[test]
    fn refusals_are_named() {
        assert!(shape(4, 4, 4, 3, 32, false)
            .error(ElementFormat::F16)
            .unwrap()
            .contains("multiple"));
        assert!(shape(4, 4, 4, 4, 33, false)
            .error(ElementFormat::F16)
            .unwrap()
            .contains("even"));
        assert!(shape(4096, 4096, 32, 8, 128, true)
            .error(ElementFormat::F16)
            .unwrap()
            .contains("L2"));
        assert!(shape(320, 320, 4, 4, 32, false)
            .error(ElementFormat::F16)
            .is_none());
    }
}

/// The binary32 build (`attn_f32.elf`) on the plain RV32IMF cluster.
#[cfg(test)]
mod f32_tests {
    use super::*;

    fn kernel(cache: bool) -> AttnKernel {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SHIPPED_ELF_F32);
        AttnKernel::load(&path, &ClusterConfig::default(), cache).unwrap()
    }

    /// Uniform values in [-2, 2) (xorshift).
    fn data(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect()
    }

    fn shape(seq: usize, seq_k: usize, heads: usize, kv: usize, hd: usize, c: bool) -> AttnShape {
        AttnShape {
            seq,
            seq_k,
            heads,
            kv_heads: kv,
            head_dim: hd,
            causal: c,
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

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Scores bit-exact with the reference (and by the kernel's self-check) over head dims 1
    /// (odd ones run in binary32) .. 128, key counts not a multiple of 8, fewer query rows than
    /// cores, several tiles, grouped-query heads and the causal mask.
    #[test]
    fn scores_are_bit_exact_with_the_reference() {
        let k = kernel(false);
        for (i, s) in [
            shape(1, 8, 1, 1, 1, false),
            shape(5, 13, 2, 2, 32, true),
            shape(40, 40, 4, 4, 32, false),
            shape(70, 70, 4, 2, 64, true),
            shape(16, 24, 8, 1, 128, false),
            shape(33, 9, 3, 3, 35, true),
        ]
        .into_iter()
        .enumerate()
        {
            let q = data(s.seq * s.heads * s.head_dim, 1 + i as u64);
            let kk = data(s.seq_k * s.kv_heads * s.head_dim, 100 + i as u64);
            let scale = 1.0 / (s.head_dim as f32).sqrt();
            let want = reference_f32(s, &q, &kk, scale);
            let run = k.run(s, &q, &kk, scale, Some(&want)).unwrap();
            assert_eq!(bits(&run.s), bits(&want), "{s}");
        }
    }

    /// The context bit-exact with the reference over head dims 8 .. 128, odd key counts,
    /// grouped-query heads and several tiles; the self-check catches a one-ulp difference.
    #[test]
    fn context_is_bit_exact_with_the_reference() {
        let k = kernel(false);
        for (i, s) in [
            cshape(1, 1, 1, 1, 8),
            cshape(5, 13, 2, 2, 32),
            cshape(40, 40, 4, 4, 32),
            cshape(70, 67, 4, 2, 64),
            cshape(16, 24, 8, 1, 128),
        ]
        .into_iter()
        .enumerate()
        {
            let p = data(s.seq * s.heads * s.seq_k, 7 + i as u64);
            let v = data(s.seq_k * s.kv_heads * s.head_dim, 70 + i as u64);
            let want = context_reference_f32(s, &p, &v);
            let run = k.run_context(s, &p, &v, Some(&want)).unwrap();
            assert_eq!(bits(&run.s), bits(&want), "{s}");
        }
        let s = cshape(4, 16, 1, 1, 8);
        let (p, v) = (data(64, 1), data(128, 2));
        let mut want = context_reference_f32(s, &p, &v);
        want[11] = f32::from_bits(want[11].to_bits() ^ 1);
        let e = k.run_context(s, &p, &v, Some(&want)).unwrap_err();
        assert!(e.contains("code 1") && e.contains("Y[1][3]"), "{e}");
    }

    /// Random data and zeros take the same cycles (scores and context); cached = full runs.
    #[test]
    fn cycles_do_not_depend_on_data() {
        let k = kernel(true);
        let s = shape(24, 24, 2, 1, 32, true);
        let full = k
            .run(s, &data(24 * 64, 3), &data(24 * 32, 4), 0.5, None)
            .unwrap()
            .cycles;
        assert_eq!(k.cycles(s).unwrap(), full);
        assert_eq!(k.cycles(s).unwrap(), full);
        let c = cshape(24, 40, 2, 1, 32);
        let full = k
            .run_context(c, &data(24 * 80, 5), &data(40 * 32, 6), None)
            .unwrap()
            .cycles;
        assert_eq!(k.context_cost(c).unwrap().0, full);
        assert_eq!(k.context_cost(c).unwrap().0, full);
    }

    /// The host's TCDM layout matches the kernel's: the most keys that fit with one-row tiles
    /// run, 8 more exit with code 5 (does not fit in TCDM).
    #[test]
    fn tcdm_layout_matches_the_kernel() {
        let k = kernel(true);
        let f = ElementFormat::F32;
        let c = cshape(1, 2048, 1, 1, 32);
        let kb = k.key_block(c.seq_k, |sk| CtxShape { seq_k: sk, ..c }.tcdm_bytes(f, 1));
        assert!(kb > 8 && kb % 8 == 0 && kb < 2048, "{kb}");
        k.context_cost(CtxShape { seq_k: kb, ..c }).unwrap();
        let e = k.context_cost(CtxShape { seq_k: kb + 8, ..c }).unwrap_err();
        assert!(e.contains("exited with code 5"), "{e}");
        let s = shape(1, 2048, 1, 1, 64, false);
        let kb = k.key_block(s.seq_k, |sk| AttnShape { seq_k: sk, ..s }.tcdm_bytes(f, 1));
        assert!(kb > 8 && kb % 8 == 0 && kb < 2048, "{kb}");
        k.cost(AttnShape { seq_k: kb, ..s }).unwrap();
        let e = k.cost(AttnShape { seq_k: kb + 8, ..s }).unwrap_err();
        assert!(e.contains("exited with code 5"), "{e}");
    }

    /// The binary16 build on the plain cluster is a clear load error; the binary32 limits.
    #[test]
    fn formats_and_refusals() {
        let f16 = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SHIPPED_ELF);
        let e = AttnKernel::load(&f16, &ClusterConfig::default(), false)
            .err()
            .unwrap();
        assert!(e.contains("binary16 kernel") && e.contains("xssr"), "{e}");
        let f = ElementFormat::F32;
        assert!(shape(4, 4, 1, 1, 3, false).error(f).is_none());
        assert!(cshape(4, 4, 1, 1, 12)
            .error(f)
            .unwrap()
            .contains("multiple of 8"));
        assert!(shape(2048, 2048, 1, 1, 32, false)
            .error(f)
            .unwrap()
            .contains("65536"));
        let q = vec![0u16; 16];
        let e = kernel(false)
            .run(shape(1, 1, 1, 1, 16, false), &q, &q, 1.0, None)
            .unwrap_err();
        assert!(e.contains("F16 operands for the attn_f32 kernel"), "{e}");
    }

    /// Cycles between hand-derived bounds (plain cluster: 8 compute cores, one instruction per
    /// cycle per core, FPU latencies 4, TCDM loads 2). Both operations issue, per 8 MACs (a
    /// feature of a block of 8 keys, or a key of a block of 8 features), one flw of the query
    /// (probability), 8 flw of the key (value) rows and 8 fmadd.s: 17 instructions.
    /// Lower: those instructions for every MAC (scores: of the keys padded to 8) over the 8
    /// cores. Upper: nothing overlapped: per 8 MACs 9 loads of 2 cycles and 8 fmadd of 4 (50)
    /// plus 2 of loop; per row and block 100 cycles (8 initialisations, 8 fmul.s of 4 and 8
    /// stores for the scores, loop); per row the causal mask's stores (3 instructions per
    /// key); a tile of R = min(16, seq) rows takes ceil(R / 8) rows' time on the busiest core;
    /// plus 5,000 cycles of start-up, per key head its K (V) load (per key a 10-cycle set-up
    /// and, for the scores' blocked layout, hd one-word beats; V: ceil(4 hd / 64) beats), per
    /// tile 300 cycles of DMA set-up, split and barriers and its transfers (each row a set-up
    /// and its beats, in and out).
    #[test]
    fn cycles_within_hand_derived_bounds() {
        let k = kernel(true);
        for (s, context) in [
            (shape(128, 128, 4, 4, 32, false), false),
            (shape(64, 64, 12, 12, 64, true), false),
            (shape(128, 128, 4, 4, 32, false), true),
            (shape(64, 96, 8, 2, 64, false), true),
        ] {
            let (seq, heads, hd) = (s.seq as f64, s.heads as f64, s.head_dim as f64);
            let (pk, sk) = (s.seq_k.div_ceil(8) as f64 * 8.0, s.seq_k as f64);
            let c = cshape(s.seq, s.seq_k, s.heads, s.kv_heads, s.head_dim);
            let (cycles, macs, row_cost, in_row, out_row) = if context {
                let cy = k.context_cost(c).unwrap().0 as f64;
                let row = hd / 8.0 * (sk * 52.0 + 100.0);
                (cy, seq * heads * hd * sk, row, sk, hd)
            } else {
                let cy = k.cycles(s).unwrap() as f64;
                let mask = if s.causal { 3.0 * sk } else { 0.0 };
                let row = pk / 8.0 * (hd * 52.0 + 100.0) + mask;
                (cy, seq * heads * hd * pk, row, hd, sk)
            };
            let cores = 8.0;
            let lower = macs / 8.0 * 17.0 / cores;
            let r = 16f64.min(seq);
            let tiles = heads * (seq / r).ceil();
            let tile_dma =
                r * (20.0 + (4.0 * in_row / 64.0).ceil() + (4.0 * out_row / 64.0).ceil());
            let beats = if context {
                (4.0 * hd / 64.0).ceil()
            } else {
                hd
            };
            let kv_load = s.kv_heads as f64 * sk * (10.0 + beats);
            let upper =
                5000.0 + kv_load + tiles * (300.0 + tile_dma + (r / cores).ceil() * row_cost);
            assert!(
                lower <= cycles && cycles <= upper,
                "{s} (context {context}): {cycles} outside [{lower:.0}, {upper:.0}]"
            );
        }
    }
}
