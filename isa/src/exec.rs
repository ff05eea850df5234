//! Instruction semantics: one decoded instruction applied to a hart and a bus.
//!
//! [`execute`] is precise: when it returns an exception, no architectural state has changed
//! (the pc still points at the instruction), so the caller can take the trap or stop the run.

use crate::decode::{Class, Inst, Op};
use crate::fp::{self, BinOp, CmpOp, FmaOp, Rounding};
use crate::fp16;
use crate::hart::{Hart, Misaligned, Privilege};
use crate::mem::{Bus, DmaRequest, Size};
use crate::trap::Exception;

/// What a successfully retired instruction did that a runner or timing model cares about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retired {
    /// Straight-line completion (pc + 4), including untaken branches.
    Normal,
    /// A taken branch or a jump (pc changed non-sequentially), including mret.
    Taken,
    /// fence.i: instruction caches and decoded-instruction caches must be flushed.
    FenceI,
    /// wfi: the hart may sleep (no interrupt sources exist, so it is a no-op functionally).
    Wfi,
    /// frep.o: the runner must repeat the block that follows (see [`crate::frep`]).
    Frep(crate::frep::FrepSpec),
}

/// Executes `inst` (fetched from `hart.pc`) on `hart` with memory `bus`. This is the one
/// definition of every instruction's semantics: the functional runner's inner loop (over a
/// [`crate::mem::FastBus`]), its general path and the cluster's cores all call it.
#[inline(always)]
pub fn execute<B: Bus + ?Sized>(
    inst: &Inst,
    hart: &mut Hart,
    bus: &mut B,
) -> Result<Retired, Exception> {
    let (retired, next) = execute_at(*inst, hart, bus, hart.pc)?;
    hart.pc = next;
    Ok(retired)
}

