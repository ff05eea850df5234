//! The memory interface the executor talks to ([`Bus`]), a flat, region-based memory
//! ([`Memory`]) for single-hart functional runs, and the view of it the functional runner's
//! inner loop uses ([`FastBus`]).

use crate::decode::Inst;
use std::fmt;

/// Width of a memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    /// 1 byte.
    Byte = 1,
    /// 2 bytes.
    Half = 2,
    /// 4 bytes.
    Word = 4,
}

impl Size {
    /// Number of bytes.
    #[inline]
    pub fn bytes(self) -> u32 {
        self as u32
    }
}

/// An access the bus could not serve (no device or memory at that address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusFault {
    /// The faulting address.
    pub addr: u32,
}

/// A request of an Xdma instruction to the DMA engine behind the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaRequest {
    /// dmsrc: source address.
    Src(u32),
    /// dmdst: destination address.
    Dst(u32),
    /// dmstr: (source stride, destination stride).
    Strides(u32, u32),
    /// dmrep: rows of a 2-D transfer.
    Reps(u32),
    /// dmcpy/dmcpyi: start a transfer of `size` bytes per row; `config` bit 1 = 2-D. Returns
    /// the transfer id.
    Copy {
        /// Bytes (per row).
        size: u32,
        /// Configuration bits.
        config: u32,
    },
    /// dmstat/dmstati: 0 = id of the last completed transfer, 1 = next id, 2 = busy,
    /// 3 = would block (queue full).
    Status(u32),
}

/// Anything an instruction can load from and store to. Accesses reaching a `Bus` are naturally
/// aligned (the executor splits or traps misaligned ones first). Values are little-endian and
/// zero-extended to 32 bits.
pub trait Bus {
    /// Loads `size` bytes at `addr`.
    fn load(&mut self, addr: u32, size: Size) -> Result<u32, BusFault>;
    /// Stores the low `size` bytes of `value` at `addr`.
    fn store(&mut self, addr: u32, size: Size, value: u32) -> Result<(), BusFault>;

    /// Loads the aligned word at `addr` for a stream delivery
    /// ([`crate::exec::execute_streamed`]): exactly `load(addr, Size::Word)`, the default; a
    /// bus may serve its common target first without the general dispatch.
    #[inline]
    fn load_element(&mut self, addr: u32) -> Result<u32, BusFault> {
        self.load(addr, Size::Word)
    }

    /// Serves an Xdma instruction; None when no DMA sits behind this bus (the instruction
    /// then raises illegal-instruction). The default has no DMA.
    fn dma(&mut self, req: DmaRequest) -> Option<u32> {
        let _ = req;
        None
    }
}

/// One contiguous block of RAM.
#[derive(Clone)]
pub struct Region {
    /// First address.
    pub base: u32,
    /// Contents; the region spans `base .. base + data.len()`.
    pub data: Vec<u8>,
    /// A name for error messages ("ram", "segment 0", ...).
    pub name: String,
}

impl Region {
    /// One past the last address (as u64, so a region may end at 2^32).
    pub fn end(&self) -> u64 {
        u64::from(self.base) + self.data.len() as u64
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Region({} {:#010x}..{:#x})",
            self.name,
            self.base,
            self.end()
        )
    }
}

/// A sparse set of non-overlapping RAM regions, with an optional watched `tohost` word.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    regions: Vec<Region>,
    last: usize,
    /// Address of the `tohost` word, if the program has one.
    pub tohost: Option<u32>,
    /// The last non-zero value written to `tohost` and not yet taken by the runner.
    pub tohost_written: Option<u32>,
    /// Addresses `lo..hi` of decoded code: writes there are noted in `code_written`.
    pub(crate) code_watch: Option<(u32, u64)>,
    /// The lowest and highest address written inside `code_watch` since the runner last
    /// looked (it then invalidates the decoded instructions there).
    pub(crate) code_written: Option<(u32, u32)>,
}

impl Memory {
    /// An empty memory.
    pub fn new() -> Memory {
        Memory::default()
    }

