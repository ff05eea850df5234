//! The cluster's memory map: the one table of addresses kernels and the model share.
//!
//! `kernels/include/hetsim.h` mirrors every entry as `#define HETSIM_<NAME> <value>`; a test
//! (`header_matches_the_map`) parses the header and fails on any difference.
//!
//! | region | base | size | notes |
//! |---|---|---|---|
//! | TCDM (L1) | `0x1000_0000` | config (default 128 KiB) | banked, word-interleaved, 1-cycle interconnect |
//! | peripherals | `0x1002_0000` | 4 KiB | registers below |
//! | DMA | `0x1002_0400` | registers below | driven by any core (by convention the DMA core) |
//! | RedMulE | `0x1002_0800` | 1 KiB | the GEMM engine's registers (`redmule` module, docs/redmule.md), when the cluster has one |
//! | AIMC tile | `0x1003_0000` | 16 KiB | the tile's MMIO face (`aimc::mmio`), when the cluster has one |
//! | L2 / main memory | `0x8000_0000` | config (default 4 MiB) | code and data of the ELF; slower, shared port |
//!
//! Peripheral registers (32-bit, word accesses; offsets from `PERIPH_BASE`):
//!
//! | offset | name | access | meaning |
//! |---|---|---|---|
//! | 0x00 | NUM_CORES | R | cores in the cluster |
//! | 0x04 | TCDM_END | R | one past the last TCDM byte (stacks grow down from here) |
//! | 0x08 | BARRIER | R | a load returns 0 once every core has loaded it (hardware barrier) |
//! | 0x0C | CYCLE | R | the cluster cycle counter (low 32 bits) |
//! | 0x10 | REGION_BEGIN | W | start of a marked region: write its id (1..=255) |
//! | 0x14 | REGION_END | W | end of the marked region with that id |
//! | 0x18 | CONSOLE | W | low byte goes to the console (per core, lines prefixed `[core N] `) |
//! | 0x1C | EXIT | W | ends the run with this exit code |
//!
//! DMA registers (offsets from `DMA_BASE`): SRC 0x00, DST 0x04, SIZE 0x08 (bytes per row),
//! SRC_STRIDE 0x0C, DST_STRIDE 0x10, REPS 0x14 (rows; 0 or 1 = a 1-D transfer), START 0x18
//! (write: queue a transfer with the registers' values), LAST_ID 0x1C (R: id of the last queued
//! transfer; ids count from 1), DONE_ID 0x20 (R: id of the last completed transfer; transfers
//! complete in order), BUSY 0x24 (R: transfers queued or in flight).

/// Base of the TCDM (L1 scratchpad).
pub const TCDM_BASE: u32 = 0x1000_0000;
/// Base of the cluster peripherals.
pub const PERIPH_BASE: u32 = 0x1002_0000;
/// Size of the peripheral window.
pub const PERIPH_SIZE: u32 = 0x1000;
/// Base of the DMA registers (inside the peripheral window).
pub const DMA_BASE: u32 = 0x1002_0400;
/// Base of the RedMulE register window (inside the peripheral window).
pub const REDMULE_BASE: u32 = 0x1002_0800;
/// Size of the RedMulE register window.
pub const REDMULE_SIZE: u32 = 0x400;
/// Base of the AIMC tile window.
pub const AIMC_BASE: u32 = 0x1003_0000;
/// Size of the AIMC tile window.
pub const AIMC_SIZE: u32 = 0x4000;
/// Base of L2 / main memory (where kernels are linked).
pub const L2_BASE: u32 = 0x8000_0000;

/// Peripheral register offsets.
pub mod periph {
    /// Number of cores (R).
    pub const NUM_CORES: u32 = 0x00;
    /// One past the last TCDM byte (R).
    pub const TCDM_END: u32 = 0x04;
    /// Hardware barrier (R, blocking).
    pub const BARRIER: u32 = 0x08;
    /// Cluster cycle counter, low 32 bits (R).
    pub const CYCLE: u32 = 0x0C;
    /// Begin a marked region (W, id).
    pub const REGION_BEGIN: u32 = 0x10;
    /// End a marked region (W, id).
    pub const REGION_END: u32 = 0x14;
    /// Console byte port (W).
    pub const CONSOLE: u32 = 0x18;
    /// Exit port (W, exit code).
    pub const EXIT: u32 = 0x1C;
}

/// DMA register offsets.
pub mod dma {
    /// Source address.
    pub const SRC: u32 = 0x00;
    /// Destination address.
    pub const DST: u32 = 0x04;
    /// Bytes per row.
    pub const SIZE: u32 = 0x08;
    /// Source stride between rows (bytes).
    pub const SRC_STRIDE: u32 = 0x0C;
    /// Destination stride between rows (bytes).
    pub const DST_STRIDE: u32 = 0x10;
    /// Number of rows (0 or 1: 1-D).
    pub const REPS: u32 = 0x14;
    /// Write: queue a transfer.
    pub const START: u32 = 0x18;
    /// Id of the last queued transfer (R).
    pub const LAST_ID: u32 = 0x1C;
    /// Id of the last completed transfer (R).
    pub const DONE_ID: u32 = 0x20;
    /// Transfers queued or in flight (R).
    pub const BUSY: u32 = 0x24;
}

