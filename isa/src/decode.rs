//! Instruction decoding: 32-bit words to [`Inst`].
//!
//! `riscv-decode` identifies the instruction; this module turns it into a flat [`Inst`] with
//! sign-extended immediates and register fields, and rejects what RV32IMF does not have
//! (RV64-only, compressed, atomics, supervisor instructions, shift amounts with bit 5 set).
//! Anything that is not a legal RV32IMF + Zicsr + Zifencei encoding decodes to [`Op::Illegal`],
//! which raises an illegal-instruction exception when executed.
//!
//! The opcode table (the `ops!` macro) is the single place that names every instruction and
//! states its facts: assembly format, timing [`Class`], extension, whether it needs the FPU
//! and whether it takes a rounding mode; decoding, execution, disassembly and timing models
//! read them from there.

use crate::ext::{Extension, Extensions};
use riscv_decode::Instruction as R;

/// How an instruction's operands are written in assembly (used by the disassembler and by
/// models that need to know which register file an operand lives in).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `op rd, rs1, rs2` on integer registers.
    R,
    /// `op rd, rs1, imm` on integer registers.
    I,
    /// `op rd, rs1, shamt`.
    Shift,
    /// `op rd, imm(rs1)`: integer load.
    Load,
    /// `op rs2, imm(rs1)`: integer store.
    Store,
    /// `op rs1, rs2, target`.
    Branch,
    /// `op rd, imm20`.
    U,
    /// `jal rd, target`.
    Jal,
    /// `jalr rd, imm(rs1)`.
    Jalr,
    /// `csrrX rd, csr, rs1`.
    Csr,
    /// `csrrXi rd, csr, zimm`.
    CsrI,
    /// No operands (ecall, ebreak, mret, wfi, fence.i, fence).
    None,
    /// `flw fd, imm(rs1)`.
    FLoad,
    /// `fsw fs2, imm(rs1)`.
    FStore,
    /// `op fd, fs1, fs2, fs3, rm`.
    F4,
    /// `op fd, fs1, fs2[, rm]`.
    F3,
    /// `op fd, fs1[, rm]`.
    F2,
    /// `op rd, fs1, fs2`: FP compare into an integer register.
    FCmp,
    /// `op rd, fs1[, rm]`: FP source, integer destination.
    FToX,
    /// `op fd, rs1[, rm]`: integer source, FP destination.
    XToF,
    /// `op fd, fs1, fs2` where `fd` is also read (packed multiply-accumulate, expanding dot
    /// product).
    F3Acc,
    /// `op fd, fs1` where `fd` is also read (expanding reduction).
    F2Acc,
    /// `op rd, rs1, imm5` (Xdma immediate forms; imm5 in the rs2 field).
    DmaImm,
    /// `scfgri rd, imm`: SSR configuration read, address in imm (Xssr).
    CfgRi,
    /// `scfgwi rs1, imm`: SSR configuration write of rs1, address in imm (Xssr).
    CfgWi,
    /// `scfgr rd, rs2`: SSR configuration read, address in rs2 (Xssr).
    CfgR,
    /// `scfgw rs1, rs2`: SSR configuration write of rs1, address in rs2 (Xssr).
    CfgW,
    /// `frep.o rs1, n_inst, stagger_max, stagger_mask` (imm = n_inst - 1, rm = stagger_max,
    /// rs3 = stagger_mask).
    Frep,
    /// Not a legal instruction.
    Illegal,
}

/// Timing class of an instruction: the key of the per-class latency tables in the cluster
/// model. Functional execution does not look at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Integer ALU operation (including lui/auipc).
    Alu,
    /// Conditional branch.
    Branch,
    /// jal / jalr.
    Jump,
    /// Integer load.
    Load,
    /// Integer store.
    Store,
    /// CSR access.
    Csr,
    /// Integer multiply (served by the shared MUL/DIV unit in the cluster).
    Mul,
    /// Integer divide / remainder.
    Div,
    /// FP load (flw).
    FpLoad,
    /// FP store (fsw).
    FpStore,
    /// Fused multiply-add family.
    FpFma,
    /// FP add / subtract.
    FpAdd,
    /// FP multiply.
    FpMul,
    /// FP divide.
    FpDiv,
    /// FP square root.
    FpSqrt,
    /// FP compare, min/max, classify, sign injection (non-computational).
    FpNonComp,
    /// FP <-> integer conversions.
    FpConv,
    /// FP <-> integer bit moves.
    FpMove,
    /// Packed-SIMD add / subtract / multiply / multiply-accumulate (the FPU's ADDMUL group on
    /// packed fp16 lanes).
    FpSimd,
    /// Expanding dot products and reductions into fp32 (the FPU's DOTP group).
    FpDotp,
    /// Snitch DMA instructions (Xdma), served by the core's DMA port.
    Dma,
    /// frep.o (Xfrep): hands the following FP instructions to the FP sequencer.
    Frep,
    /// SSR configuration reads and writes (Xssr), served by the core's accelerator port.
    Ssr,
    /// fence / fence.i.
    Fence,
    /// ecall, ebreak, mret, wfi.
    System,
    /// Illegal encoding.
    Illegal,
}