    /// Adds a zero-filled region. Fails (with the clashing region's name) if it would overlap
    /// an existing one or run past the 32-bit address space.
    pub fn add_region(&mut self, name: &str, base: u32, size: u32) -> Result<(), String> {
        let end = u64::from(base) + u64::from(size);
        if end > 1 << 32 {
            return Err(format!(
                "region {name} at {base:#010x} of {size:#x} bytes runs past 4 GiB"
            ));
        }
        if let Some(r) = self
            .regions
            .iter()
            .find(|r| u64::from(base) < r.end() && end > u64::from(r.base))
        {
            return Err(format!(
                "region {name} {base:#010x}..{end:#x} overlaps {} {:#010x}..{:#x}",
                r.name,
                r.base,
                r.end()
            ));
        }
        self.regions.push(Region {
            base,
            data: vec![0; size as usize],
            name: name.to_string(),
        });
        Ok(())
    }

    /// The regions, in insertion order.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Finds the region holding `len` (>= 1) bytes at `addr`: (region index, offset).
    #[inline]
    fn find(&mut self, addr: u32, len: u32) -> Option<(usize, usize)> {
        // The last region used, first. `off` wraps for addr < base to at least
        // 2^32 - base >= data.len() (a region ends at or below 2^32), so `off < data.len()`
        // means base <= addr < end, and the second test that addr + len <= end.
        if let Some(r) = self.regions.get(self.last) {
            let off = addr.wrapping_sub(r.base) as usize;
            if off < r.data.len() && r.data.len() - off >= len as usize {
                return Some((self.last, off));
            }
        }
        self.find_other(addr, len)
    }

    /// [`Memory::find`] over every region (and remembering the one found).
    #[inline(never)]
    fn find_other(&mut self, addr: u32, len: u32) -> Option<(usize, usize)> {
        let hit = |r: &Region| addr >= r.base && u64::from(addr) + u64::from(len) <= r.end();
        let i = self.regions.iter().position(hit)?;
        self.last = i;
        Some((i, (addr - self.regions[i].base) as usize))
    }

    /// The `n` (>= 1) bytes at `addr`, when they lie in one region.
    #[inline]
    fn bytes_mut(&mut self, addr: u32, n: usize) -> Option<&mut [u8]> {
        let in_last = |r: &Region| {
            let off = addr.wrapping_sub(r.base) as usize;
            off < r.data.len() && r.data.len() - off >= n
        };
        if !self.regions.get(self.last).is_some_and(in_last) {
            self.find_other(addr, n as u32)?;
        }
        let r = self.regions.get_mut(self.last)?;
        let off = addr.wrapping_sub(r.base) as usize;
        r.data.get_mut(off..)?.get_mut(..n)
    }

    /// Copies `bytes` into memory at `addr`; fails with the first unmapped address.
    pub fn write_bytes(&mut self, addr: u32, bytes: &[u8]) -> Result<(), BusFault> {
        if bytes.is_empty() {
            return Ok(());
        }
        let len = u32::try_from(bytes.len()).map_err(|_| BusFault { addr })?;
        let (i, off) = self.find(addr, len).ok_or(BusFault { addr })?;
        self.regions[i].data[off..off + bytes.len()].copy_from_slice(bytes);
        self.note_write(addr, len);
        Ok(())
    }

    /// Notes a write of `len` (>= 1) bytes at `addr` if it touches watched code.
    #[inline]
    fn note_write(&mut self, addr: u32, len: u32) {
        if let Some((lo, hi)) = self.code_watch {
            let last = u64::from(addr) + u64::from(len) - 1;
            if u64::from(addr) < hi && last >= u64::from(lo) {
                let last = last.min(u64::from(u32::MAX)) as u32;
                self.code_written = Some(match self.code_written {
                    Some((a, b)) => (a.min(addr), b.max(last)),
                    None => (addr, last),
                });
            }
        }
    }

    /// Moves the data of the region used last out of the memory, for a [`FastBus`]: (index,
    /// base, data). [`Memory::put_back`] returns it.
    fn take_last(&mut self) -> Option<(usize, u32, Vec<u8>)> {
        let r = self.regions.get_mut(self.last)?;
        Some((self.last, r.base, std::mem::take(&mut r.data)))
    }

