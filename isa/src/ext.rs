//! Optional extensions: **Zfh** (ratified scalar half precision) and **Xfvec** (the Snitch
//! smallFloat packed-SIMD fp16 subset), both for FLEN = 32.
//!
//! A hart holds its configuration in [`crate::Hart::ext`]; decoding with it is
//! [`crate::decode::decode_with`]. The default, [`Extensions::NONE`], is the plain RV32IMF
//! machine: every encoding below is then an illegal instruction, exactly as before. An
//! instruction decoded with an extension still raises illegal-instruction when it executes on
//! a hart that does not have that extension enabled.
//!
//! Register layout with FLEN = 32:
//! - Zfh halves are NaN-boxed: bits `31:16` all ones, the half in `15:0`. An input that is not
//!   properly boxed reads as the canonical NaN 0x7e00 (sign injection, compares, classify and
//!   `fcvt.s.h` included); only `fmv.x.h` and `fsh` copy the raw low 16 bits.
//! - Packed fp16 (Xfvec) values have two lanes: lane i in bits `16i+15:16i`. No boxing applies.
//!
//! Xfvec encodings (opcode OP = 0110011, bits `31:30` = 10) follow the Snitch cluster's
//! `riscv_instr.sv`; funct3 holds the format and the replicate flag, not a rounding mode, so
//! the packed arithmetic rounds with the dynamic mode `frm` (a reserved `frm` raises
//! illegal-instruction, as a dynamic-rounding F instruction would). Lane results are
//! computed independently; fflags receive the OR of the lanes' flags; NaN lanes are the
//! canonical 0x7e00. See docs/isa.md for the table and the rounding choices.

use crate::decode::{imm_i, imm_s, Inst, Op};
use crate::fp::{BinOp, CmpOp, FmaOp, Rounding};
use crate::fp16::{self, nan_box, unbox};
use crate::hart::Hart;
use crate::trap::Exception;

/// One optional extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Extension {
    /// Zfh: scalar IEEE binary16 (NaN-boxed in the 32-bit f registers).
    Zfh,
    /// Xfvec: Snitch packed-SIMD fp16, two lanes per 32-bit f register.
    Xfvec,
    /// Xdma: the Snitch DMA core's instructions (custom-1 opcode, funct3 000).
    Xdma,
    /// Xfrep: the Snitch FP repetition instruction frep.o (custom-0 opcode).
    Xfrep,
    /// Xssr: stream semantic registers (CSR 0x7C0, scfg* on custom-1, funct3 001/010).
    Xssr,
}

/// Which optional extensions a hart implements. The default is none (plain RV32IMF).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Extensions {
    /// Zfh (scalar half precision).
    pub zfh: bool,
    /// Xfvec (packed-SIMD fp16 on 32-bit registers).
    pub xfvec: bool,
    /// Xdma (the DMA core's instructions; they need a bus with a DMA port).
    pub xdma: bool,
    /// Xfrep (frep.o; the runner repeats the FP instructions that follow it).
    pub xfrep: bool,
    /// Xssr (stream semantic registers on ft0-ft2; see [`crate::ssr`]).
    pub xssr: bool,
}

impl Extensions {
    /// Plain RV32IMF: no optional extension.
    pub const NONE: Extensions = Extensions {
        zfh: false,
        xfvec: false,
        xdma: false,
        xfrep: false,
        xssr: false,
    };

    /// The study's Snitch-class FPU: Zfh and Xfvec.
    pub const SNITCH_FP16: Extensions = Extensions {
        zfh: true,
        xfvec: true,
        xdma: false,
        xfrep: false,
        xssr: false,
    };

    /// True when `op` is a base instruction or belongs to an enabled extension.
    #[inline]
    pub fn allows(self, op: Op) -> bool {
        match op.extension() {
            None => true,
            Some(Extension::Zfh) => self.zfh,
            Some(Extension::Xfvec) => self.xfvec,
            Some(Extension::Xdma) => self.xdma,
            Some(Extension::Xfrep) => self.xfrep,
            Some(Extension::Xssr) => self.xssr,
        }
    }
}

