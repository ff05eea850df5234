//! Tests of the Zfh and Xfvec extensions through the public decode / execute path. Expected
//! values are derived by hand from IEEE 754 binary16 (bias 15, 10 fraction bits) and the
//! RISC-V F/Zfh chapters; encodings are pinned against llvm-mc 14 output (Zfh) and the match
//! values of the Snitch reference sheet (Xfvec).

use super::*;
use crate::asm::*;
use crate::decode::{decode, decode_with, Class};
use crate::disasm::Disasm;
use crate::exec::{execute, Retired};
use crate::fp::{NV, NX, OF};
use crate::mem::Memory;

const ON: Extensions = Extensions::SNITCH_FP16;

// binary16 constants
const H1: u16 = 0x3c00;
const H2: u16 = 0x4000;
const H3: u16 = 0x4200;
const HNAN: u16 = 0x7e00;

fn bx(h: u16) -> u32 {
    nan_box(h)
}

fn pk(l0: u16, l1: u16) -> u32 {
    u32::from(l0) | (u32::from(l1) << 16)
}

fn hart() -> Hart {
    let mut h = Hart::new(0, 0x1000);
    h.ext = ON;
    h
}

fn mem() -> Memory {
    let mut m = Memory::new();
    m.add_region("ram", 0, 0x1_0000).expect("region");
    m
}

/// Executes one instruction word on `h`.
fn run(h: &mut Hart, word: u32) -> Result<Retired, Exception> {
    let inst = decode_with(word, h.ext);
    execute(&inst, h, &mut mem())
}

/// Runs `word` with fflags cleared; returns (f[rd] or x[rd], fflags).
fn exec_f(h: &mut Hart, word: u32) -> (u32, u8) {
    h.fflags = 0;
    run(h, word).expect("executes");
    let rd = ((word >> 7) & 31) as usize;
    let inst = decode_with(word, h.ext);
    let v = if inst.op.writes_x() { h.x[rd] } else { h.f[rd] };
    (v, h.fflags)
}

// ---------------------------------------------------------------- encodings

#[test]
fn zfh_encodings_match_llvm_mc() {
    // llvm-mc-14 --triple=riscv32 -mattr=+zfh -show-encoding (fa0 = 10, fa1 = 11, fa2 = 12,
    // fa3 = 13, a0 = 10, a1 = 11).
    let cases: &[(u32, u32, Op, &str)] = &[
        (flh(10, 11, 4), 0x0045_9507, Op::Flh, "flh fa0, 4(a1)"),
        (fsh(10, 11, -2), 0xfea5_9f27, Op::Fsh, "fsh fa0, -2(a1)"),
        (
            fadd_h(10, 11, 12),
            0x04c5_f553,
            Op::FaddH,
            "fadd.h fa0, fa1, fa2",
        ),
        (
            with_rm(fadd_h(10, 11, 12), 1),
            0x04c5_9553,
            Op::FaddH,
            "fadd.h fa0, fa1, fa2, rtz",
        ),
        (
            fsub_h(10, 11, 12),
            0x0cc5_f553,
            Op::FsubH,
            "fsub.h fa0, fa1, fa2",
        ),
        (
            fmul_h(10, 11, 12),
            0x14c5_f553,
            Op::FmulH,
            "fmul.h fa0, fa1, fa2",
        ),
        (
            fdiv_h(10, 11, 12),
            0x1cc5_f553,
            Op::FdivH,
            "fdiv.h fa0, fa1, fa2",
        ),
        (fsqrt_h(10, 11), 0x5c05_f553, Op::FsqrtH, "fsqrt.h fa0, fa1"),
        (
            fmin_h(10, 11, 12),
            0x2cc5_8553,
            Op::FminH,
            "fmin.h fa0, fa1, fa2",
        ),
        (
            fmax_h(10, 11, 12),
            0x2cc5_9553,
            Op::FmaxH,
            "fmax.h fa0, fa1, fa2",
        ),
        (
            fmadd_h(10, 11, 12, 13),
            0x6cc5_f543,
            Op::FmaddH,
            "fmadd.h fa0, fa1, fa2, fa3",
        ),
        (
            fmsub_h(10, 11, 12, 13),
            0x6cc5_f547,
            Op::FmsubH,
            "fmsub.h fa0, fa1, fa2, fa3",
        ),
        (
            fnmsub_h(10, 11, 12, 13),
            0x6cc5_f54b,
            Op::FnmsubH,
            "fnmsub.h fa0, fa1, fa2, fa3",
        ),
        (
            fnmadd_h(10, 11, 12, 13),
            0x6cc5_f54f,
            Op::FnmaddH,
            "fnmadd.h fa0, fa1, fa2, fa3",
        ),
        (
            fsgnj_h(10, 11, 12),
            0x24c5_8553,
            Op::FsgnjH,
            "fsgnj.h fa0, fa1, fa2",
        ),
        (
            fsgnjn_h(10, 11, 12),
            0x24c5_9553,
            Op::FsgnjnH,
            "fsgnjn.h fa0, fa1, fa2",
        ),
        (
            fsgnjx_h(10, 11, 12),
            0x24c5_a553,
            Op::FsgnjxH,
            "fsgnjx.h fa0, fa1, fa2",
        ),
        (
            feq_h(10, 11, 12),
            0xa4c5_a553,
            Op::FeqH,
            "feq.h a0, fa1, fa2",
        ),
        (
            flt_h(10, 11, 12),
            0xa4c5_9553,
            Op::FltH,
            "flt.h a0, fa1, fa2",
        ),
        (
            fle_h(10, 11, 12),
            0xa4c5_8553,
            Op::FleH,
            "fle.h a0, fa1, fa2",
        ),
        (
            fclass_h(10, 11),
            0xe405_9553,
            Op::FclassH,
            "fclass.h a0, fa1",
        ),
        (
            fcvt_w_h(10, 11),
            0xc405_f553,
            Op::FcvtWH,
            "fcvt.w.h a0, fa1",
        ),
        (
            fcvt_wu_h(10, 11),
            0xc415_f553,
            Op::FcvtWuH,
            "fcvt.wu.h a0, fa1",
        ),
        (
            fcvt_h_w(10, 11),
            0xd405_f553,
            Op::FcvtHW,
            "fcvt.h.w fa0, a1",
        ),
        (
            fcvt_h_wu(10, 11),
            0xd415_f553,
            Op::FcvtHWu,
            "fcvt.h.wu fa0, a1",
        ),
        (
            fcvt_s_h(10, 11),
            0x4025_8553,
            Op::FcvtSH,
            "fcvt.s.h fa0, fa1, rne",
        ),
        (
            fcvt_h_s(10, 11),
            0x4405_f553,
            Op::FcvtHS,
            "fcvt.h.s fa0, fa1",
        ),
        (fmv_x_h(10, 11), 0xe405_8553, Op::FmvXH, "fmv.x.h a0, fa1"),
        (fmv_h_x(10, 11), 0xf405_8553, Op::FmvHX, "fmv.h.x fa0, a1"),
    ];
    for &(word, want, op, text) in cases {
        assert_eq!(word, want, "{text}: assembler");
        let inst = decode_with(want, ON);
        assert_eq!(inst.op, op, "{text}: decoder");
        assert_eq!(Disasm { inst: &inst, pc: 0 }.to_string(), text);
        // Off by default: the plain machine rejects it.
        assert_eq!(decode(want).op, Op::Illegal, "{text}");
        let xfvec_only = Extensions {
            zfh: false,
            xfvec: true,
            xdma: false,
            xfrep: false,
            xssr: false,
        };
        assert_eq!(decode_with(want, xfvec_only).op, Op::Illegal, "{text}");
    }
    // Snitch riscv_instr.sv match values of the Zfh subset it lists.
    assert_eq!(flh(0, 0, 0), 0x0000_1007);
    assert_eq!(with_rm(fadd_h(0, 0, 0), 0), 0x0400_0053);
    assert_eq!(with_rm(fmadd_h(0, 0, 0, 0), 0), 0x0400_0043);
    assert_eq!(fcvt_s_h(0, 0), 0x4020_0053);
    assert_eq!(with_rm(fcvt_h_s(0, 0), 0), 0x4400_0053);
}