    /// Returns region `index`'s data taken by [`Memory::take_last`].
    fn put_back(&mut self, index: usize, data: Vec<u8>) {
        if let Some(r) = self.regions.get_mut(index) {
            r.data = data;
        }
    }

    /// Reads `len` bytes at `addr`; fails with the first unmapped address.
    pub fn read_bytes(&mut self, addr: u32, len: u32) -> Result<Vec<u8>, BusFault> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let (i, off) = self.find(addr, len).ok_or(BusFault { addr })?;
        Ok(self.regions[i].data[off..off + len as usize].to_vec())
    }
}

impl Bus for Memory {
    #[inline]
    fn load(&mut self, addr: u32, size: Size) -> Result<u32, BusFault> {
        let fault = BusFault { addr };
        Ok(match size {
            Size::Byte => u32::from(self.bytes_mut(addr, 1).ok_or(fault)?[0]),
            Size::Half => {
                let d = self.bytes_mut(addr, 2).ok_or(fault)?;
                u32::from(u16::from_le_bytes([d[0], d[1]]))
            }
            Size::Word => {
                let d = self.bytes_mut(addr, 4).ok_or(fault)?;
                u32::from_le_bytes([d[0], d[1], d[2], d[3]])
            }
        })
    }

    #[inline]
    fn store(&mut self, addr: u32, size: Size, value: u32) -> Result<(), BusFault> {
        let n = size.bytes();
        let d = self.bytes_mut(addr, n as usize).ok_or(BusFault { addr })?;
        d.copy_from_slice(&value.to_le_bytes()[..n as usize]);
        self.note_write(addr, n);
        if let Some(t) = self.tohost {
            if touches(addr, n, t) {
                let d = self.bytes_mut(t, 4).ok_or(BusFault { addr: t })?;
                let v = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
                if v != 0 {
                    self.tohost_written = Some(v);
                }
            }
        }
        Ok(())
    }
}

/// True when a store of `n` bytes at `addr` touches the low byte of the `tohost` word at `t`:
/// the whole word is then reported once it is non-zero (riscv-tests write it with one sw).
#[inline(always)]
fn touches(addr: u32, n: u32, t: u32) -> bool {
    addr <= t && u64::from(addr) + u64::from(n) > u64::from(t)
}

/// The functional runner's view of a [`Memory`] while its inner loop runs: the data of the
/// region used last is moved into the view (and back when the view is dropped), so an access
/// there costs one bounds check; other accesses go to the memory. Stores behave exactly as
/// [`Memory`]'s (the `tohost` watch included) and also invalidate the decoded instructions
/// they overwrite in `code`, the decode cache of the segment the loop executes.
pub struct FastBus<'a> {
    mem: &'a mut Memory,
    index: usize,
    base: u32,
    data: Vec<u8>,
    /// Decoded instructions of the segment at `code_base`, one per word (None: not decoded).
    pub(crate) code: &'a mut [Option<Inst>],
    code_base: u32,
    /// Set when a store touched the `tohost` word.
    pub(crate) tohost_touched: bool,
    /// Set when a store overwrote a decoded instruction of `code` (compiled blocks holding
    /// it must go).
    pub(crate) code_stored: bool,
}

impl<'a> FastBus<'a> {
    /// The view of `mem` for a loop executing the decoded instructions `code` of the segment
    /// at `code_base`.
    pub(crate) fn new(mem: &'a mut Memory, code: &'a mut [Option<Inst>], code_base: u32) -> Self {
        let (index, base, data) = mem.take_last().unwrap_or((usize::MAX, 0, Vec::new()));
        FastBus {
            mem,
            index,
            base,
            data,
            code,
            code_base,
            tohost_touched: false,
            code_stored: false,
        }
    }

    /// The held region's data (pointer, length) and base address, for compiled blocks'
    /// loads ([`crate::jit`]).
    pub(crate) fn held(&self) -> (*const u8, usize, u32) {
        (self.data.as_ptr(), self.data.len(), self.base)
    }
}

impl Drop for FastBus<'_> {
    fn drop(&mut self) {
        let data = std::mem::take(&mut self.data);
        self.mem.put_back(self.index, data);
    }
}

