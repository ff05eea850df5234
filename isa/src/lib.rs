//! hetsim-isa: the RV32IMF instruction-set layer of hetsim.
//!
//! This crate owns exact architectural semantics and nothing else: decoding
//! ([`decode::decode`]), hart state with CSRs and M/U traps ([`hart::Hart`]), instruction
//! execution against any memory ([`exec::execute`] over a [`mem::Bus`]), IEEE-754 single
//! precision with every rounding mode and exact flags ([`fp`]), ELF loading
//! ([`elf::Program`], with symbols and DWARF source lines in [`symbols::Symbolizer`]) and a
//! functional single-hart runner ([`machine::Machine`]) with the `tohost` and `ecall` exit
//! conventions. Optional extensions ([`ext`]: Zfh and Snitch's
//! packed-SIMD fp16, with binary16 arithmetic in [`fp16`]) are off unless a hart enables them.
//!
//! It must not hold timing, do I/O (the runner collects console bytes in memory) or keep
//! global state; timing models in `hetsim-models` drive [`exec::execute`] and read the
//! instruction's timing [`decode::Class`].

pub mod asm;
pub mod decode;
pub mod disasm;
pub mod elf;
pub mod error;
pub mod exec;
pub mod ext;
pub mod fp;
pub mod fp16;
pub mod frep;
pub mod hart;
pub mod htif;
pub mod input;
pub mod jit;
pub mod machine;
pub mod mem;
pub mod softfp;
pub mod ssr;
pub mod symbols;
pub mod trap;

pub use decode::{decode, decode_with, Class, Inst, Op};
pub use elf::Program;
pub use error::Error;
pub use exec::{execute, Retired};
pub use ext::{Extension, Extensions};
pub use hart::{Hart, Misaligned, Privilege};
pub use machine::{Exit, ExitKind, Machine, MachineConfig, TraceRecord};
pub use mem::{Bus, BusFault, DmaRequest, Memory, Size};
pub use symbols::Symbolizer;
pub use trap::Exception;