#[test]
fn xfvec_encodings_match_the_reference_sheet() {
    // The reference sheet's worked examples.
    assert_eq!(vfmac_h(8, 1, 0), 0x9000_a433);
    assert_eq!(vfdotpex_s_h(8, 1, 0), 0x9600_8433);
    // Match values (all register fields zero) and the operation each decodes to.
    let cases: &[(u32, u32, Op)] = &[
        (vfmac_h(0, 0, 0), 0x9000_2033, Op::VfmacH),
        (vfmac_r_h(0, 0, 0), 0x9000_6033, Op::VfmacRH),
        (vfmul_h(0, 0, 0), 0x8600_2033, Op::VfmulH),
        (vfmul_r_h(0, 0, 0), 0x8600_6033, Op::VfmulRH),
        (vfadd_h(0, 0, 0), 0x8200_2033, Op::VfaddH),
        (vfadd_r_h(0, 0, 0), 0x8200_6033, Op::VfaddRH),
        (vfsub_h(0, 0, 0), 0x8400_2033, Op::VfsubH),
        (vfsub_r_h(0, 0, 0), 0x8400_6033, Op::VfsubRH),
        (vfmax_h(0, 0, 0), 0x8c00_2033, Op::VfmaxH),
        (vfmax_r_h(0, 0, 0), 0x8c00_6033, Op::VfmaxRH),
        (vfmin_h(0, 0, 0), 0x8a00_2033, Op::VfminH),
        (vfmin_r_h(0, 0, 0), 0x8a00_6033, Op::VfminRH),
        (vfdotpex_s_h(0, 0, 0), 0x9600_0033, Op::VfdotpexSH),
        (vfsumex_s_h(0, 0), 0x8f60_0033, Op::VfsumexSH),
        (vfcpka_h_s(0, 0, 0), 0xb000_2033, Op::VfcpkaHS),
        (vfcvt_s_h(0, 0), 0x9860_0033, Op::VfcvtSH),
        (vfcvtu_s_h(0, 0), 0x9860_4033, Op::VfcvtuSH),
    ];
    // Mask: funct7 + funct3 + opcode (0xfe00707f), plus rs2 (0xfff0707f) for the
    // two-operand forms; every other bit is a register field.
    for &(word, want, op) in cases {
        assert_eq!(word, want, "{op:?}");
        let two_op = matches!(op, Op::VfcvtSH | Op::VfcvtuSH | Op::VfsumexSH);
        let mask: u32 = if two_op { 0xfff0_707f } else { 0xfe00_707f };
        for regs in [0u32, 0x0108_5a80, 0x01ff_8f80, 0x00a5_2300] {
            let w = want | (regs & !mask);
            let i = decode_with(w, ON);
            assert_eq!(i.op, op, "{w:#010x}");
            assert_eq!(
                (i.rd, i.rs1, i.rs2),
                (
                    ((w >> 7) & 31) as u8,
                    ((w >> 15) & 31) as u8,
                    ((w >> 20) & 31) as u8
                )
            );
        }
        assert_eq!(decode(want).op, Op::Illegal, "{op:?} is off by default");
        let zfh_only = Extensions {
            zfh: true,
            xfvec: false,
            xdma: false,
            xfrep: false,
            xssr: false,
        };
        assert_eq!(decode_with(want, zfh_only).op, Op::Illegal, "{op:?}");
    }
    let d = |w| {
        Disasm {
            inst: &decode_with(w, ON),
            pc: 0,
        }
        .to_string()
    };
    assert_eq!(d(0x9000_a433), "vfmac.h fs0, ft1, ft0");
    assert_eq!(d(0x9600_8433), "vfdotpex.s.h fs0, ft1, ft0");
    assert_eq!(d(vfmin_r_h(10, 11, 12)), "vfmin.r.h fa0, fa1, fa2");
    assert_eq!(d(vfsumex_s_h(10, 11)), "vfsumex.s.h fa0, fa1");
    assert_eq!(d(vfcvtu_s_h(10, 11)), "vfcvtu.s.h fa0, fa1");
}

