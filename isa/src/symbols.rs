//! Addresses to names: `symbol+0xoff` from the ELF symbol table and `file:line` from its DWARF
//! line tables (when the program was built with `-g`), for every place hetsim shows a pc or an
//! address (faults, watchdog and interrupt reports, instruction traces).
//!
//! The [`Symbolizer`] is built once when the ELF is parsed ([`crate::elf::Program::parse`]):
//! the line table is read eagerly through the `addr2line` crate (which reads DWARF with
//! `gimli`) into a sorted table, so look-ups are binary searches and the result is plain data
//! (`Send`, `Sync`, cheap to share behind an `Arc`). Malformed or missing DWARF only means no
//! `file:line`: the program still loads.

use crate::trap::Exception;
use addr2line::gimli;
use goblin::elf::section_header::SHN_ABS;
use goblin::elf::sym::{STT_FILE, STT_SECTION};
use goblin::elf::Elf;
use std::fmt;

/// One symbol that can name an address.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sym {
    addr: u32,
    size: u32,
    name: String,
    /// One past the end of the symbol's section: a label names no address beyond it.
    section_end: u64,
}

impl Sym {
    /// One past the last byte.
    fn end(&self) -> u64 {
        u64::from(self.addr) + u64::from(self.size)
    }

    /// A sized symbol covering `addr`.
    fn contains(&self, addr: u32) -> bool {
        self.size > 0 && self.addr <= addr && u64::from(addr) < self.end()
    }
}

/// Among symbols at one address: sized first (a function over a label at its start), then
/// names without a leading underscore (`main` over `__image_start`), then by name
/// (deterministic).
fn sort_syms(syms: &mut [Sym]) {
    syms.sort_by(|a, b| {
        a.addr
            .cmp(&b.addr)
            .then((a.size == 0).cmp(&(b.size == 0)))
            .then(a.name.starts_with('_').cmp(&b.name.starts_with('_')))
            .then(a.name.cmp(&b.name))
    });
}

/// One run of instructions from the same source line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LineRow {
    addr: u32,
    len: u32,
    file: u32,
    line: u32,
}

/// Names addresses of one program: symbols (functions, objects, labels) and source lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Symbolizer {
    /// Section-relative symbols sorted by address (sized ones first among equal addresses).
    syms: Vec<Sym>,
    /// Line rows sorted by address, non-overlapping.
    lines: Vec<LineRow>,
    /// File names the rows refer to.
    files: Vec<String>,
}

/// Where an address lies: the enclosing symbol and, with debug info, its source line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place<'a> {
    /// The symbol's name and the offset from its start.
    pub symbol: Option<(&'a str, u32)>,
    /// The source file and line.
    pub line: Option<(&'a str, u32)>,
}

impl Place<'_> {
    /// True when neither a symbol nor a line is known.
    pub fn is_unknown(&self) -> bool {
        self.symbol.is_none() && self.line.is_none()
    }
}

impl fmt::Display for Place<'_> {
    /// `main+0x1c (fault.c:12)`, `main+0x1c`, `fault.c:12` or `no symbol`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.symbol, self.line) {
            (Some((s, 0)), l) => {
                write!(f, "{s}")?;
                if let Some((file, line)) = l {
                    write!(f, " ({file}:{line})")?;
                }
                Ok(())
            }
            (Some((s, off)), l) => {
                write!(f, "{s}+{off:#x}")?;
                if let Some((file, line)) = l {
                    write!(f, " ({file}:{line})")?;
                }
                Ok(())
            }
            (None, Some((file, line))) => write!(f, "{file}:{line}"),
            (None, None) => write!(f, "no symbol"),
        }
    }
}

impl Symbolizer {
    /// Builds the tables from a parsed ELF and its bytes. Symbols are the named, defined,
    /// section-relative ones (not absolute constants such as `__stack_size`, not section or
    /// file symbols, not `$x`/`.L` local labels). Lines come from `.debug_line` (through
    /// `.debug_info`) when present; broken DWARF gives no lines.
    pub fn from_elf(elf: &Elf, bytes: &[u8]) -> Symbolizer {
        let mut syms = Vec::new();
        for sym in elf.syms.iter() {
            if sym.st_name == 0
                || sym.st_shndx == 0
                || sym.st_shndx == SHN_ABS as usize
                || matches!(sym.st_type(), STT_SECTION | STT_FILE)
            {
                continue;
            }
            let Some(name) = elf.strtab.get_at(sym.st_name) else {
                continue;
            };
            if name.is_empty() || name.starts_with('$') || name.starts_with(".L") {
                continue;
            }
            let (Ok(addr), Ok(size)) = (u32::try_from(sym.st_value), u32::try_from(sym.st_size))
            else {
                continue;
            };
            let Some(sh) = elf.section_headers.get(sym.st_shndx) else {
                continue;
            };
            syms.push(Sym {
                addr,
                size,
                name: name.to_string(),
                section_end: sh.sh_addr.saturating_add(sh.sh_size),
            });
        }
        sort_syms(&mut syms);
        let mut s = Symbolizer {
            syms,
            lines: Vec::new(),
            files: Vec::new(),
        };
        s.read_lines(elf, bytes);
        s
    }

