//! The memory-mapped face of a tile: a register block and two data windows that a cluster maps
//! into its peripheral window, with the MVM latency visible as cycles of the cluster clock.
//!
//! Register map (byte offsets from the device base; 32-bit little-endian words, word-aligned
//! accesses only; data words are IEEE-754 binary32 bit patterns):
//!
//! | offset            | name        | access | meaning                                        |
//! |-------------------|-------------|--------|------------------------------------------------|
//! | `0x000`           | ID          | R      | `0x434D_4941` ("AIMC" as little-endian bytes)   |
//! | `0x004`           | IN_DIM      | R      | inputs per MVM (length of the input buffer)    |
//! | `0x008`           | OUT_DIM     | R      | outputs per MVM (length of the output buffer)  |
//! | `0x00C`           | CTRL        | W      | bit 0 START, bit 1 CLEAR (DONE, ERROR); reads 0 |
//! | `0x010`           | STATUS      | R      | bit 0 BUSY, bit 1 DONE, bit 2 ERROR            |
//! | `0x014`           | ERROR_CODE  | R      | 0 none, 1 START while busy, 2 non-finite input |
//! | `0x018`           | LAST_CYCLES | R      | cycles taken by the last MVM                   |
//! | `0x01C`           | MVM_COUNT   | R      | MVMs completed since creation                  |
//! | `0x1000..0x2000`  | `IN[i]`     | R/W    | input `i` (f32), `i < IN_DIM`                  |
//! | `0x2000..0x3000`  | `OUT[j]`    | R      | output `j` (f32), `j < OUT_DIM`                |
//!
//! START samples the input buffer, computes the MVM at the device's inference time and sets
//! BUSY for `ceil(latency_ns * clock_ghz)` cycles (at least 1); when [`AimcMmio::advance`]
//! reaches that time the result appears in OUT, BUSY clears and DONE sets. OUT keeps the
//! previous result while BUSY. The input buffer may be rewritten while BUSY (it was sampled).

use super::analog::AnalogMatrix;
use super::error::{AimcError, Result};

/// `ID` register value: the bytes "AIMC" in little-endian order.
pub const AIMC_ID: u32 = u32::from_le_bytes(*b"AIMC");
/// Offset of the ID register.
pub const REG_ID: u32 = 0x000;
/// Offset of the IN_DIM register.
pub const REG_IN_DIM: u32 = 0x004;
/// Offset of the OUT_DIM register.
pub const REG_OUT_DIM: u32 = 0x008;
/// Offset of the CTRL register.
pub const REG_CTRL: u32 = 0x00C;
/// Offset of the STATUS register.
pub const REG_STATUS: u32 = 0x010;
/// Offset of the ERROR_CODE register.
pub const REG_ERROR_CODE: u32 = 0x014;
/// Offset of the LAST_CYCLES register.
pub const REG_LAST_CYCLES: u32 = 0x018;
/// Offset of the MVM_COUNT register.
pub const REG_MVM_COUNT: u32 = 0x01C;
/// Start of the input buffer window.
pub const IN_BASE: u32 = 0x1000;
/// Start of the output buffer window.
pub const OUT_BASE: u32 = 0x2000;
/// Size of the whole device window in bytes.
pub const WINDOW_BYTES: u32 = 0x3000;
/// Largest IN_DIM / OUT_DIM that fits a 4 KiB data window.
pub const MAX_MMIO_DIM: usize = 1024;
/// CTRL bit: start an MVM.
pub const CTRL_START: u32 = 1 << 0;
/// CTRL bit: clear DONE and ERROR.
pub const CTRL_CLEAR: u32 = 1 << 1;
/// STATUS bit: an MVM is in flight.
pub const STATUS_BUSY: u32 = 1 << 0;
/// STATUS bit: the last MVM completed and OUT holds its result.
pub const STATUS_DONE: u32 = 1 << 1;
/// STATUS bit: the last START was refused (see ERROR_CODE).
pub const STATUS_ERROR: u32 = 1 << 2;
/// ERROR_CODE: START written while BUSY (ignored).
pub const ERR_START_WHILE_BUSY: u32 = 1;
/// ERROR_CODE: the input buffer held NaN or an infinity (no MVM done).
pub const ERR_NON_FINITE_INPUT: u32 = 2;

