//! Synchronous exceptions (the only traps hetsim raises; there are no interrupt sources).

use std::fmt;

/// A synchronous exception raised by an instruction, with the value that goes to mtval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exception {
    /// Cause 0: a jump or branch target that is not 4-byte aligned (tval = target).
    InstructionAddressMisaligned(u32),
    /// Cause 1: instruction fetch outside the memory map (tval = address).
    InstructionAccessFault(u32),
    /// Cause 2: illegal instruction (tval = the instruction word).
    IllegalInstruction(u32),
    /// Cause 3: ebreak (tval = pc).
    Breakpoint(u32),
    /// Cause 4: misaligned load (tval = address).
    LoadAddressMisaligned(u32),
    /// Cause 5: load outside the memory map (tval = address).
    LoadAccessFault(u32),
    /// Cause 6: misaligned store (tval = address).
    StoreAddressMisaligned(u32),
    /// Cause 7: store outside the memory map (tval = address).
    StoreAccessFault(u32),
    /// Cause 8: ecall from U-mode.
    EcallFromU,
    /// Cause 11: ecall from M-mode.
    EcallFromM,
}

impl Exception {
    /// The mcause value.
    pub fn cause(self) -> u32 {
        use Exception::*;
        match self {
            InstructionAddressMisaligned(_) => 0,
            InstructionAccessFault(_) => 1,
            IllegalInstruction(_) => 2,
            Breakpoint(_) => 3,
            LoadAddressMisaligned(_) => 4,
            LoadAccessFault(_) => 5,
            StoreAddressMisaligned(_) => 6,
            StoreAccessFault(_) => 7,
            EcallFromU => 8,
            EcallFromM => 11,
        }
    }

    /// The mtval value.
    pub fn tval(self) -> u32 {
        use Exception::*;
        match self {
            InstructionAddressMisaligned(v)
            | InstructionAccessFault(v)
            | IllegalInstruction(v)
            | Breakpoint(v)
            | LoadAddressMisaligned(v)
            | LoadAccessFault(v)
            | StoreAddressMisaligned(v)
            | StoreAccessFault(v) => v,
            EcallFromU | EcallFromM => 0,
        }
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Exception::*;
        match *self {
            InstructionAddressMisaligned(a) => write!(f, "misaligned jump target {a:#010x}"),
            InstructionAccessFault(a) => {
                write!(f, "instruction fetch from unmapped address {a:#010x}")
            }
            IllegalInstruction(w) => write!(f, "illegal instruction {w:#010x}"),
            Breakpoint(_) => write!(f, "breakpoint (ebreak)"),
            LoadAddressMisaligned(a) => write!(f, "misaligned load from {a:#010x}"),
            LoadAccessFault(a) => write!(f, "load from unmapped address {a:#010x}"),
            StoreAddressMisaligned(a) => write!(f, "misaligned store to {a:#010x}"),
            StoreAccessFault(a) => write!(f, "store to unmapped address {a:#010x}"),
            EcallFromU => write!(f, "ecall from U-mode"),
            EcallFromM => write!(f, "ecall from M-mode"),
        }
    }
}