/// Identifies an extension encoding enabled in `ext`: (operation, immediate), or None when
/// `raw` is not one (the base decoder then takes over).
pub(crate) fn identify(raw: u32, ext: Extensions) -> Option<(Op, i32)> {
    let op = if ext.zfh { zfh(raw) } else { None };
    let op = op.or_else(|| if ext.xfvec { xfvec(raw) } else { None });
    let op = op.or_else(|| if ext.xdma { xdma(raw) } else { None });
    // frep.o (SC main encoding: imm12 = n_inst - 1, bit 7 = outer): match 0x8b, mask 0xff.
    let frep = || (raw & 0xff == 0x8b).then_some(Op::FrepO);
    let op = op.or_else(|| if ext.xfrep { frep() } else { None });
    let op = op.or_else(|| if ext.xssr { xssr(raw) } else { None })?;
    let imm = match op {
        Op::Flh => imm_i(raw),
        Op::Fsh => imm_s(raw),
        Op::FrepO | Op::ScfgRi | Op::ScfgWi => ((raw >> 20) & 0xfff) as i32,
        _ => 0,
    };
    Some((op, imm))
}

/// Zfh encodings (RISC-V unprivileged ISA, "Zfh", fmt = 10 in bits [26:25]).
/// Xdma (Snitch DMA core; snitch-extensions.md section 4.6): opcode custom-1 (0101011),
/// funct3 000, funct7 selects the instruction; fields that must be zero are checked.
fn xdma(raw: u32) -> Option<Op> {
    if raw & 0x707f != 0x002b {
        return None;
    }
    let (rd, rs1, rs2) = ((raw >> 7) & 31, (raw >> 15) & 31, (raw >> 20) & 31);
    Some(match raw >> 25 {
        0 if rd == 0 => Op::DmSrc,
        1 if rd == 0 => Op::DmDst,
        2 => Op::DmCpyi,
        3 => Op::DmCpy,
        4 if rs1 == 0 => Op::DmStati,
        5 if rs1 == 0 => Op::DmStat,
        6 if rd == 0 => Op::DmStr,
        7 if rd == 0 && rs2 == 0 => Op::DmRep,
        _ => return None,
    })
}

/// Xssr configuration instructions (Snitch `riscv_instr.sv`; snitch-extensions.md section
/// 2.2): opcode custom-1, funct3 001 reads (`scfgri`: rs1 = 0, address in imm; `scfgr`:
/// rs1 = 1, funct7 = 0, address in rs2) and 010 writes (`scfgwi`: rd = 0; `scfgw`: rd = 1,
/// funct7 = 0).
fn xssr(raw: u32) -> Option<Op> {
    let (f3, rd, rs1, f7) = (
        (raw >> 12) & 7,
        (raw >> 7) & 31,
        (raw >> 15) & 31,
        raw >> 25,
    );
    if raw & 0x7f != 0x2b {
        return None;
    }
    Some(match (f3, rd, rs1, f7) {
        (1, _, 0, _) => Op::ScfgRi,
        (1, _, 1, 0) => Op::ScfgR,
        (2, 0, _, _) => Op::ScfgWi,
        (2, 1, _, 0) => Op::ScfgW,
        _ => return None,
    })
}

fn zfh(raw: u32) -> Option<Op> {
    let opcode = raw & 0x7f;
    let f3 = (raw >> 12) & 7;
    let fmt = (raw >> 25) & 3;
    let rs2 = (raw >> 20) & 0x1f;
    let funct5 = raw >> 27;
    Some(match opcode {
        0x07 if f3 == 1 => Op::Flh,
        0x27 if f3 == 1 => Op::Fsh,
        0x43 if fmt == 2 => Op::FmaddH,
        0x47 if fmt == 2 => Op::FmsubH,
        0x4b if fmt == 2 => Op::FnmsubH,
        0x4f if fmt == 2 => Op::FnmaddH,
        // fcvt.s.h lives in the fmt = S space: funct7 0100000, rs2 = 00010 (source fmt H).
        0x53 if raw >> 25 == 0x20 && rs2 == 2 => Op::FcvtSH,
        0x53 if fmt == 2 => match (funct5, f3, rs2) {
            (0x00, _, _) => Op::FaddH,
            (0x01, _, _) => Op::FsubH,
            (0x02, _, _) => Op::FmulH,
            (0x03, _, _) => Op::FdivH,
            (0x0b, _, 0) => Op::FsqrtH,
            (0x04, 0, _) => Op::FsgnjH,
            (0x04, 1, _) => Op::FsgnjnH,
            (0x04, 2, _) => Op::FsgnjxH,
            (0x05, 0, _) => Op::FminH,
            (0x05, 1, _) => Op::FmaxH,
            (0x08, _, 0) => Op::FcvtHS,
            (0x14, 2, _) => Op::FeqH,
            (0x14, 1, _) => Op::FltH,
            (0x14, 0, _) => Op::FleH,
            (0x18, _, 0) => Op::FcvtWH,
            (0x18, _, 1) => Op::FcvtWuH,
            (0x1a, _, 0) => Op::FcvtHW,
            (0x1a, _, 1) => Op::FcvtHWu,
            (0x1c, 0, 0) => Op::FmvXH,
            (0x1c, 1, 0) => Op::FclassH,
            (0x1e, 0, 0) => Op::FmvHX,
            _ => return None,
        },
        _ => return None,
    })
}

