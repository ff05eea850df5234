//! Architectural state of one hart: registers, privilege, CSRs, and trap entry/return.
//!
//! Implemented CSRs: fflags, frm, fcsr; cycle, time, instret (and high halves); mstatus,
//! mstatush, misa, mie, mtvec, mcounteren, mscratch, mepc, mcause, mtval, mip, mcycle,
//! minstret (and high halves), mvendorid, marchid, mimpid, mhartid, mconfigptr; `ssr` (0x7C0) when Xssr is on. Every other
//! CSR number raises an illegal-instruction exception, as do writes to read-only CSRs and
//! accesses above the current privilege.

use crate::ext::Extensions;
use crate::trap::Exception;

/// A CSR access the hart refuses (unknown CSR, too little privilege, write to a read-only
/// CSR, FP CSR with the FPU off): the instruction raises an illegal-instruction exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IllegalCsr;

/// Privilege level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Privilege {
    /// User mode (encoding 0).
    User = 0,
    /// Machine mode (encoding 3).
    Machine = 3,
}

/// How misaligned loads and stores behave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Misaligned {
    /// Raise the architected address-misaligned exceptions (cause 4 / 6).
    #[default]
    Trap,
    /// Perform the access in hardware, byte by byte.
    Allow,
}

/// mstatus bit positions and masks used by the hart.
pub mod mstatus {
    /// Machine interrupt enable.
    pub const MIE: u32 = 1 << 3;
    /// Previous MIE.
    pub const MPIE: u32 = 1 << 7;
    /// Previous privilege (2 bits).
    pub const MPP_SHIFT: u32 = 11;
    /// Mask of the MPP field.
    pub const MPP: u32 = 3 << MPP_SHIFT;
    /// FP unit state (2 bits): 0 Off, 1 Initial, 2 Clean, 3 Dirty.
    pub const FS_SHIFT: u32 = 13;
    /// Mask of the FS field.
    pub const FS: u32 = 3 << FS_SHIFT;
    /// Summary dirty bit (read-only, = FS == Dirty).
    pub const SD: u32 = 1 << 31;
    /// Bits software may write.
    pub const WRITABLE: u32 = MIE | MPIE | MPP | FS;
}

/// CSR numbers hetsim implements.
pub mod csr {
    #![allow(missing_docs)]
    pub const FFLAGS: u16 = 0x001;
    pub const FRM: u16 = 0x002;
    pub const FCSR: u16 = 0x003;
    pub const CYCLE: u16 = 0xC00;
    pub const TIME: u16 = 0xC01;
    pub const INSTRET: u16 = 0xC02;
    pub const CYCLEH: u16 = 0xC80;
    pub const TIMEH: u16 = 0xC81;
    pub const INSTRETH: u16 = 0xC82;
    pub const MSTATUS: u16 = 0x300;
    pub const MISA: u16 = 0x301;
    pub const MIE: u16 = 0x304;
    pub const MTVEC: u16 = 0x305;
    pub const MCOUNTEREN: u16 = 0x306;
    pub const MSTATUSH: u16 = 0x310;
    pub const MSCRATCH: u16 = 0x340;
    pub const MEPC: u16 = 0x341;
    pub const MCAUSE: u16 = 0x342;
    pub const MTVAL: u16 = 0x343;
    pub const MIP: u16 = 0x344;
    pub const MCYCLE: u16 = 0xB00;
    pub const MINSTRET: u16 = 0xB02;
    pub const MCYCLEH: u16 = 0xB80;
    pub const MINSTRETH: u16 = 0xB82;
    pub const MVENDORID: u16 = 0xF11;
    pub const MARCHID: u16 = 0xF12;
    pub const MIMPID: u16 = 0xF13;
    pub const MHARTID: u16 = 0xF14;
    pub const MCONFIGPTR: u16 = 0xF15;