#[test]
fn no_collisions_with_base_encodings() {
    // RV32M and sub/sra keep decoding with the extensions on.
    for (w, op) in [
        (mul(10, 11, 12), Op::Mul),
        (div(10, 11, 12), Op::Div),
        (r(0x20, 12, 11, 0, 10, 0x33), Op::Sub),
        (r(0x20, 12, 11, 5, 10, 0x33), Op::Sra),
        (add(10, 11, 12), Op::Add),
        (flw(1, 2, 8), Op::Flw),
        (fadd(1, 2, 3), Op::FaddS),
        (fmadd(1, 2, 3, 4), Op::FmaddS),
    ] {
        assert_eq!(decode_with(w, ON).op, op, "{w:#010x}");
    }
    // Xfvec encodings hetsim does not implement stay illegal: vfdotpex.s.r.h (ill-defined in
    // the RTL), vfcpkb.h.s (lanes 2-3 do not exist with FLEN = 32), fp32 / fp8 packed forms,
    // vfsum.h, vfcvt.h.s.
    for w in [
        0x9600_4033u32,
        0xb000_6033,
        0x8200_0033,
        0x9000_3033,
        0x8fe0_2033,
        0x9840_2033,
        0xc000_0033, // bits 31:30 = 11
    ] {
        assert_eq!(decode_with(w, ON).op, Op::Illegal, "{w:#010x}");
    }
    // The two-operand forms check their fixed rs2 field.
    assert_eq!(decode_with(vfcvt_s_h(1, 2) ^ (1 << 20), ON).op, Op::Illegal);
    assert_eq!(
        decode_with(vfsumex_s_h(1, 2) ^ (1 << 20), ON).op,
        Op::Illegal
    );
    // Zfh: fmt = D (01) and Q (11) forms remain illegal; fsqrt.h needs rs2 = 0; reserved
    // static rounding modes 5 and 6 are illegal.
    assert_eq!(decode_with(fadd_h(1, 2, 3) ^ (3 << 25), ON).op, Op::Illegal);
    assert_eq!(decode_with(fadd_h(1, 2, 3) | (3 << 25), ON).op, Op::Illegal);
    assert_eq!(decode_with(fsqrt_h(1, 2) | (1 << 20), ON).op, Op::Illegal);
    for rm in [5, 6] {
        assert_eq!(
            decode_with(with_rm(fadd_h(1, 2, 3), rm), ON).op,
            Op::Illegal
        );
        assert_eq!(decode_with(with_rm(fcvt_s_h(1, 2), rm), ON).op, Op::Illegal);
    }
    // The timing facts the cluster reads.
    assert_eq!(Op::VfmacH.class(), Class::FpSimd);
    assert_eq!(Op::VfdotpexSH.class(), Class::FpDotp);
    assert_eq!(Op::VfsumexSH.class(), Class::FpDotp);
    assert_eq!(Op::FaddH.class(), Class::FpAdd);
    assert!(Op::VfmacH.is_fp() && Op::VfdotpexSH.is_fp() && Op::Flh.is_fp());
    let mac = decode_with(vfmac_h(8, 1, 2), ON);
    assert_eq!(mac.f_sources(), [Some(1), Some(2), Some(8)]);
    let sum = decode_with(vfsumex_s_h(8, 1), ON);
    assert_eq!(sum.f_sources(), [Some(1), Some(8), None]);
    assert!(mac.op.writes_f() && !mac.op.writes_x());
    let fsh_i = decode_with(fsh(3, 2, 6), ON);
    assert_eq!(
        (fsh_i.x_sources(), fsh_i.f_sources()),
        ([Some(2), None], [Some(3), None, None])
    );
    for &op in Op::ALL {
        if op.extension() == Some(Extension::Xfvec) {
            assert!(!op.uses_rm(), "{op:?}");
        }
    }
}

// ---------------------------------------------------------------- gating

#[test]
fn disabled_extensions_trap() {
    // Decoded with the extensions, executed on a plain hart: illegal-instruction.
    let mut h = Hart::new(0, 0x1000);
    for w in [
        fadd_h(1, 2, 3),
        flh(1, 0, 0),
        fsh(1, 0, 0),
        vfmac_h(1, 2, 3),
    ] {
        let inst = decode_with(w, ON);
        assert_eq!(
            execute(&inst, &mut h, &mut mem()),
            Err(Exception::IllegalInstruction(w))
        );
        assert_eq!(h.pc, 0x1000);
    }
    // Zfh on, Xfvec off.
    h.ext.zfh = true;
    h.f[2] = bx(H1);
    h.f[3] = bx(H2);
    assert_eq!(exec_f(&mut h, fadd_h(1, 2, 3)), (bx(H3), 0));
    let w = vfadd_h(1, 2, 3);
    assert_eq!(
        execute(&decode_with(w, ON), &mut h, &mut mem()),
        Err(Exception::IllegalInstruction(w))
    );
    // misa reports X only with Xfvec.
    assert_eq!(h.read_csr(0x301).map(|v| v >> 23 & 1), Ok(0));
    h.ext.xfvec = true;
    assert_eq!(h.read_csr(0x301).map(|v| v >> 23 & 1), Ok(1));
    // FPU off (mstatus.FS = 0): every extension instruction traps.
    h.mstatus &= !crate::hart::mstatus::FS;
    for w in [
        fadd_h(1, 2, 3),
        flh(1, 0, 0),
        fsh(1, 0, 0),
        vfmac_h(1, 2, 3),
        fmv_h_x(1, 2),
    ] {
        assert_eq!(run(&mut h, w), Err(Exception::IllegalInstruction(w)));
    }
}

