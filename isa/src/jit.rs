//! Block translation for the functional run loop ([`crate::machine::Machine::run`]): hot
//! basic blocks of the first executable segment compiled to host code with Cranelift.
//!
//! A block is a run of decoded instructions from a start pc up to and including the first
//! branch or jump (at most [`MAX_BLOCK`] instructions), ending early before any instruction
//! the translator does not handle (system, CSR, fences, the extensions' operations). The
//! code generator emits host code for the simple operations only: the RV32I ALU, the RV32M
//! multiplies, `lui`/`auipc`, branches and jumps, aligned loads (`lb`..`lw`, `flw`) from the
//! region the [`FastBus`] holds, and the round-to-nearest-even fast path of `fmadd.s`-family,
//! `fadd.s`, `fsub.s` and `fmul.s` (the same f64 operations as [`crate::fp::fma`] and
//! [`crate::fp::binary`], which serve whatever that path leaves). Everything else a block
//! holds calls the one semantics body of that instruction: `exec::execute_at` (under
//! [`crate::exec::execute`]) for the other F computations, divides and the fast paths'
//! fallbacks, `exec::store` for every store, `exec::load` for misaligned loads and loads
//! outside the held region. The emitted operations are the only second implementations;
//! `jit::tests` (random blocks) and `tests/tests/jit_diff.rs` (every committed ELF, the QEMU
//! differential's random programs) prove them equal to the interpreter.
//!
//! Exactness: a block enters only with budget for all its instructions and counts them
//! itself; an instruction that would raise an exception leaves the block before it (a
//! "side exit": state unchanged, the pc at that instruction), so the interpreter executes it
//! again and takes the trap precisely. A store that touched decoded code or `tohost` ends the
//! block right after it, so the runner invalidates blocks or serves the host before any other
//! instruction runs. A block whose last instruction branches back to its own start loops
//! inside the host code while the budget lasts.
//!
//! Blocks are compiled once their start pc has been interpreted [`DEFAULT_THRESHOLD`] times
//! ([`crate::machine::Machine::set_jit_threshold`]), cached by pc, and dropped when an
//! instruction they hold is no longer decoded (a store into it, `fence.i`, a debugger write).

use crate::decode::{Class, Inst, Op};
use crate::exec::{self, execute_at, Retired};
use crate::hart::{mstatus, Hart};
use crate::mem::{FastBus, Size};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, AbiParam, Block as IrBlock, BlockArg, Endianness, InstBuilder, MemFlags, Signature,
    Value,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::Module;
use std::mem::offset_of;

/// Most instructions in one block.
pub const MAX_BLOCK: usize = 64;

/// Interpretations of a pc after which a block starting there is compiled.
/// Compiling a block (and, the first time, making the Cranelift module) costs as much host
/// time as interpreting a short block some thousands of times (`functional/lora_matvec` in
/// the criterion benchmark: 19,608 instructions, slower with blocks compiled after 1000).
pub const DEFAULT_THRESHOLD: u16 = 5000;

/// What a block's host code returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Ran to its end: `Ctx::pc` is the next pc; another block may follow at once.
    Done,
    /// Stopped before the instruction at `Ctx::pc` (or did not start: too little budget, FPU
    /// off): the interpreter executes that instruction next.
    Exit,
    /// A store touched decoded code or `tohost`; `Ctx::pc` is the next pc.
    Event,
}

const DONE: u32 = 0;
const EXIT: u32 = 1;
const EVENT: u32 = 2;

/// The block's view of the run, shared with the host code through fixed offsets.
#[repr(C)]
pub(crate) struct Ctx {
    hart: *mut Hart,
    bus: *mut FastBus<'static>,
    data: *const u8,
    data_len: u64,
    data_base: u32,
    /// In: the block's start; out: the next pc (see [`Status`]).
    pub(crate) pc: u32,
    /// Instructions the run may still execute (the block subtracts its own).
    pub(crate) left: u64,
    /// The pc of the last instruction the block executed (unchanged if none).
    pub(crate) last_pc: u32,
}

type BlockFn = unsafe extern "C" fn(*mut Ctx) -> u32;

/// An entry of [`Jit::entry`]: no block starts here, none can (checked once), or one does.
const NONE: u32 = 0;
const UNTRANSLATABLE: u32 = u32::MAX;

struct Block {
    start: usize,
    len: usize,
    code: BlockFn,
    /// The decoded instructions the block's calls pass to the semantics bodies (kept alive
    /// as long as the code).
    _insts: Box<[Inst]>,
}

/// The translator and its cache of compiled blocks for one code segment.
pub(crate) struct Jit {
    /// Made at the first compilation (None before, or when the host has no back end).
    module: Option<JITModule>,
    fctx: FunctionBuilderContext,
    blocks: Vec<Option<Block>>,
    /// Per instruction slot of the segment: [`NONE`], [`UNTRANSLATABLE`] or block index + 1.
    entry: Vec<u32>,
    heat: Vec<u16>,
    threshold: u16,
    code_base: u32,
}

// SAFETY: the JIT module owns its code memory and the raw pointers it keeps point into it;
// nothing is shared with another thread, so moving the whole `Jit` between threads is sound.
unsafe impl Send for Jit {}

impl Drop for Jit {
    fn drop(&mut self) {
        self.blocks.clear();
        if let Some(module) = self.module.take() {
            // SAFETY: the blocks (the only holders of pointers into the code) are gone.
            unsafe { module.free_memory() };
        }
    }
}

fn new_module() -> Option<JITModule> {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").ok()?;
    flags.set("is_pic", "false").ok()?;
    // The verifier checks the translator's IR: on in debug builds (the tests), off in release
    // (it costs as much as the compilation).
    let verify = if cfg!(debug_assertions) {
        "true"
    } else {
        "false"
    };
    flags.set("enable_verifier", verify).ok()?;
    let isa = cranelift_native::builder()
        .ok()?
        .finish(settings::Flags::new(flags))
        .ok()?;
    Some(JITModule::new(JITBuilder::with_isa(
        isa,
        cranelift_module::default_libcall_names(),
    )))
}

