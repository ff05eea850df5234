//! Xssr: Snitch's stream semantic registers, functional side (snitch-extensions.md section 2).
//!
//! While streaming is enabled (bit 0 of CSR `ssr`, 0x7C0), the FP registers ft0, ft1 and ft2
//! stand for three streams: an FP instruction that reads one of them takes the stream's next
//! element from memory, and an FP result written to one of them is stored at the stream's
//! next address instead of the register file. Each stream walks an affine address sequence of
//! up to four nested loops (a [`Job`]), configured with `scfgwi`/`scfgw` (custom-1 opcode,
//! funct3 010) and read back with `scfgri`/`scfgr` (funct3 001). Elements are FLEN = 32 bits
//! (one 32-bit word: one fp32 value or two packed fp16 lanes).
//!
//! This module holds the architectural behaviour only, in program order: a read pops its
//! element at the instruction that consumes it, a write stores at the instruction that
//! produces it. Timing (FIFOs, credits, TCDM arbitration, the shadow register that lets only
//! one job wait behind the active one) belongs to the cluster model, which follows every
//! element through the [`SsrEvent`]s this module records when [`Ssr::record`] is on.
//!
//! Configuration register map (word address = `reg << 5 | stream`; stream 31 writes all):
//! 1 = repeat (4 bits, read streams), 2..=5 = bound\[0..3\] (iterations - 1), 6..=9 =
//! stride\[0..3\] (byte increment when that loop is the outermost one advancing, masked to
//! the 4-byte element), 24..=27 = read pointer launching a job of 1..=4 loops, 28..=31 = write
//! pointer, 0 = status (read only here: bit 31 done, bit 30 write, bits 29:28 loops - 1, bits
//! 26:0 the next element's address). The indirection registers of the SSSR variant (10..=23)
//! are not modelled: accessing them, or a stream number other than 0, 1, 2 or 31, is an
//! illegal instruction with a [`Ssr::fault`] that says why.

use std::collections::VecDeque;

/// CSR number of the stream enable register (`ssr`, bit 0).
pub const CSR_SSR: u16 = 0x7C0;
/// Number of streams (mapped onto ft0, ft1, ft2).
pub const STREAMS: usize = 3;
/// Bytes per stream element (FLEN = 32).
pub const ELEMENT_BYTES: u32 = 4;
/// The repeat register's width mask (`RptWidth` = 4 bits).
pub const REPEAT_MASK: u32 = 0xf;
/// Stream number that broadcasts a configuration write to every stream.
pub const BROADCAST: u32 = 31;

/// One stream job: an affine sequence of up to four nested loops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// Address of element 0.
    pub base: u32,
    /// Loops used (1..=4).
    pub loops: u8,
    /// Iterations of each loop minus one (innermost first).
    pub bounds: [u32; 4],
    /// Stride registers: byte increment applied when loop d is the outermost one advancing.
    pub strides: [u32; 4],
    /// Deliveries of each read element minus one.
    pub repeat: u32,
    /// True for a write stream (FP results stored), false for a read stream.
    pub write: bool,
}

impl Job {
    /// Number of distinct elements (the product of the loop trip counts).
    pub fn len(&self) -> u64 {
        self.bounds[..self.loops as usize]
            .iter()
            .map(|&b| u64::from(b) + 1)
            .product()
    }

    /// True when the job has no element (never: every loop runs at least once).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Address of element `k` (0-based, k < len). The hardware adds stride\[d\] when loop d
    /// is the outermost loop that advances; summed over the loop nest this is
    /// `base + sum(i_d * s_d)` with logical strides `s_d = stride[d] + sum_{j<d} s_j * bound[j]`.
    pub fn addr(&self, k: u64) -> u32 {
        let mut addr = self.base;
        let mut rest = k;
        let mut logical = [0u32; 4];
        for d in 0..self.loops as usize {
            let trips = u64::from(self.bounds[d]) + 1;
            let i = (rest % trips) as u32;
            rest /= trips;
            let s = (0..d).fold(self.strides[d], |s, j| {
                s.wrapping_add(logical[j].wrapping_mul(self.bounds[j]))
            });
            logical[d] = s;
            addr = addr.wrapping_add(i.wrapping_mul(s));
        }
        addr
    }
}