// ---------------------------------------------------------------- Zfh semantics

#[test]
fn zfh_arithmetic_and_rounding() {
    let mut h = hart();
    h.f[1] = bx(H1);
    h.f[2] = bx(H2);
    h.f[3] = bx(H3);
    h.f[4] = bx(0x1000); // 2^-11 (half an ulp of 1.0)
    assert_eq!(exec_f(&mut h, fadd_h(10, 1, 2)), (bx(H3), 0));
    assert_eq!(exec_f(&mut h, fsub_h(10, 1, 2)), (bx(0xbc00), 0));
    assert_eq!(exec_f(&mut h, fmul_h(10, 2, 3)), (bx(0x4600), 0)); // 6
    assert_eq!(exec_f(&mut h, fdiv_h(10, 1, 3)), (bx(0x3555), NX)); // 1/3 RNE
    assert_eq!(
        exec_f(&mut h, with_rm(fdiv_h(10, 1, 3), 3)),
        (bx(0x3556), NX)
    );
    assert_eq!(exec_f(&mut h, fsqrt_h(10, 2)), (bx(0x3da8), NX)); // sqrt 2
    assert_eq!(exec_f(&mut h, fmadd_h(10, 1, 2, 3)), (bx(0x4500), 0)); // 1*2+3
    assert_eq!(exec_f(&mut h, fmsub_h(10, 1, 2, 3)), (bx(0xbc00), 0)); // 2-3
    assert_eq!(exec_f(&mut h, fnmsub_h(10, 1, 2, 3)), (bx(H1), 0)); // -2+3
    assert_eq!(exec_f(&mut h, fnmadd_h(10, 1, 2, 3)), (bx(0xc500), 0)); // -2-3
                                                                        // 1 + 2^-11 is a tie: static modes, then the dynamic mode from frm.
    for (rm, want) in [(0, H1), (1, H1), (2, H1), (3, H1 + 1), (4, H1 + 1)] {
        assert_eq!(
            exec_f(&mut h, with_rm(fadd_h(10, 1, 4), rm)),
            (bx(want), NX),
            "rm {rm}"
        );
        h.frm = rm as u8;
        assert_eq!(exec_f(&mut h, fadd_h(10, 1, 4)), (bx(want), NX), "frm {rm}");
    }
    // A dynamic rounding mode with a reserved frm is illegal.
    h.frm = 5;
    let w = fadd_h(10, 1, 4);
    assert_eq!(run(&mut h, w), Err(Exception::IllegalInstruction(w)));
    h.frm = 0;
    // Overflow and flags accrue in fflags.
    h.f[5] = bx(0x7bff); // 65504
    assert_eq!(exec_f(&mut h, fmul_h(10, 5, 2)), (bx(0x7c00), OF | NX));
    assert_eq!(
        exec_f(&mut h, with_rm(fmul_h(10, 5, 2), 1)),
        (bx(0x7bff), OF | NX)
    );
    h.fflags = NV;
    run(&mut h, fmul_h(10, 5, 2)).expect("runs");
    assert_eq!(h.fflags, NV | OF | NX);
}

#[test]
fn zfh_nan_boxing_rules() {
    let mut h = hart();
    h.f[1] = bx(H1);
    h.f[2] = 0x0000_3c00; // not boxed: reads as the canonical NaN
    h.f[3] = 0xfffe_4000; // upper bits not all ones: canonical NaN
    h.f[4] = bx(0x8000); // -0
                         // Arithmetic on an improperly boxed input gives the canonical NaN (quiet: no flags).
    assert_eq!(exec_f(&mut h, fadd_h(10, 1, 2)), (bx(HNAN), 0));
    assert_eq!(exec_f(&mut h, fmul_h(10, 3, 1)), (bx(HNAN), 0));
    // Comparisons: feq quiet (0, no flag), flt signalling on the quiet NaN (NV).
    assert_eq!(exec_f(&mut h, feq_h(10, 1, 2)), (0, 0));
    assert_eq!(exec_f(&mut h, flt_h(10, 1, 2)), (0, NV));
    assert_eq!(exec_f(&mut h, fle_h(10, 4, 1)), (1, 0));
    // fmin ignores the (canonical) NaN operand.
    assert_eq!(exec_f(&mut h, fmin_h(10, 2, 1)), (bx(H1), 0));
    assert_eq!(exec_f(&mut h, fmax_h(10, 2, 3)), (bx(HNAN), 0));
    // Sign injection reads the canonical NaN as its magnitude / sign source.
    assert_eq!(exec_f(&mut h, fsgnj_h(10, 2, 4)), (bx(0xfe00), 0));
    assert_eq!(exec_f(&mut h, fsgnjn_h(10, 2, 1)), (bx(0xfe00), 0));
    assert_eq!(exec_f(&mut h, fsgnj_h(10, 1, 2)), (bx(H1), 0)); // NaN sign is +
    assert_eq!(exec_f(&mut h, fsgnjx_h(10, 4, 4)), (bx(0), 0));
    // fclass of an unboxed value: quiet NaN (bit 9).
    assert_eq!(exec_f(&mut h, fclass_h(10, 2)), (1 << 9, 0));
    assert_eq!(exec_f(&mut h, fclass_h(10, 4)), (1 << 3, 0));
    // fcvt.s.h of an unboxed value: the canonical fp32 NaN, no flag.
    assert_eq!(exec_f(&mut h, fcvt_s_h(10, 2)), (0x7fc0_0000, 0));
    assert_eq!(exec_f(&mut h, fcvt_s_h(10, 1)), (0x3f80_0000, 0));
    // fmv.x.h moves raw bits, sign-extended, whatever the boxing.
    h.f[6] = 0x1234_8001;
    assert_eq!(exec_f(&mut h, fmv_x_h(10, 6)), (0xffff_8001, 0));
    h.f[6] = bx(0x7c00);
    assert_eq!(exec_f(&mut h, fmv_x_h(10, 6)), (0x0000_7c00, 0));
    // fmv.h.x boxes the low 16 bits of the integer register.
    h.x[11] = 0x1234_5678;
    assert_eq!(exec_f(&mut h, fmv_h_x(10, 11)), (0xffff_5678, 0));
    // x0 destination stays zero.
    assert_eq!(exec_f(&mut h, fmv_x_h(0, 6)).0, 0);
}