/// [`execute`] for an instruction at `pc`, returning the next pc instead of writing it to
/// `hart.pc` (the functional runner keeps the pc in a register): `hart.pc` need not hold `pc`
/// on entry and holds either on return. On an exception nothing has changed, except that
/// `hart.pc` may now hold `pc`. The hot operations are here; the others are in
/// [`execute_cold`].
#[inline(always)]
pub(crate) fn execute_at<B: Bus + ?Sized>(
    inst: Inst,
    hart: &mut Hart,
    bus: &mut B,
    pc: u32,
) -> Result<(Retired, u32), Exception> {
    // Xssr: with streaming on, ft0-ft2 operands of FP instructions are streams.
    if hart.streaming() && inst.op.is_fp() {
        let uses = StreamUse::of(&inst);
        if uses.any() {
            hart.pc = pc;
            let retired = streamed(inst, uses, hart, bus)?;
            return Ok((retired, hart.pc));
        }
    }
    // Register fields are 5 bits; the masks let the compiler drop bounds checks.
    let rs1 = hart.x[inst.rs1 as usize & 31];
    let rs2 = hart.x[inst.rs2 as usize & 31];
    let imm = inst.imm as u32;
    let rd = inst.rd as usize & 31;
    let illegal = Exception::IllegalInstruction(inst.raw);

    macro_rules! wx {
        ($v:expr) => {{
            let v = $v;
            if rd != 0 {
                hart.x[rd] = v;
            }
        }};
    }

    let mut next = pc.wrapping_add(4);
    let mut retired = Retired::Normal;

    match inst.op {
        Op::Lui => wx!(imm),
        Op::Auipc => wx!(pc.wrapping_add(imm)),
        Op::Jal | Op::Jalr => {
            let target = if inst.op == Op::Jal {
                pc.wrapping_add(imm)
            } else {
                rs1.wrapping_add(imm) & !1
            };
            if target & 3 != 0 {
                return Err(Exception::InstructionAddressMisaligned(target));
            }
            wx!(next);
            next = target;
            retired = Retired::Taken;
        }
        Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
            let taken = match inst.op {
                Op::Beq => rs1 == rs2,
                Op::Bne => rs1 != rs2,
                Op::Blt => (rs1 as i32) < (rs2 as i32),
                Op::Bge => (rs1 as i32) >= (rs2 as i32),
                Op::Bltu => rs1 < rs2,
                _ => rs1 >= rs2,
            };
            if taken {
                let target = pc.wrapping_add(imm);
                if target & 3 != 0 {
                    return Err(Exception::InstructionAddressMisaligned(target));
                }
                next = target;
                retired = Retired::Taken;
            }
        }
        Op::Lb | Op::Lh | Op::Lw | Op::Lbu | Op::Lhu => {
            let addr = rs1.wrapping_add(imm);
            let size = match inst.op {
                Op::Lb | Op::Lbu => Size::Byte,
                Op::Lh | Op::Lhu => Size::Half,
                _ => Size::Word,
            };
            let v = load(hart, bus, addr, size)?;
            wx!(match inst.op {
                Op::Lb => v as u8 as i8 as i32 as u32,
                Op::Lh => v as u16 as i16 as i32 as u32,
                _ => v,
            });
        }
        Op::Sb | Op::Sh | Op::Sw => {
            let addr = rs1.wrapping_add(imm);
            let size = match inst.op {
                Op::Sb => Size::Byte,
                Op::Sh => Size::Half,
                _ => Size::Word,
            };
            store(hart, bus, addr, size, rs2)?;
        }
        // FP loads and stores are hot in kernels: keep them on the main path.
        Op::Flw | Op::Fsw => {
            if !hart.fp_enabled() {
                return Err(illegal);
            }
            let addr = rs1.wrapping_add(imm);
            if inst.op == Op::Flw {
                hart.f[rd] = load(hart, bus, addr, Size::Word)?;
                hart.set_fs_dirty();
            } else {
                store(hart, bus, addr, Size::Word, hart.f[inst.rs2 as usize & 31])?;
            }
        }
        // The hot F computations stay on the main path (inlined into the run loop); the
        // others are in `execute_fp`.
        Op::FmaddS | Op::FmsubS | Op::FnmsubS | Op::FnmaddS => {
            let f = &hart.f;
            let (a, b, c) = (
                f[inst.rs1 as usize & 31],
                f[inst.rs2 as usize & 31],
                f[inst.rs3 as usize & 31],
            );
            let (v, flags) = fma_s(&inst, hart, a, b, c)?;
            write_f(hart, rd, v, flags);
        }
        Op::FaddS | Op::FsubS | Op::FmulS => {
            let (a, b) = (
                hart.f[inst.rs1 as usize & 31],
                hart.f[inst.rs2 as usize & 31],
            );
            let (v, flags) = binary_s(&inst, hart, a, b)?;
            write_f(hart, rd, v, flags);
        }
        Op::FsgnjS | Op::FsgnjnS | Op::FsgnjxS => {
            let (a, b) = (
                hart.f[inst.rs1 as usize & 31],
                hart.f[inst.rs2 as usize & 31],
            );
            let v = sgnj_s(&inst, hart, a, b)?;
            write_f(hart, rd, v, 0);
        }
        Op::FmvXW => {
            if !hart.fp_enabled() {
                return Err(illegal);
            }
            wx!(hart.f[inst.rs1 as usize & 31]);
        }
        Op::FmvWX => {
            if !hart.fp_enabled() {
                return Err(illegal);
            }
            write_f(hart, rd, rs1, 0);
        }
        int_ops!() => wx!(int_op(inst.op, rs1, rs2, imm)),
        _ => {
            hart.pc = pc;
            let retired = execute_cold(inst, hart, bus, rs1, rs2)?;
            return Ok((retired, hart.pc));
        }
    }
    Ok((retired, next))
}