/// Whether a row's flag list holds `fp`, `rm` or `pk` (the opcode table's per-operation
/// facts).
macro_rules! flag {
    (fp; fp $($rest:ident)*) => { true };
    (rm; rm $($rest:ident)*) => { true };
    (pk; pk $($rest:ident)*) => { true };
    ($want:ident; $other:ident $($rest:ident)*) => { flag!($want; $($rest)*) };
    ($want:ident;) => { false };
}

/// A row's extension column as an `Option<Extension>` (`Base`: RV32IMF + Zicsr + Zifencei).
macro_rules! extension {
    (Base) => {
        None
    };
    ($ext:ident) => {
        Some(Extension::$ext)
    };
}

/// The opcode table: one row per operation with its mnemonic, assembly [`Format`], timing
/// [`Class`], extension (`Base` or an [`Extension`]) and flags (`fp`: needs the FPU enabled;
/// `rm`: takes a rounding-mode field; `pk`: its FP result is two packed binary16 lanes).
/// Every per-operation fact is read from here; the
/// semantics of each operation is one arm of [`crate::exec::execute`] (or of the functions
/// it calls), which every runner shares.
macro_rules! ops {
    ($($name:ident => $mn:literal, $fmt:ident, $class:ident, $ext:ident, [$($flag:ident)*];)*) => {
        /// Every RV32IMF + Zicsr + Zifencei operation hetsim executes, plus the optional Zfh
        /// and packed-FP16 (Xfvec) operations (see [`crate::ext`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum Op { $($name,)* }

        impl Op {
            /// Every operation, in table order.
            pub const ALL: &'static [Op] = &[$(Op::$name,)*];

            /// The assembly mnemonic.
            #[inline]
            pub fn mnemonic(self) -> &'static str {
                match self { $(Op::$name => $mn,)* }
            }

            /// How the operands are written.
            #[inline]
            pub fn format(self) -> Format {
                match self { $(Op::$name => Format::$fmt,)* }
            }

            /// The timing class.
            #[inline]
            pub fn class(self) -> Class {
                match self { $(Op::$name => Class::$class,)* }
            }

            /// The optional extension the operation belongs to (None for RV32IMF + Zicsr +
            /// Zifencei).
            #[inline]
            pub fn extension(self) -> Option<Extension> {
                match self { $(Op::$name => extension!($ext),)* }
            }

            /// True for instructions that need the FP unit enabled (mstatus.FS != Off).
            #[inline]
            pub fn is_fp(self) -> bool {
                match self { $(Op::$name => flag!(fp; $($flag)*),)* }
            }

            /// True when the instruction takes a rounding-mode field (`rm`).
            #[inline]
            pub fn uses_rm(self) -> bool {
                match self { $(Op::$name => flag!(rm; $($flag)*),)* }
            }

            /// True for Xfvec operations whose FP result holds two binary16 lanes (`vf*.h`,
            /// `vfcpka.h.s`), not one value (`vfdotpex.s.h` and `vfsumex.s.h` give binary32).
            #[inline]
            pub fn is_packed_f16(self) -> bool {
                match self { $(Op::$name => flag!(pk; $($flag)*),)* }
            }
        }
    };
}