#[test]
fn zfh_loads_stores_and_conversions() {
    let mut h = hart();
    let mut m = mem();
    m.write_bytes(0x100, &[0x00, 0xbc, 0x34, 0x12])
        .expect("write");
    h.x[5] = 0x100;
    // flh boxes the loaded half.
    let w = flh(1, 5, 0);
    execute(&decode_with(w, ON), &mut h, &mut m).expect("flh");
    assert_eq!(h.f[1], 0xffff_bc00);
    // fsh stores the raw low 16 bits (no boxing check).
    h.f[2] = 0x1234_abcd;
    let w = fsh(2, 5, 6);
    execute(&decode_with(w, ON), &mut h, &mut m).expect("fsh");
    assert_eq!(
        m.read_bytes(0x104, 4).expect("read"),
        vec![0, 0, 0xcd, 0xab]
    );
    // Misaligned halves trap with the default policy.
    let w = flh(1, 5, 1);
    assert_eq!(
        execute(&decode_with(w, ON), &mut h, &mut m),
        Err(Exception::LoadAddressMisaligned(0x101))
    );
    // fcvt.w.h / fcvt.wu.h with static and dynamic modes; 2.5 = 0x4100.
    h.f[3] = bx(0x4100);
    assert_eq!(exec_f(&mut h, fcvt_w_h(10, 3)), (2, NX));
    assert_eq!(exec_f(&mut h, with_rm(fcvt_w_h(10, 3), 4)), (3, NX));
    assert_eq!(exec_f(&mut h, with_rm(fcvt_wu_h(10, 3), 3)), (3, NX));
    h.f[3] = bx(0xb800); // -0.5
    assert_eq!(exec_f(&mut h, with_rm(fcvt_wu_h(10, 3), 2)), (0, NV));
    h.f[3] = 0; // unboxed: NaN -> 2^31 - 1, NV
    assert_eq!(exec_f(&mut h, fcvt_w_h(10, 3)), (0x7fff_ffff, NV));
    // fcvt.h.w / fcvt.h.wu
    h.x[11] = (-3i32) as u32;
    assert_eq!(exec_f(&mut h, fcvt_h_w(10, 11)), (bx(0xc200), 0));
    assert_eq!(exec_f(&mut h, fcvt_h_wu(10, 11)), (bx(0x7c00), OF | NX));
    h.x[11] = 2049;
    assert_eq!(
        exec_f(&mut h, with_rm(fcvt_h_w(10, 11), 3)),
        (bx(0x6801), NX)
    );
    // fcvt.h.s: the source is a full fp32 register (no boxing at FLEN = 32).
    h.f[4] = 0x3f80_1000; // 1 + 2^-11
    assert_eq!(exec_f(&mut h, fcvt_h_s(10, 4)), (bx(H1), NX));
    assert_eq!(
        exec_f(&mut h, with_rm(fcvt_h_s(10, 4), 3)),
        (bx(H1 + 1), NX)
    );
    h.f[4] = 0x7f80_0001; // sNaN
    assert_eq!(exec_f(&mut h, fcvt_h_s(10, 4)), (bx(HNAN), NV));
    // fcvt.s.h with a signalling NaN half raises NV.
    h.f[4] = bx(0x7c01);
    assert_eq!(exec_f(&mut h, fcvt_s_h(10, 4)), (0x7fc0_0000, NV));
    // fcvt.s.h reads frm only to check it: frm = 7 with the dynamic encoding is illegal.
    h.frm = 7;
    let w = with_rm(fcvt_s_h(10, 4), 7);
    assert_eq!(run(&mut h, w), Err(Exception::IllegalInstruction(w)));
}

// ---------------------------------------------------------------- packed fp16

#[test]
fn packed_arithmetic_lanes_and_replicate() {
    let mut h = hart();
    h.f[1] = pk(H1, H2); // [1, 2]
    h.f[2] = pk(H2, H3); // [2, 3]
    assert_eq!(exec_f(&mut h, vfadd_h(10, 1, 2)), (pk(H3, 0x4500), 0)); // [3, 5]
    assert_eq!(exec_f(&mut h, vfadd_r_h(10, 1, 2)), (pk(H3, 0x4400), 0)); // [3, 4]
    assert_eq!(exec_f(&mut h, vfsub_h(10, 1, 2)), (pk(0xbc00, 0xbc00), 0));
    assert_eq!(exec_f(&mut h, vfsub_r_h(10, 1, 2)), (pk(0xbc00, 0), 0)); // [-1, +0]
    assert_eq!(exec_f(&mut h, vfmul_h(10, 1, 2)), (pk(H2, 0x4600), 0)); // [2, 6]
    assert_eq!(exec_f(&mut h, vfmul_r_h(10, 1, 2)), (pk(H2, 0x4400), 0)); // [2, 4]
    h.f[10] = pk(0x3800, H1); // [0.5, 1]
    assert_eq!(exec_f(&mut h, vfmac_h(10, 1, 2)), (pk(0x4100, 0x4700), 0)); // [2.5, 7]
    h.f[10] = pk(0x3800, H1);
    assert_eq!(exec_f(&mut h, vfmac_r_h(10, 1, 2)), (pk(0x4100, 0x4500), 0)); // [2.5, 5]
                                                                              // The registers are read before rd is written (rd = rs1).
    h.f[3] = pk(H1, H2);
    assert_eq!(exec_f(&mut h, vfadd_h(3, 3, 3)), (pk(H2, 0x4400), 0));
}

