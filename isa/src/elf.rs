//! ELF loading: 32-bit little-endian RISC-V executables into a [`Program`].
//!
//! Checks the class, data encoding, machine, type, float ABI (soft or single), the RVC flag
//! (compressed code is not supported) and every PT_LOAD segment's bounds; any problem is an
//! [`Error::Elf`] naming the file and what is wrong.

use crate::error::Error;
use crate::symbols::Symbolizer;
use goblin::elf::header::{EM_RISCV, ET_EXEC};
use goblin::elf::program_header::PT_LOAD;
use goblin::elf::Elf;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// e_flags: the code uses compressed instructions.
const EF_RISCV_RVC: u32 = 0x1;
/// e_flags: float ABI mask and values.
const EF_RISCV_FLOAT_ABI: u32 = 0x6;
const EF_RISCV_FLOAT_ABI_SOFT: u32 = 0x0;
const EF_RISCV_FLOAT_ABI_SINGLE: u32 = 0x2;

/// One loadable segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Virtual (= physical) load address.
    pub addr: u32,
    /// Initialised bytes (p_filesz of them).
    pub data: Vec<u8>,
    /// Size in memory (p_memsz >= data.len(); the rest is zero).
    pub mem_size: u32,
    /// Executable (PF_X).
    pub exec: bool,
    /// Writable (PF_W).
    pub write: bool,
}

/// A named symbol from the ELF symbol table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// Address.
    pub addr: u32,
    /// Size in bytes (0 when the object file does not say).
    pub size: u32,
}

/// A loaded executable: segments, entry point and symbols.
#[derive(Clone, Debug)]
pub struct Program {
    /// Where the file came from (for messages).
    pub name: String,
    /// Entry point.
    pub entry: u32,
    /// PT_LOAD segments in file order.
    pub segments: Vec<Segment>,
    /// Global and local data/function symbols by name.
    pub symbols: BTreeMap<String, Symbol>,
    /// Names addresses (`symbol+0xoff`, `file:line` with DWARF) for reports and traces.
    pub symbolizer: Arc<Symbolizer>,
}

/// The largest ELF file hetsim reads: 256 MiB. A cluster program's loaded image must fit its L2,
/// which the shipped presets make 4 MiB (the configuration allows up to 1.75 GiB, but a kernel
/// image of hundreds of MiB would take hours to touch even once at a few million simulated
/// instructions per second); 256 MiB leaves room for symbols and debug sections many times
/// larger than any program's code and data. Larger files, and endless ones (`/dev/zero`, a
/// FIFO fed forever), are refused with an error naming the file and this limit.
pub const ELF_LIMIT: u64 = 256 << 20;

impl Program {
    /// Reads and parses an ELF file (at most [`ELF_LIMIT`] bytes).
    pub fn load(path: &Path) -> Result<Program, Error> {
        let bytes = Program::read(path)?;
        Program::parse(&path.display().to_string(), &bytes)
    }