/// Xfvec fp16 encodings valid with FLEN = 32 (Snitch `riscv_instr.sv` match values).
fn xfvec(raw: u32) -> Option<Op> {
    if raw & 0x7f != 0x33 || raw >> 30 != 0b10 {
        return None;
    }
    let funct7 = raw >> 25;
    let f3 = (raw >> 12) & 7;
    let rs2 = (raw >> 20) & 0x1f;
    Some(match (funct7, f3) {
        (0x41, 2) => Op::VfaddH,
        (0x41, 6) => Op::VfaddRH,
        (0x42, 2) => Op::VfsubH,
        (0x42, 6) => Op::VfsubRH,
        (0x43, 2) => Op::VfmulH,
        (0x43, 6) => Op::VfmulRH,
        (0x48, 2) => Op::VfmacH,
        (0x48, 6) => Op::VfmacRH,
        (0x45, 2) => Op::VfminH,
        (0x45, 6) => Op::VfminRH,
        (0x46, 2) => Op::VfmaxH,
        (0x46, 6) => Op::VfmaxRH,
        (0x58, 2) => Op::VfcpkaHS,
        (0x4c, 0) if rs2 == 0b00110 => Op::VfcvtSH,
        (0x4c, 4) if rs2 == 0b00110 => Op::VfcvtuSH,
        (0x4b, 0) => Op::VfdotpexSH,
        (0x47, 0) if rs2 == 0b10110 => Op::VfsumexSH,
        _ => return None,
    })
}

/// The two fp16 lanes of a packed register.
#[inline]
fn lanes(v: u32) -> [u16; 2] {
    [v as u16, (v >> 16) as u16]
}

/// A packed register from two fp16 lanes.
#[inline]
fn pack(l: [u16; 2]) -> u32 {
    u32::from(l[0]) | (u32::from(l[1]) << 16)
}

/// Applies `f` lane by lane; the flags are the OR of the lanes' flags.
#[inline]
fn per_lane(a: u32, b: u32, mut f: impl FnMut(u16, u16) -> (u16, u8)) -> (u32, u8) {
    let ([a0, a1], [b0, b1]) = (lanes(a), lanes(b));
    let (r0, f0) = f(a0, b0);
    let (r1, f1) = f(a1, b1);
    (pack([r0, r1]), f0 | f1)
}

/// Broadcasts lane 0 of `b` to both lanes (the `.r` replicate variants).
#[inline]
fn replicate(b: u32) -> u32 {
    let l0 = b & 0xffff;
    l0 | (l0 << 16)
}