    /// The name of an implemented CSR, for disassembly.
    pub fn name(addr: u16) -> Option<&'static str> {
        Some(match addr {
            FFLAGS => "fflags",
            FRM => "frm",
            FCSR => "fcsr",
            CYCLE => "cycle",
            TIME => "time",
            INSTRET => "instret",
            CYCLEH => "cycleh",
            TIMEH => "timeh",
            INSTRETH => "instreth",
            MSTATUS => "mstatus",
            MISA => "misa",
            MIE => "mie",
            MTVEC => "mtvec",
            MCOUNTEREN => "mcounteren",
            MSTATUSH => "mstatush",
            MSCRATCH => "mscratch",
            MEPC => "mepc",
            MCAUSE => "mcause",
            MTVAL => "mtval",
            MIP => "mip",
            MCYCLE => "mcycle",
            MINSTRET => "minstret",
            MCYCLEH => "mcycleh",
            MINSTRETH => "minstreth",
            MVENDORID => "mvendorid",
            MARCHID => "marchid",
            MIMPID => "mimpid",
            MHARTID => "mhartid",
            MCONFIGPTR => "mconfigptr",
            crate::ssr::CSR_SSR => "ssr",
            _ => return None,
        })
    }
}

/// misa for RV32IMFU: MXL = 1 (32-bit), extensions F, I, M, U.
pub const MISA_RV32IMFU: u32 = (1 << 30) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 20);

/// Architectural state of one RV32IMF hart.
#[derive(Clone, Debug)]
pub struct Hart {
    /// Integer registers; `x[0]` is kept at zero.
    pub x: [u32; 32],
    /// FP registers (raw IEEE-754 single-precision bits).
    pub f: [u32; 32],
    /// Program counter.
    pub pc: u32,
    /// Current privilege.
    pub privilege: Privilege,
    /// Accrued FP exception flags (`fcsr[4:0]`).
    pub fflags: u8,
    /// Dynamic rounding mode (`fcsr[7:5]`).
    pub frm: u8,
    /// mstatus (only MIE, MPIE, MPP, FS are stored; SD is derived).
    pub mstatus: u32,
    /// mtvec (BASE and MODE).
    pub mtvec: u32,
    /// mepc.
    pub mepc: u32,
    /// mcause.
    pub mcause: u32,
    /// mtval.
    pub mtval: u32,
    /// mscratch.
    pub mscratch: u32,
    /// mie (stored, no interrupt sources exist).
    pub mie: u32,
    /// mcounteren (bits CY, TM, IR).
    pub mcounteren: u32,
    /// Hart id (mhartid).
    pub hart_id: u32,
    /// Cycle counter (mcycle). The functional runner advances it with instret; cycle-level
    /// models set it from their clock.
    pub cycle: u64,
    /// Retired-instruction counter (minstret).
    pub instret: u64,
    /// Misaligned-access behaviour.
    pub misaligned: Misaligned,
    /// Optional extensions (Zfh, packed FP16); none at reset. Decode with
    /// [`crate::decode::decode_with`]`(raw, hart.ext)`; an extension instruction executed
    /// while its extension is off raises illegal-instruction.
    pub ext: Extensions,
    /// The stream semantic registers, present when [`Extensions::xssr`] is enabled (through
    /// [`Hart::set_extensions`]).
    pub ssr: Option<Box<crate::ssr::Ssr>>,
}

impl Hart {
    /// A hart at reset: pc = `entry`, machine mode, registers zero, mstatus.FS = Initial (the
    /// reset value of FS is implementation-defined; Initial lets stock bare-metal start-up
    /// code that never touches mstatus use the FPU), mcounteren = 7 (U-mode may read the
    /// counters).
    pub fn new(hart_id: u32, entry: u32) -> Hart {
        Hart {
            x: [0; 32],
            f: [0; 32],
            pc: entry,
            privilege: Privilege::Machine,
            fflags: 0,
            frm: 0,
            mstatus: 1 << mstatus::FS_SHIFT,
            mtvec: 0,
            mepc: 0,
            mcause: 0,
            mtval: 0,
            mscratch: 0,
            mie: 0,
            mcounteren: 7,
            hart_id,
            cycle: 0,
            instret: 0,
            misaligned: Misaligned::Trap,
            ext: Extensions::NONE,
            ssr: None,
        }
    }