/// What a streamed instruction or a configuration write did, for timing models. Element
/// numbers count every element a stream has moved since reset (across jobs), from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SsrEvent {
    /// A job was launched (pointer write).
    Launch {
        /// Stream 0..=2.
        stream: u8,
        /// The job.
        job: Job,
    },
    /// A read stream delivered element `seq` at address `addr`; `frees` is true on its last
    /// delivery (repeat + 1 deliveries per element), when its FIFO entry is released.
    Pop {
        /// Stream 0..=2.
        stream: u8,
        /// Element number.
        seq: u64,
        /// True on the element's last delivery.
        frees: bool,
    },
    /// A write stream stored element `seq`.
    Push {
        /// Stream 0..=2.
        stream: u8,
        /// Element number.
        seq: u64,
    },
}

/// One stream: its configuration registers and its queue of launched jobs.
#[derive(Clone, Debug, Default)]
struct Stream {
    repeat: u32,
    bounds: [u32; 4],
    strides: [u32; 4],
    jobs: VecDeque<Job>,
    /// Element index within the front job.
    elem: u64,
    /// Deliveries of the current element so far.
    rep: u32,
    /// Element number of the front job's element 0.
    seq_base: u64,
    /// The front job's address generator: element `elem` is at `addr`, with loop indices
    /// `idx` (innermost first); `len` is the job's element count. Stepped per element as the
    /// hardware does (equal to [`Job::addr`]), so a delivery costs no division.
    addr: u32,
    idx: [u32; 4],
    len: u64,
    /// The front job's direction (`Some(true)` write), repeat, loop bounds and strides (None
    /// and zeros without a job): kept beside the generator so a delivery does not look at
    /// the job queue.
    front_write: Option<bool>,
    front_repeat: u32,
    front_bounds: [u32; 4],
    front_strides: [u32; 4],
}

impl Stream {
    fn status(&self) -> u32 {
        match self.jobs.front() {
            None => 1 << 31,
            Some(j) => {
                (u32::from(j.write) << 30)
                    | (u32::from(j.loops - 1) << 28)
                    | (j.addr(self.elem) & 0x07ff_ffff)
            }
        }
    }

    /// Moves to the next element: the innermost loop with trips left advances by its stride
    /// and the loops inside it wrap; after the job's last element the next job (if any)
    /// starts at its base.
    #[inline]
    fn advance(&mut self) {
        self.rep = 0;
        self.elem += 1;
        if self.elem >= self.len {
            self.next_job();
            return;
        }
        // The element is not the job's last, so some loop d < loops has trips left (the
        // bounds of unused loops are never reached before it).
        let mut d = 0;
        while d < 3 && self.idx[d] == self.front_bounds[d] {
            self.idx[d] = 0;
            d += 1;
        }
        self.idx[d] += 1;
        self.addr = self.addr.wrapping_add(self.front_strides[d]);
    }

    /// [`Stream::advance`] past the front job's last element: the next job (if any) starts
    /// at its base.
    #[cold]
    fn next_job(&mut self) {
        if self.jobs.pop_front().is_none() {
            return;
        }
        self.seq_base += self.len;
        self.elem = 0;
        self.start_front();
    }

    /// Sets the address generator to the front job's element 0 (no job: length 0).
    fn start_front(&mut self) {
        self.idx = [0; 4];
        (self.addr, self.len) = self.jobs.front().map_or((0, 0), |j| (j.base, j.len()));
        self.front_write = self.jobs.front().map(|j| j.write);
        self.front_repeat = self.jobs.front().map_or(0, |j| j.repeat);
        self.front_bounds = self.jobs.front().map_or([0; 4], |j| j.bounds);
        self.front_strides = self.jobs.front().map_or([0; 4], |j| j.strides);
    }
}

/// The three streams of one hart.
#[derive(Clone, Debug, Default)]
pub struct Ssr {
    /// Streaming enabled (CSR `ssr` bit 0).
    pub enabled: bool,
    streams: [Stream; STREAMS],
    /// Record [`SsrEvent`]s for a timing model (off in functional runs).
    pub record: bool,
    /// Events since the timing model last took them.
    pub events: Vec<SsrEvent>,
    /// Why the last illegal-instruction exception from a stream or configuration access was
    /// raised (the architectural exception itself carries only the instruction word).
    pub fault: Option<String>,
}

impl Ssr {
    /// Jobs launched on `stream` and not yet fully consumed (or produced).
    pub fn pending_jobs(&self, stream: usize) -> usize {
        self.streams.get(stream).map_or(0, |s| s.jobs.len())
    }

    fn fail(&mut self, msg: String) {
        self.fault = Some(msg);
    }