    /// Reads the bytes of an ELF file without parsing them: at most [`ELF_LIMIT`] bytes, else
    /// an [`Error::Io`] naming the file and the limit.
    pub fn read(path: &Path) -> Result<Vec<u8>, Error> {
        crate::input::read_limited(path, ELF_LIMIT, "an ELF program").map_err(|e| Error::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Parses an ELF image held in memory; `name` is used in error messages.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Program, Error> {
        let err = |what: String| Error::Elf {
            file: name.to_string(),
            what,
        };
        if bytes.len() < 16 || &bytes[..4] != b"\x7fELF" {
            return Err(err("not an ELF file (bad magic number)".into()));
        }
        if bytes[4] != 1 {
            return Err(err(format!(
                "ELF class {} is not 32-bit (ELFCLASS32); hetsim runs RV32 only",
                bytes[4]
            )));
        }
        if bytes[5] != 1 {
            return Err(err("not little-endian (ELFDATA2LSB)".into()));
        }
        let elf = Elf::parse(bytes).map_err(|e| err(format!("malformed ELF: {e}")))?;
        if elf.header.e_machine != EM_RISCV {
            return Err(err(format!(
                "machine {} is not RISC-V (EM_RISCV = 243)",
                elf.header.e_machine
            )));
        }
        if elf.header.e_type != ET_EXEC {
            return Err(err(format!(
                "ELF type {} is not an executable (ET_EXEC); link the program first",
                elf.header.e_type
            )));
        }
        let flags = elf.header.e_flags;
        if flags & EF_RISCV_RVC != 0 {
            return Err(err(
                "built with compressed instructions (RVC flag set); rebuild with -march=rv32imf"
                    .into(),
            ));
        }
        match flags & EF_RISCV_FLOAT_ABI {
            EF_RISCV_FLOAT_ABI_SOFT | EF_RISCV_FLOAT_ABI_SINGLE => {}
            other => {
                return Err(err(format!(
                    "float ABI {} needs D or Q registers; rebuild with -mabi=ilp32f or ilp32",
                    if other == 4 { "double" } else { "quad" }
                )))
            }
        }
        let entry = u32::try_from(elf.entry).map_err(|_| err("entry point above 4 GiB".into()))?;
        let mut segments = Vec::new();
        for (i, ph) in elf.program_headers.iter().enumerate() {
            if ph.p_type != PT_LOAD || ph.p_memsz == 0 {
                continue;
            }
            let seg_err = |what: &str| err(format!("segment {i}: {what}"));
            let off = usize::try_from(ph.p_offset).map_err(|_| seg_err("offset too large"))?;
            let filesz = usize::try_from(ph.p_filesz).map_err(|_| seg_err("size too large"))?;
            let end = off
                .checked_add(filesz)
                .filter(|&e| e <= bytes.len())
                .ok_or_else(|| {
                    seg_err(&format!(
                        "file bytes {:#x}..{:#x} lie past the end of the file ({:#x} bytes)",
                        ph.p_offset,
                        ph.p_offset.saturating_add(ph.p_filesz),
                        bytes.len()
                    ))
                })?;
            if ph.p_filesz > ph.p_memsz {
                return Err(seg_err("file size exceeds memory size"));
            }
            let addr = u32::try_from(ph.p_paddr).map_err(|_| seg_err("address above 4 GiB"))?;
            let mem_size =
                u32::try_from(ph.p_memsz).map_err(|_| seg_err("memory size above 4 GiB"))?;
            if u64::from(addr) + u64::from(mem_size) > 1 << 32 {
                return Err(seg_err(&format!(
                    "{addr:#010x} + {mem_size:#x} bytes runs past the 32-bit address space"
                )));
            }
            segments.push(Segment {
                addr,
                data: bytes[off..end].to_vec(),
                mem_size,
                exec: ph.is_executable(),
                write: ph.is_write(),
            });
        }
        if segments.is_empty() {
            return Err(err("no loadable (PT_LOAD) segment".into()));
        }
        // Sorted by address, two (non-empty) segments overlap exactly when some neighbours do:
        // O(n log n), where comparing every pair took seconds for the 65,534 headers an ELF can
        // hold (found while writing the fuzz targets; docs/robustness.md).
        let mut by_addr: Vec<&Segment> = segments.iter().collect();
        by_addr.sort_by_key(|s| s.addr);
        for pair in by_addr.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if u64::from(a.addr) + u64::from(a.mem_size) > u64::from(b.addr) {
                return Err(err(format!(
                    "segments at {:#010x} and {:#010x} overlap",
                    a.addr, b.addr
                )));
            }
        }
        let mut symbols = BTreeMap::new();
        for sym in elf.syms.iter() {
            if sym.st_name == 0 || sym.st_shndx == 0 {
                continue; // unnamed or undefined
            }
            let Some(sym_name) = elf.strtab.get_at(sym.st_name) else {
                continue;
            };
            if sym_name.is_empty() || sym_name.starts_with('$') || sym_name.starts_with(".L") {
                continue; // mapping and local labels
            }
            let (Ok(addr), Ok(size)) = (u32::try_from(sym.st_value), u32::try_from(sym.st_size))
            else {
                continue;
            };
            // Globals win over locals of the same name.
            let entry = Symbol { addr, size };
            if sym.st_bind() == goblin::elf::sym::STB_GLOBAL || !symbols.contains_key(sym_name) {
                symbols.insert(sym_name.to_string(), entry);
            }
        }
        let symbolizer = Arc::new(Symbolizer::from_elf(&elf, bytes));
        Ok(Program {
            name: name.to_string(),
            entry,
            segments,
            symbols,
            symbolizer,
        })
    }

    /// The address of symbol `name`, if present.
    pub fn symbol(&self, name: &str) -> Option<u32> {
        self.symbols.get(name).map(|s| s.addr)
    }

    /// The range `[__bss_start, __bss_end)` that the hetsim start-up code (crt0.S,
    /// crt0-cluster.S) zeroes before `main`, when the program defines both symbols and the
    /// range is not empty.
    pub fn zeroed_at_startup(&self) -> Option<(u32, u32)> {
        let (start, end) = (self.symbol("__bss_start")?, self.symbol("__bss_end")?);
        (start < end).then_some((start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF32 RISC-V executable with one 16-byte, file-less PT_LOAD segment per address.
    fn with_segments(addrs: &[u32]) -> Vec<u8> {
        let mut b = b"\x7fELF\x01\x01\x01".to_vec();
        b.resize(16, 0);
        for v in [2u16, 243] {
            b.extend_from_slice(&v.to_le_bytes()); // e_type = ET_EXEC, e_machine = EM_RISCV
        }
        for v in [1u32, addrs[0], 52, 0, 2] {
            b.extend_from_slice(&v.to_le_bytes()); // version, entry, phoff, shoff, flags
        }
        for v in [52u16, 32, addrs.len() as u16, 40, 0, 0] {
            b.extend_from_slice(&v.to_le_bytes()); // ehsize, phentsize, phnum, sh*
        }
        for &a in addrs {
            for v in [PT_LOAD, 0, a, a, 0, 16, 4, 4] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        b
    }

    /// Robustness (docs/robustness.md): `/dev/zero` named as the program is refused after
    /// ELF_LIMIT + 1 bytes with the file and the limit, a file of exactly ELF_LIMIT bytes is
    /// read and parsed, one byte more is refused from its size without reading.
    #[test]
    fn files_are_read_up_to_the_limit() {
        let t = std::time::Instant::now();
        let e = Program::load(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "/dev/zero: larger than the 256 MiB (268435456 bytes) hetsim reads as an ELF program"
        );
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
        let p = std::env::temp_dir().join(format!("hetsim-elf-limit-{}.elf", std::process::id()));
        let f = std::fs::File::create(&p).unwrap();
        std::io::Write::write_all(&mut &f, &with_segments(&[0x8000_0000])).unwrap();
        f.set_len(ELF_LIMIT).unwrap(); // sparse: the rest reads as zeros
        let prog = Program::load(&p).unwrap();
        assert_eq!(prog.segments.len(), 1);
        f.set_len(ELF_LIMIT + 1).unwrap();
        let e = Program::load(&p).unwrap_err().to_string();
        assert!(
            e.ends_with(": 268435457 bytes, more than the 256 MiB (268435456 bytes) hetsim reads as an ELF program"),
            "{e}"
        );
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn overlapping_segments_are_found_in_any_order() {
        let e = Program::parse("o.elf", &with_segments(&[0x1000, 0x3000, 0x100c])).unwrap_err();
        assert!(
            e.to_string()
                .contains("segments at 0x00001000 and 0x0000100c overlap"),
            "{e}"
        );
        let p = Program::parse("o.elf", &with_segments(&[0x3000, 0x1000, 0x1010])).unwrap();
        assert_eq!(p.segments.len(), 3);
    }

    /// Robustness regression (docs/robustness.md): the largest program-header table an ELF
    /// can hold (65,534 entries, 2 MiB) used to take seconds, comparing every pair of segments
    /// for overlap; sorted, it takes milliseconds.
    #[test]
    fn the_largest_program_header_table_parses_quickly() {
        let addrs: Vec<u32> = (0..65_534u32).rev().map(|i| 0x1000 + 16 * i).collect();
        let p = Program::parse("many.elf", &with_segments(&addrs)).unwrap();
        assert_eq!(p.segments.len(), 65_534);
    }
}