/// A programmed [`AnalogMatrix`] behind a register block, driven by loads and stores.
#[derive(Debug, Clone)]
pub struct AimcMmio {
    matrix: AnalogMatrix,
    clock_ghz: f64,
    t_inf_s: f64,
    input: Vec<f32>,
    output: Vec<f32>,
    pending: Vec<f32>,
    now: u64,
    busy_until: Option<u64>,
    done: bool,
    error_code: u32,
    last_cycles: u32,
    mvm_count: u32,
}

impl AimcMmio {
    /// Wraps a programmed matrix for a cluster clocked at `clock_ghz` (cycles per ns); the
    /// device starts at cycle 0 with inference time 0 s. Fails if a dimension exceeds
    /// [`MAX_MMIO_DIM`] or the clock is not finite and positive.
    pub fn new(matrix: AnalogMatrix, clock_ghz: f64) -> Result<Self> {
        if !(clock_ghz.is_finite() && clock_ghz > 0.0) {
            return Err(AimcError::InvalidArgument {
                name: "clock_ghz",
                value: clock_ghz.to_string(),
                reason: "must be finite and > 0",
            });
        }
        for (name, dim) in [("in_dim", matrix.in_dim()), ("out_dim", matrix.out_dim())] {
            if dim > MAX_MMIO_DIM {
                return Err(AimcError::InvalidArgument {
                    name,
                    value: dim.to_string(),
                    reason: "an MMIO tile window holds at most 1024 values",
                });
            }
        }
        Ok(Self {
            input: vec![0.0; matrix.in_dim()],
            output: vec![0.0; matrix.out_dim()],
            pending: vec![0.0; matrix.out_dim()],
            matrix,
            clock_ghz,
            t_inf_s: 0.0,
            now: 0,
            busy_until: None,
            done: false,
            error_code: 0,
            last_cycles: 0,
            mvm_count: 0,
        })
    }

    /// The wrapped matrix.
    pub fn matrix(&self) -> &AnalogMatrix {
        &self.matrix
    }

    /// Sets the inference time (s after programming) used by later MVMs.
    pub fn set_inference_time(&mut self, t_inf_s: f64) -> Result<()> {
        if !(t_inf_s.is_finite() && t_inf_s >= 0.0) {
            return Err(AimcError::InvalidTime {
                what: "inference time t_inf",
                value: t_inf_s,
            });
        }
        self.t_inf_s = t_inf_s;
        Ok(())
    }

    /// Current device time in cycles.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Cycle at which the MVM in flight completes, if one is in flight.
    pub fn busy_until(&self) -> Option<u64> {
        self.busy_until
    }

    /// Cycles an MVM with `passes` analog passes takes at this clock (at least 1).
    pub fn mvm_cycles(&self, passes: u32) -> u64 {
        ((self.matrix.mvm_latency(passes).total_ns() * self.clock_ghz).ceil() as u64).max(1)
    }

    /// Advances device time by `cycles`, completing the MVM in flight when its time comes.
    pub fn advance(&mut self, cycles: u64) {
        self.now = self.now.saturating_add(cycles);
        if let Some(t) = self.busy_until {
            if self.now >= t {
                std::mem::swap(&mut self.output, &mut self.pending);
                self.busy_until = None;
                self.done = true;
                self.mvm_count = self.mvm_count.wrapping_add(1);
            }
        }
    }

    fn status(&self) -> u32 {
        let mut s = 0;
        if self.busy_until.is_some() {
            s |= STATUS_BUSY;
        }
        if self.done {
            s |= STATUS_DONE;
        }
        if self.error_code != 0 {
            s |= STATUS_ERROR;
        }
        s
    }

    fn fault(access: &'static str, offset: u32, reason: &'static str) -> AimcError {
        AimcError::Mmio {
            access,
            offset,
            reason,
        }
    }