/// How the translator handles an instruction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Emitted as host code.
    Inline,
    /// A call to its semantics body ([`execute_at`]).
    Call,
    /// A store: a call to `exec::store`.
    Store,
    /// A branch or jump: emitted, and the block ends.
    End,
    /// Not in blocks: the block ends before it.
    No,
}

fn kind(inst: &Inst, pc: u32) -> Kind {
    match inst.op {
        Op::Jal | Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
            // A misaligned constant target traps: leave it to the interpreter.
            if pc.wrapping_add(inst.imm as u32) & 3 == 0 {
                Kind::End
            } else {
                Kind::No
            }
        }
        Op::Jalr => Kind::End,
        Op::Sb | Op::Sh | Op::Sw | Op::Fsw => Kind::Store,
        Op::Lui
        | Op::Auipc
        | Op::Lb
        | Op::Lh
        | Op::Lw
        | Op::Lbu
        | Op::Lhu
        | Op::Flw
        | exec::int_ops!() => Kind::Inline,
        // F computations of the base ISA and the divides retire straight-line (pc + 4) or
        // raise an exception; they do not touch memory.
        _ if inst.op.extension().is_none()
            && matches!(
                inst.op.class(),
                Class::Div
                    | Class::FpFma
                    | Class::FpAdd
                    | Class::FpMul
                    | Class::FpDiv
                    | Class::FpSqrt
                    | Class::FpNonComp
                    | Class::FpConv
                    | Class::FpMove
            ) =>
        {
            Kind::Call
        }
        _ => Kind::No,
    }
}

/// Runs one instruction through its semantics body; 0 when it retired, 1 when it would raise
/// an exception (nothing changed).
extern "C" fn call_execute(ctx: *mut Ctx, inst: *const Inst, pc: u32) -> u32 {
    // SAFETY: the runner fills `ctx` with its live hart and bus for the block's duration and
    // does not touch them meanwhile; `inst` points into the block's own instructions.
    let (ctx, inst) = unsafe { (&mut *ctx, *inst) };
    let (hart, bus) = unsafe { (&mut *ctx.hart, &mut *ctx.bus) };
    match execute_at(inst, hart, bus, pc) {
        Ok((Retired::Normal, _)) => 0,
        // `kind` admits only operations that retire straight-line or raise.
        Ok(_) => unreachable!("{:?} retired non-sequentially in a block", inst.op),
        Err(_) => 1,
    }
}