ops! {
    Lui => "lui", U, Alu, Base, [];
    Auipc => "auipc", U, Alu, Base, [];
    Jal => "jal", Jal, Jump, Base, [];
    Jalr => "jalr", Jalr, Jump, Base, [];
    Beq => "beq", Branch, Branch, Base, [];
    Bne => "bne", Branch, Branch, Base, [];
    Blt => "blt", Branch, Branch, Base, [];
    Bge => "bge", Branch, Branch, Base, [];
    Bltu => "bltu", Branch, Branch, Base, [];
    Bgeu => "bgeu", Branch, Branch, Base, [];
    Lb => "lb", Load, Load, Base, [];
    Lh => "lh", Load, Load, Base, [];
    Lw => "lw", Load, Load, Base, [];
    Lbu => "lbu", Load, Load, Base, [];
    Lhu => "lhu", Load, Load, Base, [];
    Sb => "sb", Store, Store, Base, [];
    Sh => "sh", Store, Store, Base, [];
    Sw => "sw", Store, Store, Base, [];
    Addi => "addi", I, Alu, Base, [];
    Slti => "slti", I, Alu, Base, [];
    Sltiu => "sltiu", I, Alu, Base, [];
    Xori => "xori", I, Alu, Base, [];
    Ori => "ori", I, Alu, Base, [];
    Andi => "andi", I, Alu, Base, [];
    Slli => "slli", Shift, Alu, Base, [];
    Srli => "srli", Shift, Alu, Base, [];
    Srai => "srai", Shift, Alu, Base, [];
    Add => "add", R, Alu, Base, [];
    Sub => "sub", R, Alu, Base, [];
    Sll => "sll", R, Alu, Base, [];
    Slt => "slt", R, Alu, Base, [];
    Sltu => "sltu", R, Alu, Base, [];
    Xor => "xor", R, Alu, Base, [];
    Srl => "srl", R, Alu, Base, [];
    Sra => "sra", R, Alu, Base, [];
    Or => "or", R, Alu, Base, [];
    And => "and", R, Alu, Base, [];
    Fence => "fence", None, Fence, Base, [];
    FenceI => "fence.i", None, Fence, Base, [];
    Ecall => "ecall", None, System, Base, [];
    Ebreak => "ebreak", None, System, Base, [];
    Mret => "mret", None, System, Base, [];
    Wfi => "wfi", None, System, Base, [];
    Csrrw => "csrrw", Csr, Csr, Base, [];
    Csrrs => "csrrs", Csr, Csr, Base, [];
    Csrrc => "csrrc", Csr, Csr, Base, [];
    Csrrwi => "csrrwi", CsrI, Csr, Base, [];
    Csrrsi => "csrrsi", CsrI, Csr, Base, [];
    Csrrci => "csrrci", CsrI, Csr, Base, [];
    Mul => "mul", R, Mul, Base, [];
    Mulh => "mulh", R, Mul, Base, [];
    Mulhsu => "mulhsu", R, Mul, Base, [];
    Mulhu => "mulhu", R, Mul, Base, [];
    Div => "div", R, Div, Base, [];
    Divu => "divu", R, Div, Base, [];
    Rem => "rem", R, Div, Base, [];
    Remu => "remu", R, Div, Base, [];
    Flw => "flw", FLoad, FpLoad, Base, [fp];
    Fsw => "fsw", FStore, FpStore, Base, [fp];
    FmaddS => "fmadd.s", F4, FpFma, Base, [fp rm];
    FmsubS => "fmsub.s", F4, FpFma, Base, [fp rm];
    FnmsubS => "fnmsub.s", F4, FpFma, Base, [fp rm];
    FnmaddS => "fnmadd.s", F4, FpFma, Base, [fp rm];
    FaddS => "fadd.s", F3, FpAdd, Base, [fp rm];
    FsubS => "fsub.s", F3, FpAdd, Base, [fp rm];
    FmulS => "fmul.s", F3, FpMul, Base, [fp rm];
    FdivS => "fdiv.s", F3, FpDiv, Base, [fp rm];
    FsqrtS => "fsqrt.s", F2, FpSqrt, Base, [fp rm];
    FsgnjS => "fsgnj.s", F3, FpNonComp, Base, [fp];
    FsgnjnS => "fsgnjn.s", F3, FpNonComp, Base, [fp];
    FsgnjxS => "fsgnjx.s", F3, FpNonComp, Base, [fp];
    FminS => "fmin.s", F3, FpNonComp, Base, [fp];
    FmaxS => "fmax.s", F3, FpNonComp, Base, [fp];
    FcvtWS => "fcvt.w.s", FToX, FpConv, Base, [fp rm];
    FcvtWuS => "fcvt.wu.s", FToX, FpConv, Base, [fp rm];
    FmvXW => "fmv.x.w", FToX, FpMove, Base, [fp];
    FeqS => "feq.s", FCmp, FpNonComp, Base, [fp];
    FltS => "flt.s", FCmp, FpNonComp, Base, [fp];
    FleS => "fle.s", FCmp, FpNonComp, Base, [fp];
    FclassS => "fclass.s", FToX, FpNonComp, Base, [fp];
    FcvtSW => "fcvt.s.w", XToF, FpConv, Base, [fp rm];
    FcvtSWu => "fcvt.s.wu", XToF, FpConv, Base, [fp rm];
    FmvWX => "fmv.w.x", XToF, FpMove, Base, [fp];
    // Zfh (scalar half precision; see crate::ext).
    Flh => "flh", FLoad, FpLoad, Zfh, [fp];
    Fsh => "fsh", FStore, FpStore, Zfh, [fp];
    FmaddH => "fmadd.h", F4, FpFma, Zfh, [fp rm];
    FmsubH => "fmsub.h", F4, FpFma, Zfh, [fp rm];
    FnmsubH => "fnmsub.h", F4, FpFma, Zfh, [fp rm];
    FnmaddH => "fnmadd.h", F4, FpFma, Zfh, [fp rm];
    FaddH => "fadd.h", F3, FpAdd, Zfh, [fp rm];
    FsubH => "fsub.h", F3, FpAdd, Zfh, [fp rm];
    FmulH => "fmul.h", F3, FpMul, Zfh, [fp rm];
    FdivH => "fdiv.h", F3, FpDiv, Zfh, [fp rm];
    FsqrtH => "fsqrt.h", F2, FpSqrt, Zfh, [fp rm];
    FsgnjH => "fsgnj.h", F3, FpNonComp, Zfh, [fp];
    FsgnjnH => "fsgnjn.h", F3, FpNonComp, Zfh, [fp];
    FsgnjxH => "fsgnjx.h", F3, FpNonComp, Zfh, [fp];
    FminH => "fmin.h", F3, FpNonComp, Zfh, [fp];
    FmaxH => "fmax.h", F3, FpNonComp, Zfh, [fp];
    FcvtWH => "fcvt.w.h", FToX, FpConv, Zfh, [fp rm];
    FcvtWuH => "fcvt.wu.h", FToX, FpConv, Zfh, [fp rm];
    FmvXH => "fmv.x.h", FToX, FpMove, Zfh, [fp];
    FeqH => "feq.h", FCmp, FpNonComp, Zfh, [fp];
    FltH => "flt.h", FCmp, FpNonComp, Zfh, [fp];
    FleH => "fle.h", FCmp, FpNonComp, Zfh, [fp];
    FclassH => "fclass.h", FToX, FpNonComp, Zfh, [fp];
    FcvtHW => "fcvt.h.w", XToF, FpConv, Zfh, [fp rm];
    FcvtHWu => "fcvt.h.wu", XToF, FpConv, Zfh, [fp rm];
    FmvHX => "fmv.h.x", XToF, FpMove, Zfh, [fp];
    FcvtSH => "fcvt.s.h", F2, FpConv, Zfh, [fp rm];
    FcvtHS => "fcvt.h.s", F2, FpConv, Zfh, [fp rm];
    // Xfvec: Snitch packed-SIMD fp16, two lanes per 32-bit register (see crate::ext).
    VfaddH => "vfadd.h", F3, FpSimd, Xfvec, [fp pk];
    VfaddRH => "vfadd.r.h", F3, FpSimd, Xfvec, [fp pk];
    VfsubH => "vfsub.h", F3, FpSimd, Xfvec, [fp pk];
    VfsubRH => "vfsub.r.h", F3, FpSimd, Xfvec, [fp pk];
    VfmulH => "vfmul.h", F3, FpSimd, Xfvec, [fp pk];
    VfmulRH => "vfmul.r.h", F3, FpSimd, Xfvec, [fp pk];
    VfmacH => "vfmac.h", F3Acc, FpSimd, Xfvec, [fp pk];
    VfmacRH => "vfmac.r.h", F3Acc, FpSimd, Xfvec, [fp pk];
    VfminH => "vfmin.h", F3, FpNonComp, Xfvec, [fp pk];
    VfminRH => "vfmin.r.h", F3, FpNonComp, Xfvec, [fp pk];
    VfmaxH => "vfmax.h", F3, FpNonComp, Xfvec, [fp pk];
    VfmaxRH => "vfmax.r.h", F3, FpNonComp, Xfvec, [fp pk];
    VfcpkaHS => "vfcpka.h.s", F3, FpConv, Xfvec, [fp pk];
    VfcvtSH => "vfcvt.s.h", F2, FpConv, Xfvec, [fp];
    VfcvtuSH => "vfcvtu.s.h", F2, FpConv, Xfvec, [fp];
    VfdotpexSH => "vfdotpex.s.h", F3Acc, FpDotp, Xfvec, [fp];
    VfsumexSH => "vfsumex.s.h", F2Acc, FpDotp, Xfvec, [fp];
    DmSrc => "dmsrc", R, Dma, Xdma, [];
    DmDst => "dmdst", R, Dma, Xdma, [];
    DmCpyi => "dmcpyi", DmaImm, Dma, Xdma, [];
    DmCpy => "dmcpy", R, Dma, Xdma, [];
    DmStati => "dmstati", DmaImm, Dma, Xdma, [];
    DmStat => "dmstat", R, Dma, Xdma, [];
    DmStr => "dmstr", R, Dma, Xdma, [];
    DmRep => "dmrep", R, Dma, Xdma, [];
    FrepO => "frep.o", Frep, Frep, Xfrep, [];
    ScfgRi => "scfgri", CfgRi, Ssr, Xssr, [];
    ScfgWi => "scfgwi", CfgWi, Ssr, Xssr, [];
    ScfgR => "scfgr", CfgR, Ssr, Xssr, [];
    ScfgW => "scfgw", CfgW, Ssr, Xssr, [];
    Illegal => "illegal", Illegal, Illegal, Base, [];
}