    /// Enables the optional extensions `ext` (creating or dropping the stream registers for
    /// Xssr).
    pub fn set_extensions(&mut self, ext: Extensions) {
        self.ext = ext;
        if ext.xssr != self.ssr.is_some() {
            self.ssr = ext.xssr.then(Box::default);
        }
    }

    /// True when Xssr streaming is enabled (ft0-ft2 are streams).
    #[inline]
    pub fn streaming(&self) -> bool {
        self.ssr.as_ref().is_some_and(|s| s.enabled)
    }

    /// fcsr as software reads it.
    pub fn fcsr(&self) -> u32 {
        (u32::from(self.frm) << 5) | u32::from(self.fflags)
    }

    /// True when mstatus.FS is not Off.
    #[inline]
    pub fn fp_enabled(&self) -> bool {
        self.mstatus & mstatus::FS != 0
    }

    /// Marks the FP state dirty (after any write to an FP register or fcsr).
    #[inline]
    pub fn set_fs_dirty(&mut self) {
        self.mstatus |= mstatus::FS;
    }

    /// mstatus as software reads it (with SD derived from FS).
    pub fn mstatus_value(&self) -> u32 {
        let sd = if self.mstatus & mstatus::FS == mstatus::FS {
            mstatus::SD
        } else {
            0
        };
        self.mstatus | sd
    }

    /// Enters the trap handler for `e` raised by the instruction at `self.pc`.
    pub fn take_trap(&mut self, e: Exception) {
        self.mepc = self.pc;
        self.mcause = e.cause();
        self.mtval = e.tval();
        let mie = self.mstatus & mstatus::MIE != 0;
        self.mstatus &= !(mstatus::MPIE | mstatus::MIE | mstatus::MPP);
        if mie {
            self.mstatus |= mstatus::MPIE;
        }
        self.mstatus |= (self.privilege as u32) << mstatus::MPP_SHIFT;
        self.privilege = Privilege::Machine;
        // Exceptions go to BASE in both direct and vectored mode.
        self.pc = self.mtvec & !3;
    }

    /// Executes `mret`: restores privilege and MIE, jumps to mepc.
    pub fn mret(&mut self) {
        let mpp = (self.mstatus & mstatus::MPP) >> mstatus::MPP_SHIFT;
        let mpie = self.mstatus & mstatus::MPIE != 0;
        self.mstatus &= !(mstatus::MIE | mstatus::MPP);
        if mpie {
            self.mstatus |= mstatus::MIE;
        }
        self.mstatus |= mstatus::MPIE;
        self.privilege = if mpp == 3 {
            Privilege::Machine
        } else {
            Privilege::User
        };
        self.pc = self.mepc;
    }