/// The operations off the hot path of [`execute_at`] (system, CSR, divide, the Snitch
/// extensions' integer side, and the F and Zfh operations [`execute_fp`] computes), kept out
/// of line so the run loop's registers serve the hot ones. Writes `hart.pc`.
#[inline(never)]
fn execute_cold<B: Bus + ?Sized>(
    inst: Inst,
    hart: &mut Hart,
    bus: &mut B,
    rs1: u32,
    rs2: u32,
) -> Result<Retired, Exception> {
    let pc = hart.pc;
    let imm = inst.imm as u32;
    let rd = inst.rd as usize & 31;
    let illegal = Exception::IllegalInstruction(inst.raw);
    macro_rules! wx {
        ($v:expr) => {{
            let v = $v;
            if rd != 0 {
                hart.x[rd] = v;
            }
        }};
    }
    let mut retired = Retired::Normal;
    match inst.op {
        // Zfh half-precision loads and stores: the loaded half is NaN-boxed, the stored one is
        // the register's raw low 16 bits.
        Op::Flh | Op::Fsh => {
            if !hart.fp_enabled() || !hart.ext.zfh {
                return Err(illegal);
            }
            let addr = rs1.wrapping_add(imm);
            if inst.op == Op::Flh {
                hart.f[rd] = fp16::nan_box(load(hart, bus, addr, Size::Half)? as u16);
                hart.set_fs_dirty();
            } else {
                store(hart, bus, addr, Size::Half, hart.f[inst.rs2 as usize & 31])?;
            }
        }
        Op::Div => wx!(if rs2 == 0 {
            u32::MAX
        } else {
            (rs1 as i32).wrapping_div(rs2 as i32) as u32
        }),
        Op::Divu => wx!(rs1.checked_div(rs2).unwrap_or(u32::MAX)),
        Op::Rem => wx!(if rs2 == 0 {
            rs1
        } else {
            (rs1 as i32).wrapping_rem(rs2 as i32) as u32
        }),
        Op::Remu => wx!(if rs2 == 0 { rs1 } else { rs1 % rs2 }),
        Op::Fence => {}
        Op::FenceI => retired = Retired::FenceI,
        Op::Ecall => {
            return Err(match hart.privilege {
                Privilege::User => Exception::EcallFromU,
                Privilege::Machine => Exception::EcallFromM,
            })
        }
        Op::Ebreak => return Err(Exception::Breakpoint(pc)),
        Op::Mret => {
            if hart.privilege != Privilege::Machine {
                return Err(illegal);
            }
            hart.mret();
            return Ok(Retired::Taken);
        }
        Op::Wfi => retired = Retired::Wfi,
        Op::Csrrw | Op::Csrrs | Op::Csrrc | Op::Csrrwi | Op::Csrrsi | Op::Csrrci => {
            let addr = inst.imm as u16;
            let old = hart.read_csr(addr).map_err(|_| illegal)?;
            let src = match inst.op {
                Op::Csrrw | Op::Csrrs | Op::Csrrc => rs1,
                _ => u32::from(inst.rs1), // zimm
            };
            let new = match inst.op {
                Op::Csrrw | Op::Csrrwi => Some(src),
                // set/clear with x0 / zimm 0 do not write (so read-only CSRs can be read)
                _ if inst.rs1 == 0 => None,
                Op::Csrrs | Op::Csrrsi => Some(old | src),
                _ => Some(old & !src),
            };
            if let Some(v) = new {
                hart.write_csr(addr, v).map_err(|_| illegal)?;
            }
            wx!(old);
        }
        Op::DmSrc
        | Op::DmDst
        | Op::DmCpyi
        | Op::DmCpy
        | Op::DmStati
        | Op::DmStat
        | Op::DmStr
        | Op::DmRep => {
            if !hart.ext.xdma {
                return Err(illegal);
            }
            let req = match inst.op {
                Op::DmSrc => DmaRequest::Src(rs1),
                Op::DmDst => DmaRequest::Dst(rs1),
                Op::DmStr => DmaRequest::Strides(rs1, rs2),
                Op::DmRep => DmaRequest::Reps(rs1),
                Op::DmCpyi => DmaRequest::Copy {
                    size: rs1,
                    config: u32::from(inst.rs2),
                },
                Op::DmCpy => DmaRequest::Copy {
                    size: rs1,
                    config: rs2,
                },
                Op::DmStati => DmaRequest::Status(u32::from(inst.rs2)),
                _ => DmaRequest::Status(rs2),
            };
            let v = bus.dma(req).ok_or(illegal)?;
            wx!(v);
        }
        Op::FrepO => {
            if !hart.ext.xfrep || !hart.fp_enabled() {
                return Err(illegal);
            }
            retired = Retired::Frep(crate::frep::FrepSpec::of(&inst, rs1));
        }
        Op::ScfgRi | Op::ScfgR => {
            let word = if inst.op == Op::ScfgRi { imm } else { rs2 };
            let ssr = hart.ssr.as_deref_mut().ok_or(illegal)?;
            let v = ssr.cfg_read(word).ok_or(illegal)?;
            wx!(v);
        }
        Op::ScfgWi | Op::ScfgW => {
            let word = if inst.op == Op::ScfgWi { imm } else { rs2 };
            let ssr = hart.ssr.as_deref_mut().ok_or(illegal)?;
            if !ssr.cfg_write(word, rs1) {
                return Err(illegal);
            }
        }
        Op::Illegal => return Err(illegal),
        _ => return execute_fp(&inst, hart, rs1),
    }
    hart.pc = pc.wrapping_add(4);
    Ok(retired)
}