impl Op {
    /// True when the destination `rd` is an FP register.
    #[inline]
    pub fn writes_f(self) -> bool {
        matches!(
            self.format(),
            Format::FLoad
                | Format::F4
                | Format::F3
                | Format::F2
                | Format::XToF
                | Format::F3Acc
                | Format::F2Acc
        )
    }

    /// True when the destination `rd` is an integer register.
    #[inline]
    pub fn writes_x(self) -> bool {
        matches!(
            self.format(),
            Format::R
                | Format::I
                | Format::Shift
                | Format::Load
                | Format::U
                | Format::Jal
                | Format::Jalr
                | Format::Csr
                | Format::CsrI
                | Format::FCmp
                | Format::FToX
                | Format::DmaImm
                | Format::CfgRi
                | Format::CfgR
        )
    }
}

/// A decoded instruction: the operation, its register fields and its immediate, already
/// sign-extended. For CSR instructions `imm` holds the CSR address and `rs1` the register or
/// 5-bit immediate; for shifts `imm` holds the shift amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Inst {
    /// The operation.
    pub op: Op,
    /// Destination register number.
    pub rd: u8,
    /// First source register number (or zimm for CSR immediate forms).
    pub rs1: u8,
    /// Second source register number.
    pub rs2: u8,
    /// Third source register number (FMA family).
    pub rs3: u8,
    /// Rounding-mode field (bits 14:12) for FP instructions that take one.
    pub rm: u8,
    /// Sign-extended immediate (byte offset for branches/jumps; CSR address; shift amount).
    pub imm: i32,
    /// The raw instruction word.
    pub raw: u32,
}

