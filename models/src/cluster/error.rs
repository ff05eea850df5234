//! The cluster model's error type.

use thiserror::Error;

/// Everything that can stop building or running a cluster.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// A configuration file could not be read or parsed.
    #[error("{origin}: {message}")]
    Config {
        /// The file (or `"<string>"`).
        origin: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A RON configuration could not be parsed: file, line, column, message and the line (the
    /// CLI shows it with a caret under the column).
    #[error(transparent)]
    Ron(Box<crate::diag::SourceError>),
    /// A configuration field is out of range.
    #[error("invalid cluster config: `{field}` = {value}: {reason}")]
    InvalidConfig {
        /// The field's path.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// What it must satisfy.
        reason: &'static str,
    },
    /// Loading the program failed.
    #[error(transparent)]
    Program(#[from] hetsim_isa::Error),
    /// The program does not fit the cluster's memory map.
    #[error("{program}: {message}")]
    Layout {
        /// The program.
        program: String,
        /// What does not fit.
        message: String,
    },
    /// A core raised an exception the run does not handle.
    #[error(
        "core {core}: {exception} (mcause {}, mtval {:#010x}) at pc {pc:#010x}{place} \
         ({disasm}){notes}, cycle {cycle}",
        .exception.cause(),
        .exception.tval()
    )]
    Trap {
        /// Core index.
        core: usize,
        /// The exception.
        exception: hetsim_isa::Exception,
        /// pc of the instruction.
        pc: u32,
        /// Its disassembly.
        disasm: String,
        /// ` in symbol+0xoff (file:line)` of the pc, or empty.
        place: String,
        /// Where a bad jump came from, which object a bad address lies in (or empty).
        notes: String,
        /// Cycle of the fault.
        cycle: u64,
    },
    /// A core moved its stack pointer out of its guarded stack (`stack_guard`).
    #[error(
        "core {core}: stack overflow: sp = {sp:#010x} leaves the core's stack \
         {bottom:#010x}..{top:#010x} ({} bytes, the cluster config's stack_guard) at pc \
         {pc:#010x}{place} ({disasm}), cycle {cycle}",
        .top - .bottom
    )]
    StackOverflow {
        /// Core index.
        core: usize,
        /// The new stack pointer.
        sp: u32,
        /// Lowest address of the core's stack.
        bottom: u32,
        /// One past its highest address (the initial sp).
        top: u32,
        /// pc of the instruction that wrote sp.
        pc: u32,
        /// Its disassembly.
        disasm: String,
        /// ` in symbol+0xoff (file:line)` of the pc, or empty.
        place: String,
        /// Cycle.
        cycle: u64,
    },
    /// A host call (an HTIF syscall block written to `tohost`, or an `ecall` write) could not
    /// be served.
    #[error("core {core}: {message} (pc {pc:#010x}{place}, cycle {cycle})")]
    Host {
        /// The calling core.
        core: usize,
        /// pc of the storing instruction or the ecall.
        pc: u32,
        /// ` in symbol+0xoff (file:line)` of the pc, or empty.
        place: String,
        /// What is wrong, naming the syscall number or address.
        message: String,
        /// Cycle.
        cycle: u64,
    },
    /// A DMA transfer or register access was invalid.
    #[error("core {core}: DMA: {message} (pc {pc:#010x}{place}, cycle {cycle})")]
    Dma {
        /// The core that started the transfer.
        core: usize,
        /// pc of the access.
        pc: u32,
        /// ` in symbol+0xoff (file:line)` of the pc, or empty.
        place: String,
        /// What is wrong.
        message: String,
        /// Cycle.
        cycle: u64,
    },
    /// A stream semantic register was misused in a way the hardware would hang on or that
    /// hetsim does not model.
    #[error("core {core}: SSR: {message} (pc {pc:#010x}{place}, cycle {cycle})")]
    Stream {
        /// Core index.
        core: usize,
        /// pc of the instruction.
        pc: u32,
        /// ` in symbol+0xoff (file:line)` of the pc, or empty.
        place: String,
        /// What is wrong.
        message: String,
        /// Cycle.
        cycle: u64,
    },
    /// The watchdog expired.
    #[error(
        "watchdog: no exit after {max_cycles} cycles (the limit: --max-cycles, or max_cycles \
         in the cluster config); {cores}"
    )]
    Watchdog {
        /// The limit.
        max_cycles: u64,
        /// Each core's state and pc.
        cores: String,
    },
    /// The run was stopped from outside (Ctrl-C).
    #[error("interrupted at cycle {cycle}; {cores}")]
    Interrupted {
        /// Cycle.
        cycle: u64,
        /// Each core's state, pc and symbol.
        cores: String,
    },
    /// No core can make progress.
    #[error("deadlock at cycle {cycle}: {cores}")]
    Deadlock {
        /// Cycle.
        cycle: u64,
        /// Each core's state and pc.
        cores: String,
    },
    /// A symbol binding failed.
    #[error("{program}: symbol `{symbol}`: {message}")]
    Symbol {
        /// The program.
        program: String,
        /// The symbol.
        symbol: String,
        /// What is wrong.
        message: String,
    },
}

/// Result with a [`ClusterError`].
pub type Result<T> = std::result::Result<T, ClusterError>;
