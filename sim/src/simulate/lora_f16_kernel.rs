//! The FP16 LoRA kernel `kernels/build/lora_f16_ssr.elf` (SSR + FREP + packed-SIMD fp16 on
//! the study cluster): its bit-exact host reference and its operand layout. The kernel is run
//! like every LoRA kernel, by `LoraKernel` with its descriptor (`LoraKernelKind::F16Ssr`);
//! binary16 data of its own goes through `LoraKernel::run_raw` ([`bytes`], [`halves`]).
//!
//! Kernel ABI (docs/kernels.md, "lora_f16_ssr"): `lora_f16_shape` = {in, out, r, t} as u32;
//! inputs `lora_f16_X` (t x in), `lora_f16_XW` (t x out), `lora_f16_At` (r x in: A
//! transposed), `lora_f16_Bt` (out x r: B transposed), output `lora_f16_Y` (t x out), all
//! row-major binary16; `lora_f16_check` != 0 makes the kernel compare Y bit for bit with
//! `lora_f16_expected`; `lora_f16_used_tcdm` / `lora_f16_used_chunk` report its buffers.
//!
//! Numerics ([`host_lora_f16`] reproduces them with the instruction semantics of
//! `hetsim_isa::fp16`, round to nearest even):
//! `h = +0; h = dotp_ex(h, X[tok][2i..2i+2], At[k][2i..2i+2])` over i, `H = fp16(h)`;
//! `y = f32(XW[tok][j]); y = dotp_ex(y, H[tok][2k..2k+2], Bt[j][2k..2k+2])` over k,
//! `Y = fp16(y)`.

use crate::lora_kernel::{f16_to_f32, f32_to_f16, LoraData, LoraShape};
use hetsim_isa::fp::Rounding;
use hetsim_isa::fp16;
use hetsim_models::cluster::ClusterConfig;

/// The data of one FP16 LoRA evaluation (binary16 bit patterns, row-major).
#[derive(Clone, Copy, Debug)]
pub struct LoraF16Data<'a> {
    /// tokens x in_features.
    pub x: &'a [u16],
    /// tokens x out_features.
    pub xw: &'a [u16],
    /// rank x in_features (A transposed).
    pub at: &'a [u16],
    /// out_features x rank (B transposed).
    pub bt: &'a [u16],
}

/// Extensions the kernel needs, by their cluster-config names.
pub const REQUIRED_EXTENSIONS: [&str; 4] = ["zfh", "xfvec", "xfrep", "xssr"];

/// The extensions of [`REQUIRED_EXTENSIONS`] that `config` lacks.
pub fn missing_extensions(config: &ClusterConfig) -> Vec<&'static str> {
    let e = config.extensions;
    [e.zfh, e.xfvec, e.xfrep, e.xssr]
        .iter()
        .zip(REQUIRED_EXTENSIONS)
        .filter(|(on, _)| !**on)
        .map(|(_, name)| name)
        .collect()
}

/// Why the kernel cannot take a shape (its limits, checked on the host first:
/// [`LoraKernelKind::shape_error`](crate::lora_kernel::LoraKernelKind::shape_error)).
pub fn shape_error(s: LoraShape) -> Option<String> {
    crate::lora_kernel::LoraKernelKind::F16Ssr
        .shape_error(s)
        .map(|r| r.message)
}

fn dotp(acc: u32, a: &[u16], b: &[u16]) -> u32 {
    fp16::dotp_ex(acc, [a[0], a[1]], [b[0], b[1]], Rounding::Rne).0
}

fn to_f16(v: u32) -> u16 {
    fp16::from_f32(v, Rounding::Rne).0
}

/// Y = XW + (X A) B in the kernel's operation order and roundings (bit-exact). Panics if the
/// data does not match the shape or the shape has an odd in_features or rank (see [`shape_error`]).
pub fn host_lora_f16(s: LoraShape, d: LoraF16Data<'_>) -> Vec<u16> {
    let (n, o, r) = (s.in_features, s.out_features, s.rank);
    let mut y = vec![0u16; s.tokens * o];
    let mut h = vec![0u16; r];
    for tok in 0..s.tokens {
        let x = &d.x[tok * n..(tok + 1) * n];
        for (k, hk) in h.iter_mut().enumerate() {
            let at = &d.at[k * n..(k + 1) * n];
            let acc = x
                .chunks_exact(2)
                .zip(at.chunks_exact(2))
                .fold(0u32, |acc, (a, b)| dotp(acc, a, b));
            *hk = to_f16(acc);
        }
        for j in 0..o {
            let bt = &d.bt[j * r..(j + 1) * r];
            let init = fp16::to_f32(d.xw[tok * o + j]).0;
            let acc = h
                .chunks_exact(2)
                .zip(bt.chunks_exact(2))
                .fold(init, |acc, (a, b)| dotp(acc, a, b));
            y[tok * o + j] = to_f16(acc);
        }
    }
    y
}