/// Computes an extension instruction that is not a load or store: (value, fflags, whether
/// the destination is an f register). `f` holds the values of the f registers named by the
/// `rs1`, `rs2`, `rs3` and `rd` fields (a streamed operand's element in place of its
/// register: [`crate::exec::execute_streamed`]); `rs1` is the integer register `rs1`. The
/// caller has checked that the FPU is on and writes the result.
pub(crate) fn compute(
    inst: &Inst,
    hart: &Hart,
    f: [u32; 4],
    rs1: u32,
) -> Result<(u32, u8, bool), Exception> {
    let illegal = Exception::IllegalInstruction(inst.raw);
    if !hart.ext.allows(inst.op) {
        return Err(illegal);
    }
    let [fa, fb, fc, fd] = f;
    let rm = || Rounding::resolve(inst.rm, hart.frm).ok_or(illegal);
    // Packed operations have no rm field: they use frm.
    let frm = || Rounding::resolve(7, hart.frm).ok_or(illegal);
    let (a, b, c) = (unbox(fa), unbox(fb), unbox(fc));
    let boxed = |(v, fl): (u16, u8)| (nan_box(v), fl, true);
    use Op::*;
    Ok(match inst.op {
        FmaddH | FmsubH | FnmsubH | FnmaddH => {
            let op = match inst.op {
                FmaddH => FmaOp::Madd,
                FmsubH => FmaOp::Msub,
                FnmsubH => FmaOp::Nmsub,
                _ => FmaOp::Nmadd,
            };
            boxed(fp16::fma(op, a, b, c, rm()?))
        }
        FaddH | FsubH | FmulH | FdivH => {
            let op = match inst.op {
                FaddH => BinOp::Add,
                FsubH => BinOp::Sub,
                FmulH => BinOp::Mul,
                _ => BinOp::Div,
            };
            boxed(fp16::binary(op, a, b, rm()?))
        }
        FsqrtH => boxed(fp16::sqrt(a, rm()?)),
        FsgnjH => boxed((fp16::sign_inject(a, b, 0), 0)),
        FsgnjnH => boxed((fp16::sign_inject(a, b, 1), 0)),
        FsgnjxH => boxed((fp16::sign_inject(a, b, 2), 0)),
        FminH | FmaxH => boxed(fp16::min_max(a, b, inst.op == FmaxH)),
        FcvtWH | FcvtWuH => {
            let (v, fl) = fp16::to_int(a, inst.op == FcvtWH, rm()?);
            (v, fl, false)
        }
        // fmv.x.h copies the raw low 16 bits, sign-extended (no NaN-box check).
        FmvXH => (fa as u16 as i16 as i32 as u32, 0, false),
        FeqH | FltH | FleH => {
            let op = match inst.op {
                FeqH => CmpOp::Eq,
                FltH => CmpOp::Lt,
                _ => CmpOp::Le,
            };
            let (v, fl) = fp16::compare(op, a, b);
            (v, fl, false)
        }
        FclassH => (fp16::classify(a), 0, false),
        FcvtHW | FcvtHWu => boxed(fp16::from_int(rs1, inst.op == FcvtHW, rm()?)),
        FmvHX => (nan_box(rs1 as u16), 0, true),
        FcvtSH => {
            // Exact, but the rm field is still checked (reserved modes are illegal).
            rm()?;
            let (v, fl) = fp16::to_f32(a);
            (v, fl, true)
        }
        FcvtHS => boxed(fp16::from_f32(fa, rm()?)),

        VfaddH | VfaddRH | VfsubH | VfsubRH | VfmulH | VfmulRH => {
            let r = frm()?;
            let b = if matches!(inst.op, VfaddRH | VfsubRH | VfmulRH) {
                replicate(fb)
            } else {
                fb
            };
            let op = match inst.op {
                VfaddH | VfaddRH => BinOp::Add,
                VfsubH | VfsubRH => BinOp::Sub,
                _ => BinOp::Mul,
            };
            let (v, fl) = per_lane(fa, b, |x, y| fp16::binary(op, x, y, r));
            (v, fl, true)
        }
        VfmacH | VfmacRH => {
            let r = frm()?;
            let b = if inst.op == VfmacRH {
                replicate(fb)
            } else {
                fb
            };
            // rd[i] = rs1[i] * rs2[i] + rd[i], fused (one rounding per lane).
            let ([a0, a1], [b0, b1], [c0, c1]) = (lanes(fa), lanes(b), lanes(fd));
            let (r0, f0) = fp16::fma(FmaOp::Madd, a0, b0, c0, r);
            let (r1, f1) = fp16::fma(FmaOp::Madd, a1, b1, c1, r);
            (pack([r0, r1]), f0 | f1, true)
        }
        VfminH | VfminRH | VfmaxH | VfmaxRH => {
            let b = if matches!(inst.op, VfminRH | VfmaxRH) {
                replicate(fb)
            } else {
                fb
            };
            let max = matches!(inst.op, VfmaxH | VfmaxRH);
            let (v, fl) = per_lane(fa, b, |x, y| fp16::min_max(x, y, max));
            (v, fl, true)
        }
        VfcpkaHS => {
            let r = frm()?;
            let (l0, f0) = fp16::from_f32(fa, r);
            let (l1, f1) = fp16::from_f32(fb, r);
            (pack([l0, l1]), f0 | f1, true)
        }
        VfcvtSH | VfcvtuSH => {
            let lane = lanes(fa)[usize::from(inst.op == VfcvtuSH)];
            let (v, fl) = fp16::to_f32(lane);
            (v, fl, true)
        }
        VfdotpexSH => {
            let (v, fl) = fp16::dotp_ex(fd, lanes(fa), lanes(fb), frm()?);
            (v, fl, true)
        }
        VfsumexSH => {
            let (v, fl) = fp16::dotp_ex(fd, lanes(fa), [fp16::ONE, fp16::ONE], frm()?);
            (v, fl, true)
        }
        _ => return Err(illegal),
    })
}

#[cfg(test)]
#[path = "ext_tests.rs"]
mod tests;