impl Inst {
    /// The instruction that stands for an illegal encoding `raw`.
    pub fn illegal(raw: u32) -> Inst {
        Inst {
            op: Op::Illegal,
            rd: 0,
            rs1: 0,
            rs2: 0,
            rs3: 0,
            rm: 0,
            imm: 0,
            raw,
        }
    }
}

impl Inst {
    /// The integer registers the instruction reads (None where an operand is absent or not
    /// an integer register).
    #[inline]
    pub fn x_sources(&self) -> [Option<u8>; 2] {
        match self.op.format() {
            Format::R | Format::Store | Format::Branch => [Some(self.rs1), Some(self.rs2)],
            Format::I
            | Format::Shift
            | Format::Load
            | Format::Jalr
            | Format::Csr
            | Format::FLoad
            | Format::FStore
            | Format::XToF
            | Format::DmaImm
            | Format::Frep
            | Format::CfgWi => [Some(self.rs1), None],
            Format::CfgR => [None, Some(self.rs2)],
            Format::CfgW => [Some(self.rs1), Some(self.rs2)],
            _ => [None, None],
        }
    }

    /// The FP registers the instruction reads.
    #[inline]
    pub fn f_sources(&self) -> [Option<u8>; 3] {
        match self.op.format() {
            Format::F4 => [Some(self.rs1), Some(self.rs2), Some(self.rs3)],
            Format::F3Acc => [Some(self.rs1), Some(self.rs2), Some(self.rd)],
            Format::F2Acc => [Some(self.rs1), Some(self.rd), None],
            Format::F3 | Format::FCmp => [Some(self.rs1), Some(self.rs2), None],
            Format::F2 | Format::FToX => [Some(self.rs1), None, None],
            Format::FStore => [Some(self.rs2), None, None],
            _ => [None, None, None],
        }
    }
}

pub(crate) fn imm_i(raw: u32) -> i32 {
    (raw as i32) >> 20
}

pub(crate) fn imm_s(raw: u32) -> i32 {
    ((raw as i32) >> 25 << 5) | ((raw >> 7) & 0x1f) as i32
}

fn imm_b(raw: u32) -> i32 {
    ((raw as i32) >> 31 << 12)
        | (((raw >> 7) & 1) << 11) as i32
        | (((raw >> 25) & 0x3f) << 5) as i32
        | (((raw >> 8) & 0xf) << 1) as i32
}

fn imm_u(raw: u32) -> i32 {
    (raw & 0xffff_f000) as i32
}

fn imm_j(raw: u32) -> i32 {
    ((raw as i32) >> 31 << 20)
        | (raw & 0x000f_f000) as i32
        | (((raw >> 20) & 1) << 11) as i32
        | (((raw >> 21) & 0x3ff) << 1) as i32
}

/// Decodes one 32-bit instruction word. Never fails: encodings outside RV32IMF + Zicsr +
/// Zifencei (including every compressed and RV64-only form) give [`Op::Illegal`].
///
/// This is the plain RV32IMF machine: the optional extensions are off, so their encodings are
/// illegal too. [`decode_with`] decodes with extensions enabled.
pub fn decode(raw: u32) -> Inst {
    decode_with(raw, Extensions::NONE)
}