impl Bus for FastBus<'_> {
    #[inline(always)]
    fn load(&mut self, addr: u32, size: Size) -> Result<u32, BusFault> {
        let off = addr.wrapping_sub(self.base) as usize;
        let Some(d) = self.data.get(off..off + size.bytes() as usize) else {
            return self.mem.load(addr, size);
        };
        Ok(match size {
            Size::Byte => u32::from(d[0]),
            Size::Half => u32::from(u16::from_le_bytes([d[0], d[1]])),
            Size::Word => u32::from_le_bytes([d[0], d[1], d[2], d[3]]),
        })
    }

    #[inline(always)]
    fn store(&mut self, addr: u32, size: Size, value: u32) -> Result<(), BusFault> {
        let n = size.bytes();
        let off = addr.wrapping_sub(self.base) as usize;
        match self.data.get_mut(off..off + n as usize) {
            Some(d) => d.copy_from_slice(&value.to_le_bytes()[..n as usize]),
            // Another region (it notes code writes and the tohost word itself).
            None => return self.store_elsewhere(addr, size, value),
        }
        // Accesses reaching a bus are aligned: a store stays within one word.
        let slot = (addr.wrapping_sub(self.code_base) / 4) as usize;
        if let Some(s) = self.code.get_mut(slot) {
            if s.take().is_some() {
                self.code_stored = true;
            }
        } else if self.mem.code_watch.is_some() {
            // Another cached segment, perhaps: the runner invalidates it after the loop.
            self.mem.note_write(addr, n);
        }
        if let Some(t) = self.mem.tohost {
            if touches(addr, n, t) {
                self.tohost_touched = true;
                let off = t.wrapping_sub(self.base) as usize;
                let d = self.data.get(off..off + 4).ok_or(BusFault { addr: t })?;
                let v = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
                if v != 0 {
                    self.mem.tohost_written = Some(v);
                }
            }
        }
        Ok(())
    }
}

impl FastBus<'_> {
    /// True when the memory holds a `tohost` value the runner has not taken yet.
    pub(crate) fn mem_tohost_written(&self) -> bool {
        self.mem.tohost_written.is_some()
    }

    /// A store outside the region held by the view.
    #[inline(never)]
    fn store_elsewhere(&mut self, addr: u32, size: Size, value: u32) -> Result<(), BusFault> {
        self.mem.store(addr, size, value)?;
        let slot = (addr.wrapping_sub(self.code_base) / 4) as usize;
        if let Some(s) = self.code.get_mut(slot) {
            if s.take().is_some() {
                self.code_stored = true;
            }
        }
        if self
            .mem
            .tohost
            .is_some_and(|t| touches(addr, size.bytes(), t))
        {
            self.tohost_touched = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_endian_and_bounds() {
        let mut m = Memory::new();
        m.add_region("ram", 0x1000, 16).unwrap();
        m.store(0x1000, Size::Word, 0x1122_3344).unwrap();
        assert_eq!(m.load(0x1000, Size::Byte).unwrap(), 0x44);
        assert_eq!(m.load(0x1002, Size::Half).unwrap(), 0x1122);
        assert_eq!(m.load(0x100c, Size::Word).unwrap(), 0);
        // the last word is in range, one byte further is not
        assert_eq!(m.load(0x100d, Size::Word), Err(BusFault { addr: 0x100d }));
        assert_eq!(m.load(0x0fff, Size::Byte), Err(BusFault { addr: 0x0fff }));
        assert!(m.add_region("clash", 0x100f, 4).is_err());
        assert!(m.add_region("top", 0xffff_fff0, 0x10).is_ok());
        assert!(m.add_region("past", 0xffff_fff0, 0x11).is_err());
    }

    #[test]
    fn tohost_is_watched() {
        let mut m = Memory::new();
        m.add_region("ram", 0x8000_0000, 0x100).unwrap();
        m.tohost = Some(0x8000_0040);
        m.store(0x8000_0044, Size::Word, 5).unwrap();
        assert_eq!(m.tohost_written, None);
        m.store(0x8000_0040, Size::Word, 0).unwrap();
        assert_eq!(m.tohost_written, None);
        m.store(0x8000_0040, Size::Word, 1).unwrap();
        assert_eq!(m.tohost_written, Some(1));
    }
}
