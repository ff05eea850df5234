//! Tests of the energy model: the AIMC validation figures (HERMES-Core, HERMES chip) from the
//! model's own rule, hand-derived energies of every other rule, and refused parameters. The
//! cluster and RedMulE validations run kernels and live in tests/tests/energy_validation.rs.

use super::*;
use crate::aimc::TileConfig;
use crate::cluster::{ClusterReport, CoreCounters};
use std::collections::BTreeMap;

fn within(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * want.abs()
}

fn hermes_tile(integration_ns: f64) -> TileConfig {
    TileConfig {
        rows: 256,
        cols: 256,
        integration_time_ns: integration_ns,
        ..TileConfig::default()
    }
}

/// TOPS/W of back-to-back MVMs of a fully used 256 x 256 tile: 2 x 256 x 256 ops per MVM.
fn tops_per_watt(cfg: &EnergyConfig, tile: &TileConfig) -> f64 {
    let ops = OPS_PER_MAC * (tile.rows * tile.cols) as f64;
    ops_per_joule(ops, cfg.aimc.mvm_energy_j(tile)) / 1e12
}

#[test]
fn hermes_core_reaches_its_published_efficiency() {
    // [K1]: HERMES-Core, 256 x 256, 8-bit PWM, 128 ns integration, 14 nm: 10.5 TOPS/W.
    // Model: 0.0985 W x 128 ns = 12.61 nJ per MVM; 131072 / 12.61 nJ = 10.40 TOPS/W.
    let e = EnergyConfig::default();
    let t = tops_per_watt(&e, &hermes_tile(128.0));
    assert!(within(t, 10.5, 0.10), "{t} TOPS/W");
    assert!(within(t, 131072.0 / (0.0985 * 128e-9) / 1e12, 1e-9));
}

#[test]
fn hermes_chip_reaches_its_one_and_four_phase_efficiency() {
    // [L1] Table I: 9.76 TOPS/W one-phase (133 ns per MVM), 2.48 TOPS/W four-phase (520 ns).
    // Model: 131072 / (0.0985 W x 133 ns) = 10.01; 131072 / (0.0985 W x 520 ns) = 2.559.
    let e = EnergyConfig::default();
    let one = tops_per_watt(&e, &hermes_tile(133.0));
    let four = tops_per_watt(&e, &hermes_tile(520.0));
    assert!(within(one, 9.76, 0.10), "{one}");
    assert!(within(four, 2.48, 0.10), "{four}");
    // and the chip's 0.86 / 3.38 uJ per chip-wide MVM of 64 cores
    let chip_one = 64.0 * e.aimc.mvm_energy_j(&hermes_tile(133.0));
    let chip_four = 64.0 * e.aimc.mvm_energy_j(&hermes_tile(520.0));
    assert!(within(chip_one, 0.86e-6, 0.10), "{chip_one}");
    assert!(within(chip_four, 3.38e-6, 0.10), "{chip_four}");
}

#[test]
fn tile_power_scales_by_part() {
    // 512 x 512, 8-bit: ADC 0.58 x 2, DAC 0.145 x 2, array 0.275 x 4 of 98.5 mW.
    let e = AimcEnergy::default();
    let p = e.mvm_power(512, 512, 8, 8);
    assert!(within(p.adc_w, 0.0985 * 1.16, 1e-12));
    assert!(within(p.dac_w, 0.0985 * 0.29, 1e-12));
    assert!(within(p.array_w, 0.0985 * 1.1, 1e-9));
    assert!(within(p.total_w(), 0.0985 * 2.55, 1e-9));
    // 6-bit ADC: a quarter of the 8-bit ADC power; 4-bit DAC: half the DAC power
    let q = e.mvm_power(256, 256, 4, 6);
    assert!(within(q.adc_w, 0.0985 * 0.58 / 4.0, 1e-12));
    assert!(within(q.dac_w, 0.0985 * 0.145 / 2.0, 1e-12));
    // idle: 10 % of the MVM power
    let t = TileConfig::default();
    assert!(within(
        e.idle_power_w(&t),
        0.1 * e.tile_power(&t).total_w(),
        1e-12
    ));
}