/// A store through `exec::store`: 0 done, 1 it would raise an exception (nothing
/// changed), 2 done and it touched decoded code or `tohost`.
extern "C" fn call_store(ctx: *mut Ctx, addr: u32, value: u32, size: u32) -> u32 {
    // SAFETY: as in `call_execute`.
    let ctx = unsafe { &mut *ctx };
    let (hart, bus) = unsafe { (&mut *ctx.hart, &mut *ctx.bus) };
    match exec::store(hart, bus, addr, size_of(size), value) {
        Ok(()) if bus.tohost_touched || bus.code_stored => 2,
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// A load through `exec::load` (misaligned, or outside the held region): the value, or
/// 1 << 32 when it would raise an exception.
extern "C" fn call_load(ctx: *mut Ctx, addr: u32, size: u32) -> u64 {
    // SAFETY: as in `call_execute`.
    let ctx = unsafe { &mut *ctx };
    let (hart, bus) = unsafe { (&mut *ctx.hart, &mut *ctx.bus) };
    match exec::load(hart, bus, addr, size_of(size)) {
        Ok(v) => u64::from(v),
        Err(_) => 1 << 32,
    }
}

fn size_of(bytes: u32) -> Size {
    match bytes {
        1 => Size::Byte,
        2 => Size::Half,
        _ => Size::Word,
    }
}

impl Jit {
    /// A translator for the code segment at `code_base` of `slots` instructions (on a host
    /// without a Cranelift back end it never compiles a block).
    pub(crate) fn new(code_base: u32, slots: usize, threshold: u16) -> Jit {
        Jit {
            module: None,
            fctx: FunctionBuilderContext::new(),
            blocks: Vec::new(),
            entry: vec![NONE; slots],
            heat: vec![0; slots],
            threshold: threshold.max(1),
            code_base,
        }
    }

    /// The segment this translator serves.
    pub(crate) fn serves(&self, code_base: u32, slots: usize) -> bool {
        self.code_base == code_base && self.entry.len() == slots
    }

    /// The block starting at `pc`, compiling it if `pc` has become hot (`code` holds the
    /// segment's decoded instructions).
    #[inline(always)]
    pub(crate) fn lookup(&mut self, pc: u32, code: &[Option<Inst>]) -> Option<usize> {
        let slot = (pc.wrapping_sub(self.code_base) / 4) as usize;
        match *self.entry.get(slot)? {
            NONE => {
                let h = &mut self.heat[slot];
                *h += 1;
                if *h < self.threshold {
                    return None;
                }
                *h = 0;
                self.compile(slot, code)
            }
            UNTRANSLATABLE => None,
            b => Some(b as usize - 1),
        }
    }

    /// Runs block `b` with `ctx` (the runner has set everything but the block's start).
    #[inline(always)]
    pub(crate) fn run(&self, b: usize, ctx: &mut Ctx) -> Status {
        let Some(block) = &self.blocks[b] else {
            return Status::Exit;
        };
        ctx.pc = self.code_base.wrapping_add(4 * block.start as u32);
        // SAFETY: the code was compiled for this `Ctx` layout; its calls get `ctx` back.
        match unsafe { (block.code)(ctx) } {
            DONE => Status::Done,
            EVENT => Status::Event,
            _ => Status::Exit,
        }
    }

    /// Drops every block holding an instruction slot that is no longer decoded.
    pub(crate) fn drop_stale(&mut self, code: &[Option<Inst>]) {
        for b in &mut self.blocks {
            let stale = b
                .as_ref()
                .is_some_and(|k| code[k.start..k.start + k.len].iter().any(Option::is_none));
            if stale {
                if let Some(k) = b.take() {
                    self.entry[k.start] = NONE;
                }
            }
        }
        // Slots found untranslatable may hold other instructions now.
        for (e, c) in self.entry.iter_mut().zip(code) {
            if *e == UNTRANSLATABLE && c.is_none() {
                *e = NONE;
            }
        }
    }

    /// Drops every block (the decoded instructions were all dropped).
    pub(crate) fn drop_all(&mut self) {
        for b in &mut self.blocks {
            *b = None;
        }
        self.entry.fill(NONE);
        self.heat.fill(0);
    }

    /// Compiles the block at `slot`; marks the slot untranslatable if no block can start
    /// there.
    fn compile(&mut self, slot: usize, code: &[Option<Inst>]) -> Option<usize> {
        let start_pc = self.code_base.wrapping_add(4 * slot as u32);
        let mut insts = Vec::new();
        let end = code.len().min(slot + MAX_BLOCK);
        for (s, decoded) in code[slot..end].iter().enumerate() {
            let Some(inst) = *decoded else { break };
            let pc = self.code_base.wrapping_add(4 * (slot + s) as u32);
            match kind(&inst, pc) {
                Kind::No => break,
                Kind::End => {
                    insts.push(inst);
                    break;
                }
                _ => insts.push(inst),
            }
        }
        if insts.is_empty() {
            // Not decoded yet (the interpreter decodes it first), or not translatable.
            if code[slot].is_some() {
                self.entry[slot] = UNTRANSLATABLE;
            }
            return None;
        }
        let insts = insts.into_boxed_slice();
        let Some(code) = self.translate(start_pc, &insts) else {
            self.entry[slot] = UNTRANSLATABLE;
            return None;
        };
        let index = self.blocks.len();
        self.blocks.push(Some(Block {
            start: slot,
            len: insts.len(),
            code,
            _insts: insts,
        }));
        self.entry[slot] = index as u32 + 1;
        // The instructions inside were interpreted as often as the start: without this,
        // the few interpretations after a side exit would soon compile a block at each.
        let end = (slot + self.blocks[index].as_ref().map_or(0, |k| k.len)).min(self.heat.len());
        self.heat[slot..end].fill(0);
        Some(index)
    }

    /// Host code for the instructions `insts` starting at `start_pc`.
    fn translate(&mut self, start_pc: u32, insts: &[Inst]) -> Option<BlockFn> {
        if self.module.is_none() {
            self.module = Some(new_module()?);
        }
        let module = self.module.as_mut()?;
        let ptr = module.target_config().pointer_type();
        let mut ctx = module.make_context();
        ctx.func.signature.params.push(AbiParam::new(ptr));
        ctx.func.signature.returns.push(AbiParam::new(types::I32));
        let call_sig = |params: &[types::Type], ret: types::Type| {
            let mut s = Signature::new(module.isa().default_call_conv());
            s.params.extend(params.iter().map(|&t| AbiParam::new(t)));
            s.returns.push(AbiParam::new(ret));
            s
        };
        let exec_sig = call_sig(&[ptr, ptr, types::I32], types::I32);
        let store_sig = call_sig(&[ptr, types::I32, types::I32, types::I32], types::I32);
        let load_sig = call_sig(&[ptr, types::I32, types::I32], types::I64);

        let mut b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
        let exec_sig = b.import_signature(exec_sig);
        let store_sig = b.import_signature(store_sig);
        let load_sig = b.import_signature(load_sig);
        let n = insts.len();
        let pc_of = |i: usize| start_pc.wrapping_add(4 * i as u32);
        let trusted = MemFlags::trusted();
        let guest = MemFlags::new()
            .with_notrap()
            .with_endianness(Endianness::Little);

        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        let head = b.create_block();
        let body = b.create_block();
        b.switch_to_block(entry);
        let cx = b.block_params(entry)[0];
        let hart = b.ins().load(ptr, trusted, cx, offset_of!(Ctx, hart) as i32);
        let data = b.ins().load(ptr, trusted, cx, offset_of!(Ctx, data) as i32);
        let data_len = b
            .ins()
            .load(types::I64, trusted, cx, offset_of!(Ctx, data_len) as i32);
        let data_base = b
            .ins()
            .load(types::I32, trusted, cx, offset_of!(Ctx, data_base) as i32);
        let ret = |b: &mut FunctionBuilder, code: u32| {
            let v = b.ins().iconst(types::I32, i64::from(code));
            b.ins().return_(&[v]);
        };
        let store_ctx32 = |b: &mut FunctionBuilder, field: usize, v: u32| {
            let v = c32(b, v);
            b.ins().store(trusted, v, cx, field as i32);
        };
        // FP loads, stores and fast paths need the FPU on (nothing in a block turns it off).
        if insts
            .iter()
            .any(|i| matches!(i.op, Op::Flw | Op::Fsw) || fast_fp(i))
        {
            let ms = b
                .ins()
                .load(types::I32, trusted, hart, offset_of!(Hart, mstatus) as i32);
            let fs = b.ins().band_imm(ms, i64::from(mstatus::FS));
            let off = b.create_block();
            b.ins().brif(fs, head, &[], off, &[]);
            b.switch_to_block(off);
            ret(&mut b, EXIT);
        } else {
            b.ins().jump(head, &[]);
        }

        // head: take the budget for the whole block, or leave it to the interpreter.
        b.switch_to_block(head);
        let left = b
            .ins()
            .load(types::I64, trusted, cx, offset_of!(Ctx, left) as i32);
        let short = b.ins().icmp_imm(IntCC::UnsignedLessThan, left, n as i64);
        let no_budget = b.create_block();
        b.ins().brif(short, no_budget, &[], body, &[]);
        b.switch_to_block(no_budget);
        store_ctx32(&mut b, offset_of!(Ctx, pc), start_pc);
        ret(&mut b, EXIT);
        b.switch_to_block(body);
        let rest = b.ins().iadd_imm(left, -(n as i64));
        b.ins()
            .store(trusted, rest, cx, offset_of!(Ctx, left) as i32);

        // Leaving after `done` of the n instructions, at `pc` (the budget not used is given
        // back).
        let leave = |b: &mut FunctionBuilder, done: usize, pc: u32, status: u32| {
            if done < n {
                let l = b
                    .ins()
                    .load(types::I64, trusted, cx, offset_of!(Ctx, left) as i32);
                let l = b.ins().iadd_imm(l, (n - done) as i64);
                b.ins().store(trusted, l, cx, offset_of!(Ctx, left) as i32);
            }
            store_ctx32(b, offset_of!(Ctx, pc), pc);
            if done > 0 {
                store_ctx32(b, offset_of!(Ctx, last_pc), pc_of(done - 1));
            }
            ret(b, status);
        };
        // One side exit for the whole block, told the instruction's index.
        let exit_block = b.create_block();
        b.append_block_param(exit_block, types::I32);
        let side_exit = |b: &mut FunctionBuilder, i: usize| -> (IrBlock, BlockArg) {
            let k = b.ins().iconst(types::I32, i as i64);
            (exit_block, k.into())
        };

        let x_off = |r: u8| (offset_of!(Hart, x) + 4 * (r as usize & 31)) as i32;
        let f_off = |r: u8| (offset_of!(Hart, f) + 4 * (r as usize & 31)) as i32;
        let rx = |b: &mut FunctionBuilder, r: u8| -> Value {
            if r == 0 {
                b.ins().iconst(types::I32, 0)
            } else {
                b.ins().load(types::I32, trusted, hart, x_off(r))
            }
        };
        let wx = |b: &mut FunctionBuilder, r: u8, v: Value| {
            if r != 0 {
                b.ins().store(trusted, v, hart, x_off(r));
            }
        };

        let mut ended = false;
        for (i, inst) in insts.iter().enumerate() {
            let pc = pc_of(i);
            let imm = i64::from(inst.imm);
            match kind(inst, pc) {
                Kind::Call => {
                    let call = b.create_block();
                    let join = b.create_block();
                    if fast_fp(inst) {
                        let go = b.create_block();
                        if inst.rm == 7 {
                            // Dynamic rounding: the fast path serves frm = RNE only.
                            let frm = b.ins().uload8(
                                types::I32,
                                trusted,
                                hart,
                                offset_of!(Hart, frm) as i32,
                            );
                            b.ins().brif(frm, call, &[], go, &[]);
                        } else {
                            b.ins().jump(go, &[]);
                        }
                        b.switch_to_block(go);
                        let (r, flag, ok) = fp_rne(&mut b, inst, hart, &f_off);
                        let write = b.create_block();
                        b.ins().brif(ok, write, &[], call, &[]);
                        b.switch_to_block(write);
                        write_f(&mut b, hart, f_off(inst.rd), r);
                        let fl = b.ins().uload8(
                            types::I32,
                            trusted,
                            hart,
                            offset_of!(Hart, fflags) as i32,
                        );
                        let fl = b.ins().bor(fl, flag);
                        b.ins()
                            .istore8(trusted, fl, hart, offset_of!(Hart, fflags) as i32);
                        b.ins().jump(join, &[]);
                    } else {
                        b.ins().jump(call, &[]);
                    }
                    b.switch_to_block(call);
                    let f = b.ins().iconst(ptr, inst as *const Inst as i64);
                    let callee = b
                        .ins()
                        .iconst(ptr, call_execute as *const () as usize as i64);
                    let p = c32(&mut b, pc);
                    let call = b.ins().call_indirect(exec_sig, callee, &[cx, f, p]);
                    let r = b.inst_results(call)[0];
                    let (exit, k) = side_exit(&mut b, i);
                    b.ins().brif(r, exit, &[k], join, &[]);
                    b.switch_to_block(join);
                }
                Kind::Store => {
                    let addr = rx(&mut b, inst.rs1);
                    let k = c32(&mut b, imm as u32);
                    let addr = b.ins().iadd(addr, k);
                    let value = if inst.op == Op::Fsw {
                        b.ins().load(types::I32, trusted, hart, f_off(inst.rs2))
                    } else {
                        rx(&mut b, inst.rs2)
                    };
                    let bytes = match inst.op {
                        Op::Sb => 1,
                        Op::Sh => 2,
                        _ => 4,
                    };
                    let size = b.ins().iconst(types::I32, bytes);
                    let callee = b.ins().iconst(ptr, call_store as *const () as usize as i64);
                    let call = b
                        .ins()
                        .call_indirect(store_sig, callee, &[cx, addr, value, size]);
                    let r = b.inst_results(call)[0];
                    let next = b.create_block();
                    let not_ok = b.create_block();
                    let event = b.create_block();
                    b.ins().brif(r, not_ok, &[], next, &[]);
                    b.switch_to_block(not_ok);
                    let is_event = b.ins().icmp_imm(IntCC::Equal, r, i64::from(EVENT));
                    let (exit, k) = side_exit(&mut b, i);
                    b.ins().brif(is_event, event, &[], exit, &[k]);
                    b.switch_to_block(event);
                    leave(&mut b, i + 1, pc.wrapping_add(4), EVENT);
                    b.switch_to_block(next);
                }
                Kind::Inline => {
                    let op = inst.op;
                    let v = match op {
                        Op::Lui => Some(c32(&mut b, imm as u32)),
                        Op::Auipc => Some(c32(&mut b, pc.wrapping_add(imm as u32))),
                        Op::Lb | Op::Lh | Op::Lw | Op::Lbu | Op::Lhu | Op::Flw => {
                            let bytes: i64 = match op {
                                Op::Lb | Op::Lbu => 1,
                                Op::Lh | Op::Lhu => 2,
                                _ => 4,
                            };
                            let addr = rx(&mut b, inst.rs1);
                            let k = c32(&mut b, imm as u32);
                            let addr = b.ins().iadd(addr, k);
                            let fast = b.create_block();
                            let slow = b.create_block();
                            let join = b.create_block();
                            b.append_block_param(join, types::I32);
                            // Aligned and inside the held region: host load.
                            let off = b.ins().isub(addr, data_base);
                            let off = b.ins().uextend(types::I64, off);
                            let end = b.ins().iadd_imm(off, bytes);
                            let outside = b.ins().icmp(IntCC::UnsignedGreaterThan, end, data_len);
                            let odd = if bytes > 1 {
                                let m = b.ins().band_imm(addr, bytes - 1);
                                b.ins().icmp_imm(IntCC::NotEqual, m, 0)
                            } else {
                                b.ins().iconst(types::I8, 0)
                            };
                            let miss = b.ins().bor(outside, odd);
                            b.ins().brif(miss, slow, &[], fast, &[]);
                            b.switch_to_block(fast);
                            let p = b.ins().iadd(data, off);
                            let v = match op {
                                Op::Lb => b.ins().sload8(types::I32, guest, p, 0),
                                Op::Lbu => b.ins().uload8(types::I32, guest, p, 0),
                                Op::Lh => b.ins().sload16(types::I32, guest, p, 0),
                                Op::Lhu => b.ins().uload16(types::I32, guest, p, 0),
                                _ => b.ins().load(types::I32, guest, p, 0),
                            };
                            b.ins().jump(join, &[v.into()]);
                            // Otherwise the load's own body (misaligned policy, other
                            // regions, faults).
                            b.switch_to_block(slow);
                            let callee =
                                b.ins().iconst(ptr, call_load as *const () as usize as i64);
                            let sz = b.ins().iconst(types::I32, bytes);
                            let call = b.ins().call_indirect(load_sig, callee, &[cx, addr, sz]);
                            let r = b.inst_results(call)[0];
                            let fault = b.ins().ushr_imm(r, 32);
                            let ok = b.create_block();
                            let (exit, k) = side_exit(&mut b, i);
                            b.ins().brif(fault, exit, &[k], ok, &[]);
                            b.switch_to_block(ok);
                            let v = b.ins().ireduce(types::I32, r);
                            let v = match op {
                                Op::Lb => {
                                    let v = b.ins().ireduce(types::I8, v);
                                    b.ins().sextend(types::I32, v)
                                }
                                Op::Lh => {
                                    let v = b.ins().ireduce(types::I16, v);
                                    b.ins().sextend(types::I32, v)
                                }
                                _ => v,
                            };
                            b.ins().jump(join, &[v.into()]);
                            b.switch_to_block(join);
                            let v = b.block_params(join)[0];
                            if op == Op::Flw {
                                write_f(&mut b, hart, f_off(inst.rd), v);
                                None
                            } else {
                                Some(v)
                            }
                        }
                        _ => {
                            let a = rx(&mut b, inst.rs1);
                            Some(int_op(&mut b, op, a, inst.rs2, imm, &rx))
                        }
                    };
                    if let Some(v) = v {
                        wx(&mut b, inst.rd, v);
                    }
                }
                Kind::End => {
                    ended = true;
                    let next_pc = pc.wrapping_add(4);
                    // The pc after the jump or taken branch: loop, or return it.
                    let to = |b: &mut FunctionBuilder, target: u32| {
                        if target == start_pc {
                            store_ctx32(b, offset_of!(Ctx, last_pc), pc);
                            b.ins().jump(head, &[]);
                        } else {
                            leave(b, n, target, DONE);
                        }
                    };
                    let target = pc.wrapping_add(imm as u32);
                    match inst.op {
                        Op::Jal => {
                            let link = c32(&mut b, next_pc);
                            wx(&mut b, inst.rd, link);
                            to(&mut b, target);
                        }
                        Op::Jalr => {
                            let t = rx(&mut b, inst.rs1);
                            let k = c32(&mut b, imm as u32);
                            let t = b.ins().iadd(t, k);
                            let k = c32(&mut b, !1);
                            let t = b.ins().band(t, k);
                            let odd = b.ins().band_imm(t, 3);
                            let ok = b.create_block();
                            let (exit, k) = side_exit(&mut b, i);
                            b.ins().brif(odd, exit, &[k], ok, &[]);
                            b.switch_to_block(ok);
                            let link = c32(&mut b, next_pc);
                            wx(&mut b, inst.rd, link);
                            b.ins().store(trusted, t, cx, offset_of!(Ctx, pc) as i32);
                            store_ctx32(&mut b, offset_of!(Ctx, last_pc), pc);
                            ret(&mut b, DONE);
                        }
                        _ => {
                            let x1 = rx(&mut b, inst.rs1);
                            let x2 = rx(&mut b, inst.rs2);
                            let cc = match inst.op {
                                Op::Beq => IntCC::Equal,
                                Op::Bne => IntCC::NotEqual,
                                Op::Blt => IntCC::SignedLessThan,
                                Op::Bge => IntCC::SignedGreaterThanOrEqual,
                                Op::Bltu => IntCC::UnsignedLessThan,
                                _ => IntCC::UnsignedGreaterThanOrEqual,
                            };
                            let c = b.ins().icmp(cc, x1, x2);
                            let taken = b.create_block();
                            let not_taken = b.create_block();
                            b.ins().brif(c, taken, &[], not_taken, &[]);
                            b.switch_to_block(taken);
                            to(&mut b, target);
                            b.switch_to_block(not_taken);
                            leave(&mut b, n, next_pc, DONE);
                        }
                    }
                }
                Kind::No => unreachable!("compile() stops before untranslatable instructions"),
            }
        }
        if !ended {
            leave(&mut b, n, pc_of(n), DONE);
        }
        // Side exit before instruction k: give back the budget of n - k instructions, the
        // pc is k's, the last executed k - 1's (unchanged when k = 0).
        b.switch_to_block(exit_block);
        let k = b.block_params(exit_block)[0];
        let k64 = b.ins().uextend(types::I64, k);
        let l = b
            .ins()
            .load(types::I64, trusted, cx, offset_of!(Ctx, left) as i32);
        let l = b.ins().iadd_imm(l, n as i64);
        let l = b.ins().isub(l, k64);
        b.ins().store(trusted, l, cx, offset_of!(Ctx, left) as i32);
        let at = b.ins().imul_imm(k, 4);
        let at = b.ins().iadd_imm(at, i64::from(start_pc));
        b.ins().store(trusted, at, cx, offset_of!(Ctx, pc) as i32);
        let prev = b.ins().iadd_imm(at, -4);
        let old = b
            .ins()
            .load(types::I32, trusted, cx, offset_of!(Ctx, last_pc) as i32);
        let last = b.ins().select(k, prev, old);
        b.ins()
            .store(trusted, last, cx, offset_of!(Ctx, last_pc) as i32);
        ret(&mut b, EXIT);
        b.seal_all_blocks();
        b.finalize();

        let id = module
            .declare_anonymous_function(&ctx.func.signature)
            .ok()?;
        module.define_function(id, &mut ctx).ok()?;
        module.clear_context(&mut ctx);
        module.finalize_definitions().ok()?;
        let code = module.get_finalized_function(id);
        // SAFETY: the function was built with the `BlockFn` signature above.
        Some(unsafe { std::mem::transmute::<*const u8, BlockFn>(code) })
    }
}

/// True for the F computations with a host fast path in blocks ([`fp_rne`]): static RNE or
/// dynamic rounding (checked against frm in the block).
fn fast_fp(inst: &Inst) -> bool {
    matches!(
        inst.op,
        Op::FmaddS | Op::FmsubS | Op::FnmsubS | Op::FnmaddS | Op::FaddS | Op::FsubS | Op::FmulS
    ) && (inst.rm == 0 || inst.rm == 7)
}

/// Host code of `fp::fma`'s and `fp::binary`'s round-to-nearest-even fast path, the same
/// f64 operations in the same order: the f64 product of two f32 is exact, TwoSum says
/// whether the f64 sum is, and an exact sum whose f32 rounding is normal above the smallest
/// normal (or zero) is the correctly rounded result, inexact when the rounding changed it.
/// Returns (result bits, NX flag as i32, ok); when not ok the block calls the exact body.
fn fp_rne(
    b: &mut FunctionBuilder,
    inst: &Inst,
    hart: Value,
    f_off: &dyn Fn(u8) -> i32,
) -> (Value, Value, Value) {
    let trusted = MemFlags::trusted();
    let mut operand = |r: u8, negate: bool| {
        let v = b.ins().load(types::F32, trusted, hart, f_off(r));
        // fneg flips the sign bit only, as `fma_signs` does.
        let v = if negate { b.ins().fneg(v) } else { v };
        b.ins().fpromote(types::F64, v)
    };
    let two_sum = |b: &mut FunctionBuilder, x: Value, y: Value| {
        let s = b.ins().fadd(x, y);
        let bb = b.ins().fsub(s, x);
        let t = b.ins().fsub(s, bb);
        let e1 = b.ins().fsub(x, t);
        let e2 = b.ins().fsub(y, bb);
        let err = b.ins().fadd(e1, e2);
        let zero = b.ins().f64const(0.0);
        let exact = b.ins().fcmp(FloatCC::Equal, err, zero);
        (s, exact)
    };
    let (s, exact) = match inst.op {
        Op::FaddS | Op::FsubS => {
            let x = operand(inst.rs1, false);
            let y = operand(inst.rs2, inst.op == Op::FsubS);
            two_sum(b, x, y)
        }
        Op::FmulS => {
            let x = operand(inst.rs1, false);
            let y = operand(inst.rs2, false);
            let p = b.ins().fmul(x, y);
            (p, b.ins().iconst(types::I8, 1))
        }
        op => {
            let x = operand(inst.rs1, matches!(op, Op::FnmsubS | Op::FnmaddS));
            let y = operand(inst.rs2, false);
            let z = operand(inst.rs3, matches!(op, Op::FmsubS | Op::FnmaddS));
            let p = b.ins().fmul(x, y);
            two_sum(b, p, z)
        }
    };
    let r = b.ins().fdemote(types::F32, s);
    let bits = b.ins().bitcast(types::I32, MemFlags::new(), r);
    // normal_above_min: |r| in (MIN_POSITIVE, inf).
    let mag = b.ins().band_imm(bits, 0x7fff_ffff);
    let m = b.ins().iadd_imm(mag, -0x0080_0001);
    let normal = b
        .ins()
        .icmp_imm(IntCC::UnsignedLessThan, m, 0x7f80_0000 - 0x0080_0001);
    let zero = b.ins().f64const(0.0);
    let is_zero = b.ins().fcmp(FloatCC::Equal, s, zero);
    let fits = b.ins().bor(normal, is_zero);
    let ok = b.ins().band(exact, fits);
    let back = b.ins().fpromote(types::F64, r);
    let changed = b.ins().fcmp(FloatCC::NotEqual, back, s);
    let nx = b.ins().uextend(types::I32, changed);
    (bits, nx, ok)
}

/// Host code of an F register write: the value `v` at `offset` in the hart, and `mstatus.FS`
/// dirty, as the interpreter's F register writes do.
fn write_f(b: &mut FunctionBuilder, hart: Value, offset: i32, v: Value) {
    let trusted = MemFlags::trusted();
    let at = offset_of!(Hart, mstatus) as i32;
    b.ins().store(trusted, v, hart, offset);
    let ms = b.ins().load(types::I32, trusted, hart, at);
    let ms = b.ins().bor_imm(ms, i64::from(mstatus::FS));
    b.ins().store(trusted, ms, hart, at);
}

/// An `i32` constant (Cranelift wants narrow immediates zero-extended).
fn c32(b: &mut FunctionBuilder, v: u32) -> Value {
    b.ins().iconst(types::I32, i64::from(v))
}

/// Host code of an integer ALU or multiply operation (the operations `exec::int_op`
/// computes; `tests` check each against it). Register-immediate forms take `imm` (shift
/// amounts included) in place of `rs2`.
fn int_op(
    b: &mut FunctionBuilder,
    op: Op,
    a: Value,
    rs2: u8,
    imm: i64,
    rx: &dyn Fn(&mut FunctionBuilder, u8) -> Value,
) -> Value {
    let c = match op {
        Op::Addi | Op::Slti | Op::Sltiu | Op::Xori | Op::Ori | Op::Andi => c32(b, imm as u32),
        Op::Slli | Op::Srli | Op::Srai => c32(b, imm as u32 & 31),
        _ => rx(b, rs2),
    };
    let flag = |b: &mut FunctionBuilder, cc: IntCC| {
        let f = b.ins().icmp(cc, a, c);
        b.ins().uextend(types::I32, f)
    };
    match op {
        Op::Add | Op::Addi => b.ins().iadd(a, c),
        Op::Sub => b.ins().isub(a, c),
        // Cranelift masks shift amounts to the type's width, as RV32 does.
        Op::Sll | Op::Slli => b.ins().ishl(a, c),
        Op::Srl | Op::Srli => b.ins().ushr(a, c),
        Op::Sra | Op::Srai => b.ins().sshr(a, c),
        Op::Slt | Op::Slti => flag(b, IntCC::SignedLessThan),
        Op::Sltu | Op::Sltiu => flag(b, IntCC::UnsignedLessThan),
        Op::Xor | Op::Xori => b.ins().bxor(a, c),
        Op::Or | Op::Ori => b.ins().bor(a, c),
        Op::And | Op::Andi => b.ins().band(a, c),
        Op::Mul => b.ins().imul(a, c),
        Op::Mulh => b.ins().smulhi(a, c),
        Op::Mulhu => b.ins().umulhi(a, c),
        _ => {
            // mulhsu: signed x unsigned, high word.
            let a = b.ins().sextend(types::I64, a);
            let c = b.ins().uextend(types::I64, c);
            let p = b.ins().imul(a, c);
            let p = b.ins().sshr_imm(p, 32);
            b.ins().ireduce(types::I32, p)
        }
    }
}

impl Ctx {
    /// A context for blocks run on `hart` over `bus` (whose held region the blocks read
    /// directly). The pointers stay valid while the caller neither moves nor touches `hart`
    /// and `bus` between this call and the last [`Jit::run`] with the context.
    pub(crate) fn new(hart: &mut Hart, bus: &mut FastBus<'_>, left: u64, last_pc: u32) -> Ctx {
        let (data, data_len, data_base) = bus.held();
        Ctx {
            hart,
            bus: (bus as *mut FastBus<'_>).cast(),
            data,
            data_len: data_len as u64,
            data_base,
            pc: 0,
            left,
            last_pc,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Blocks against the interpreter: random straight-line sequences of every operation a
    //! block emits or calls (integer ALU and multiplies, divides, loads and stores of every
    //! width, aligned or not, in and out of the held region, FP fast paths under every
    //! rounding mode and frm, other F operations, frm changes that end a block), looped three
    //! times so blocks run compiled, under both misaligned policies; the whole final state
    //! must be equal.
    use crate::asm::{addi, b, i, lui, r, r4, s, ECALL};
    use crate::elf::{Program, Segment};
    use crate::hart::Misaligned;
    use crate::machine::{Machine, MachineConfig};
    use proptest::prelude::*;

    const BASE: u32 = 0x8000_0000;
    const DATA: u32 = BASE + 0x1000;
    /// x31 holds DATA, x30 an unmapped address, x16 the loop counter, x17 a7.
    const DATA_REG: u32 = 31;
    const BAD_REG: u32 = 30;

    /// One random instruction of the kinds blocks handle.
    fn inst() -> impl Strategy<Value = u32> {
        let rd = 1..16u32;
        let rs = 0..16u32;
        let fr = 0..16u32;
        let rm = prop::sample::select(vec![0u32, 0, 0, 7, 7, 1, 2, 3, 4, 5]);
        let off = prop_oneof![(0..64i32).prop_map(|k| 4 * k), 0..256i32];
        prop_oneof![
            // R-type integer and M.
            (
                prop::sample::select(vec![
                    (0, 0),
                    (0x20, 0),
                    (0, 1),
                    (0, 2),
                    (0, 3),
                    (0, 4),
                    (0, 5),
                    (0x20, 5),
                    (0, 6),
                    (0, 7),
                    (1, 0),
                    (1, 1),
                    (1, 2),
                    (1, 3),
                    (1, 4),
                    (1, 5),
                    (1, 6),
                    (1, 7),
                ]),
                rs.clone(),
                rs.clone(),
                rd.clone()
            )
                .prop_map(|((f7, f3), a, c, d)| r(f7, c, a, f3, d, 0x33)),
            // I-type ALU and shifts.
            (
                prop::sample::select(vec![0u32, 2, 3, 4, 6, 7]),
                -2048..2048i32,
                rs.clone(),
                rd.clone()
            )
                .prop_map(|(f3, imm, a, d)| i(imm, a, f3, d, 0x13)),
            (
                prop::sample::select(vec![(1u32, 0i32), (5, 0), (5, 0x400)]),
                0..32i32,
                rs.clone(),
                rd.clone()
            )
                .prop_map(|((f3, hi), sh, a, d)| i(hi | sh, a, f3, d, 0x13)),
            (rd.clone(), any::<u32>()).prop_map(|(d, v)| lui(d, v >> 12)),
            (rd.clone(), any::<u32>()).prop_map(|(d, v)| (v & !0xfff) | (d << 7) | 0x17),
            // Loads and stores in the data area; now and then at an unmapped address.
            (
                prop::sample::select(vec![0u32, 1, 2, 4, 5]),
                off.clone(),
                rd.clone(),
                prop::bool::weighted(0.05)
            )
                .prop_map(|(f3, o, d, bad)| i(
                    o,
                    if bad { BAD_REG } else { DATA_REG },
                    f3,
                    d,
                    3
                )),
            (
                prop::sample::select(vec![0u32, 1, 2]),
                off.clone(),
                rs.clone()
            )
                .prop_map(|(f3, o, v)| s(o, v, DATA_REG, f3, 0x23)),
            (off.clone(), fr.clone()).prop_map(|(o, d)| i(o, DATA_REG, 2, d, 0x07)),
            (off, fr.clone()).prop_map(|(o, v)| s(o, v, DATA_REG, 2, 0x27)),
            // Fused multiply-adds and add/sub/mul (fast paths), under any rounding mode.
            (
                prop::sample::select(vec![0x43u32, 0x47, 0x4b, 0x4f]),
                fr.clone(),
                fr.clone(),
                fr.clone(),
                rm.clone(),
                fr.clone()
            )
                .prop_map(|(op, a, c, e, m, d)| r4(e, c, a, m, d, op)),
            (
                prop::sample::select(vec![0u32, 0x04, 0x08, 0x0c]),
                fr.clone(),
                fr.clone(),
                rm,
                fr.clone()
            )
                .prop_map(|(f7, a, c, m, d)| r(f7, c, a, m, d, 0x53)),
            // Sign injection, moves, compares, conversions.
            (0..3u32, fr.clone(), fr.clone(), fr.clone())
                .prop_map(|(k, a, c, d)| r(0x10, c, a, k, d, 0x53)),
            (fr.clone(), rd.clone()).prop_map(|(a, d)| r(0x70, 0, a, 0, d, 0x53)),
            (rs, fr.clone()).prop_map(|(a, d)| r(0x78, 0, a, 0, d, 0x53)),
            (0..3u32, fr.clone(), fr.clone(), rd.clone())
                .prop_map(|(k, a, c, d)| r(0x50, c, a, k, d, 0x53)),
            (fr, rd).prop_map(|(a, d)| r(0x60, 0, a, 7, d, 0x53)),
            // csrrwi zero, frm, k: ends a block; the next ones see the new mode.
            (0..5i32).prop_map(|k| i(0x002, k as u32, 5, 0, 0x73)),
        ]
    }

    /// Interesting f32 bit patterns and random ones.
    fn fp_value() -> impl Strategy<Value = u32> {
        prop_oneof![
            prop::sample::select(vec![
                0u32,
                0x8000_0000,
                0x3f80_0000,
                0xbf80_0000,
                0x7f80_0000,
                0xff80_0000,
                0x7fc0_0000,
                0x7f80_0001,
                0x0000_0001,
                0x0080_0000,
                0x0080_0001,
                0x7f7f_ffff,
                0x3400_0000,
                0x4b80_0000,
            ]),
            any::<u32>(),
            (0x3000_0000u32..0x5000_0000),
        ]
    }

    fn program(body: &[u32]) -> Program {
        // x16 = 3; body; x16 -= 1; bne x16, x0, body; a7 = 93; ecall
        let mut words = vec![addi(16, 0, 3)];
        words.extend_from_slice(body);
        words.push(addi(16, 16, -1));
        words.push(b(-4 * (body.len() as i32 + 1), 0, 16, 1));
        words.extend([addi(17, 0, 93), ECALL]);
        let data: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        Program {
            name: "block".into(),
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
        }
    }

    fn run(
        body: &[u32],
        x: &[u32],
        f: &[u32],
        frm: u8,
        data: &[u8],
        misaligned: Misaligned,
        jit: bool,
    ) -> String {
        let config = MachineConfig {
            ram_size: 1 << 16,
            misaligned,
            ..MachineConfig::default()
        };
        let mut m = Machine::new(&program(body), &config).unwrap();
        if jit {
            m.set_jit_threshold(1);
        } else {
            m.set_jit(false);
        }
        m.hart.x[1..16].copy_from_slice(x);
        m.hart.f[..16].copy_from_slice(f);
        m.hart.x[DATA_REG as usize] = DATA;
        m.hart.x[BAD_REG as usize] = 0x1000;
        m.hart.frm = frm;
        m.mem.write_bytes(DATA, data).unwrap();
        let result = m.run(10_000);
        let mem = m.mem.read_bytes(DATA, data.len() as u32).unwrap();
        format!("{result:?}\n{:?}\n{mem:?}", m.hart)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn blocks_match_the_interpreter(
            body in prop::collection::vec(inst(), 1..80),
            x in prop::collection::vec(any::<u32>(), 15),
            f in prop::collection::vec(fp_value(), 16),
            frm in prop::sample::select(vec![0u8, 0, 0, 1, 2, 3, 4]),
            data in prop::collection::vec(any::<u8>(), 512),
            allow in any::<bool>(),
        ) {
            let misaligned = if allow { Misaligned::Allow } else { Misaligned::Trap };
            let want = run(&body, &x, &f, frm, &data, misaligned, false);
            let got = run(&body, &x, &f, frm, &data, misaligned, true);
            prop_assert_eq!(got, want);
        }
    }
}
