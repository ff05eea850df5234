//! kernels/lora_f16_ssr.c on the study cluster: the FP16 LoRA kernel (SSR + FREP + packed
//! SIMD) must equal the host reference bit for bit over shapes (the study's 128x128 and
//! 512x128 layers with r = 8 and t = 8..128, and odd ones), check itself, be repeatable, refuse
//! what it cannot do with clear errors, and be faster than the fp32 `lora` kernel.

use hetsim::lora_f16_kernel::{bytes, halves, host_lora_f16, LoraF16Data};
use hetsim::lora_kernel::{LoraKernel, LoraKernelError, LoraKernelKind, LoraShape};
use hetsim_isa::fp::Rounding;
use hetsim_isa::{fp16, Program};
use hetsim_models::cluster::{Cluster, ClusterConfig, ClusterReport};
use hetsim_tests::lora::{run_lora, LoraCase};
use hetsim_tests::workspace_root;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;

fn program() -> PathBuf {
    workspace_root().join("kernels/build/lora_f16_ssr.elf")
}

fn study() -> ClusterConfig {
    ClusterConfig::from_ron_file(&workspace_root().join("models/presets/cluster-snitch-study.ron"))
        .expect("study preset")
}

fn shape(in_features: usize, out_features: usize, rank: usize, tokens: usize) -> LoraShape {
    LoraShape {
        in_features,
        out_features,
        rank,
        tokens,
    }
}

/// Random binary16 data: X, XW ~ U(-1, 1), A, B ~ U(-0.25, 0.25), rounded to fp16.
struct Case {
    s: LoraShape,
    x: Vec<u16>,
    xw: Vec<u16>,
    at: Vec<u16>,
    bt: Vec<u16>,
}

impl Case {
    fn random(s: LoraShape, seed: u64) -> Case {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut v = |n: usize, a: f32| -> Vec<u16> {
            (0..n)
                .map(|_| fp16::from_f32(rng.random_range(-a..a).to_bits(), Rounding::Rne).0)
                .collect()
        };
        Case {
            x: v(s.tokens * s.in_features, 1.0),
            xw: v(s.tokens * s.out_features, 1.0),
            at: v(s.rank * s.in_features, 0.25),
            bt: v(s.out_features * s.rank, 0.25),
            s,
        }
    }

    fn data(&self) -> LoraF16Data<'_> {
        LoraF16Data {
            x: &self.x,
            xw: &self.xw,
            at: &self.at,
            bt: &self.bt,
        }
    }

    fn reference(&self) -> Vec<u16> {
        host_lora_f16(self.s, self.data())
    }

    /// The same problem in fp32 for the `lora` kernel (A and B back in their natural layouts).
    fn as_f32(&self) -> LoraCase {
        let f = |h: u16| f32::from_bits(fp16::to_f32(h).0);
        let (n, o, r) = (self.s.in_features, self.s.out_features, self.s.rank);
        LoraCase {
            in_features: n,
            out_features: o,
            r,
            t: self.s.tokens,
            x: self.x.iter().map(|&h| f(h)).collect(),
            xw: self.xw.iter().map(|&h| f(h)).collect(),
            a: (0..n * r)
                .map(|e| f(self.at[(e % r) * n + e / r]))
                .collect(),
            b: (0..r * o)
                .map(|e| f(self.bt[(e % o) * r + e / o]))
                .collect(),
        }
    }
}

/// The kernel through the one LoRA runner (`LoraKernel::run_raw`), on binary16 data of this
/// test's own (At and Bt already transposed) and, optionally, an expected Y for its self-check.
struct F16Kernel(LoraKernel);

impl F16Kernel {
    fn run_cluster(
        &self,
        s: LoraShape,
        d: LoraF16Data<'_>,
        expected: Option<&[u16]>,
    ) -> Result<(ClusterReport, Vec<u16>, u32), LoraKernelError> {
        let ops = [bytes(d.x), bytes(d.xw), bytes(d.at), bytes(d.bt)];
        let expected = expected.map(bytes);
        let (report, y, tcdm) = self.0.run_raw(s, &ops, expected.as_deref(), 1)?;
        Ok((report, halves(&y), tcdm))
    }
}

fn load(cfg: &ClusterConfig) -> Result<LoraKernel, LoraKernelError> {
    LoraKernel::load(LoraKernelKind::F16Ssr, &program(), cfg, false)
}

