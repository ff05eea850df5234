//! `hetsim exec`: run one RV32IMF ELF on the functional single-hart machine.

use super::note;
use crate::cli::Mode;
use crate::error::Error;
use crate::gdb::targets::MachineTarget;
use crate::gdb::{Ending, Stub};
use hetsim_isa::{ExitKind, Machine, MachineConfig, Misaligned, Program};
use std::io::Write;
use std::path::PathBuf;

/// Options of `hetsim exec`.
#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// The RV32IMF ELF executable to run.
    pub file: PathBuf,
    /// Stop with an error after this many instructions (the watchdog for hung programs; the
    /// functional machine runs one instruction per cycle, so `--max-cycles` is the same
    /// limit). The error names the pc, symbol and source line where the program was.
    #[arg(long, visible_alias = "max-cycles", default_value_t = 1_000_000_000)]
    pub max_instructions: u64,
    /// Print one line per instruction to stderr: pc, encoding, symbol+offset, disassembly,
    /// register written (FP registers also as numbers), and file:line when the ELF has DWARF.
    #[arg(long)]
    pub trace: bool,
    /// Misaligned loads and stores: `trap` (architected exceptions) or `allow` (done in
    /// hardware).
    #[arg(long, value_parser = ["trap", "allow"], default_value = "trap")]
    pub misaligned: String,
    /// Optional ISA extensions, comma-separated: zfh (scalar fp16), xfvec (packed fp16),
    /// xfrep (frep.o), xssr (stream registers on ft0-ft2).
    #[arg(long, value_delimiter = ',', value_parser = ["zfh", "xfvec", "xfrep", "xssr"])]
    pub ext: Vec<String>,
    /// Main RAM as BASE:SIZE (hex or decimal; SIZE may end in K or M), e.g. 0x80000000:64M.
    #[arg(long, default_value = "0x80000000:64M")]
    pub ram: String,
    /// Wait for GDB on 127.0.0.1:PORT before the first instruction and run under its control
    /// (0 picks a free port; the address is printed on stderr). docs/debugging.md, "GDB".
    #[arg(long, value_name = "PORT", conflicts_with = "trace")]
    pub gdb: Option<u16>,
    /// Interpret every instruction: no compiled blocks (docs/isa.md, "Block translation").
    /// Results are the same either way; only the speed differs.
    #[arg(long)]
    pub no_jit: bool,
}

fn parse_num(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    let v = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(h, 16).ok()?
    } else {
        digits.parse().ok()?
    };
    v.checked_mul(mult)
}

/// Parses `BASE:SIZE` into (base, size), both within 32 bits.
pub fn parse_ram(s: &str) -> Result<(u32, u32), Error> {
    let bad = |m: &str| Error::Usage {
        option: "--ram".into(),
        message: format!("{m} in {s:?}; expected BASE:SIZE such as 0x80000000:64M"),
    };
    let (b, z) = s.split_once(':').ok_or_else(|| bad("missing ':'"))?;
    let base = parse_num(b).ok_or_else(|| bad("bad BASE"))?;
    let size = parse_num(z).ok_or_else(|| bad("bad SIZE"))?;
    if base.checked_add(size).is_none_or(|end| end > 1 << 32) || size >= 1 << 32 {
        return Err(bad("the region runs past the 32-bit address space"));
    }
    Ok((base as u32, size as u32))
}