#[test]
fn packed_lanes_are_independent_and_flags_are_ored() {
    let mut h = hart();
    // lane 0: 65504 * 2 overflows (OF|NX); lane 1: 1 * 2 exact.
    h.f[1] = pk(0x7bff, H1);
    h.f[2] = pk(H2, H2);
    assert_eq!(exec_f(&mut h, vfmul_h(10, 1, 2)), (pk(0x7c00, H2), OF | NX));
    // lane 0: 1 + 2^-11 (NX); lane 1: sNaN + 1 (NV, canonical NaN in that lane only).
    h.f[1] = pk(H1, 0x7c01);
    h.f[2] = pk(0x1000, H1);
    assert_eq!(exec_f(&mut h, vfadd_h(10, 1, 2)), (pk(H1, HNAN), NV | NX));
    // A quiet NaN with a payload becomes the canonical NaN, quietly.
    h.f[1] = pk(0x7e55, H1);
    h.f[2] = pk(H1, H1);
    assert_eq!(exec_f(&mut h, vfmul_h(10, 1, 2)), (pk(HNAN, H1), 0));
    // No NaN boxing for packed operands: 0x0000_3c00 is [1, +0].
    h.f[1] = 0x0000_3c00;
    assert_eq!(exec_f(&mut h, vfadd_h(10, 1, 1)), (pk(H2, 0), 0));
    // vfmac lane 1: inf * 0 + 1 is invalid; lane 0 is unaffected.
    h.f[1] = pk(H1, 0x7c00);
    h.f[2] = pk(H1, 0);
    h.f[10] = pk(H1, H1);
    assert_eq!(exec_f(&mut h, vfmac_h(10, 1, 2)), (pk(H2, HNAN), NV));
}

#[test]
fn packed_rounding_uses_frm() {
    let mut h = hart();
    h.f[1] = pk(H1, 0xbc00); // [1, -1]
    h.f[2] = pk(0x1000, 0x9000); // [2^-11, -2^-11]: both lanes are ties
    for (frm, l0, l1) in [
        (0u8, H1, 0xbc00),
        (1, H1, 0xbc00),
        (2, H1, 0xbc01),
        (3, H1 + 1, 0xbc00),
        (4, H1 + 1, 0xbc01),
    ] {
        h.frm = frm;
        assert_eq!(
            exec_f(&mut h, vfadd_h(10, 1, 2)),
            (pk(l0, l1), NX),
            "frm {frm}"
        );
    }
    h.frm = 5;
    let w = vfadd_h(10, 1, 2);
    assert_eq!(run(&mut h, w), Err(Exception::IllegalInstruction(w)));
    // min / max do not round, so a reserved frm does not matter to them.
    assert!(run(&mut h, vfmax_h(10, 1, 2)).is_ok());
}

#[test]
fn packed_min_max() {
    let mut h = hart();
    h.f[1] = pk(H1, 0x8000); // [1, -0]
    h.f[2] = pk(0x7e01, 0); // [qNaN, +0]
    assert_eq!(exec_f(&mut h, vfmin_h(10, 1, 2)), (pk(H1, 0x8000), 0));
    assert_eq!(exec_f(&mut h, vfmax_h(10, 1, 2)), (pk(H1, 0), 0));
    h.f[2] = pk(0x7c01, 0x7e00); // [sNaN, qNaN]
    h.f[1] = pk(0x7e00, H1);
    assert_eq!(exec_f(&mut h, vfmin_h(10, 1, 2)), (pk(HNAN, H1), NV));
    h.f[1] = pk(H1, H3); // [1, 3]
    h.f[2] = pk(H2, 0xffff); // lane 1 ignored by the replicate forms
    assert_eq!(exec_f(&mut h, vfmin_r_h(10, 1, 2)), (pk(H1, H2), 0));
    assert_eq!(exec_f(&mut h, vfmax_r_h(10, 1, 2)), (pk(H2, H3), 0));
}

#[test]
fn packed_conversions() {
    let mut h = hart();
    h.f[1] = 0x3f80_0000; // 1.0f
    h.f[2] = 0xc000_0000; // -2.0f
    assert_eq!(exec_f(&mut h, vfcpka_h_s(10, 1, 2)), (pk(H1, 0xc000), 0));
    // Rounded with frm; flags of both conversions ORed.
    h.f[1] = 0x3f80_1000; // 1 + 2^-11
    h.f[2] = 0x477f_f000; // 65520
    h.frm = 3;
    assert_eq!(
        exec_f(&mut h, vfcpka_h_s(10, 1, 2)),
        (pk(H1 + 1, 0x7c00), OF | NX)
    );
    h.frm = 0;
    h.f[2] = 0x7f80_0001;
    assert_eq!(
        exec_f(&mut h, vfcpka_h_s(10, 1, 2)),
        (pk(H1, HNAN), NV | NX)
    );
    // vfcvt.s.h takes lane 0, vfcvtu.s.h lane 1 (no boxing check).
    h.f[3] = pk(H1, 0xc000);
    assert_eq!(exec_f(&mut h, vfcvt_s_h(10, 3)), (0x3f80_0000, 0));
    assert_eq!(exec_f(&mut h, vfcvtu_s_h(10, 3)), (0xc000_0000, 0));
    h.f[3] = pk(0x0001, 0x7c01); // [2^-24, sNaN]
    assert_eq!(exec_f(&mut h, vfcvt_s_h(10, 3)), (0x3380_0000, 0));
    assert_eq!(exec_f(&mut h, vfcvtu_s_h(10, 3)), (0x7fc0_0000, NV));
}

