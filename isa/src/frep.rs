//! FREP (Xfrep, Snitch `frep.o`): the FP sequencer repeats the FP instructions that follow.
//!
//! Semantics of the reference design's current (SC main) version: `frep.o rs1, n, smax, smask`
//! takes the next `n` instructions (1..=16; encoded as imm12 = n - 1, of which the sequencer uses
//! the low 4 bits) and runs that block `rs1 + 1` times in all, in order; the integer core goes on
//! after the block. In repetition k, every register field selected by `smask` (bit 0 rd, bit 1
//! rs1, bit 2 rs2, bit 3 rs3) is increased by `k mod (smax + 1)`, modulo 32 (register
//! staggering). The block's instructions must be FP-subsystem computations (no FP loads or
//! stores, no integer instructions). `execute` reports a `frep.o` as [`crate::Retired::Frep`];
//! the runner captures the block as its instructions retire once and then replays the other
//! repetitions with [`staggered`].

use crate::decode::{Class, Inst};

/// A decoded `frep.o`: what the runner must repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrepSpec {
    /// Instructions in the block (1..=16).
    pub body: u8,
    /// Repetitions in all (rs1 + 1; the first is the block's own execution).
    pub reps: u32,
    /// Stagger wrap value: offsets are k mod (stagger_max + 1).
    pub stagger_max: u8,
    /// Stagger mask: bit 0 rd, bit 1 rs1, bit 2 rs2, bit 3 rs3.
    pub stagger_mask: u8,
}

impl FrepSpec {
    /// The spec of a decoded `frep.o` whose rs1 register holds `rs1`.
    pub fn of(inst: &Inst, rs1: u32) -> FrepSpec {
        FrepSpec {
            body: ((inst.imm & 0xf) + 1) as u8,
            reps: (rs1 & 0xffff) + 1,
            stagger_max: inst.rm,
            stagger_mask: inst.rs3 & 0xf,
        }
    }
}

/// True when `inst` may stand in an FREP block (an FP-subsystem computation).
pub fn allowed_in_body(inst: &Inst) -> bool {
    inst.op.is_fp() && !matches!(inst.op.class(), Class::FpLoad | Class::FpStore)
}

/// Repetition `k` of `inst` under `spec`'s register staggering.
pub fn staggered(inst: &Inst, k: u32, spec: &FrepSpec) -> Inst {
    let off = (k % (u32::from(spec.stagger_max) + 1)) as u8;
    let bump = |r: u8, bit: u8| {
        if spec.stagger_mask & (1 << bit) != 0 {
            (r + off) & 31
        } else {
            r
        }
    };
    Inst {
        rd: bump(inst.rd, 0),
        rs1: bump(inst.rs1, 1),
        rs2: bump(inst.rs2, 2),
        rs3: bump(inst.rs3, 3),
        ..*inst
    }
}

/// Collects an FREP block as its instructions retire once.
#[derive(Clone, Debug)]
pub struct FrepCapture {
    /// The block's parameters.
    pub spec: FrepSpec,
    /// The instructions captured so far.
    pub body: Vec<Inst>,
}

impl FrepCapture {
    /// Starts capturing after a `frep.o`.
    pub fn new(spec: FrepSpec) -> FrepCapture {
        FrepCapture {
            spec,
            body: Vec::with_capacity(usize::from(spec.body)),
        }
    }

    /// Adds a retired instruction; Err if it may not stand in a block. Returns true when the
    /// block is complete.
    pub fn push(&mut self, inst: Inst) -> Result<bool, Inst> {
        if !allowed_in_body(&inst) {
            return Err(inst);
        }
        self.body.push(inst);
        Ok(self.body.len() == usize::from(self.spec.body))
    }

    /// The instructions of repetitions 1.. (the first ran as the block itself), in order.
    pub fn replays(&self) -> impl Iterator<Item = Inst> + '_ {
        (1..self.spec.reps)
            .flat_map(move |k| self.body.iter().map(move |i| staggered(i, k, &self.spec)))
    }
}