fn kernel(cfg: &ClusterConfig) -> F16Kernel {
    F16Kernel(load(cfg).expect("lora_f16_ssr.elf"))
}

fn first_difference(a: &[u16], b: &[u16]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

#[test]
fn matches_the_host_reference_bit_for_bit_over_shapes() {
    let k = kernel(&study());
    let mut shapes = Vec::new();
    for (in_features, out_features) in [(128, 128), (512, 128)] {
        for t in [8, 16, 32, 128] {
            shapes.push(shape(in_features, out_features, 8, t));
        }
    }
    // Other ranks, a token count that is not a multiple of the cores, outputs that are not a
    // multiple of 8 (padded blocks; MobileBERT's qa_outputs has 2), a wide output, the largest
    // layer.
    shapes.extend([
        shape(64, 96, 4, 3),
        shape(512, 2, 8, 16),
        shape(96, 60, 6, 11),
        shape(130, 24, 2, 5),
        shape(256, 512, 6, 9),
        shape(512, 512, 8, 37),
    ]);
    for (i, &s) in shapes.iter().enumerate() {
        let case = Case::random(s, 200 + i as u64);
        let expect = case.reference();
        // The kernel's own bit-exact self-check against the reference must pass too.
        let (report, y, tcdm) = k
            .run_cluster(s, case.data(), Some(&expect))
            .unwrap_or_else(|e| panic!("{s:?}: {e}"));
        if let Some(e) = first_difference(&y, &expect) {
            panic!(
                "{s:?}: Y[{}][{}] = {:#06x}, reference {:#06x}",
                e / s.out_features,
                e % s.out_features,
                y[e],
                expect[e]
            );
        }
        println!(
            "{:>4}x{:<4} r={} t={:<3}: {:>8} cycles (self-check included), TCDM {tcdm} bytes",
            s.in_features, s.out_features, s.rank, s.tokens, report.cycles
        );
    }
}

#[test]
fn runs_are_repeatable() {
    let k = kernel(&study());
    let case = Case::random(shape(128, 128, 8, 32), 7);
    let (r1, y1, _) = k.run_cluster(case.s, case.data(), None).expect("first");
    let (r2, y2, _) = k.run_cluster(case.s, case.data(), None).expect("second");
    assert_eq!(r1, r2, "reports differ between identical runs");
    assert_eq!(y1, y2);
}

#[test]
fn corrupted_data_is_detected() {
    let k = kernel(&study());
    let case = Case::random(shape(128, 128, 8, 16), 11);
    let expect = case.reference();
    // A corrupted expected value: the kernel's self-check fails and names the output.
    let mut bad = expect.clone();
    bad[5 * 128 + 77] ^= 0x0001;
    let e = k.run_cluster(case.s, case.data(), Some(&bad)).unwrap_err();
    assert!(
        matches!(e, LoraKernelError::Kernel { code: 1, .. }) && e.to_string().contains("Y[5][77]"),
        "{e}"
    );
    // A corrupted input: Y differs from the clean reference (host comparison) and the
    // kernel's self-check against it fails.
    let mut corrupt = Case::random(case.s, 11);
    corrupt.x[3 * 128 + 9] ^= 0x0400; // one exponent bit of X[3][9]
    let (_, y, _) = k.run_cluster(case.s, corrupt.data(), None).expect("run");
    let d = first_difference(&y, &expect).expect("a corrupted input must change Y");
    assert_eq!(d / 128, 3, "only token 3 depends on X[3][..]");
    let e = k
        .run_cluster(case.s, corrupt.data(), Some(&expect))
        .unwrap_err();
    assert!(e.to_string().contains("self-check failed at Y[3]"), "{e}");
}

/// One shape on both kernels, same cluster: (fp16 cycles, fp32 cycles).
fn both(s: LoraShape) -> (ClusterReport, ClusterReport) {
    let cfg = study();
    let case = Case::random(s, 3);
    let (r16, _, _) = kernel(&cfg).run_cluster(s, case.data(), None).expect("f16");
    let lora = workspace_root().join("kernels/build/lora.elf");
    let (r32, _) = run_lora(&lora, &cfg, &case.as_f32()).expect("lora");
    assert_eq!(r32.exit_code, 0);
    (r16, r32)
}

#[test]
fn clearly_faster_than_the_fp32_kernel() {
    for s in [
        shape(128, 128, 8, 16),
        shape(512, 128, 8, 16),
        shape(128, 128, 8, 128),
        shape(512, 128, 8, 128),
    ] {
        let (r16, r32) = both(s);
        let util = r16.region_total(2).map(|t| t.fpu_utilisation());
        println!(
            "{}x{} r={} t={}: lora_f16_ssr {} cycles, lora (fp32) {} cycles, {:.1}x; \
             phase-1 FPU utilisation {:.1} %, phase-2 {:.1} %",
            s.in_features,
            s.out_features,
            s.rank,
            s.tokens,
            r16.cycles,
            r32.cycles,
            r32.cycles as f64 / r16.cycles as f64,
            100.0 * util.unwrap_or(0.0),
            100.0 * r16.region_total(3).map_or(0.0, |t| t.fpu_utilisation())
        );
        assert!(
            r16.cycles * 3 < r32.cycles,
            "{s:?}: {} vs {} cycles",
            r16.cycles,
            r32.cycles
        );
    }
}

#[test]
fn the_fp32_translation_of_a_case_is_the_same_problem() {
    // as_f32 must put A and B back into their natural layouts: check one element each.
    let case = Case::random(shape(6, 8, 2, 1), 5);
    let c = case.as_f32();
    let f = |h: u16| f32::from_bits(fp16::to_f32(h).0);
    assert_eq!(c.a[4 * 2 + 1], f(case.at[6 + 4])); // A[4][1] = At[1][4]
    assert_eq!(c.b[8 + 3], f(case.bt[3 * 2 + 1])); // B[1][3] = Bt[3][1]
}

#[test]
fn refuses_what_it_cannot_do() {
    let k = kernel(&study());
    let err = |s: LoraShape, cfg: Option<&ClusterConfig>| {
        let case = Case::random(s, 1);
        let k2;
        let k = match cfg {
            Some(c) => {
                k2 = kernel(c);
                &k2
            }
            None => &k,
        };
        k.run_cluster(s, case.data(), None).unwrap_err().to_string()
    };
    let e = err(shape(64, 12, 3, 1), None);
    assert!(
        e.contains("exit code 6") && e.contains("must be even"),
        "{e}"
    );
    let e = err(shape(63, 8, 2, 1), None);
    assert!(e.contains("exit code 6"), "{e}");
    let e = err(shape(64, 8, 10, 1), None);
    assert!(e.contains("exit code 4") && e.contains("r <= 8"), "{e}");
    let mut small = study();
    small.tcdm.size = 16384;
    let e = err(shape(512, 512, 8, 4), Some(&small));
    assert!(
        e.contains("exit code 5") && e.contains("does not fit in TCDM"),
        "{e}"
    );
}

#[test]
fn without_streams_the_kernel_is_refused_clearly() {
    let mut cfg = study();
    cfg.extensions.xssr = false;
    // The host wrapper refuses before running, naming the missing extension.
    let e = load(&cfg).err().expect("refused");
    assert!(e.to_string().contains("lacks xssr"), "{e}");
    // Run anyway: the first stream configuration is an illegal instruction.
    let p = Program::load(&program()).unwrap();
    let err = Cluster::new(&cfg, &p)
        .unwrap()
        .run()
        .unwrap_err()
        .to_string();
    assert!(err.contains("illegal instruction"), "{err}");
}

#[test]
fn other_core_counts_are_bit_exact() {
    // The work split and barriers do not assume 8 compute cores: 1, 4 and 16 of them (fewer
    // tokens or output blocks than cores included).
    for cores in [2, 5, 17] {
        let mut cfg = study();
        cfg.cores = cores;
        let k = kernel(&cfg);
        for (i, s) in [shape(128, 40, 8, 19), shape(64, 128, 4, 3)]
            .into_iter()
            .enumerate()
        {
            let case = Case::random(s, 300 + i as u64);
            let expect = case.reference();
            let (_, y, _) = k
                .run_cluster(s, case.data(), Some(&expect))
                .unwrap_or_else(|e| panic!("{cores} cores, {s:?}: {e}"));
            assert_eq!(first_difference(&y, &expect), None, "{cores} cores, {s:?}");
        }
    }
}