/// The f32 operands of a LoRA task as the kernel takes them: each value rounded to binary16
/// (round to nearest, ties to even), A and B transposed. Returns (X, XW, At, Bt).
pub fn f16_operands(s: LoraShape, d: LoraData<'_>) -> (Vec<u16>, Vec<u16>, Vec<u16>, Vec<u16>) {
    let h = |v: &[f32]| -> Vec<u16> { v.iter().map(|&x| f32_to_f16(x)).collect() };
    let (n, o, r) = (s.in_features, s.out_features, s.rank);
    // At[k][i] = A[i][k]; Bt[j][k] = B[k][j].
    let at = (0..r * n)
        .map(|e| f32_to_f16(d.a[(e % n) * r + e / n]))
        .collect();
    let bt = (0..o * r)
        .map(|e| f32_to_f16(d.b[(e % r) * o + e / r]))
        .collect();
    (h(d.x), h(d.xw), at, bt)
}

/// [`host_lora_f16`] for f32 operands converted as [`f16_operands`] does; Y as f32 (exact).
pub fn host_lora_f16_from_f32(s: LoraShape, d: LoraData<'_>) -> Vec<f32> {
    let (x, xw, at, bt) = f16_operands(s, d);
    let d16 = LoraF16Data {
        x: &x,
        xw: &xw,
        at: &at,
        bt: &bt,
    };
    host_lora_f16(s, d16).into_iter().map(f16_to_f32).collect()
}

/// binary16 bit patterns as little-endian bytes (how the kernel's symbols hold them).
pub fn bytes(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Little-endian bytes as binary16 bit patterns.
pub fn halves(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|w| u16::from_le_bytes([w[0], w[1]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: u16 = 0x3c00;
    const TWO: u16 = 0x4000;

    #[test]
    fn host_reference_by_hand() {
        // in = 2, out = 8, r = 2, one token: X = (1, 2), A columns At[0] = (1, 1),
        // At[1] = (2, 0): H = (3, 2). Bt[j] = (1, 0) -> Y[j] = XW[j] + 3; XW = 1 -> 4.
        let s = LoraShape {
            in_features: 2,
            out_features: 8,
            rank: 2,
            tokens: 1,
        };
        let y = host_lora_f16(
            s,
            LoraF16Data {
                x: &[ONE, TWO],
                xw: &[ONE; 8],
                at: &[ONE, ONE, TWO, 0],
                bt: &[ONE, 0].repeat(8),
            },
        );
        assert_eq!(y, vec![0x4400; 8]); // 4.0
    }

    #[test]
    fn h_is_rounded_to_fp16_before_phase_2() {
        // h = 1 + 2^-11 is exact in fp32 but a tie in fp16: H rounds to even, 1.0, and
        // Y = 0 + H * 1 = 1.0. With h = 1 + 3 * 2^-11 the tie goes up to 1 + 2^-9.
        let s = LoraShape {
            in_features: 2,
            out_features: 8,
            rank: 2,
            tokens: 1,
        };
        let tiny = 0x1000; // 2^-11
        let three_tiny = 0x1600; // 3 * 2^-11
        let run = |x1: u16| {
            host_lora_f16(
                s,
                LoraF16Data {
                    x: &[ONE, x1],
                    xw: &[0; 8],
                    at: &[ONE, ONE, 0, 0],
                    bt: &[ONE, 0].repeat(8),
                },
            )[0]
        };
        assert_eq!(run(tiny), ONE);
        assert_eq!(run(three_tiny), 0x3c02);
    }

    #[test]
    fn missing_extensions_are_named() {
        let cfg = ClusterConfig::default();
        assert_eq!(missing_extensions(&cfg), REQUIRED_EXTENSIONS.to_vec());
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../kernels/build/lora_f16_ssr.elf");
        let kind = crate::lora_kernel::LoraKernelKind::F16Ssr;
        let e = crate::lora_kernel::LoraKernel::load(kind, &path, &cfg, false)
            .err()
            .expect("refused");
        assert!(
            e.to_string().contains("lacks zfh, xfvec, xfrep, xssr"),
            "{e}"
        );
    }

    #[test]
    fn shape_limits() {
        let s = |in_features, out_features, rank, tokens| LoraShape {
            in_features,
            out_features,
            rank,
            tokens,
        };
        assert!(shape_error(s(512, 128, 8, 128)).is_none());
        assert!(shape_error(s(512, 128, 9, 1)).unwrap().contains("exceeds"));
        assert!(shape_error(s(3, 8, 2, 1)).unwrap().contains("even"));
        assert!(shape_error(s(4, 12, 3, 1)).unwrap().contains("even rank"));
        assert!(shape_error(s(4, 2, 2, 1)).is_none());
        assert!(shape_error(s(4, 8, 0, 1)).unwrap().contains("zero"));
    }
}