use super::redmule as rm;

/// Every named address, as `hetsim.h` spells it (`HETSIM_<name>`): the table the header test
/// checks.
pub const HEADER_TABLE: &[(&str, u32)] = &[
    ("TCDM_BASE", TCDM_BASE),
    ("PERIPH_BASE", PERIPH_BASE),
    ("DMA_BASE", DMA_BASE),
    ("REDMULE_BASE", REDMULE_BASE),
    ("AIMC_BASE", AIMC_BASE),
    ("L2_BASE", L2_BASE),
    ("NUM_CORES_ADDR", PERIPH_BASE + periph::NUM_CORES),
    ("TCDM_END_ADDR", PERIPH_BASE + periph::TCDM_END),
    ("BARRIER_ADDR", PERIPH_BASE + periph::BARRIER),
    ("CYCLE_ADDR", PERIPH_BASE + periph::CYCLE),
    ("REGION_BEGIN_ADDR", PERIPH_BASE + periph::REGION_BEGIN),
    ("REGION_END_ADDR", PERIPH_BASE + periph::REGION_END),
    ("CONSOLE_ADDR", PERIPH_BASE + periph::CONSOLE),
    ("EXIT_ADDR", PERIPH_BASE + periph::EXIT),
    ("DMA_SRC", DMA_BASE + dma::SRC),
    ("DMA_DST", DMA_BASE + dma::DST),
    ("DMA_SIZE", DMA_BASE + dma::SIZE),
    ("DMA_SRC_STRIDE", DMA_BASE + dma::SRC_STRIDE),
    ("DMA_DST_STRIDE", DMA_BASE + dma::DST_STRIDE),
    ("DMA_REPS", DMA_BASE + dma::REPS),
    ("DMA_START", DMA_BASE + dma::START),
    ("DMA_LAST_ID", DMA_BASE + dma::LAST_ID),
    ("DMA_DONE_ID", DMA_BASE + dma::DONE_ID),
    ("DMA_BUSY", DMA_BASE + dma::BUSY),
    ("REDMULE_TRIGGER", REDMULE_BASE + rm::REG_TRIGGER),
    ("REDMULE_ACQUIRE", REDMULE_BASE + rm::REG_ACQUIRE),
    ("REDMULE_FINISHED", REDMULE_BASE + rm::REG_FINISHED),
    ("REDMULE_STATUS", REDMULE_BASE + rm::REG_STATUS),
    ("REDMULE_SOFT_CLEAR", REDMULE_BASE + rm::REG_SOFT_CLEAR),
    ("REDMULE_X_ADDR", REDMULE_BASE + rm::REG_X_ADDR),
    ("REDMULE_W_ADDR", REDMULE_BASE + rm::REG_W_ADDR),
    ("REDMULE_Z_ADDR", REDMULE_BASE + rm::REG_Z_ADDR),
    ("REDMULE_MCFG0", REDMULE_BASE + rm::REG_MCFG0),
    ("REDMULE_MCFG1", REDMULE_BASE + rm::REG_MCFG1),
    ("REDMULE_ARITH", REDMULE_BASE + rm::REG_ARITH),
    ("REDMULE_ERROR", REDMULE_BASE + rm::REG_ERROR),
    ("REDMULE_LAST_CYCLES", REDMULE_BASE + rm::REG_LAST_CYCLES),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// kernels/include/hetsim.h defines every entry of [`HEADER_TABLE`] with the same value,
    /// and defines no other `HETSIM_*` address the table lacks.
    #[test]
    fn header_matches_the_map() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../kernels/include/hetsim.h");
        let text = std::fs::read_to_string(path).expect("kernels/include/hetsim.h");
        let mut defined = std::collections::BTreeMap::new();
        for line in text.lines() {
            let mut w = line.split_whitespace();
            if w.next() != Some("#define") {
                continue;
            }
            let (Some(name), Some(value)) = (w.next(), w.next()) else {
                continue;
            };
            let Some(name) = name.strip_prefix("HETSIM_") else {
                continue;
            };
            let v = value.trim_end_matches(['u', 'U', 'l', 'L']);
            if let Some(hex) = v.strip_prefix("0x") {
                if let Ok(n) = u32::from_str_radix(hex, 16) {
                    defined.insert(name.to_string(), n);
                }
            }
        }
        for (name, addr) in HEADER_TABLE {
            assert_eq!(
                defined.get(*name),
                Some(addr),
                "hetsim.h must define HETSIM_{name} as {addr:#010x}"
            );
        }
        let known: std::collections::BTreeSet<_> =
            HEADER_TABLE.iter().map(|(n, _)| n.to_string()).collect();
        for name in defined.keys() {
            assert!(
                known.contains(name),
                "hetsim.h defines HETSIM_{name}, which the model's map does not have"
            );
        }
    }
}