    /// A symbolizer for a program assembled in memory (no ELF sections, no DWARF): names
    /// addresses from `symbols` (name, address, size in bytes; size 0 for a label).
    pub fn from_symbols<'a>(symbols: impl IntoIterator<Item = (&'a str, u32, u32)>) -> Symbolizer {
        let mut syms: Vec<Sym> = symbols
            .into_iter()
            .map(|(name, addr, size)| Sym {
                addr,
                size,
                name: name.to_string(),
                section_end: 1 << 32,
            })
            .collect();
        sort_syms(&mut syms);
        Symbolizer {
            syms,
            ..Symbolizer::default()
        }
    }

    /// Reads DWARF line rows for every executable section; on any DWARF error keeps what
    /// was read before it.
    fn read_lines(&mut self, elf: &Elf, bytes: &[u8]) {
        let section = |name: &str| -> &[u8] {
            elf.section_headers
                .iter()
                .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(name))
                .filter(|sh| sh.sh_type != goblin::elf::section_header::SHT_NOBITS)
                .and_then(|sh| {
                    let start = usize::try_from(sh.sh_offset).ok()?;
                    let end = start.checked_add(usize::try_from(sh.sh_size).ok()?)?;
                    bytes.get(start..end)
                })
                .unwrap_or(&[])
        };
        if section(".debug_info").is_empty() {
            return;
        }
        let load = |id: gimli::SectionId| -> Result<_, gimli::Error> {
            Ok(gimli::EndianSlice::new(
                section(id.name()),
                gimli::LittleEndian,
            ))
        };
        let Ok(dwarf) = gimli::Dwarf::load(load) else {
            return;
        };
        let Ok(ctx) = addr2line::Context::from_dwarf(dwarf) else {
            return;
        };
        let mut files: Vec<String> = Vec::new();
        let mut rows = Vec::new();
        for sh in elf.section_headers.iter().filter(|sh| sh.is_executable()) {
            let lo = sh.sh_addr;
            let hi = sh.sh_addr.saturating_add(sh.sh_size);
            let Ok(iter) = ctx.find_location_range(lo, hi) else {
                continue;
            };
            for (addr, len, loc) in iter {
                let (Some(file), Some(line), Ok(addr), Ok(len)) =
                    (loc.file, loc.line, u32::try_from(addr), u32::try_from(len))
                else {
                    continue;
                };
                let mut file = file;
                while let Some(rest) = file.strip_prefix("./") {
                    file = rest; // comp_dir "." (-ffile-prefix-map) joined with "./x.c"
                }
                let idx = match files.iter().position(|f| f == file) {
                    Some(i) => i,
                    None => {
                        files.push(file.to_string());
                        files.len() - 1
                    }
                };
                rows.push(LineRow {
                    addr,
                    len,
                    file: idx as u32,
                    line,
                });
            }
        }
        rows.sort_by_key(|r| r.addr);
        self.lines = rows;
        self.files = files;
    }

    /// True when the program carried DWARF line information.
    pub fn has_lines(&self) -> bool {
        !self.lines.is_empty()
    }

    /// The symbol naming `addr` and the offset into it: the highest-addressed sized symbol
    /// that contains `addr`, else the nearest unsized label at or below `addr` when no sized
    /// symbol starts between them (a label inside a function does not hide the function).
    pub fn symbol(&self, addr: u32) -> Option<(&str, u32)> {
        let n = self.syms.partition_point(|s| s.addr <= addr);
        let below = &self.syms[..n];
        // A sized symbol containing addr (the innermost, i.e. highest start, wins).
        if let Some(s) = below.iter().rev().find(|s| s.contains(addr)) {
            return Some((&s.name, addr - s.addr));
        }
        // Otherwise the nearest label, unless a sized symbol reaches past it (the label then
        // lies inside or before an object that ends before addr, and would mislead).
        let l = below.iter().rev().find(|s| s.size == 0)?;
        if u64::from(addr) >= l.section_end
            || below
                .iter()
                .any(|s| s.size > 0 && s.end() > u64::from(l.addr))
        {
            return None;
        }
        Some((&l.name, addr - l.addr))
    }

    /// The source file and line of the instruction at `addr`, when the program has DWARF.
    pub fn line(&self, addr: u32) -> Option<(&str, u32)> {
        let n = self.lines.partition_point(|r| r.addr <= addr);
        let r = self.lines[..n].last()?;
        if u64::from(addr) < u64::from(r.addr) + u64::from(r.len) {
            Some((&self.files[r.file as usize], r.line))
        } else {
            None
        }
    }

    /// Symbol and line of `addr` (either may be unknown).
    pub fn place(&self, addr: u32) -> Place<'_> {
        Place {
            symbol: self.symbol(addr),
            line: self.line(addr),
        }
    }

    /// `fail+0x2c` (or `?` when no symbol names `pc`): the symbol column of traces.
    pub fn column(&self, pc: u32) -> String {
        match self.symbol(pc) {
            Some((s, 0)) => s.to_string(),
            Some((s, off)) => format!("{s}+{off:#x}"),
            None => "?".to_string(),
        }
    }

    /// ` in fail+0x2c (debug_demo.c:46)` when `pc` has a symbol or a line, else empty: the
    /// suffix every report puts after a pc.
    pub fn at(&self, pc: u32) -> String {
        let p = self.place(pc);
        if p.is_unknown() {
            String::new()
        } else {
            format!(" in {p}")
        }
    }

    /// What a report of exception `e` adds after the faulting instruction: for a fetch from
    /// an unmapped address, the pc of the jump or branch that went there (`prev_pc`); for a
    /// faulting load or store, the object that holds the address, if a sized symbol does.
    pub fn trap_notes(&self, e: Exception, prev_pc: Option<u32>) -> String {
        use Exception::*;
        match e {
            InstructionAccessFault(_) => prev_pc
                .map(|p| format!(", reached from pc {p:#010x}{}", self.at(p)))
                .unwrap_or_default(),
            LoadAddressMisaligned(a)
            | LoadAccessFault(a)
            | StoreAddressMisaligned(a)
            | StoreAccessFault(a) => self
                .object(a)
                .map(|o| format!("; {a:#010x} is {o}"))
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// The sized data object (or function) that contains `addr`, as `name+0xoff`, for naming
    /// the address of a faulting load or store; `None` when no sized symbol contains it.
    pub fn object(&self, addr: u32) -> Option<String> {
        let n = self.syms.partition_point(|s| s.addr <= addr);
        self.syms[..n]
            .iter()
            .rev()
            .find(|s| s.contains(addr))
            .map(|s| match addr - s.addr {
                0 => s.name.clone(),
                off => format!("{}+{off:#x}", s.name),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Symbolizer {
        let sym = |addr, size, name: &str| Sym {
            addr,
            size,
            name: name.into(),
            section_end: 0x300,
        };
        Symbolizer {
            syms: vec![
                sym(0x100, 0, "_start"),
                sym(0x100, 0, "__image_start"),
                sym(0x120, 0x20, "main"),
                sym(0x128, 0, "inner_label"),
                sym(0x200, 8, "buf"),
            ],
            lines: vec![
                LineRow {
                    addr: 0x120,
                    len: 8,
                    file: 0,
                    line: 3,
                },
                LineRow {
                    addr: 0x128,
                    len: 8,
                    file: 0,
                    line: 5,
                },
            ],
            files: vec!["k.c".into()],
        }
    }

    #[test]
    fn symbols_name_addresses() {
        let mut s = table();
        sort_syms(&mut s.syms);
        assert_eq!(s.symbol(0x104), Some(("_start", 4)));
        assert_eq!(s.symbol(0x12c), Some(("main", 0xc)));
        assert_eq!(s.symbol(0x120), Some(("main", 0)));
        // Past main's end: no sized symbol contains it and main ends before it.
        assert_eq!(s.symbol(0x150), None);
        assert_eq!(s.symbol(0x50), None);
        // A label does not name addresses past the end of its section.
        s.syms.retain(|x| x.name != "main" && x.name != "buf");
        assert_eq!(s.symbol(0x2fc), Some(("inner_label", 0x1d4)));
        assert_eq!(s.symbol(0x300), None);
        let mut s = table();
        sort_syms(&mut s.syms);
        assert_eq!(s.object(0x204), Some("buf+0x4".into()));
        assert_eq!(s.object(0x208), None);
        assert_eq!(s.line(0x124), Some(("k.c", 3)));
        assert_eq!(s.line(0x12c), Some(("k.c", 5)));
        assert_eq!(s.line(0x130), None);
        assert_eq!(s.line(0x11c), None);
        assert_eq!(s.place(0x12c).to_string(), "main+0xc (k.c:5)");
        assert_eq!(s.place(0x120).to_string(), "main (k.c:3)");
        assert_eq!(s.place(0x104).to_string(), "_start+0x4");
        assert_eq!(s.place(0x50).to_string(), "no symbol");
        assert!(s.place(0x50).is_unknown());
    }
}