#[test]
fn expanding_dot_product_and_sum() {
    let mut h = hart();
    h.f[1] = pk(H1, H2); // [1, 2]
    h.f[2] = pk(H2, H3); // [2, 3]
    h.f[10] = 0x3f80_0000; // 1.0f
    assert_eq!(exec_f(&mut h, vfdotpex_s_h(10, 1, 2)), (0x4110_0000, 0)); // 1 + 2 + 6 = 9
    h.f[10] = 0x3f00_0000; // 0.5f
    assert_eq!(exec_f(&mut h, vfsumex_s_h(10, 1)), (0x4060_0000, 0)); // 0.5 + 1 + 2
                                                                      // Single rounding: 1 + 2^-24 + 2^-30 rounds up under RNE (two roundings would give 1).
    h.f[1] = pk(0x0c00, 0x0200); // [2^-12, 2^-15]
    h.f[10] = 0x3f80_0000;
    assert_eq!(exec_f(&mut h, vfdotpex_s_h(10, 1, 1)), (0x3f80_0001, NX));
    h.frm = 1;
    h.f[10] = 0x3f80_0000;
    assert_eq!(exec_f(&mut h, vfdotpex_s_h(10, 1, 1)), (0x3f80_0000, NX));
    h.frm = 0;
    // vfsumex, single rounding: 1 + 2^-24 + 2^-24 = 1 + 2^-23 exactly (adding one lane at a
    // time with rounding would tie back to 1.0 twice).
    h.f[1] = pk(0x0001, 0x0001); // [2^-24, 2^-24]
    h.f[10] = 0x3f80_0000;
    assert_eq!(exec_f(&mut h, vfsumex_s_h(10, 1)), (0x3f80_0001, 0));
    // Invalid and NaN cases.
    h.f[1] = pk(0x7c00, H1);
    h.f[2] = pk(0, H1);
    h.f[10] = 0;
    assert_eq!(exec_f(&mut h, vfdotpex_s_h(10, 1, 2)), (0x7fc0_0000, NV));
    h.f[1] = pk(0x7c00, 0xfc00); // [inf, -inf]
    h.f[10] = 0;
    assert_eq!(exec_f(&mut h, vfsumex_s_h(10, 1)), (0x7fc0_0000, NV));
    h.f[10] = 0x7f80_0001; // sNaN accumulator
    h.f[1] = pk(H1, H1);
    assert_eq!(exec_f(&mut h, vfsumex_s_h(10, 1)), (0x7fc0_0000, NV));
}

// ------------------------------------------------- decode + execute against the fp16 API
//
// The arithmetic itself is checked against Berkeley SoftFloat's results in
// isa/tests/softfloat_vectors.rs (and was proven equal over 10^8 operand sets per operation and
// mode, docs/isa.md); these check the instruction plumbing around it: rm fields, frm, NaN
// boxing, lanes and flag accumulation.

use crate::fp::Rounding;
use proptest::prelude::*;

fn mode(rm: u32) -> Rounding {
    [
        Rounding::Rne,
        Rounding::Rtz,
        Rounding::Rdn,
        Rounding::Rup,
        Rounding::Rmm,
    ][rm as usize]
}

/// The binary16 operation through the fp16 API directly: (result bits, flags).
fn reference(k: usize, a: u16, b: u16, c: u16, rm: u32) -> (u16, u8) {
    use crate::fp::{BinOp, FmaOp};
    let r = mode(rm);
    match k {
        0 => fp16::binary(BinOp::Add, a, b, r),
        1 => fp16::binary(BinOp::Sub, a, b, r),
        2 => fp16::binary(BinOp::Mul, a, b, r),
        3 => fp16::binary(BinOp::Div, a, b, r),
        4 => fp16::sqrt(a, r),
        _ => fp16::fma(FmaOp::Madd, a, b, c, r),
    }
}

