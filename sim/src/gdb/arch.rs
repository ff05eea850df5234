//! The registers hetsim's GDB stub serves and how GDB learns them: the RV32 integer
//! registers and pc, the 32 FP registers with `fflags`/`frm`/`fcsr`, and the machine-mode
//! CSRs, described by a target description (XML) in GDB's RISC-V feature names
//! (`gdbstub_arch`'s rv32 describes the integer registers only).
//!
//! Register numbers are GDB's RISC-V numbering: x0-x31 are 0-31, pc 32, f0-f31 33-64,
//! CSR n is 65 + n (so `fflags` is 66, `frm` 67, `fcsr` 68, `mstatus` 833). The `g` packet
//! holds every served register in that order.

use gdbstub::arch::{Arch, RegId, Registers};
use std::fmt::Write;
use std::num::NonZeroUsize;

/// GDB's number of CSR 0: CSR n is register `FIRST_CSR_REGNUM + n`.
pub const FIRST_CSR_REGNUM: usize = 65;

/// The CSRs served besides `fflags`, `frm` and `fcsr`: address and name, ascending.
pub const CSRS: [(u16, &str); 14] = [
    (0x300, "mstatus"),
    (0x301, "misa"),
    (0x304, "mie"),
    (0x305, "mtvec"),
    (0x340, "mscratch"),
    (0x341, "mepc"),
    (0x342, "mcause"),
    (0x343, "mtval"),
    (0x344, "mip"),
    (0xB00, "mcycle"),
    (0xB02, "minstret"),
    (0xB80, "mcycleh"),
    (0xB82, "minstreth"),
    (0xF14, "mhartid"),
];

/// Words in the `g` packet: x0-x31, pc, f0-f31, fflags, frm, fcsr and [`CSRS`].
pub const G_WORDS: usize = 32 + 1 + 32 + 3 + CSRS.len();

/// ABI names of x0-x31, as GDB's `org.gnu.gdb.riscv.cpu` feature spells them.
const X_ABI: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];

/// ABI names of f0-f31.
const F_ABI: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

/// RV32IMF with FP registers and CSRs, for [`gdbstub`].
pub enum Rv32Imf {}

impl Arch for Rv32Imf {
    type Usize = u32;
    type Registers = Regs;
    type BreakpointKind = usize;
    type RegId = Reg;

    fn target_description_xml() -> Option<&'static str> {
        static XML: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        Some(XML.get_or_init(target_xml).as_str())
    }
}

/// The target description: GDB's `riscv:rv32` with the cpu, fpu and csr features.
fn target_xml() -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target \
         version=\"1.0\">\n<architecture>riscv:rv32</architecture>\n\
         <feature name=\"org.gnu.gdb.riscv.cpu\">\n",
    );
    for (i, name) in X_ABI.iter().enumerate() {
        let ty = match i {
            1 => "code_ptr",
            2 | 8 => "data_ptr",
            _ => "int",
        };
        let _ = writeln!(
            s,
            "<reg name=\"{name}\" bitsize=\"32\" type=\"{ty}\" regnum=\"{i}\"/>"
        );
    }
    s.push_str("<reg name=\"pc\" bitsize=\"32\" type=\"code_ptr\" regnum=\"32\"/>\n</feature>\n");
    s.push_str("<feature name=\"org.gnu.gdb.riscv.fpu\">\n");
    for (i, name) in F_ABI.iter().enumerate() {
        let _ = writeln!(
            s,
            "<reg name=\"{name}\" bitsize=\"32\" type=\"ieee_single\" regnum=\"{}\"/>",
            33 + i
        );
    }
    for (n, name) in [(1, "fflags"), (2, "frm"), (3, "fcsr")] {
        let _ = writeln!(
            s,
            "<reg name=\"{name}\" bitsize=\"32\" type=\"int\" regnum=\"{}\" group=\"float\"/>",
            FIRST_CSR_REGNUM + n
        );
    }
    s.push_str("</feature>\n<feature name=\"org.gnu.gdb.riscv.csr\">\n");
    for (addr, name) in CSRS {
        let _ = writeln!(
            s,
            "<reg name=\"{name}\" bitsize=\"32\" type=\"int\" regnum=\"{}\" group=\"csr\"/>",
            FIRST_CSR_REGNUM + usize::from(addr)
        );
    }
    s.push_str("</feature>\n</target>\n");
    s
}