/// `fmadd.s`, `fmsub.s`, `fnmsub.s`, `fnmadd.s` on the operand values `a`, `b`, `c`: the
/// result and its flags (the one body of these operations, for [`execute_at`]'s hot path and
/// [`fp_compute`]).
#[inline(always)]
fn fma_s(inst: &Inst, hart: &Hart, a: u32, b: u32, c: u32) -> Result<(u32, u8), Exception> {
    let rm = fp_rm(inst, hart)?;
    let op = match inst.op {
        Op::FmaddS => FmaOp::Madd,
        Op::FmsubS => FmaOp::Msub,
        Op::FnmsubS => FmaOp::Nmsub,
        _ => FmaOp::Nmadd,
    };
    Ok(fp::fma(op, a, b, c, rm))
}

/// `fadd.s`, `fsub.s`, `fmul.s` on `a` and `b` (one body, as [`fma_s`]).
#[inline(always)]
fn binary_s(inst: &Inst, hart: &Hart, a: u32, b: u32) -> Result<(u32, u8), Exception> {
    let rm = fp_rm(inst, hart)?;
    let op = match inst.op {
        Op::FaddS => BinOp::Add,
        Op::FsubS => BinOp::Sub,
        _ => BinOp::Mul,
    };
    Ok(fp::binary(op, a, b, rm))
}

/// `fsgnj.s`, `fsgnjn.s`, `fsgnjx.s` on `a` and `b` (one body, as [`fma_s`]).
#[inline(always)]
fn sgnj_s(inst: &Inst, hart: &Hart, a: u32, b: u32) -> Result<u32, Exception> {
    if !hart.fp_enabled() {
        return Err(Exception::IllegalInstruction(inst.raw));
    }
    let kind = match inst.op {
        Op::FsgnjS => 0,
        Op::FsgnjnS => 1,
        _ => 2,
    };
    Ok(fp::sign_inject(a, b, kind))
}

/// The rounding mode of an F computation, after the FPU-enabled check: illegal when the FPU
/// is off or the mode (static, or dynamic from frm) is reserved.
#[inline(always)]
fn fp_rm(inst: &Inst, hart: &Hart) -> Result<Rounding, Exception> {
    if !hart.fp_enabled() {
        return Err(Exception::IllegalInstruction(inst.raw));
    }
    Rounding::resolve(inst.rm, hart.frm).ok_or(Exception::IllegalInstruction(inst.raw))
}

/// Writes an FP result and its exception flags (the FP state becomes dirty).
#[inline(always)]
fn write_f(hart: &mut Hart, rd: usize, value: u32, flags: u8) {
    hart.f[rd & 31] = value;
    hart.set_fs_dirty();
    if flags != 0 {
        hart.fflags |= flags;
    }
}

/// The operations [`int_op`] computes, as a pattern.
macro_rules! int_ops {
    () => {
        Op::Addi
            | Op::Slti
            | Op::Sltiu
            | Op::Xori
            | Op::Ori
            | Op::Andi
            | Op::Slli
            | Op::Srli
            | Op::Srai
            | Op::Add
            | Op::Sub
            | Op::Sll
            | Op::Slt
            | Op::Sltu
            | Op::Xor
            | Op::Srl
            | Op::Sra
            | Op::Or
            | Op::And
            | Op::Mul
            | Op::Mulh
            | Op::Mulhsu
            | Op::Mulhu
    };
}
pub(crate) use int_ops;