    /// Splits a configuration word address into (streams, register).
    fn target(&mut self, word: u32) -> Option<(std::ops::Range<usize>, u32)> {
        let Some(range) = streams_of(word) else {
            self.fail(format!(
                "SSR configuration address {word:#x} names stream {}; this hart has streams 0, \
                 1, 2 (31 broadcasts)",
                word & 31
            ));
            return None;
        };
        Some((range, (word >> 5) & 31))
    }

    /// `scfgw`/`scfgwi`: writes configuration register `word` (see the module map). Returns
    /// false (with [`Ssr::fault`] set) for an address that is not modelled.
    pub fn cfg_write(&mut self, word: u32, value: u32) -> bool {
        let Some((range, reg)) = self.target(word) else {
            return false;
        };
        for s in range {
            let st = &mut self.streams[s];
            match reg {
                1 => st.repeat = value & REPEAT_MASK,
                2..=5 => st.bounds[reg as usize - 2] = value,
                6..=9 => st.strides[reg as usize - 6] = value & !(ELEMENT_BYTES - 1),
                24..=31 => {
                    let job = Job {
                        base: value & !(ELEMENT_BYTES - 1),
                        loops: (reg & 3) as u8 + 1,
                        bounds: st.bounds,
                        strides: st.strides,
                        repeat: st.repeat,
                        write: reg >= 28,
                    };
                    st.jobs.push_back(job);
                    if st.jobs.len() == 1 {
                        st.start_front();
                    }
                    if self.record {
                        self.events.push(SsrEvent::Launch {
                            stream: s as u8,
                            job,
                        });
                    }
                }
                _ => {
                    self.fail(unmodelled(reg, "write"));
                    return false;
                }
            }
        }
        true
    }

    /// `scfgr`/`scfgri`: reads configuration register `word`, or None (with [`Ssr::fault`])
    /// for an address that is not modelled or a broadcast read.
    pub fn cfg_read(&mut self, word: u32) -> Option<u32> {
        let (range, reg) = self.target(word)?;
        if range.len() != 1 {
            self.fail(format!(
                "SSR configuration read from {word:#x}: stream 31 broadcasts writes only"
            ));
            return None;
        }
        let st = &self.streams[range.start];
        Some(match reg {
            0 => st.status(),
            1 => st.repeat,
            2..=5 => st.bounds[reg as usize - 2],
            6..=9 => st.strides[reg as usize - 6],
            _ => {
                self.fail(unmodelled(reg, "read"));
                return None;
            }
        })
    }

    /// Address of register `r`'s next element, for a read (`write` false) or a write; None
    /// (with [`Ssr::fault`]) when the stream has no job of that direction.
    #[inline]
    pub(crate) fn peek(&mut self, r: usize, write: bool) -> Option<u32> {
        let st = &self.streams[r];
        if st.front_write == Some(write) {
            debug_assert_eq!(st.jobs.front().map(|j| j.addr(st.elem)), Some(st.addr));
            return Some(st.addr);
        }
        self.peek_fault(r, write)
    }

    /// [`Ssr::peek`] when stream `r` has no job of that direction: records why.
    #[cold]
    fn peek_fault(&mut self, r: usize, write: bool) -> Option<u32> {
        let st = &self.streams[r];
        let dir = if write { "written" } else { "read" };
        match st.jobs.front() {
            None => {
                self.fail(format!(
                    "ft{r} was {dir} with streaming enabled but stream {r} has no job left \
                     (configure and launch one with scfgwi before the FP instruction; in \
                     hardware the FP subsystem would wait forever)"
                ));
                None
            }
            Some(j) if j.write != write => {
                let kind = if j.write { "write" } else { "read" };
                self.fail(format!(
                    "ft{r} was {dir} with streaming enabled but stream {r}'s current job is a \
                     {kind} stream"
                ));
                None
            }
            Some(_) => {
                debug_assert_eq!(st.jobs.front().map(|j| j.addr(st.elem)), Some(st.addr));
                Some(st.addr)
            }
        }
    }

    /// Consumes one delivery of read stream `r`'s current element.
    #[inline]
    pub(crate) fn commit_pop(&mut self, r: usize) {
        let st = &mut self.streams[r];
        let repeat = st.front_repeat;
        let seq = st.seq_base + st.elem;
        st.rep += 1;
        let frees = st.rep > repeat;
        if frees {
            st.advance();
        }
        if self.record {
            self.events.push(SsrEvent::Pop {
                stream: r as u8,
                seq,
                frees,
            });
        }
    }