/// Decodes one 32-bit instruction word for a hart with the optional extensions `ext` (Zfh,
/// packed FP16). With [`Extensions::NONE`] this is [`decode`]. Never fails: anything that is
/// not a legal encoding for that configuration gives [`Op::Illegal`].
pub fn decode_with(raw: u32, ext: Extensions) -> Inst {
    let found = if ext == Extensions::NONE {
        identify(raw)
    } else {
        crate::ext::identify(raw, ext).or_else(|| identify(raw))
    };
    let (op, imm) = match found {
        Some(x) => x,
        None => return Inst::illegal(raw),
    };
    let mut inst = Inst {
        op,
        rd: ((raw >> 7) & 0x1f) as u8,
        rs1: ((raw >> 15) & 0x1f) as u8,
        rs2: ((raw >> 20) & 0x1f) as u8,
        rs3: (raw >> 27) as u8,
        rm: ((raw >> 12) & 7) as u8,
        imm,
        raw,
    };
    // Static rounding modes 5 and 6 are reserved: the encoding is illegal whatever frm holds.
    if op.uses_rm() && (inst.rm == 5 || inst.rm == 6) {
        return Inst::illegal(raw);
    }
    if op == Op::FrepO {
        // frep.o fields: stagger_max in bits 14:12 (the rm position), stagger_mask in 11:8.
        inst.rs3 = ((raw >> 8) & 0xf) as u8;
        inst.rd = 0;
        return inst;
    }
    if !op.uses_rm() {
        inst.rm = 0;
    }
    inst
}

/// Maps a word to (operation, immediate), or None for an illegal encoding.
fn identify(raw: u32) -> Option<(Op, i32)> {
    // MISC-MEM: the spec tells base implementations to ignore the unused fields of FENCE and
    // FENCE.I (riscv-decode is stricter), so decode them here.
    if raw & 0x7f == 0b000_1111 {
        return match (raw >> 12) & 7 {
            0 => Some((Op::Fence, 0)),
            1 => Some((Op::FenceI, 0)),
            _ => None,
        };
    }
    let r = riscv_decode::decode(raw).ok()?;
    let i = imm_i(raw);
    let shamt = ((raw >> 20) & 0x1f) as i32;
    // RV32: a shift amount with bit 5 set is reserved.
    let shift_ok = (raw >> 25) & 1 == 0;
    Some(match r {
        R::Lui(_) => (Op::Lui, imm_u(raw)),
        R::Auipc(_) => (Op::Auipc, imm_u(raw)),
        R::Jal(_) => (Op::Jal, imm_j(raw)),
        R::Jalr(_) if (raw >> 12) & 7 == 0 => (Op::Jalr, i),
        R::Beq(_) => (Op::Beq, imm_b(raw)),
        R::Bne(_) => (Op::Bne, imm_b(raw)),
        R::Blt(_) => (Op::Blt, imm_b(raw)),
        R::Bge(_) => (Op::Bge, imm_b(raw)),
        R::Bltu(_) => (Op::Bltu, imm_b(raw)),
        R::Bgeu(_) => (Op::Bgeu, imm_b(raw)),
        R::Lb(_) => (Op::Lb, i),
        R::Lh(_) => (Op::Lh, i),
        R::Lw(_) => (Op::Lw, i),
        R::Lbu(_) => (Op::Lbu, i),
        R::Lhu(_) => (Op::Lhu, i),
        R::Sb(_) => (Op::Sb, imm_s(raw)),
        R::Sh(_) => (Op::Sh, imm_s(raw)),
        R::Sw(_) => (Op::Sw, imm_s(raw)),
        R::Addi(_) => (Op::Addi, i),
        R::Slti(_) => (Op::Slti, i),
        R::Sltiu(_) => (Op::Sltiu, i),
        R::Xori(_) => (Op::Xori, i),
        R::Ori(_) => (Op::Ori, i),
        R::Andi(_) => (Op::Andi, i),
        R::Slli(_) if shift_ok => (Op::Slli, shamt),
        R::Srli(_) if shift_ok => (Op::Srli, shamt),
        R::Srai(_) if shift_ok => (Op::Srai, shamt),
        R::Add(_) => (Op::Add, 0),
        R::Sub(_) => (Op::Sub, 0),
        R::Sll(_) => (Op::Sll, 0),
        R::Slt(_) => (Op::Slt, 0),
        R::Sltu(_) => (Op::Sltu, 0),
        R::Xor(_) => (Op::Xor, 0),
        R::Srl(_) => (Op::Srl, 0),
        R::Sra(_) => (Op::Sra, 0),
        R::Or(_) => (Op::Or, 0),
        R::And(_) => (Op::And, 0),
        R::Mul(_) => (Op::Mul, 0),
        R::Mulh(_) => (Op::Mulh, 0),
        R::Mulhsu(_) => (Op::Mulhsu, 0),
        R::Mulhu(_) => (Op::Mulhu, 0),
        R::Div(_) => (Op::Div, 0),
        R::Divu(_) => (Op::Divu, 0),
        R::Rem(_) => (Op::Rem, 0),
        R::Remu(_) => (Op::Remu, 0),
        R::Ecall => (Op::Ecall, 0),
        R::Ebreak => (Op::Ebreak, 0),
        R::Mret => (Op::Mret, 0),
        R::Wfi => (Op::Wfi, 0),
        R::Csrrw(_) => (Op::Csrrw, csr_addr(raw)),
        R::Csrrs(_) => (Op::Csrrs, csr_addr(raw)),
        R::Csrrc(_) => (Op::Csrrc, csr_addr(raw)),
        R::Csrrwi(_) => (Op::Csrrwi, csr_addr(raw)),
        R::Csrrsi(_) => (Op::Csrrsi, csr_addr(raw)),
        R::Csrrci(_) => (Op::Csrrci, csr_addr(raw)),
        R::Flw(_) => (Op::Flw, i),
        R::Fsw(_) => (Op::Fsw, imm_s(raw)),
        R::Fmadds(_) => (Op::FmaddS, 0),
        R::Fmsubs(_) => (Op::FmsubS, 0),
        R::Fnmsubs(_) => (Op::FnmsubS, 0),
        R::Fnmadds(_) => (Op::FnmaddS, 0),
        R::Fadds(_) => (Op::FaddS, 0),
        R::Fsubs(_) => (Op::FsubS, 0),
        R::Fmuls(_) => (Op::FmulS, 0),
        R::Fdivs(_) => (Op::FdivS, 0),
        R::Fsqrts(_) => (Op::FsqrtS, 0),
        R::Fsgnjs(_) => (Op::FsgnjS, 0),
        R::Fsgnjns(_) => (Op::FsgnjnS, 0),
        R::Fsgnjxs(_) => (Op::FsgnjxS, 0),
        R::Fmins(_) => (Op::FminS, 0),
        R::Fmaxs(_) => (Op::FmaxS, 0),
        R::Fcvtws(_) => (Op::FcvtWS, 0),
        R::Fcvtwus(_) => (Op::FcvtWuS, 0),
        R::Fmvxw(_) => (Op::FmvXW, 0),
        R::Feqs(_) => (Op::FeqS, 0),
        R::Flts(_) => (Op::FltS, 0),
        R::Fles(_) => (Op::FleS, 0),
        R::Fclasss(_) => (Op::FclassS, 0),
        R::Fcvtsw(_) => (Op::FcvtSW, 0),
        R::Fcvtswu(_) => (Op::FcvtSWu, 0),
        R::Fmvwx(_) => (Op::FmvWX, 0),
        // RV64-only, atomics (not in RV32IMF), supervisor and user-trap instructions.
        _ => return None,
    })
}