/// Result of an integer ALU or multiply instruction (register-immediate forms take `imm`,
/// shift amounts included, in place of `rs2`). Other operations give 0 (never called for
/// them).
#[inline(always)]
fn int_op(op: Op, rs1: u32, rs2: u32, imm: u32) -> u32 {
    match op {
        Op::Addi => rs1.wrapping_add(imm),
        Op::Slti => u32::from((rs1 as i32) < (imm as i32)),
        Op::Sltiu => u32::from(rs1 < imm),
        Op::Xori => rs1 ^ imm,
        Op::Ori => rs1 | imm,
        Op::Andi => rs1 & imm,
        Op::Slli => rs1 << (imm & 31),
        Op::Srli => rs1 >> (imm & 31),
        Op::Srai => ((rs1 as i32) >> (imm & 31)) as u32,
        Op::Add => rs1.wrapping_add(rs2),
        Op::Sub => rs1.wrapping_sub(rs2),
        Op::Sll => rs1 << (rs2 & 31),
        Op::Slt => u32::from((rs1 as i32) < (rs2 as i32)),
        Op::Sltu => u32::from(rs1 < rs2),
        Op::Xor => rs1 ^ rs2,
        Op::Srl => rs1 >> (rs2 & 31),
        Op::Sra => ((rs1 as i32) >> (rs2 & 31)) as u32,
        Op::Or => rs1 | rs2,
        Op::And => rs1 & rs2,
        Op::Mul => rs1.wrapping_mul(rs2),
        Op::Mulh => ((i64::from(rs1 as i32) * i64::from(rs2 as i32)) >> 32) as u32,
        Op::Mulhsu => ((i64::from(rs1 as i32) * i64::from(rs2)) >> 32) as u32,
        Op::Mulhu => ((u64::from(rs1) * u64::from(rs2)) >> 32) as u32,
        _ => 0,
    }
}

/// Which stream registers (ft0-ft2) an FP instruction uses while streaming is on, from its
/// operand fields alone: [`execute`] works it out per execution; a runner that repeats one
/// instruction (an FREP replay) can work it out once and call [`execute_streamed`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamUse {
    /// The streams read, in source-operand order, each once: the first `reads` entries.
    order: [u8; crate::ssr::STREAMS],
    reads: u8,
    /// Bit r set: stream r is read.
    mask: u8,
    /// The result goes to the stream of `rd`.
    write: bool,
    /// An FP load or store (its stream registers go through the register file).
    memory: bool,
}

impl StreamUse {
    /// The stream registers `inst` reads and writes (none unless it is an FP operation).
    #[inline]
    pub fn of(inst: &Inst) -> StreamUse {
        let mut u = StreamUse::default();
        if !inst.op.is_fp() {
            return u;
        }
        for r in inst.f_sources().into_iter().flatten() {
            if (r as usize) < crate::ssr::STREAMS && u.mask & (1 << r) == 0 {
                u.mask |= 1 << r;
                u.order[u.reads as usize] = r;
                u.reads += 1;
            }
        }
        u.write = inst.op.writes_f() && (inst.rd as usize) < crate::ssr::STREAMS;
        u.memory = matches!(inst.op.class(), Class::FpLoad | Class::FpStore);
        u
    }

    /// True when the instruction reads or writes a stream.
    #[inline]
    pub fn any(self) -> bool {
        self.mask != 0 || self.write
    }

    /// True when the instruction reads stream (register) `r`.
    #[inline]
    pub fn reads(self, r: usize) -> bool {
        r < crate::ssr::STREAMS && self.mask & (1 << r) != 0
    }

    /// True when the instruction's result goes to the stream of its `rd`.
    #[inline]
    pub fn writes(self) -> bool {
        self.write
    }
}

