//! Disassembly in the GNU/LLVM assembler's syntax with ABI register names.

use crate::decode::{Format, Inst};
use crate::hart::csr;
use std::fmt;

/// ABI names of the integer registers.
pub const X_NAMES: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];

/// ABI names of the FP registers.
pub const F_NAMES: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

const RM_NAMES: [&str; 8] = ["rne", "rtz", "rdn", "rup", "rmm", "", "", "dyn"];

/// Wraps an instruction with its pc so branch and jump targets print as absolute addresses.
pub struct Disasm<'a> {
    /// The instruction.
    pub inst: &'a Inst,
    /// Its address.
    pub pc: u32,
}

impl fmt::Display for Disasm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = self.inst;
        let m = i.op.mnemonic();
        let (rd, rs1, rs2, rs3) = (
            i.rd as usize,
            i.rs1 as usize,
            i.rs2 as usize,
            i.rs3 as usize,
        );
        let (x, fr) = (&X_NAMES, &F_NAMES);
        let rm = if i.op.uses_rm() && i.rm != 7 {
            format!(", {}", RM_NAMES[i.rm as usize])
        } else {
            String::new()
        };
        let target = self.pc.wrapping_add(i.imm as u32);
        match i.op.format() {
            Format::R => write!(f, "{m} {}, {}, {}", x[rd], x[rs1], x[rs2]),
            Format::I => write!(f, "{m} {}, {}, {}", x[rd], x[rs1], i.imm),
            Format::Shift => write!(f, "{m} {}, {}, {}", x[rd], x[rs1], i.imm),
            Format::Load => write!(f, "{m} {}, {}({})", x[rd], i.imm, x[rs1]),
            Format::Store => write!(f, "{m} {}, {}({})", x[rs2], i.imm, x[rs1]),
            Format::Branch => write!(f, "{m} {}, {}, {target:#x}", x[rs1], x[rs2]),
            Format::U => write!(f, "{m} {}, {:#x}", x[rd], (i.imm as u32) >> 12),
            Format::Jal => write!(f, "{m} {}, {target:#x}", x[rd]),
            Format::Jalr => write!(f, "{m} {}, {}({})", x[rd], i.imm, x[rs1]),
            Format::Csr | Format::CsrI => {
                let c = i.imm as u16;
                let name = csr::name(c).map_or_else(|| format!("{c:#x}"), str::to_string);
                if i.op.format() == Format::Csr {
                    write!(f, "{m} {}, {name}, {}", x[rd], x[rs1])
                } else {
                    write!(f, "{m} {}, {name}, {}", x[rd], i.rs1)
                }
            }
            Format::None => write!(f, "{m}"),
            Format::FLoad => write!(f, "{m} {}, {}({})", fr[rd], i.imm, x[rs1]),
            Format::FStore => write!(f, "{m} {}, {}({})", fr[rs2], i.imm, x[rs1]),
            Format::F4 => write!(
                f,
                "{m} {}, {}, {}, {}{rm}",
                fr[rd], fr[rs1], fr[rs2], fr[rs3]
            ),
            Format::F3 | Format::F3Acc => {
                write!(f, "{m} {}, {}, {}{rm}", fr[rd], fr[rs1], fr[rs2])
            }
            Format::F2 | Format::F2Acc => write!(f, "{m} {}, {}{rm}", fr[rd], fr[rs1]),
            Format::FCmp => write!(f, "{m} {}, {}, {}", x[rd], fr[rs1], fr[rs2]),
            Format::FToX => write!(f, "{m} {}, {}{rm}", x[rd], fr[rs1]),
            Format::XToF => write!(f, "{m} {}, {}{rm}", fr[rd], x[rs1]),
            Format::DmaImm => write!(f, "{m} {}, {}, {}", x[rd], x[rs1], i.rs2),
            Format::Frep => write!(
                f,
                "{m} {}, {}, {}, {}",
                x[rs1],
                (i.imm & 0xf) + 1,
                i.rm,
                i.rs3
            ),
            Format::CfgRi => write!(f, "{m} {}, {}", x[rd], i.imm),
            Format::CfgWi => write!(f, "{m} {}, {}", x[rs1], i.imm),
            Format::CfgR => write!(f, "{m} {}, {}", x[rd], x[rs2]),
            Format::CfgW => write!(f, "{m} {}, {}", x[rs1], x[rs2]),
            Format::Illegal => write!(f, "illegal {:#010x}", i.raw),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    fn dis(raw: u32, pc: u32) -> String {
        Disasm {
            inst: &decode(raw),
            pc,
        }
        .to_string()
    }

    #[test]
    fn formats() {
        assert_eq!(dis(0xfff5_0513, 0), "addi a0, a0, -1");
        assert_eq!(dis(0xfeb1_2e23, 0), "sw a1, -4(sp)");
        assert_eq!(dis(0xfe00_0ce3, 0x100), "beq zero, zero, 0xf8");
        assert_eq!(dis(0x3405_9573, 0), "csrrw a0, mscratch, a1");
        let fadd_rtz = (12 << 20) | (11 << 15) | (1 << 12) | (10 << 7) | 0x53;
        assert_eq!(dis(fadd_rtz, 0), "fadd.s fa0, fa1, fa2, rtz");
        assert_eq!(dis(fadd_rtz | (7 << 12), 0), "fadd.s fa0, fa1, fa2");
        assert_eq!(dis(0, 0), "illegal 0x00000000");
    }
}