fn half_bits() -> impl Strategy<Value = u16> {
    prop_oneof![
        any::<u16>(),
        (any::<u16>(), 10u16..20).prop_map(|(m, e)| (m & 0x83ff) | (e << 10)),
        any::<u16>().prop_map(|m| m & 0x83ff),
        (0u16..32).prop_map(|d| 0x3c00 + d),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// Scalar Zfh through decode + execute equals the binary16 operation, bit for bit and
    /// flag for flag, in every static rounding mode.
    #[test]
    fn scalar_zfh_matches_the_fp16_operations(
        a in half_bits(), b in half_bits(), c in half_bits(), k in 0usize..6, rm in 0u32..5,
    ) {
        let word = match k {
            0 => fadd_h(10, 1, 2),
            1 => fsub_h(10, 1, 2),
            2 => fmul_h(10, 1, 2),
            3 => fdiv_h(10, 1, 2),
            4 => fsqrt_h(10, 1),
            _ => fmadd_h(10, 1, 2, 3),
        };
        let mut h = hart();
        h.f[1] = bx(a);
        h.f[2] = bx(b);
        h.f[3] = bx(c);
        let (v, fl) = exec_f(&mut h, with_rm(word, rm));
        let (want, wfl) = reference(k, a, b, c, rm);
        prop_assert_eq!(v, bx(want));
        prop_assert_eq!(fl, wfl);
    }

    /// Packed add / mul / mac lanes equal two independent binary16 operations under frm.
    #[test]
    fn packed_lanes_match_two_scalar_operations(
        a in [half_bits(), half_bits()], b in [half_bits(), half_bits()],
        c in [half_bits(), half_bits()], k in 0usize..3, frm in 0u32..5,
    ) {
        let (word, rk) = match k {
            0 => (vfadd_h(10, 1, 2), 0),
            1 => (vfmul_h(10, 1, 2), 2),
            _ => (vfmac_h(10, 1, 2), 5),
        };
        let mut h = hart();
        h.frm = frm as u8;
        h.f[1] = pk(a[0], a[1]);
        h.f[2] = pk(b[0], b[1]);
        h.f[10] = pk(c[0], c[1]);
        let (v, fl) = exec_f(&mut h, word);
        let (r0, f0) = reference(rk, a[0], b[0], c[0], frm);
        let (r1, f1) = reference(rk, a[1], b[1], c[1], frm);
        prop_assert_eq!(v, pk(r0, r1));
        prop_assert_eq!(fl, f0 | f1);
    }
}

// ---------------------------------------------------------------- end to end

#[test]
fn machine_runs_a_packed_fp16_kernel() {
    use crate::elf::{Program, Segment};
    use crate::machine::{Machine, MachineConfig};
    use crate::Error;
    const BASE: u32 = 0x8000_0000;
    const DATA: u32 = BASE + 0x400;
    // Dot product of two 4-element fp16 vectors [1, 2, 3, 4] . [0.5, 0.5, 2, 2] = 0.5 + 1 + 6
    // + 8 = 15.5: two vfmac.h into a packed accumulator, vfsumex.s.h to fp32, then fsw; the
    // same with vfdotpex.s.h; and one flh / fsh pair.
    let mut p = Vec::new();
    p.extend(li(5, DATA));
    p.extend([
        flw(1, 5, 0),        // a[0..2]
        flw(2, 5, 4),        // a[2..4]
        flw(3, 5, 8),        // b[0..2]
        flw(4, 5, 12),       // b[2..4]
        fmv_w_x_(10, 0),     // packed accumulator = [+0, +0]
        vfmac_h(10, 1, 3),   // [0.5, 1]
        vfmac_h(10, 2, 4),   // [0.5 + 6, 1 + 8]
        fmv_w_x_(11, 0),     // fp32 accumulator 0
        vfsumex_s_h(11, 10), // 6.5 + 9 = 15.5
        fsw(11, 5, 16),
        fmv_w_x_(12, 0),
        vfdotpex_s_h(12, 1, 3), // 0 + 0.5 + 1
        vfdotpex_s_h(12, 2, 4), // + 6 + 8
        fsw(12, 5, 20),
        flh(13, 5, 2),      // a[1] = 2.0, boxed
        fadd_h(13, 13, 13), // 4.0
        fsh(13, 5, 24),
        addi(17, 0, 93),
        addi(10, 0, 0),
        ECALL,
    ]);
    let mut data: Vec<u8> = p.iter().flat_map(|w| w.to_le_bytes()).collect();
    data.resize(0x400, 0);
    for w in [
        pk(H1, H2),
        pk(H3, 0x4400),
        pk(0x3800, 0x3800),
        pk(H2, H2),
        0,
        0,
        0,
    ] {
        data.extend(w.to_le_bytes());
    }
    let program = Program {
        name: "fp16".into(),
        entry: BASE,
        segments: vec![Segment {
            addr: BASE,
            mem_size: data.len() as u32,
            data,
            exec: true,
            write: true,
        }],
        symbols: Default::default(),
        symbolizer: Default::default(),
    };
    let config = MachineConfig {
        ram_size: 1 << 16,
        ..MachineConfig::default()
    };
    // The plain machine stops at the first Zfh/Xfvec instruction (after li + 4 flw + fmv).
    let mut m = Machine::new(&program, &config).expect("machine");
    match m.run(100) {
        Err(Error::Trap { exception, pc, .. }) => {
            assert_eq!(pc, BASE + 7 * 4);
            assert_eq!(exception, Exception::IllegalInstruction(vfmac_h(10, 1, 3)));
        }
        other => panic!("expected an illegal-instruction stop, got {other:?}"),
    }
    // With the extensions (set_extensions also drops the code decoded without them).
    let mut m = Machine::new(&program, &config).expect("machine");
    // Run into the instruction limit just before the first vfmac.h: the limit message
    // decodes it, so the cache holds it as illegal until set_extensions empties the cache.
    match m.run(7) {
        Err(Error::InstructionLimit { pc, disasm, .. }) => {
            assert_eq!(pc, BASE + 7 * 4);
            assert!(disasm.starts_with("illegal"), "{disasm}");
        }
        other => panic!("expected the instruction limit, got {other:?}"),
    }
    m.set_extensions(ON);
    let exit = m.run(100).expect("runs");
    assert_eq!(exit.code, 0);
    let out = m.mem.read_bytes(DATA + 16, 12).expect("read");
    let word = |i: usize| u32::from_le_bytes([out[i], out[i + 1], out[i + 2], out[i + 3]]);
    assert_eq!(word(0), 0x4178_0000); // 15.5
    assert_eq!(word(4), 0x4178_0000);
    assert_eq!(word(8), 0x4400); // fsh wrote 4.0 into the low half only
    assert_eq!(m.hart.fflags, 0);
}

/// fmv.w.x fd, rs1 (test-local helper).
fn fmv_w_x_(fd: u32, rs1: u32) -> u32 {
    r(0x78, 0, rs1, 0, fd, 0x53)
}