/// [`execute`] for an FP instruction `inst` that uses the streams `uses`
/// (`StreamUse::of(inst)`, worked out by the caller, perhaps once for many executions) on a
/// hart with streaming on (without streaming it is plain [`execute`]). Each streamed source
/// register (read once even if named twice) is given its stream's next element, the
/// instruction executes, and a streamed destination's result is stored at its stream's next
/// address. The register file entries ft0-ft2 are left as they were. Streams advance only
/// when the instruction retires; a stream without a job of the right direction is an
/// illegal instruction with the reason in [`crate::ssr::Ssr::fault`].
#[inline]
pub fn execute_streamed<B: Bus + ?Sized>(
    inst: &Inst,
    uses: StreamUse,
    hart: &mut Hart,
    bus: &mut B,
) -> Result<Retired, Exception> {
    if !hart.streaming() || !uses.any() {
        return execute(inst, hart, bus);
    }
    streamed(*inst, uses, hart, bus)
}

/// [`execute_streamed`] with streaming on: an FP computation takes the elements as operand
/// values and its result straight to the stream (nothing to save and restore: every check
/// comes before the first change); an FP load or store naming a stream register goes through
/// [`streamed_via_registers`].
#[inline]
pub(crate) fn streamed<B: Bus + ?Sized>(
    inst: Inst,
    uses: StreamUse,
    hart: &mut Hart,
    bus: &mut B,
) -> Result<Retired, Exception> {
    use crate::ssr::STREAMS;
    if uses.memory {
        return streamed_via_registers(inst, uses, hart, bus);
    }
    let illegal = Exception::IllegalInstruction(inst.raw);
    let Some(ssr) = hart.ssr.as_deref_mut() else {
        return Err(illegal);
    };
    // Deliveries in operand order (a peek or load fault stops at the first one). Stream
    // addresses are element-aligned (pointers and strides are masked), so the load is the
    // aligned case of `load`.
    let mut element = [0u32; STREAMS];
    for &r in &uses.order[..uses.reads as usize] {
        let r = r as usize;
        let addr = ssr.peek(r, false).ok_or(illegal)?;
        debug_assert_eq!(addr % crate::ssr::ELEMENT_BYTES, 0);
        element[r % STREAMS] = bus
            .load_element(addr)
            .map_err(|f| Exception::LoadAccessFault(f.addr))?;
    }
    let rd = inst.rd as usize & 31;
    let write = if uses.write {
        Some(ssr.peek(rd, true).ok_or(illegal)?)
    } else {
        None
    };
    if !hart.fp_enabled() {
        return Err(illegal);
    }
    let value_of = |r: u8| {
        if uses.reads(r as usize) {
            element[r as usize % STREAMS]
        } else {
            hart.f[r as usize & 31]
        }
    };
    let operands = [
        value_of(inst.rs1),
        value_of(inst.rs2),
        value_of(inst.rs3),
        value_of(inst.rd),
    ];
    let rs1 = hart.x[inst.rs1 as usize & 31];
    let result = fp_compute(&inst, hart, operands, rs1)?;
    if let Some(addr) = write {
        debug_assert!(result.2);
        debug_assert_eq!(addr % crate::ssr::ELEMENT_BYTES, 0);
        bus.store(addr, Size::Word, result.0)
            .map_err(|f| Exception::StoreAccessFault(f.addr))?;
    }
    retire_fp(hart, rd, result, write.is_some());
    let ssr = hart.ssr.as_deref_mut().ok_or(illegal)?;
    for r in 0..STREAMS {
        if uses.reads(r) {
            ssr.commit_pop(r);
        }
    }
    if write.is_some() {
        ssr.commit_push(rd);
    }
    Ok(Retired::Normal)
}