    /// Records that write stream `r`'s current element was stored.
    #[inline]
    pub(crate) fn commit_push(&mut self, r: usize) {
        let st = &mut self.streams[r];
        let seq = st.seq_base + st.elem;
        st.advance();
        if self.record {
            self.events.push(SsrEvent::Push {
                stream: r as u8,
                seq,
            });
        }
    }
}

/// The streams a configuration word address (`reg << 5 | stream`) reaches: one, all three for
/// [`BROADCAST`], or None for a stream that does not exist.
pub fn streams_of(word: u32) -> Option<std::ops::Range<usize>> {
    match (word & 31) as usize {
        s if s == BROADCAST as usize => Some(0..STREAMS),
        s if s < STREAMS => Some(s..s + 1),
        _ => None,
    }
}

fn unmodelled(reg: u32, what: &str) -> String {
    match reg {
        0 => "SSR status (register 0) is read-only in hetsim: launch jobs through the read \
              pointer (24..=27) or write pointer (28..=31) registers"
            .into(),
        10..=23 => format!(
            "SSR register {reg} belongs to indirect streams (SSSR), which hetsim does not model \
             ({what})"
        ),
        24..=31 => format!("SSR pointer register {reg} is write-only ({what})"),
        _ => format!("SSR configuration register {reg} does not exist ({what})"),
    }
}