/// Runs the command; returns the program's exit code. [`Mode::Check`] stops once the options
/// are parsed and the ELF is loaded (before the machine's RAM is allocated).
pub fn run(args: &ExecArgs, mode: Mode, out: &mut dyn Write) -> Result<i32, Error> {
    let (ram_base, ram_size) = parse_ram(&args.ram)?;
    let config = MachineConfig {
        ram_base,
        ram_size,
        misaligned: if args.misaligned == "allow" {
            Misaligned::Allow
        } else {
            Misaligned::Trap
        },
        hart_id: 0,
    };
    let program = Program::load(&args.file)?;
    if mode == Mode::Check {
        return Ok(0);
    }
    let mut machine = Machine::new(&program, &config)?;
    machine.set_jit(!args.no_jit);
    if args.gdb.is_none() {
        // Under GDB the stub watches Ctrl-C (it stops the run as GDB's interrupt does).
        machine.set_stop_flag(super::stop_flag_on_ctrl_c());
    }
    machine.set_extensions(hetsim_isa::Extensions {
        zfh: args.ext.iter().any(|e| e == "zfh"),
        xfvec: args.ext.iter().any(|e| e == "xfvec"),
        xdma: false, // the functional machine has no DMA
        xfrep: args.ext.iter().any(|e| e == "xfrep"),
        xssr: args.ext.iter().any(|e| e == "xssr"),
    });
    // Console bytes already written (under GDB they are written at every stop).
    let mut printed = (0, 0);
    let result = if let Some(port) = args.gdb {
        let link = crate::gdb::accept(port)
            .map_err(|e| Error::Gdb(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
        let target = MachineTarget::new(machine, args.max_instructions, true);
        let mut stub = Stub::new(target, true);
        stub.set_ctrl_c_flag(super::stop_flag_on_ctrl_c());
        let ending = crate::gdb::serve(&mut stub, link).map_err(Error::Gdb);
        let mut target = stub.target;
        target.flush_output();
        let left = target.instructions_left();
        machine = target.machine;
        printed = (machine.console.len(), machine.stderr.len());
        match ending? {
            Ending::Exited(code) => {
                note(format_args!(
                    "hetsim: {} exited with code {code} under gdb after {} instructions",
                    args.file.display(),
                    machine.hart.instret
                ));
                return Ok(code);
            }
            Ending::Killed => {
                note(format_args!(
                    "hetsim: {} killed from gdb after {} instructions",
                    args.file.display(),
                    machine.hart.instret
                ));
                return Ok(crate::cli::EXIT_KILLED);
            }
            Ending::Detached => {
                note(format_args!("hetsim: gdb detached; the run goes on"));
                machine.set_stop_flag(super::stop_flag_on_ctrl_c());
                machine.run(left)
            }
        }
    } else if args.trace {
        let stderr = std::io::stderr();
        let mut out = std::io::BufWriter::new(stderr.lock());
        let mut io_err = None;
        let symbols = program.symbolizer.clone();
        let r = machine.run_traced(args.max_instructions, &mut |rec| {
            if io_err.is_none() {
                if let Err(e) = writeln!(out, "{}", rec.symbolized(&symbols)) {
                    io_err = Some(e);
                }
            }
        });
        out.flush()?;
        if let Some(e) = io_err {
            return Err(e.into());
        }
        r
    } else {
        machine.run(args.max_instructions)
    };
    // Whatever happened, show what the program printed.
    out.write_all(&machine.console[printed.0..])
        .and_then(|()| out.flush())
        .map_err(Error::Stdout)?;
    if machine.stderr.len() > printed.1 {
        // fd 2 of the program; a failing stderr has nowhere to be reported.
        let _ = std::io::stderr().write_all(&machine.stderr[printed.1..]);
    }
    let exit = result?;
    let how = match exit.kind {
        ExitKind::Tohost(v) => format!("tohost = {v:#x}"),
        ExitKind::Ecall => "ecall exit".to_string(),
        ExitKind::HtifExit => "HTIF exit syscall".to_string(),
    };
    note(format_args!(
        "hetsim: {} exited with code {} ({how}) after {} instructions",
        args.file.display(),
        exit.code,
        machine.hart.instret
    ));
    Ok(exit.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_option() {
        assert_eq!(
            parse_ram("0x80000000:64M").unwrap(),
            (0x8000_0000, 64 << 20)
        );
        assert_eq!(parse_ram("4096:4K").unwrap(), (4096, 4096));
        assert!(parse_ram("0x80000000").is_err());
        assert!(parse_ram("0xffff0000:1M").is_err());
        assert!(parse_ram("zz:1M").is_err());
        // BASE + SIZE past 2^64 is refused, not wrapped.
        assert!(parse_ram("0xffffffffffffffff:1").is_err());
        assert!(parse_ram("18446744073709551615:0x10").is_err());
    }
}