    /// Index of a data word in a window, if `offset` falls in `[base, base + 4 * len)`.
    fn word_index(offset: u32, base: u32, len: usize) -> Option<usize> {
        let i = (offset.checked_sub(base)? / 4) as usize;
        (i < len && offset < base + 0x1000).then_some(i)
    }

    /// Loads the 32-bit word at byte `offset`.
    pub fn read(&self, offset: u32) -> Result<u32> {
        if offset % 4 != 0 {
            return Err(Self::fault(
                "read",
                offset,
                "misaligned (word accesses only)",
            ));
        }
        Ok(match offset {
            REG_ID => AIMC_ID,
            REG_IN_DIM => self.input.len() as u32,
            REG_OUT_DIM => self.output.len() as u32,
            REG_CTRL => 0,
            REG_STATUS => self.status(),
            REG_ERROR_CODE => self.error_code,
            REG_LAST_CYCLES => self.last_cycles,
            REG_MVM_COUNT => self.mvm_count,
            _ => {
                if let Some(i) = Self::word_index(offset, IN_BASE, self.input.len()) {
                    self.input.get(i).map_or(0, |v| v.to_bits())
                } else if let Some(j) = Self::word_index(offset, OUT_BASE, self.output.len()) {
                    self.output.get(j).map_or(0, |v| v.to_bits())
                } else {
                    return Err(Self::fault(
                        "read",
                        offset,
                        "no register or buffer word here",
                    ));
                }
            }
        })
    }

    /// Stores the 32-bit word `value` at byte `offset`.
    pub fn write(&mut self, offset: u32, value: u32) -> Result<()> {
        if offset % 4 != 0 {
            return Err(Self::fault(
                "write",
                offset,
                "misaligned (word accesses only)",
            ));
        }
        match offset {
            REG_CTRL => {
                if value & CTRL_CLEAR != 0 {
                    self.done = false;
                    self.error_code = 0;
                }
                if value & CTRL_START != 0 {
                    self.start();
                }
                Ok(())
            }
            REG_ID | REG_IN_DIM | REG_OUT_DIM | REG_STATUS | REG_ERROR_CODE | REG_LAST_CYCLES
            | REG_MVM_COUNT => Err(Self::fault("write", offset, "read-only register")),
            _ => {
                if let Some(i) = Self::word_index(offset, IN_BASE, self.input.len()) {
                    if let Some(v) = self.input.get_mut(i) {
                        *v = f32::from_bits(value);
                    }
                    Ok(())
                } else if Self::word_index(offset, OUT_BASE, self.output.len()).is_some() {
                    Err(Self::fault("write", offset, "output buffer is read-only"))
                } else {
                    Err(Self::fault(
                        "write",
                        offset,
                        "no register or buffer word here",
                    ))
                }
            }
        }
    }