#[test]
fn cluster_energy_charges_each_counter_once() {
    let e = EnergyConfig::default();
    let a = ClusterActivity {
        cores: 9,
        cycles: 1000,
        active_core_cycles: 5000,
        stall_cycles: 400,
        int_instructions: 2000,
        fp32_ops: 1000,
        fp16_lanes: 3000,
        tcdm_accesses: 1500,
        dma_bytes: 4096,
        redmule_macs: 10_000,
        redmule: 1,
        ..ClusterActivity::default()
    };
    let b = e.cluster_energy(&a, 1.0);
    // by hand (no FP classes: every FP operation an FMA): 2000 x 5.6 pJ;
    // 1000 x 20.5 + 3000 x 6.69 pJ; 1500 x 1.93 pJ;
    // 400 x 1.12 + (9000 - 5000) x 0.56 pJ; 4096 x 2 x 1.25 x 0.386 pJ; 10000 x 2.436 pJ;
    // (4.35 + 0.61) mW x 1 us.
    assert!(within(b.instructions_j, 11.2e-9, 1e-9));
    assert!(within(b.fpu_j, 20.5e-9 + 20.07e-9, 1e-9));
    assert!(within(b.tcdm_j, 2.895e-9, 1e-9));
    assert!(within(b.cycles_j, 0.448e-9 + 2.24e-9, 1e-9));
    assert!(within(b.dma_j, 4096.0 * 0.965e-12, 1e-9));
    assert!(within(b.redmule_j, 24.36e-9, 1e-9));
    assert!(within(b.leakage_j, 4.96e-9, 1e-9));
    let sum = 11.2e-9 + 40.57e-9 + 2.895e-9 + 2.688e-9 + 3.95264e-9 + 24.36e-9 + 4.96e-9;
    assert!(within(b.total_j(), sum, 1e-6));
    assert!(within(b.dynamic_j(), sum - 4.96e-9, 1e-6));
    // at half the clock the span lasts twice as long: only the leakage doubles
    let slow = e.cluster_energy(&a, 0.5);
    assert!(within(slow.leakage_j, 2.0 * b.leakage_j, 1e-12));
    assert!(within(slow.dynamic_j(), b.dynamic_j(), 1e-12));
}

#[test]
fn activity_comes_from_the_report_counters() {
    let mut c0 = CoreCounters {
        cycles: 100,
        instructions: 80,
        fp_ops: 30,
        fp16_ops: 10,
        fp16_lanes: 20,
        tcdm_accesses: 25,
        fp32_class_ops: [12, 3, 2, 1, 2],
        fp16_class_lanes: [16, 0, 0, 0, 4],
        ..CoreCounters::default()
    };
    c0.stalls[StallCause::Raw as usize] = 5;
    c0.stalls[StallCause::Barrier as usize] = 15;
    let c1 = CoreCounters {
        cycles: 40,
        instructions: 40,
        ..CoreCounters::default()
    };
    let r = ClusterReport {
        program: "t".into(),
        exit_code: 0,
        cycles: 100,
        clock_ghz: 1.0,
        cores: vec![c0, c1],
        regions: BTreeMap::new(),
        dma_busy_cycles: 0,
        dma_bytes: 256,
        ssr_tcdm_accesses: 7,
        icache_accesses: 0,
        icache_misses: 0,
        redmule: None,
        redmule_fmas: 0,
        console: Vec::new(),
    };
    let a = ClusterActivity::from_report(&r);
    assert_eq!(
        a,
        ClusterActivity {
            cores: 2,
            cycles: 100,
            active_core_cycles: 85 + 40,
            stall_cycles: 5,
            int_instructions: 50 + 40,
            fp32_ops: 20,
            fp16_lanes: 20,
            fp32_class_ops: [12, 3, 2, 1, 2],
            fp16_class_lanes: [16, 0, 0, 0, 4],
            tcdm_accesses: 32,
            dma_bytes: 256,
            redmule_macs: 0,
            redmule: 0,
        }
    );
    assert_eq!(a.idle_core_cycles(), 200 - 125);
    let s = a.scaled(1, 4);
    assert_eq!((s.cycles, s.int_instructions, s.tcdm_accesses), (25, 22, 8));
    let rest = a.minus(&s);
    assert_eq!((rest.cycles, rest.fp32_ops, rest.cores), (75, 15, 2));
    assert_eq!(
        (s.fp32_class_ops, rest.fp16_class_lanes),
        ([3, 0, 0, 0, 0], [12, 0, 0, 0, 3])
    );
    assert_eq!(s.add(&rest).cycles, 100);
    assert_eq!(s.add(&rest).fp32_class_ops[0], 12);
}