/// A streamed FP load or store (`flw ft0`, `fsw ft1`): the elements are put in their
/// registers, the instruction executes, a streamed destination's result is stored at its
/// stream's next address, and ft0-ft2, pc, fflags and mstatus are restored as they were
/// (all of them on a fault).
#[cold]
pub(crate) fn streamed_via_registers<B: Bus + ?Sized>(
    inst: Inst,
    uses: StreamUse,
    hart: &mut Hart,
    bus: &mut B,
) -> Result<Retired, Exception> {
    use crate::ssr::STREAMS;
    let illegal = Exception::IllegalInstruction(inst.raw);
    let Some(mut ssr) = hart.ssr.take() else {
        return Err(illegal);
    };
    let saved: [u32; STREAMS] = [hart.f[0], hart.f[1], hart.f[2]];
    let (pc, fflags, mstatus) = (hart.pc, hart.fflags, hart.mstatus);
    let result = (|| {
        for &r in &uses.order[..uses.reads as usize] {
            let r = r as usize;
            let addr = ssr.peek(r, false).ok_or(illegal)?;
            hart.f[r] = load(hart, bus, addr, Size::Word)?;
        }
        let rd = inst.rd as usize;
        let write = if uses.write {
            Some(ssr.peek(rd, true).ok_or(illegal)?)
        } else {
            None
        };
        let retired = execute(&inst, hart, bus)?;
        if let Some(addr) = write {
            store(hart, bus, addr, Size::Word, hart.f[rd])?;
        }
        for r in 0..STREAMS {
            if uses.reads(r) {
                ssr.commit_pop(r);
            }
        }
        if write.is_some() {
            ssr.commit_push(rd);
        }
        Ok(retired)
    })();
    hart.f[..STREAMS].copy_from_slice(&saved);
    if result.is_err() {
        // Precise: a stream store fault after the computation leaves no trace either.
        (hart.pc, hart.fflags, hart.mstatus) = (pc, fflags, mstatus);
    }
    hart.ssr = Some(ssr);
    result
}

/// The F extension, and the Zfh / packed-FP16 extensions through [`crate::ext`] (cold
/// relative to the integer path, kept out of line).
#[inline(never)]
fn execute_fp(inst: &Inst, hart: &mut Hart, rs1: u32) -> Result<Retired, Exception> {
    if !hart.fp_enabled() {
        return Err(Exception::IllegalInstruction(inst.raw));
    }
    let f = &hart.f;
    let operands = [
        f[inst.rs1 as usize & 31],
        f[inst.rs2 as usize & 31],
        f[inst.rs3 as usize & 31],
        f[inst.rd as usize & 31],
    ];
    let rd = inst.rd as usize & 31;
    let result = fp_compute(inst, hart, operands, rs1)?;
    retire_fp(hart, rd, result, false);
    Ok(Retired::Normal)
}

/// Retires an FP computation ([`fp_compute`]'s value, flags and whether the destination is
/// an f register): the value into f[`rd`] (unless `stored`: a streamed destination already
/// took it) or x[`rd`] (never x0), the flags accrued, the pc moved on.
#[inline(always)]
fn retire_fp(hart: &mut Hart, rd: usize, (value, flags, to_f): (u32, u8, bool), stored: bool) {
    if to_f {
        if !stored {
            hart.f[rd] = value;
        }
        hart.set_fs_dirty();
    } else if rd != 0 {
        hart.x[rd] = value;
    }
    if flags != 0 {
        hart.fflags |= flags;
        hart.set_fs_dirty();
    }
    hart.pc = hart.pc.wrapping_add(4);
}