    fn start(&mut self) {
        if self.busy_until.is_some() {
            self.error_code = ERR_START_WHILE_BUSY;
            return;
        }
        self.done = false;
        match self
            .matrix
            .mvm_into(&self.input, self.t_inf_s, &mut self.pending)
        {
            Ok(lat) => {
                let passes = u32::try_from(lat.passes).unwrap_or(u32::MAX);
                let cycles = self.mvm_cycles(passes);
                self.last_cycles = u32::try_from(cycles).unwrap_or(u32::MAX);
                self.busy_until = Some(self.now.saturating_add(cycles));
                self.error_code = 0;
            }
            // Lengths always match and the time was validated: only non-finite input remains.
            Err(_) => self.error_code = ERR_NON_FINITE_INPUT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aimc::{reference_mvm, Matrix, TileConfig};

    fn device() -> (AimcMmio, Matrix) {
        let cfg = TileConfig {
            rows: 16,
            cols: 8,
            ..TileConfig::ideal()
        };
        let w = Matrix::random_normal(16, 8, 0.1, 1);
        let m = AnalogMatrix::program(&cfg, &w).unwrap();
        (AimcMmio::new(m, 1.0).unwrap(), w)
    }

    #[test]
    fn kernel_style_mvm_takes_integration_time_in_cycles() {
        let (mut dev, w) = device();
        assert_eq!(dev.read(REG_ID).unwrap(), AIMC_ID);
        assert_eq!(dev.read(REG_IN_DIM).unwrap(), 16);
        assert_eq!(dev.read(REG_OUT_DIM).unwrap(), 8);
        let x: Vec<f32> = (0..16).map(|i| i as f32 * 0.25 - 2.0).collect();
        for (i, v) in x.iter().enumerate() {
            dev.write(IN_BASE + 4 * i as u32, v.to_bits()).unwrap();
        }
        dev.advance(10);
        dev.write(REG_CTRL, CTRL_START).unwrap();
        // 128 ns at 1 GHz = 128 cycles, from cycle 10.
        assert_eq!(dev.busy_until(), Some(138));
        assert_eq!(dev.read(REG_STATUS).unwrap(), STATUS_BUSY);
        assert_eq!(dev.read(OUT_BASE).unwrap(), 0, "old output while busy");
        dev.advance(127);
        assert_eq!(dev.read(REG_STATUS).unwrap(), STATUS_BUSY);
        dev.advance(1);
        assert_eq!(dev.read(REG_STATUS).unwrap(), STATUS_DONE);
        assert_eq!(dev.read(REG_LAST_CYCLES).unwrap(), 128);
        assert_eq!(dev.read(REG_MVM_COUNT).unwrap(), 1);
        let want = reference_mvm(&w, &x, 16).unwrap();
        for (j, v) in want.iter().enumerate() {
            assert_eq!(dev.read(OUT_BASE + 4 * j as u32).unwrap(), v.to_bits());
        }
        dev.write(REG_CTRL, CTRL_CLEAR).unwrap();
        assert_eq!(dev.read(REG_STATUS).unwrap(), 0);
    }

    #[test]
    fn clock_scales_cycles() {
        let (dev, _) = device();
        let slow = AimcMmio::new(dev.matrix().clone(), 0.5).unwrap();
        // 128 ns at 0.5 GHz = 64 cycles; 133 ns at 0.9 GHz = 119.7 -> 120.
        assert_eq!(slow.mvm_cycles(1), 64);
        let cfg = TileConfig {
            rows: 4,
            cols: 4,
            integration_time_ns: 133.0,
            ..TileConfig::ideal()
        };
        let m = AnalogMatrix::program(&cfg, &Matrix::zeros(4, 4)).unwrap();
        assert_eq!(AimcMmio::new(m, 0.9).unwrap().mvm_cycles(1), 120);
    }

    #[test]
    fn errors_are_reported_not_panicked_on() {
        let (mut dev, _) = device();
        assert!(dev.read(2).is_err());
        assert!(dev.read(0x20).is_err());
        assert!(dev.read(IN_BASE + 4 * 16).is_err(), "past IN_DIM");
        assert!(dev.write(OUT_BASE, 0).is_err());
        assert!(dev.write(REG_STATUS, 0).is_err());
        assert!(dev.read(WINDOW_BYTES).is_err());
        dev.write(IN_BASE + 8, f32::NAN.to_bits()).unwrap();
        dev.write(REG_CTRL, CTRL_START).unwrap();
        assert_eq!(dev.read(REG_STATUS).unwrap(), STATUS_ERROR);
        assert_eq!(dev.read(REG_ERROR_CODE).unwrap(), ERR_NON_FINITE_INPUT);
        dev.write(IN_BASE + 8, 0).unwrap();
        dev.write(REG_CTRL, CTRL_CLEAR | CTRL_START).unwrap();
        dev.write(REG_CTRL, CTRL_START).unwrap();
        assert_eq!(dev.read(REG_STATUS).unwrap(), STATUS_BUSY | STATUS_ERROR);
        assert_eq!(dev.read(REG_ERROR_CODE).unwrap(), ERR_START_WHILE_BUSY);
        assert!(AimcMmio::new(dev.matrix().clone(), f64::NAN).is_err());
        assert!(dev.set_inference_time(-1.0).is_err());
    }
}