#[test]
fn each_fp_class_is_charged_its_share_of_the_formats_fma() {
    let e = EnergyConfig::default();
    let c = &e.cluster;
    // Horowitz [H1] at 45 nm: FP32 add 0.9, mul 3.7 pJ; FP16 add 0.4, mul 1.1 pJ.
    assert!(within(c.fp32_add_share, 0.9 / 4.6, 0.01));
    assert!(within(c.fp32_mul_share, 3.7 / 4.6, 0.01));
    assert!(within(c.fp16_add_share, 0.4 / 1.5, 0.01));
    assert!(within(c.fp16_mul_share, 1.1 / 1.5, 0.01));
    assert!(within(c.fp16_lane_j, c.fp32_op_j * 1.5 / 4.6, 0.01));
    // binary32: 10 FMA, 20 add, 30 mul, 4 div/sqrt, 50 other; 6 unclassified (as FMAs).
    // binary16 lanes: 8 FMA, 6 add, 4 mul, 2 div/sqrt, 10 other; none unclassified.
    let a = ClusterActivity {
        fp32_ops: 120,
        fp32_class_ops: [10, 20, 30, 4, 50],
        fp16_lanes: 30,
        fp16_class_lanes: [8, 6, 4, 2, 10],
        ..ClusterActivity::default()
    };
    let (f32j, f16j) = (20.5e-12, 6.69e-12);
    let want = f32j * (16.0 + 20.0 * 0.196 + 30.0 * 0.804 + 4.0 * 1.0 + 50.0 * 0.196)
        + f16j * (8.0 + 6.0 * 0.267 + 4.0 * 0.733 + 2.0 * 1.0 + 10.0 * 0.196);
    let b = e.cluster_energy(&a, 1.0);
    assert!(within(b.fpu_j, want, 1e-12), "{} vs {want}", b.fpu_j);
    // an add costs less than a multiply, which costs less than an FMA, in both formats
    for half in [false, true] {
        let j = |k| c.fp_class_j(k, half);
        assert!(j(FpOpClass::AddSub) < j(FpOpClass::Mul) && j(FpOpClass::Mul) < j(FpOpClass::Fma));
    }
}

#[test]
fn fp_classes_follow_the_decoder() {
    use hetsim_isa::Op;
    let cases = [
        (Op::FmaddS, FpOpClass::Fma),
        (Op::FnmsubS, FpOpClass::Fma),
        (Op::VfmacH, FpOpClass::Fma),
        (Op::VfdotpexSH, FpOpClass::Fma),
        (Op::FaddS, FpOpClass::AddSub),
        (Op::FsubH, FpOpClass::AddSub),
        (Op::VfsubH, FpOpClass::AddSub),
        (Op::VfsumexSH, FpOpClass::AddSub),
        (Op::FmulS, FpOpClass::Mul),
        (Op::VfmulRH, FpOpClass::Mul),
        (Op::FdivS, FpOpClass::DivSqrt),
        (Op::FsqrtH, FpOpClass::DivSqrt),
        (Op::FminS, FpOpClass::Other),
        (Op::FsgnjxS, FpOpClass::Other),
        (Op::FeqH, FpOpClass::Other),
        (Op::FcvtSH, FpOpClass::Other),
        (Op::FmvXW, FpOpClass::Other),
        (Op::VfmaxH, FpOpClass::Other),
    ];
    for (op, class) in cases {
        assert_eq!(FpOpClass::of(op), class, "{op:?}");
    }
}