/// The result of an FP computation (an `is_fp` operation that is not a load or store): (value,
/// fflags, destination is an FP register), from the values `f` of the f registers its `rs1`,
/// `rs2`, `rs3` and `rd` fields name (a streamed operand's element in place of its register)
/// and the integer register `rs1`. The caller has checked that the FPU is on; nothing is
/// written. The F operations of [`execute_at`]'s hot path share their bodies with it
/// ([`fma_s`], [`binary_s`], [`sgnj_s`]); the others are only here and in [`crate::ext`].
#[inline(always)]
fn fp_compute(
    inst: &Inst,
    hart: &Hart,
    f: [u32; 4],
    rs1: u32,
) -> Result<(u32, u8, bool), Exception> {
    let illegal = Exception::IllegalInstruction(inst.raw);
    let [a, b, c, _] = f;
    let rm = || Rounding::resolve(inst.rm, hart.frm).ok_or(illegal);
    Ok(match inst.op {
        Op::FmaddS | Op::FmsubS | Op::FnmsubS | Op::FnmaddS => {
            let (v, fl) = fma_s(inst, hart, a, b, c)?;
            (v, fl, true)
        }
        Op::FaddS | Op::FsubS | Op::FmulS => {
            let (v, fl) = binary_s(inst, hart, a, b)?;
            (v, fl, true)
        }
        Op::FsgnjS | Op::FsgnjnS | Op::FsgnjxS => (sgnj_s(inst, hart, a, b)?, 0, true),
        Op::FmvXW => (a, 0, false),
        Op::FmvWX => (rs1, 0, true),
        Op::FdivS => {
            let (v, fl) = fp::binary(BinOp::Div, a, b, rm()?);
            (v, fl, true)
        }
        Op::FsqrtS => {
            let (v, fl) = fp::sqrt(a, rm()?);
            (v, fl, true)
        }
        Op::FminS | Op::FmaxS => {
            let (v, fl) = fp::min_max(a, b, inst.op == Op::FmaxS);
            (v, fl, true)
        }
        Op::FcvtWS | Op::FcvtWuS => {
            let (v, fl) = fp::to_int(a, inst.op == Op::FcvtWS, rm()?);
            (v, fl, false)
        }
        Op::FeqS | Op::FltS | Op::FleS => {
            let op = match inst.op {
                Op::FeqS => CmpOp::Eq,
                Op::FltS => CmpOp::Lt,
                _ => CmpOp::Le,
            };
            let (v, fl) = fp::compare(op, a, b);
            (v, fl, false)
        }
        Op::FclassS => (fp::classify(a), 0, false),
        Op::FcvtSW | Op::FcvtSWu => {
            let (v, fl) = fp::from_int(rs1, inst.op == Op::FcvtSW, rm()?);
            (v, fl, true)
        }
        // Zfh and packed FP16 (gated by hart.ext).
        _ => crate::ext::compute(inst, hart, f, rs1)?,
    })
}

/// A load with the hart's misaligned-access policy and access-fault mapping.
#[inline(always)]
pub(crate) fn load<B: Bus + ?Sized>(
    hart: &Hart,
    bus: &mut B,
    addr: u32,
    size: Size,
) -> Result<u32, Exception> {
    if addr & (size.bytes() - 1) == 0 {
        return bus
            .load(addr, size)
            .map_err(|f| Exception::LoadAccessFault(f.addr));
    }
    load_misaligned(hart, bus, addr, size)
}

/// The misaligned case of [`load`]: a trap, or byte by byte.
#[inline(never)]
fn load_misaligned<B: Bus + ?Sized>(
    hart: &Hart,
    bus: &mut B,
    addr: u32,
    size: Size,
) -> Result<u32, Exception> {
    if hart.misaligned == Misaligned::Trap {
        return Err(Exception::LoadAddressMisaligned(addr));
    }
    let mut v = 0;
    for i in 0..size.bytes() {
        let a = addr.wrapping_add(i);
        let b = bus
            .load(a, Size::Byte)
            .map_err(|f| Exception::LoadAccessFault(f.addr))?;
        v |= b << (8 * i);
    }
    Ok(v)
}

/// A store with the hart's misaligned-access policy and access-fault mapping. A misaligned
/// store checks every byte before writing any, so a fault leaves memory untouched.
#[inline(always)]
pub(crate) fn store<B: Bus + ?Sized>(
    hart: &Hart,
    bus: &mut B,
    addr: u32,
    size: Size,
    value: u32,
) -> Result<(), Exception> {
    if addr & (size.bytes() - 1) == 0 {
        return bus
            .store(addr, size, value)
            .map_err(|f| Exception::StoreAccessFault(f.addr));
    }
    store_misaligned(hart, bus, addr, size, value)
}

/// The misaligned case of [`store`]: a trap, or byte by byte after checking every byte.
#[inline(never)]
fn store_misaligned<B: Bus + ?Sized>(
    hart: &Hart,
    bus: &mut B,
    addr: u32,
    size: Size,
    value: u32,
) -> Result<(), Exception> {
    let n = size.bytes();
    if hart.misaligned == Misaligned::Trap {
        return Err(Exception::StoreAddressMisaligned(addr));
    }
    for i in 0..n {
        bus.load(addr.wrapping_add(i), Size::Byte)
            .map_err(|f| Exception::StoreAccessFault(f.addr))?;
    }
    for i in 0..n {
        bus.store(addr.wrapping_add(i), Size::Byte, value >> (8 * i))
            .map_err(|f| Exception::StoreAccessFault(f.addr))?;
    }
    Ok(())
}