#[cfg(test)]
#[path = "ssr_tests.rs"]
mod exec_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn job(loops: u8, bounds: [u32; 4], strides: [u32; 4]) -> Job {
        Job {
            base: 0x1000,
            loops,
            bounds,
            strides,
            repeat: 0,
            write: false,
        }
    }

    /// The runtime's stride formula (ssr.h: stride[d] = s_d - sum_{j<d} s_j (B_j - 1))
    /// applied to a 3-D walk over a 4 x 3 x 2 array of words, row-major with padding,
    /// must visit exactly base + i*4 + j*20 + k*100 in loop order.
    #[test]
    fn addresses_follow_the_runtime_stride_formula() {
        let (b0, b1, b2) = (4u32, 3u32, 2u32);
        let (s0, s1, s2) = (4u32, 20u32, 100u32);
        let r1 = s1 - s0 * (b0 - 1);
        let r2 = s2 - s0 * (b0 - 1) - s1 * (b1 - 1);
        let j = job(3, [b0 - 1, b1 - 1, b2 - 1, 0], [s0, r1, r2, 0]);
        assert_eq!(j.len(), 24);
        let mut k = 0;
        for z in 0..b2 {
            for y in 0..b1 {
                for x in 0..b0 {
                    assert_eq!(j.addr(k), 0x1000 + x * s0 + y * s1 + z * s2, "element {k}");
                    k += 1;
                }
            }
        }
    }

    /// Stepping the hardware's incremental rule (add the stride of the outermost loop that
    /// advances) gives the same sequence as the closed form, for arbitrary strides
    /// including negative (wrapping) ones.
    #[test]
    fn closed_form_equals_the_incremental_generator() {
        let j = job(4, [2, 1, 3, 1], [8, 0xffff_fff0, 36, 4]);
        let mut counters = [0u32; 4];
        let mut addr = j.base;
        for k in 0..j.len() {
            assert_eq!(j.addr(k), addr, "element {k}");
            // Advance: find the outermost loop that increments.
            let mut d = 0;
            while d < 4 && counters[d] == j.bounds[d] {
                counters[d] = 0;
                d += 1;
            }
            if d == 4 {
                break;
            }
            counters[d] += 1;
            addr = addr.wrapping_add(j.strides[d]);
        }
    }

    #[test]
    fn configuration_registers_read_back_and_launch_jobs() {
        let mut s = Ssr {
            record: true,
            ..Ssr::default()
        };
        assert!(s.cfg_write(2 << 5 | 1, 7)); // bound0 of stream 1
        assert!(s.cfg_write(6 << 5 | 1, 0x13)); // stride0, masked to 0x10
        assert!(s.cfg_write(1 << 5 | 1, 0x23)); // repeat, masked to 3
        assert_eq!(s.cfg_read(2 << 5 | 1), Some(7));
        assert_eq!(s.cfg_read(6 << 5 | 1), Some(0x10));
        assert_eq!(s.cfg_read(1 << 5 | 1), Some(3));
        assert_eq!(s.cfg_read(1), Some(1 << 31), "stream 0 idle: done");
        assert!(s.cfg_write(24 << 5 | 1, 0x1000_0102)); // 1-D read job
        assert_eq!(s.pending_jobs(1), 1);
        let st = s.cfg_read(1).unwrap();
        assert_eq!(st, 0x0000_0100, "busy, read, 1 loop, pointer low bits");
        assert!(matches!(
            s.events[0],
            SsrEvent::Launch { stream: 1, job } if job.base == 0x1000_0100 && job.len() == 8
        ));
        // Broadcast write reaches all three; a broadcast read is refused with a reason.
        assert!(s.cfg_write(3 << 5 | 31, 5));
        for k in 0..3 {
            assert_eq!(s.cfg_read(3 << 5 | k), Some(5));
        }
        assert_eq!(s.cfg_read(3 << 5 | 31), None);
        assert!(s.fault.take().unwrap().contains("broadcasts writes only"));
        assert!(!s.cfg_write(4, 1), "stream 4 does not exist");
        assert!(s.fault.take().unwrap().contains("streams 0, 1, 2"));
        assert!(!s.cfg_write(16 << 5, 1));
        assert!(s.fault.take().unwrap().contains("indirect"));
    }

    #[test]
    fn repeat_delivers_each_element_repeat_plus_one_times() {
        let mut s = Ssr {
            record: true,
            ..Ssr::default()
        };
        s.cfg_write(2 << 5, 1); // 2 elements
        s.cfg_write(6 << 5, 4);
        s.cfg_write(1 << 5, 2); // 3 deliveries each
        s.cfg_write(24 << 5, 0x100);
        s.events.clear();
        let mut addrs = vec![];
        for _ in 0..6 {
            addrs.push(s.peek(0, false).unwrap());
            s.commit_pop(0);
        }
        assert_eq!(addrs, [0x100, 0x100, 0x100, 0x104, 0x104, 0x104]);
        let frees: Vec<bool> = s
            .events
            .iter()
            .map(|e| matches!(e, SsrEvent::Pop { frees: true, .. }))
            .collect();
        assert_eq!(frees, [false, false, true, false, false, true]);
        assert_eq!(s.pending_jobs(0), 0);
        assert!(s.peek(0, false).is_none());
        assert!(s.fault.take().unwrap().contains("no job left"));
    }

    /// The stepped generator of the functional streams delivers `Job::addr(k)` for every
    /// element of queued jobs of 1 to 4 loops (wrapping strides, unused loops' registers left
    /// non-zero, repeats), read and write, across job boundaries, with the next job launched
    /// while one is active and after the queue ran empty.
    #[test]
    fn stepped_deliveries_equal_the_closed_form() {
        let mut s = Ssr::default();
        let jobs = [
            (
                1u32,
                [5u32, 7, 9, 11],
                [4u32, 0xffff_fff0, 64, 8],
                0u32,
                false,
            ),
            (2, [3, 2, 5, 1], [8, 0xffff_fff4, 0, 12], 1, false),
            (3, [1, 2, 3, 0], [4, 16, 0x8000_0000, 0], 0, true),
            (4, [2, 0, 1, 2], [12, 7 & !3, 0xffff_ff00, 64], 2, false),
            (2, [0, 0, 0, 0], [4, 4, 4, 4], 0, true),
        ];
        let mut launched = vec![];
        for (n, &(loops, bounds, strides, repeat, write)) in jobs.iter().enumerate() {
            s.cfg_write(1 << 5, repeat);
            for d in 0..4 {
                s.cfg_write((2 + d as u32) << 5, bounds[d]);
                s.cfg_write((6 + d as u32) << 5, strides[d]);
            }
            let reg = if write { 28 } else { 24 } + loops - 1;
            s.cfg_write(reg << 5, 0x2000 + 0x100 * n as u32);
            launched.push(*s.streams[0].jobs.back().unwrap());
            // the first two jobs queue together; the later ones launch once the queue is empty
            if n == 0 {
                continue;
            }
            for job in launched.drain(..) {
                for k in 0..job.len() {
                    for _ in 0..=(if job.write { 0 } else { job.repeat }) {
                        assert_eq!(
                            s.peek(0, job.write),
                            Some(job.addr(k)),
                            "{job:?} element {k}"
                        );
                        if job.write {
                            s.commit_push(0);
                        } else {
                            s.commit_pop(0);
                        }
                    }
                }
            }
            assert_eq!(s.pending_jobs(0), 0);
        }
    }
}