/// One served register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reg {
    /// Integer register x0-x31.
    X(u8),
    /// The program counter.
    Pc,
    /// FP register f0-f31 (raw bits; binary16 values are NaN-boxed).
    F(u8),
    /// A CSR by address: `fflags`, `frm`, `fcsr` or one of [`CSRS`].
    Csr(u16),
}

impl Reg {
    /// The register's GDB number.
    pub fn regnum(self) -> usize {
        match self {
            Reg::X(i) => usize::from(i),
            Reg::Pc => 32,
            Reg::F(i) => 33 + usize::from(i),
            Reg::Csr(a) => FIRST_CSR_REGNUM + usize::from(a),
        }
    }

    /// The register of GDB number `n`, if served.
    pub fn from_regnum(n: usize) -> Option<Reg> {
        Some(match n {
            0..=31 => Reg::X(n as u8),
            32 => Reg::Pc,
            33..=64 => Reg::F((n - 33) as u8),
            _ => {
                let a = u16::try_from(n.checked_sub(FIRST_CSR_REGNUM)?).ok()?;
                if !(1..=3).contains(&a) && !CSRS.iter().any(|&(c, _)| c == a) {
                    return None;
                }
                Reg::Csr(a)
            }
        })
    }
}

impl RegId for Reg {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        Reg::from_regnum(id).map(|r| (r, NonZeroUsize::new(4)))
    }
}

/// All served registers of one hart, in `g` packet order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regs {
    /// The words: see [`G_WORDS`].
    pub words: [u32; G_WORDS],
}

impl Default for Regs {
    fn default() -> Self {
        Regs {
            words: [0; G_WORDS],
        }
    }
}

impl Regs {
    /// The register at `g` packet position `i`.
    pub fn reg_at(i: usize) -> Reg {
        match i {
            0..=31 => Reg::X(i as u8),
            32 => Reg::Pc,
            33..=64 => Reg::F((i - 33) as u8),
            65..=67 => Reg::Csr((i - 64) as u16),
            _ => Reg::Csr(CSRS[(i - 68) % CSRS.len()].0),
        }
    }
}

impl Registers for Regs {
    type ProgramCounter = u32;

    fn pc(&self) -> u32 {
        self.words[32]
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        for w in self.words {
            for b in w.to_le_bytes() {
                write_byte(Some(b));
            }
        }
    }

    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        // A shorter `G` sets the first registers only.
        if bytes.len() % 4 != 0 || bytes.len() > 4 * G_WORDS {
            return Err(());
        }
        for (w, c) in self.words.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_round_trips() {
        for i in 0..G_WORDS {
            let r = Regs::reg_at(i);
            assert_eq!(Reg::from_regnum(r.regnum()), Some(r), "position {i}");
        }
        // The g packet is in ascending register number, as GDB lays it out.
        let nums: Vec<usize> = (0..G_WORDS).map(|i| Regs::reg_at(i).regnum()).collect();
        assert!(nums.windows(2).all(|w| w[0] < w[1]), "{nums:?}");
        assert_eq!(Reg::from_regnum(66), Some(Reg::Csr(1)));
        assert_eq!(Reg::from_regnum(65 + 0x300), Some(Reg::Csr(0x300)));
        assert_eq!(Reg::from_regnum(65), None);
        assert_eq!(Reg::from_regnum(65 + 0x7c0), None);
    }

    #[test]
    fn xml_names_every_served_register() {
        let xml = Rv32Imf::target_description_xml().unwrap();
        for i in 0..G_WORDS {
            let n = Regs::reg_at(i).regnum();
            assert!(xml.contains(&format!("regnum=\"{n}\"")), "regnum {n}");
        }
        assert!(xml.contains("name=\"ft0\"") && xml.contains("name=\"mstatus\""));
    }
}