    /// Reads CSR `addr` with the access checks of the current privilege.
    pub fn read_csr(&self, addr: u16) -> Result<u32, IllegalCsr> {
        self.check_privilege(addr)?;
        use csr::*;
        Ok(match addr {
            FFLAGS | FRM | FCSR if !self.fp_enabled() => return Err(IllegalCsr),
            FFLAGS => u32::from(self.fflags),
            FRM => u32::from(self.frm),
            FCSR => self.fcsr(),
            CYCLE | TIME | INSTRET | CYCLEH | TIMEH | INSTRETH => {
                let bit = u32::from(addr & 0x1f);
                if self.privilege == Privilege::User && self.mcounteren & (1 << bit) == 0 {
                    return Err(IllegalCsr);
                }
                // time reads the cycle counter: hetsim has no separate real-time clock.
                let v = if addr & 0x1f == 2 {
                    self.instret
                } else {
                    self.cycle
                };
                if addr >= CYCLEH {
                    (v >> 32) as u32
                } else {
                    v as u32
                }
            }
            MSTATUS => self.mstatus_value(),
            MSTATUSH => 0,
            // Bit X (23) reports the non-standard Xfvec; Zfh has no misa bit.
            MISA => MISA_RV32IMFU | (u32::from(self.ext.xfvec) << 23),
            MIE => self.mie,
            MTVEC => self.mtvec,
            MCOUNTEREN => self.mcounteren,
            MSCRATCH => self.mscratch,
            MEPC => self.mepc,
            MCAUSE => self.mcause,
            MTVAL => self.mtval,
            MIP => 0,
            MCYCLE => self.cycle as u32,
            MCYCLEH => (self.cycle >> 32) as u32,
            MINSTRET => self.instret as u32,
            MINSTRETH => (self.instret >> 32) as u32,
            MVENDORID | MARCHID | MIMPID | MCONFIGPTR => 0,
            MHARTID => self.hart_id,
            crate::ssr::CSR_SSR => match &self.ssr {
                Some(s) => u32::from(s.enabled),
                None => return Err(IllegalCsr),
            },
            _ => return Err(IllegalCsr),
        })
    }

    /// Writes CSR `addr`. The caller has already read it (so existence and privilege are
    /// checked); this rejects writes to read-only CSRs.
    ///
    /// A write to minstret or mcycle stores `value - 1` because the runner counts the writing
    /// instruction afterwards: software then reads back exactly what it wrote.
    pub fn write_csr(&mut self, addr: u16, value: u32) -> Result<(), IllegalCsr> {
        if addr >> 10 == 3 {
            return Err(IllegalCsr); // read-only range 0xC00-0xFFF
        }
        use csr::*;
        match addr {
            FFLAGS => self.fflags = (value & 0x1f) as u8,
            FRM => self.frm = (value & 7) as u8,
            FCSR => {
                self.fflags = (value & 0x1f) as u8;
                self.frm = ((value >> 5) & 7) as u8;
            }
            MSTATUS => {
                let mut v = value & mstatus::WRITABLE;
                // MPP is WARL: only M (3) and U (0) exist.
                if v & mstatus::MPP != mstatus::MPP {
                    v &= !mstatus::MPP;
                }
                self.mstatus = v;
            }
            MSTATUSH | MISA | MIP => {} // WARL, read-only zero / fixed
            MIE => self.mie = value & 0x888,
            MTVEC => {
                // Modes 0 (direct) and 1 (vectored); reserved modes fall back to direct.
                let mode = if value & 3 == 1 { 1 } else { 0 };
                self.mtvec = (value & !3) | mode;
            }
            MCOUNTEREN => self.mcounteren = value & 7,
            MSCRATCH => self.mscratch = value,
            MEPC => self.mepc = value & !3,
            MCAUSE => self.mcause = value,
            MTVAL => self.mtval = value,
            crate::ssr::CSR_SSR => match &mut self.ssr {
                Some(s) => s.enabled = value & 1 != 0,
                None => return Err(IllegalCsr),
            },
            MCYCLE => self.cycle = ((self.cycle >> 32) << 32 | u64::from(value)).wrapping_sub(1),
            MCYCLEH => {
                self.cycle = ((u64::from(value) << 32) | (self.cycle & 0xffff_ffff)).wrapping_sub(1)
            }
            MINSTRET => {
                self.instret = ((self.instret >> 32) << 32 | u64::from(value)).wrapping_sub(1)
            }
            MINSTRETH => {
                self.instret =
                    ((u64::from(value) << 32) | (self.instret & 0xffff_ffff)).wrapping_sub(1)
            }
            _ => return Err(IllegalCsr),
        }
        if matches!(addr, FFLAGS | FRM | FCSR) {
            self.set_fs_dirty();
        }
        Ok(())
    }

    fn check_privilege(&self, addr: u16) -> Result<(), IllegalCsr> {
        let required = (addr >> 8) & 3;
        if required > self.privilege as u16 {
            Err(IllegalCsr)
        } else {
            Ok(())
        }
    }
}