fn csr_addr(raw: u32) -> i32 {
    (raw >> 20) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    // Encodings below are from the RISC-V unprivileged spec's encoding tables, assembled by
    // hand (and cross-checked with llvm-mc where noted in comments).

    #[test]
    fn immediates_are_sign_extended() {
        // addi a0, a0, -1  = 0xfff50513
        let i = decode(0xfff5_0513);
        assert_eq!((i.op, i.rd, i.rs1, i.imm), (Op::Addi, 10, 10, -1));
        // sw a1, -4(sp) = imm -4: imm[11:5]=0x7f, imm[4:0]=0x1c -> 0xfeb12e23
        let s = decode(0xfeb1_2e23);
        assert_eq!((s.op, s.rs1, s.rs2, s.imm), (Op::Sw, 2, 11, -4));
        // beq x0, x0, -8: 0xfe000ce3
        let b = decode(0xfe00_0ce3);
        assert_eq!((b.op, b.imm), (Op::Beq, -8));
        // jal ra, -2048: imm[20]=1 ... 0x801ff0ef
        let j = decode(0x801f_f0ef);
        assert_eq!((j.op, j.rd, j.imm), (Op::Jal, 1, -2048));
        // jal x0, +0xffffe (max positive): 0x7ffff06f
        assert_eq!(decode(0x7fff_f06f).imm, 0x000f_fffe);
        // lui a0, 0x80000 -> imm = 0x80000000 as i32
        assert_eq!(decode(0x8000_0537).imm, i32::MIN);
        // bge: imm[12]=0 imm[11]=1 -> +2048: 0x0000dc63 has imm[11] from bit 7
        let b2 = decode(0x0020_d063 | (1 << 7));
        assert_eq!((b2.op, b2.imm), (Op::Bge, 2048));
    }

    #[test]
    fn rv64_compressed_and_atomic_forms_are_illegal() {
        // ld a0, 0(a0)
        assert_eq!(decode(0x0005_3503).op, Op::Illegal);
        // addiw a0, a0, 1
        assert_eq!(decode(0x0015_051b).op, Op::Illegal);
        // c.addi a0, 1 (compressed, low half 0x0505)
        assert_eq!(decode(0x0000_0505).op, Op::Illegal);
        // amoadd.w a0, a1, (a2)
        assert_eq!(decode(0x00b6_252f).op, Op::Illegal);
        // slli a0, a0, 32 (shamt bit 5 set) is reserved in RV32
        assert_eq!(decode(0x0205_1513).op, Op::Illegal);
        // sret, sfence.vma
        assert_eq!(decode(0x1020_0073).op, Op::Illegal);
        assert_eq!(decode(0x1200_0073).op, Op::Illegal);
        // all zeros and all ones
        assert_eq!(decode(0).op, Op::Illegal);
        assert_eq!(decode(u32::MAX).op, Op::Illegal);
    }

    #[test]
    fn fp_rounding_mode_fields() {
        // fadd.s fa0, fa1, fa2, rtz: funct7=0, rs2=12, rs1=11, rm=001, rd=10, 0x53
        let raw = (12 << 20) | (11 << 15) | (1 << 12) | (10 << 7) | 0x53;
        let i = decode(raw);
        assert_eq!((i.op, i.rd, i.rs1, i.rs2, i.rm), (Op::FaddS, 10, 11, 12, 1));
        // rm = 5 and 6 are reserved
        assert_eq!(decode(raw & !(7 << 12) | (5 << 12)).op, Op::Illegal);
        assert_eq!(decode(raw & !(7 << 12) | (6 << 12)).op, Op::Illegal);
        // rm = 7 (dynamic) is legal
        assert_eq!(decode(raw | (7 << 12)).rm, 7);
        // fmadd.s with rs3 = 13: 0x68c5f543 has rs3 = 13
        let f = decode((13 << 27) | (12 << 20) | (11 << 15) | (10 << 7) | 0x43);
        assert_eq!((f.op, f.rs3), (Op::FmaddS, 13));
        // fmadd.d (fmt = 01) is not RV32F
        assert_eq!(decode((1 << 25) | 0x43).op, Op::Illegal);
    }

    #[test]
    fn fence_ignores_unused_fields() {
        assert_eq!(decode(0x0ff0_000f).op, Op::Fence); // fence iorw, iorw
        assert_eq!(decode(0x8330_000f).op, Op::Fence); // fence.tso
        assert_eq!(decode(0x0000_100f).op, Op::FenceI);
        assert_eq!(decode(0x0000_200f).op, Op::Illegal);
    }

    #[test]
    fn operand_register_files() {
        // fsw fa1, 8(sp): int address source sp, FP data source fa1
        let fsw = decode((11 << 20) | (2 << 15) | (2 << 12) | (8 << 7) | 0x27);
        assert_eq!(fsw.x_sources(), [Some(2), None]);
        assert_eq!(fsw.f_sources(), [Some(11), None, None]);
        // fcvt.s.w fa0, a1: int source only
        let cvt = decode((0x68 << 25) | (11 << 15) | (10 << 7) | 0x53);
        assert_eq!(
            (cvt.x_sources(), cvt.f_sources()),
            ([Some(11), None], [None; 3])
        );
        // lui reads nothing
        assert_eq!(decode(0x8000_0537).x_sources(), [None, None]);
    }

    #[test]
    fn table_is_consistent() {
        for &op in Op::ALL {
            assert!(!op.mnemonic().is_empty());
            // An op never writes both register files.
            assert!(!(op.writes_f() && op.writes_x()), "{op:?}");
            // The flags agree with the other columns: `fp` exactly for the FP timing
            // classes, `rm` and `pk` only on FP operations, `pk` only in Xfvec.
            let fp_class = matches!(
                op.class(),
                Class::FpLoad
                    | Class::FpStore
                    | Class::FpFma
                    | Class::FpAdd
                    | Class::FpMul
                    | Class::FpDiv
                    | Class::FpSqrt
                    | Class::FpNonComp
                    | Class::FpConv
                    | Class::FpMove
                    | Class::FpSimd
                    | Class::FpDotp
            );
            assert_eq!(op.is_fp(), fp_class, "{op:?}");
            assert!(!op.uses_rm() || op.is_fp(), "{op:?}");
            assert!(
                !op.is_packed_f16() || op.extension() == Some(Extension::Xfvec),
                "{op:?}"
            );
        }
        // Spot checks of the facts columns.
        assert!(Op::FmaddS.uses_rm() && Op::FmaddS.is_fp() && Op::FmaddS.extension().is_none());
        assert!(!Op::FsgnjS.uses_rm() && !Op::Add.is_fp());
        assert_eq!(Op::FmaddH.extension(), Some(Extension::Zfh));
        assert_eq!(Op::DmCpy.extension(), Some(Extension::Xdma));
        assert!(Op::VfaddH.is_packed_f16() && !Op::VfdotpexSH.is_packed_f16());
        assert_eq!(decode(0x0000_0073).op, Op::Ecall);
        assert_eq!(decode(0x0010_0073).op, Op::Ebreak);
        assert_eq!(decode(0x3020_0073).op, Op::Mret);
        assert_eq!(decode(0x1050_0073).op, Op::Wfi);
        // csrrw a0, mscratch, a1 = 0x34059573
        let c = decode(0x3405_9573);
        assert_eq!((c.op, c.rd, c.rs1, c.imm), (Op::Csrrw, 10, 11, 0x340));
    }
}