/// A register write as instruction traces print it: `a0=0x0000002a` for an integer register;
/// for an FP register the bits and the value, `fa0=0x3fc00000 (f32 1.5)`, or for a NaN-boxed
/// binary16 (upper half all ones) `fa0=0xffff3e00 (f16 1.5)`, or, for a packed-SIMD result
/// (`packed`), both binary16 lanes, low first: `ft3=0x40003c00 (f16x2 1.0, 2.0)`.
pub struct RegWrite {
    /// ABI name of the register (FP register names start with `f`).
    pub name: &'static str,
    /// The new value.
    pub value: u32,
    /// The instruction is a packed-SIMD binary16 operation.
    pub packed: bool,
}

impl fmt::Display for RegWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (r, v) = (self.name, self.value);
        write!(f, "{r}={v:#010x}")?;
        if !r.starts_with('f') {
            return Ok(());
        }
        let h = |x: u32| crate::fp16::to_f32_value(x as u16);
        if self.packed {
            write!(f, " (f16x2 {:?}, {:?})", h(v), h(v >> 16))
        } else if v >> 16 == 0xffff {
            write!(f, " (f16 {:?})", h(v))
        } else {
            write!(f, " (f32 {:?})", f32::from_bits(v))
        }
    }
}

/// The part of an instruction-trace line after its prefix (the functional trace's
/// `pc: raw`, the cluster's `cycle core pc:`): the symbol column when `symbols` are given, the
/// disassembly, the register write ([`RegWrite`]), the trap if any, and `; file:line` when the
/// ELF has line information. Both traces print their lines through this.
pub struct TraceBody<'a> {
    /// The instruction's address.
    pub pc: u32,
    /// The instruction.
    pub inst: &'a Inst,
    /// The register it wrote and the new value.
    pub write: Option<(&'static str, u32)>,
    /// The trap it raised, shown as `trap: ...`.
    pub trap: Option<&'a dyn fmt::Display>,
    /// Symbol and line information of the program.
    pub symbols: Option<&'a crate::Symbolizer>,
}

impl fmt::Display for TraceBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.symbols {
            write!(f, "{:<24} ", s.column(self.pc))?;
        }
        let d = Disasm {
            inst: self.inst,
            pc: self.pc,
        }
        .to_string();
        write!(f, "{d:<32}")?;
        if let Some((name, value)) = self.write {
            let packed = self.inst.op.is_packed_f16();
            write!(
                f,
                " {}",
                RegWrite {
                    name,
                    value,
                    packed
                }
            )?;
        }
        if let Some(e) = self.trap {
            write!(f, " trap: {e}")?;
        }
        if let Some((file, line)) = self.symbols.and_then(|s| s.line(self.pc)) {
            write!(f, " ; {file}:{line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod reg_write_tests {
    use super::RegWrite;

    #[test]
    fn fp_writes_show_their_values() {
        let w = |name, value, packed| {
            RegWrite {
                name,
                value,
                packed,
            }
            .to_string()
        };
        assert_eq!(w("a0", 42, false), "a0=0x0000002a");
        assert_eq!(w("fa0", 0x3fc0_0000, false), "fa0=0x3fc00000 (f32 1.5)");
        assert_eq!(w("fa0", 0xffff_3e00, false), "fa0=0xffff3e00 (f16 1.5)");
        assert_eq!(
            w("ft3", 0x4000_3c00, true),
            "ft3=0x40003c00 (f16x2 1.0, 2.0)"
        );
        assert_eq!(w("ft0", 0x7fc0_0000, false), "ft0=0x7fc00000 (f32 NaN)");
        assert_eq!(w("ft0", 0xff80_0000, false), "ft0=0xff800000 (f32 -inf)");
    }
}