#[test]
fn program_and_verify_costs_follow_the_pulses() {
    let p = ProgrammingConfig::default();
    // group: 125 + 30 x (300 + 512) = 24485 ns
    assert!(within(p.group_ns(), 24_485.0, 1e-12));
    // device, 25 uS, conversion 10 pJ: 1.5 V x 700 uA x 125 ns = 131.25 pJ; per iteration
    // 1.5 x 125e-6 x 300e-9 = 56.25 pJ, 0.04 x 25e-6 x 512e-9 = 0.512 pJ, 10 pJ.
    let dev = p.device_energy_j(25.0, 10e-12);
    let want = 131.25e-12 + 30.0 * (56.25e-12 + 0.512e-12 + 10e-12);
    assert!(within(dev, want, 1e-9), "{dev} {want}");
    // a 512 x 512 tile: 524288 devices in 16384 groups of 32
    let c = p.program(512 * 512, 25.0, 10e-12);
    assert_eq!(c.devices, 524_288);
    assert!(within(c.time_ns, 16_384.0 * 24_485.0, 1e-12));
    assert!(within(c.energy_j, 524_288.0 * want, 1e-9));
}

#[test]
fn noc_memory_and_area_rules() {
    let e = EnergyConfig::default();
    // (1000 + 8) B x 3 hops x 0.15 pJ
    assert!(within(
        e.noc.transfer_j(1000, 3),
        1008.0 * 3.0 * 0.15e-12,
        1e-12
    ));
    assert_eq!(e.noc.transfer_j(1000, 0), 0.0);
    assert!(within(e.memory.sram_byte_j(), 1.25e-12 * 0.386, 1e-12));
    assert!(within(e.memory.dma_byte_j(), 2.0 * 1.25e-12 * 0.386, 1e-12));
    assert!(within(e.area.tile_mm2(512, 512), 4.0 * 0.635, 1e-12));
    assert!(within(e.area.cluster_mm2(true), 0.5, 1e-12));
    assert!(within(e.area.cluster_mm2(false), 0.43, 1e-12));
    // an idle 9-core cluster at 1 GHz: 4.35 mW + 9 x 0.56 pJ x 1e9 = 9.39 mW
    assert!(within(
        e.cluster_idle_power_w(9, 1.0, false),
        4.35e-3 + 5.04e-3,
        1e-9
    ));
}

#[test]
fn negative_or_nan_constants_are_refused_by_name() {
    let mut e = EnergyConfig::default();
    e.cluster.fp32_op_j = -1.0;
    let err = e.validate().unwrap_err();
    assert_eq!(err.field, "cluster.fp32_op_j");
    let mut e = EnergyConfig::default();
    e.noc.byte_hop_j = f64::NAN;
    assert_eq!(e.validate().unwrap_err().field, "noc.byte_hop_j");
    let mut e = EnergyConfig::default();
    e.aimc.dac_share = 0.5;
    assert_eq!(e.validate().unwrap_err().field, "aimc.dac_share");
    let mut e = EnergyConfig::default();
    e.programming.parallel_devices = 0;
    assert_eq!(
        e.validate().unwrap_err().field,
        "programming.parallel_devices"
    );
    assert!(EnergyConfig::default().validate().is_ok());
    // unknown fields are refused when read
    assert!(ron::from_str::<EnergyConfig>("(cluster: (fp64_op_j: 1.0))").is_err());
    let e: EnergyConfig = ron::from_str("(noc: (byte_hop_j: 0.19e-12))").unwrap();
    assert_eq!(e.noc.byte_hop_j, 0.19e-12);
    assert_eq!(e.aimc, AimcEnergy::default());
}
