//! The isa crate's error type.

use crate::trap::Exception;
use thiserror::Error;

/// Everything that can stop loading or running a program.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The ELF file is malformed or unsupported.
    #[error("{file}: {what}")]
    Elf {
        /// The file.
        file: String,
        /// What is wrong.
        what: String,
    },
    /// The memory map could not be built (overlapping or out-of-range regions).
    #[error("memory map: {0}")]
    MemoryMap(String),
    /// An exception was raised while no trap handler was installed (mtvec = 0) or only the
    /// hetsim crt0's default handler (`__hetsim_trap`, which would only turn it into an exit
    /// code).
    #[error(
        "hart {hart}: {exception} (mcause {}, mtval {:#010x}) at pc {pc:#010x}{place} \
         ({disasm}){notes}; {handler}",
        .exception.cause(),
        .exception.tval()
    )]
    Trap {
        /// Hart id.
        hart: u32,
        /// The exception.
        exception: Exception,
        /// pc of the faulting instruction.
        pc: u32,
        /// Its disassembly.
        disasm: String,
        /// ` in symbol+0xoff (file:line)` of the pc, or empty.
        place: String,
        /// Where a bad jump came from, which object a bad address lies in (or empty).
        notes: String,
        /// Which handler was (not) installed.
        handler: String,
    },
    /// The instruction limit (watchdog) was reached.
    #[error("hart {hart}: instruction limit of {limit} reached at pc {pc:#010x}{place} ({disasm}); raise it with --max-instructions if the program is not hung")]
    InstructionLimit {
        /// Hart id.
        hart: u32,
        /// The limit.
        limit: u64,
        /// pc of the next instruction.
        pc: u32,
        /// Its disassembly.
        disasm: String,
        /// ` in symbol+0xoff (file:line)` of the pc, or empty.
        place: String,
    },
    /// The run was stopped from outside (Ctrl-C).
    #[error("interrupted after {instructions} instructions: hart {hart} at pc {pc:#010x}{place} ({disasm})")]
    Interrupted {
        /// Hart id.
        hart: u32,
        /// Instructions executed by then.
        instructions: u64,
        /// pc of the next instruction.
        pc: u32,
        /// Its disassembly.
        disasm: String,
        /// ` in symbol+0xoff (file:line)` of the pc, or empty.
        place: String,
    },
    /// An `ecall` asked the host for a service it does not provide.
    #[error("hart {hart}: ecall at pc {pc:#010x} asks for host service a7 = {a7}; hetsim provides 93 (exit) and 64 (write to fd 1 or 2) when no trap handler is installed")]
    UnsupportedEcall {
        /// Hart id.
        hart: u32,
        /// pc of the ecall.
        pc: u32,
        /// The service number.
        a7: u32,
    },
    /// `tohost` received an even non-zero value (the address of an HTIF syscall block) that
    /// could not be served.
    #[error("hart {hart}: tohost written with {value:#x} at pc {pc:#010x}{place}: {error}")]
    Htif {
        /// Hart id.
        hart: u32,
        /// The value written (the block's address).
        value: u32,
        /// pc of the storing instruction.
        pc: u32,
        /// ` in symbol+0xoff (file:line)` of the pc, or empty.
        place: String,
        /// What was wrong with the call.
        error: crate::htif::HtifError,
    },
}
