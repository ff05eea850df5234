//! Timing of the stream semantic registers (Xssr): per stream, a data FIFO with credits, an
//! address generator issuing at most one TCDM request per cycle, and the TCDM bank cycles its
//! requests occupy.
//!
//! The functional streams live in `hetsim_isa::ssr`; every element they move reaches this
//! model as an event (launch, pop, push) in program order, and this model decides when it
//! moves:
//! - **Read stream.** Element `e` is requested at the first cycle `t` at or after
//!   `max(launch + ssr.launch_latency, previous request + 1, FIFO entry free)` whose TCDM bank
//!   is not reserved; the data is usable by an FPU issue at `t + tcdm.latency`. The FIFO has
//!   `ssr.fifo_depth` entries (credits): element `e` needs the entry that element
//!   `e - depth` held, which is released in the cycle after that element's last delivery
//!   issued (repeat + 1 deliveries per element).
//! - **Write stream.** The FP result of element `e` enters the FIFO when the FPU writes it
//!   back (issue + latency), which must not be before the entry element `e - depth` held is
//!   released; the element is then stored at the first cycle at or after
//!   `max(write-back, previous store + 1)` with its bank free, and releases its entry in the
//!   next cycle.
//! - **Shadow registers.** One job may wait behind the active one; a configuration write to a
//!   stream whose queued job has not started (the generator has not finished the previous
//!   job) stalls the core until it starts (`SsrConfig`). If it could never start because the
//!   FP instructions that would consume the active job have not been issued, the kernel
//!   would hang in hardware, and the run stops with an error.
//!
//! Bank occupancy is a reservation table ([`BankReservations`]): stream requests are placed
//! when their timing becomes known (often ahead of the cycle being simulated, because the
//! FP subsystem runs ahead of the integer core), and a core's load or store to a bank
//! reserved in that cycle loses it (`BankConflict`). Streams therefore win against the cores'
//! LSUs at a bank, and among streams the first placed wins; DMA and RedMulE beats are not
//! delayed by stream reservations (docs/cluster.md lists these simplifications).

use super::config::SsrConfig;
use hetsim_isa::ssr::{Job, STREAMS};
use std::collections::VecDeque;

/// How far ahead of the simulated cycle reservations are recorded, in 64-bit bitset words:
/// 2^20 cycles for up to 64 banks (8 MiB), proportionally fewer cycles for more banks. A
/// stream request placed further ahead (a FREP of tens of thousands of long-latency
/// operations) is not recorded, so nothing contends with it; this bounds memory whatever the
/// program does.
pub const MAX_WORDS: u64 = 1 << 20;

/// Future TCDM bank reservations: a ring of per-cycle bank bitsets covering
/// `[base, base + horizon)`, grown on demand up to `max_horizon` ([`MAX_WORDS`]).
#[derive(Debug)]
pub struct BankReservations {
    words: usize,
    horizon: u64,
    max_horizon: u64,
    base: u64,
    bits: Vec<u64>,
    /// One past the latest cycle holding a recorded reservation (0: none yet). At or after
    /// it every bitset is clear, so a cluster whose streams are idle neither clears nor
    /// reads the ring ([`BankReservations::advance`], [`BankReservations::for_each`]).
    hi: u64,
    /// Reservations made so far: one per stream element access of the TCDM (the energy
    /// model's counter; counted here, not per simulated cycle, because the cluster skips
    /// cycles in which nothing issues).
    made: u64,
}

impl BankReservations {
    /// An empty table for `banks` banks.
    pub fn new(banks: u32) -> Self {
        let words = (banks as usize).div_ceil(64).max(1);
        let horizon = 1024;
        BankReservations {
            words,
            horizon,
            max_horizon: (MAX_WORDS / words as u64).next_power_of_two().max(horizon),
            base: 0,
            bits: vec![0; words * horizon as usize],
            hi: 0,
            made: 0,
        }
    }

    /// The first word of `cycle`'s bitset. The horizon is a power of two (it starts at 1024
    /// and grows by powers of two up to `max_horizon`, itself one), so the ring index is a
    /// mask, not a 64-bit division: this runs for every stream element.
    fn slot(&self, cycle: u64) -> usize {
        debug_assert!(self.horizon.is_power_of_two());
        (cycle & (self.horizon - 1)) as usize * self.words
    }

    /// Forgets every cycle before `now`.
    pub fn advance(&mut self, now: u64) {
        if now <= self.base {
            return;
        }
        if self.hi <= self.base {
            // Nothing recorded at or after `base`: the ring is clear already.
            self.base = now;
            return;
        }
        let gap = (now - self.base).min(self.horizon);
        for c in self.base..self.base + gap {
            let s = self.slot(c);
            self.bits[s..s + self.words].fill(0);
        }
        self.base = now;
    }

    /// Reservations made so far (stream element accesses of the TCDM).
    pub fn made(&self) -> u64 {
        self.made
    }

    /// True when `cycle`'s bitset is in the ring and may hold a reservation: at or after
    /// `base`, inside the horizon and before the watermark `hi`.
    #[inline]
    fn may_hold(&self, cycle: u64) -> bool {
        cycle >= self.base && cycle < self.hi.min(self.base + self.horizon)
    }

    /// True when `bank` is reserved in `cycle`.
    pub fn is_reserved(&self, cycle: u64, bank: u32) -> bool {
        if !self.may_hold(cycle) {
            return false;
        }
        let s = self.slot(cycle) + bank as usize / 64;
        self.bits[s] >> (bank % 64) & 1 != 0
    }

    /// Calls `f` for every bank reserved in `cycle`.
    pub fn for_each(&self, cycle: u64, mut f: impl FnMut(u32)) {
        if !self.may_hold(cycle) {
            return;
        }
        let s = self.slot(cycle);
        for (w, &word) in self.bits[s..s + self.words].iter().enumerate() {
            let mut m = word;
            while m != 0 {
                let b = m.trailing_zeros();
                f(w as u32 * 64 + b);
                m &= m - 1;
            }
        }
    }

    fn grow(&mut self, cycle: u64) {
        let need = ((cycle - self.base + 1).next_power_of_two() * 2).min(self.max_horizon);
        let mut bigger = BankReservations {
            words: self.words,
            horizon: need,
            max_horizon: self.max_horizon,
            base: self.base,
            bits: vec![0; self.words * need as usize],
            hi: self.hi,
            made: self.made,
        };
        for c in self.base..self.base + self.horizon {
            let (from, to) = (self.slot(c), bigger.slot(c));
            bigger.bits[to..to + self.words].copy_from_slice(&self.bits[from..from + self.words]);
        }
        *self = bigger;
    }

    /// Reserves `bank` at the first cycle at or after `from` (and at or after the table's
    /// base) where it is free, and returns that cycle. The free cycle is searched in the
    /// ring directly (one word test per cycle, no per-cycle range or slot recomputation):
    /// this runs for every stream element.
    #[inline]
    pub fn reserve_first_free(&mut self, bank: u32, from: u64) -> u64 {
        self.made += 1;
        let mut t = from.max(self.base);
        let w = bank as usize / 64;
        let bit = 1u64 << (bank % 64);
        let mask = self.horizon - 1;
        let end = self.base + self.horizon;
        // Cycles at or past the horizon hold no reservation (`is_reserved` is false there).
        while t < end && self.bits[(t & mask) as usize * self.words + w] & bit != 0 {
            t += 1;
        }
        if t >= self.base + self.max_horizon {
            return t; // too far ahead to record (see MAX_WORDS)
        }
        if t >= end {
            self.grow(t);
        }
        let s = self.slot(t) + w;
        self.bits[s] |= bit;
        self.hi = self.hi.max(t + 1);
        t
    }
}

/// Where a stream's elements are in memory, for bank selection.
pub trait BankOf {
    /// The TCDM bank of `addr`, or None when the address is outside the TCDM.
    fn bank_of(&self, addr: u32) -> Option<u32>;
}

/// A stream request that left the TCDM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutsideTcdm {
    /// Stream 0..=2.
    pub stream: usize,
    /// The element's address.
    pub addr: u32,
}

/// A launched job as the timing model tracks it.
#[derive(Clone, Debug)]
struct TJob {
    job: Job,
    /// Earliest cycle of the first request (pointer write + launch latency).
    launch: u64,
    /// Element number of the job's element 0.
    first: u64,
    /// Cycle the job became active in the address generator (the previous job's last
    /// request issued), once known.
    started: Option<u64>,
    /// Element number one past the job's last element (`first + job.len()`, computed once).
    end: u64,
    /// The address generator's position: element `at` (relative to `first`) is at address
    /// `addr`, with loop indices `idx` (innermost first). Starts at element 0.
    at: u64,
    idx: [u32; 4],
    addr: u32,
}

impl TJob {
    fn new(job: Job, launch: u64, first: u64, started: Option<u64>) -> TJob {
        TJob {
            end: first + job.len(),
            job,
            launch,
            first,
            started,
            at: 0,
            idx: [0; 4],
            addr: job.base,
        }
    }

    fn end(&self) -> u64 {
        self.end
    }

    /// The address of the job's element `k` (relative): the generator's position when it is
    /// there, one step of the loop nest when `k` follows it (the generator walks the elements
    /// in order), else [`Job::addr`]. All give the same address.
    #[inline]
    fn addr(&mut self, k: u64) -> u32 {
        if k == self.at {
            return self.addr;
        }
        if k == self.at + 1 {
            // The innermost loop that has trips left advances; the ones inside it wrap.
            let job = &self.job;
            let loops = job.loops as usize;
            let mut d = 0;
            while d < loops && self.idx[d] == job.bounds[d] {
                self.idx[d] = 0;
                d += 1;
            }
            if d < loops {
                self.idx[d] += 1;
                self.addr = self.addr.wrapping_add(job.strides[d]);
                self.at = k;
                return self.addr;
            }
        }
        self.seek(k)
    }

    /// Puts the generator at element `k` by the closed form (a jump: never on the in-order
    /// path).
    #[cold]
    fn seek(&mut self, k: u64) -> u32 {
        let job = &self.job;
        let mut rest = k;
        self.idx = [0; 4];
        for d in 0..job.loops as usize {
            let trips = u64::from(job.bounds[d]) + 1;
            self.idx[d] = (rest % trips) as u32;
            rest /= trips;
        }
        self.at = k;
        self.addr = job.addr(k);
        self.addr
    }
}

/// FIFO entry arithmetic for one depth: `seq % depth` with a mask instead of a 64-bit
/// division when the depth is a power of two (the presets' 4): this runs for every element.
#[derive(Clone, Copy, Debug)]
struct Entries {
    depth: u64,
    /// `depth - 1` when the depth is a power of two.
    mask: Option<u64>,
}

impl Entries {
    fn new(depth: u64) -> Self {
        Entries {
            depth,
            mask: depth.is_power_of_two().then(|| depth - 1),
        }
    }

    /// The FIFO entry of element `seq`.
    #[inline]
    fn of(self, seq: u64) -> usize {
        match self.mask {
            Some(m) => (seq & m) as usize,
            None => (seq % self.depth) as usize,
        }
    }
}

/// One stream's timing state.
#[derive(Clone, Debug, Default)]
struct StreamTiming {
    jobs: VecDeque<TJob>,
    /// Index in `jobs` at or before the job holding the generator's next element (the first
    /// job whose end is past it): the search for that job starts here instead of at the
    /// front.
    gen: usize,
    /// Elements of every launched job.
    launched: u64,
    /// Elements requested (reads) or stored (writes).
    req: u64,
    /// Read elements released (last delivery issued).
    freed: u64,
    /// Data-ready cycles of read elements `freed..req`, at their FIFO entry (at most `depth`
    /// elements are requested and not released).
    ready: Vec<u64>,
    /// Per FIFO entry (`element % depth`): the first cycle it is free again.
    entry_free: Vec<u64>,
    /// Earliest cycle of the generator's next request.
    next_req: u64,
}

impl StreamTiming {
    /// Index of the first job whose end is past element `seq` (the job holding it, for an
    /// element of a launched job), or None. The jobs' ends increase along the queue, so
    /// when the job before the last answer ends at or before `seq`, every earlier one does
    /// too and the search resumes at the last answer (element numbers looked up only grow);
    /// otherwise it starts at the front. Either way the answer is the front-to-back
    /// search's.
    #[inline]
    fn job_of(&mut self, seq: u64) -> Option<usize> {
        let n = self.jobs.len();
        let mut j = self.gen.min(n);
        if j > 0 && self.jobs[j - 1].end > seq {
            j = 0;
        }
        while j < n && self.jobs[j].end <= seq {
            j += 1;
        }
        self.gen = j;
        (j < n).then_some(j)
    }

    /// Forgets the jobs whose every element has been released.
    #[inline]
    fn pop_done(&mut self) {
        while self.jobs.front().is_some_and(|j| j.end() <= self.freed) {
            self.jobs.pop_front();
            self.gen = self.gen.saturating_sub(1);
        }
    }
}

/// The three streams of one core.
#[derive(Clone, Debug)]
pub struct SsrTiming {
    streams: [StreamTiming; STREAMS],
    entries: Entries,
    launch_latency: u64,
    tcdm_latency: u64,
    /// Cycle by which every write-stream element issued so far is stored.
    pub drained_at: u64,
}

impl SsrTiming {
    /// Timing state for a core with `cfg` and TCDM load latency `tcdm_latency`.
    pub fn new(cfg: &SsrConfig, tcdm_latency: u32) -> Self {
        let mut streams: [StreamTiming; STREAMS] = Default::default();
        for s in &mut streams {
            s.entry_free = vec![0; cfg.fifo_depth as usize];
            s.ready = vec![0; cfg.fifo_depth as usize];
        }
        SsrTiming {
            streams,
            entries: Entries::new(u64::from(cfg.fifo_depth)),
            launch_latency: u64::from(cfg.launch_latency),
            tcdm_latency: u64::from(tcdm_latency),
            drained_at: 0,
        }
    }

    /// A job launched by a pointer write issued at `now`.
    pub fn launch(
        &mut self,
        stream: usize,
        job: Job,
        now: u64,
        resv: &mut BankReservations,
        banks: &impl BankOf,
    ) -> Result<(), OutsideTcdm> {
        let st = &mut self.streams[stream];
        let idle = st.req == st.launched;
        st.jobs.push_back(TJob::new(
            job,
            now + self.launch_latency,
            st.launched,
            idle.then(|| now.max(st.next_req)),
        ));
        st.launched += job.len();
        self.pump(stream, now + 1, resv, banks)
    }

    /// Issues the read requests the credits allow, no earlier than `from`.
    #[inline]
    fn pump(
        &mut self,
        stream: usize,
        from: u64,
        resv: &mut BankReservations,
        banks: &impl BankOf,
    ) -> Result<(), OutsideTcdm> {
        let entries = self.entries;
        let depth = entries.depth;
        let tcdm_latency = self.tcdm_latency;
        let st = &mut self.streams[stream];
        // The requests the credits allow: launched elements up to `depth` past the last
        // released one (neither bound moves in the loop).
        let limit = st.launched.min(st.freed + depth);
        while st.req < limit {
            let Some(j) = st.job_of(st.req) else {
                break;
            };
            let seq = st.req;
            let e = entries.of(seq);
            let job = &mut st.jobs[j];
            if job.job.write {
                break; // write elements move when the FPU produces them
            }
            let addr = job.addr(seq - job.first);
            let bank = banks.bank_of(addr).ok_or(OutsideTcdm { stream, addr })?;
            let earliest = from.max(st.next_req).max(job.launch).max(st.entry_free[e]);
            let last = seq + 1 == job.end;
            let t = resv.reserve_first_free(bank, earliest);
            st.ready[e] = t + tcdm_latency;
            st.next_req = t + 1;
            st.req = seq + 1;
            if last {
                Self::job_done_issuing(st, j, t);
            }
        }
        Ok(())
    }

    /// After the last request of the job at index `j` issued at `t`: the next job becomes
    /// active in the generator at `t + 1`.
    fn job_done_issuing(st: &mut StreamTiming, j: usize, t: u64) {
        if let Some(next) = st.jobs.get_mut(j + 1) {
            next.started.get_or_insert(t + 1);
        }
    }

    /// Earliest FPU issue cycle at which read element `seq` of `stream` is usable.
    #[inline]
    pub fn data_ready(&self, stream: usize, seq: u64) -> u64 {
        let st = &self.streams[stream];
        // Element seq is always requested by the time it is consumed: the credits cover
        // `freed..freed + depth` and consumption is in order.
        let seq = seq.max(st.freed);
        if seq < st.req {
            st.ready[self.entries.of(seq)]
        } else {
            st.next_req + self.tcdm_latency
        }
    }

    /// Read element `seq` had its last delivery at FPU issue cycle `at`: its entry frees and
    /// the generator may refill it.
    #[inline]
    pub fn release(
        &mut self,
        stream: usize,
        seq: u64,
        at: u64,
        resv: &mut BankReservations,
        banks: &impl BankOf,
    ) -> Result<(), OutsideTcdm> {
        let e = self.entries.of(seq);
        let st = &mut self.streams[stream];
        debug_assert_eq!(seq, st.freed, "stream elements are released in order");
        st.freed = seq + 1;
        st.entry_free[e] = at + 1;
        st.pop_done();
        self.pump(stream, at + 1, resv, banks)
    }

    /// Earliest write-back cycle for write element `seq` (its FIFO entry must be free).
    #[inline]
    pub fn entry_free(&self, stream: usize, seq: u64) -> u64 {
        self.streams[stream].entry_free[self.entries.of(seq)]
    }

    /// Write element `seq`, written back by the FPU at `data_at`, goes to memory; returns the
    /// cycle of its TCDM store.
    pub fn store(
        &mut self,
        stream: usize,
        seq: u64,
        data_at: u64,
        resv: &mut BankReservations,
        banks: &impl BankOf,
    ) -> Result<u64, OutsideTcdm> {
        let e = self.entries.of(seq);
        let st = &mut self.streams[stream];
        let Some(j) = st.job_of(seq) else {
            return Ok(data_at);
        };
        let job = &mut st.jobs[j];
        let addr = job.addr(seq - job.first);
        let bank = banks.bank_of(addr).ok_or(OutsideTcdm { stream, addr })?;
        let earliest = data_at.max(st.next_req).max(job.launch);
        let last = seq + 1 == job.end;
        let t = resv.reserve_first_free(bank, earliest);
        st.next_req = t + 1;
        st.req = seq + 1;
        st.entry_free[e] = t + 1;
        if last {
            Self::job_done_issuing(st, j, t);
        }
        st.freed = st.req;
        st.pop_done();
        self.drained_at = self.drained_at.max(t + 1);
        // A read job queued behind this write job starts requesting now.
        self.pump(stream, t + 1, resv, banks)?;
        Ok(t)
    }

    /// The first cycle a configuration write to `stream` is accepted: when the last launched
    /// job has become active (`Some(0)` when nothing waits), or None when that can never
    /// happen without FP instructions the core has not issued yet (a hang in hardware).
    pub fn config_ready(&self, stream: usize) -> Option<u64> {
        match self.streams[stream].jobs.back() {
            None => Some(0),
            Some(j) => j.started,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Banks(u32);
    impl BankOf for Banks {
        fn bank_of(&self, addr: u32) -> Option<u32> {
            Some((addr / 4) % self.0)
        }
    }

    fn job(n: u32, stride: u32, write: bool) -> Job {
        Job {
            base: 0,
            loops: 1,
            bounds: [n - 1, 0, 0, 0],
            strides: [stride, 0, 0, 0],
            repeat: 0,
            write,
        }
    }

    fn cfg() -> SsrConfig {
        SsrConfig {
            fifo_depth: 4,
            launch_latency: 1,
        }
    }

    /// The generator's stepped addresses equal `Job::addr` for every element of 1- to 4-level
    /// jobs (with wrapping strides), walked in order and with jumps.
    #[test]
    fn stepped_addresses_equal_the_closed_form() {
        let jobs = [
            (1, [5, 0, 0, 0], [4, 0, 0, 0]),
            (2, [3, 2, 0, 0], [8, 0xffff_fff4, 0, 0]),
            (3, [1, 2, 3, 0], [4, 16, 0x8000_0000, 0]),
            (4, [2, 0, 1, 2], [12, 7, 0xffff_ff00, 64]),
        ];
        for (loops, bounds, strides) in jobs {
            let job = Job {
                base: 0x1000_0100,
                loops,
                bounds,
                strides,
                repeat: 0,
                write: false,
            };
            let mut t = TJob::new(job, 0, 0, None);
            for k in 0..job.len() {
                assert_eq!(t.addr(k), job.addr(k), "loops {loops}, element {k}");
            }
            for k in [3, 1, 2, 0, job.len() - 1] {
                assert_eq!(t.addr(k), job.addr(k), "loops {loops}, jump to {k}");
            }
        }
    }

    /// The resumed job search gives the front-to-back search's answer for element numbers
    /// looked up in any order (growing, repeated, going back), across pops of the front.
    #[test]
    fn job_search_equals_the_front_to_back_search() {
        let mut st = StreamTiming::default();
        let mut first = 0;
        for n in [3u32, 1, 4, 2] {
            let t = TJob::new(job(n, 4, false), 0, first, None);
            first = t.end;
            st.jobs.push_back(t);
        }
        let position = |st: &StreamTiming, seq: u64| st.jobs.iter().position(|j| seq < j.end);
        let seqs = [0, 1, 2, 3, 3, 4, 8, 9, 10, 11, 2, 5, 0, 9, 12, 7, 6];
        for (n, &seq) in seqs.iter().enumerate() {
            if n == 8 {
                st.freed = 4;
                st.pop_done();
            }
            assert_eq!(
                st.job_of(seq),
                position(&st, seq),
                "element {seq} (lookup {n})"
            );
        }
    }

    #[test]
    fn reservations_grow_and_forget() {
        let mut r = BankReservations::new(100);
        assert_eq!(r.reserve_first_free(70, 5), 5);
        assert_eq!(r.reserve_first_free(70, 5), 6);
        assert!(r.is_reserved(5, 70) && !r.is_reserved(5, 6));
        assert_eq!(
            r.reserve_first_free(3, 5000),
            5000,
            "beyond the horizon: grows"
        );
        assert!(r.is_reserved(6, 70) && r.is_reserved(5000, 3));
        let mut seen = vec![];
        r.for_each(5000, |b| seen.push(b));
        assert_eq!(seen, [3]);
        r.advance(6);
        assert!(!r.is_reserved(5, 70) && r.is_reserved(6, 70));
        r.advance(10_000);
        assert!(!r.is_reserved(5000, 3));
        // Beyond the horizon nothing is recorded (memory stays bounded).
        let far = 10_000 + r.max_horizon;
        assert_eq!(r.reserve_first_free(1, far), far);
        assert!(!r.is_reserved(far, 1));
        assert_eq!(
            r.reserve_first_free(1, far - 1),
            far - 1,
            "the last recordable cycle"
        );
        assert!(r.is_reserved(far - 1, 1));
        assert_eq!(r.horizon, r.max_horizon);
        assert_eq!(r.max_horizon as usize * r.words, MAX_WORDS as usize);
    }

    /// Past the last recorded reservation the ring is clear: advancing skips clearing it
    /// (the `hi` watermark), and reservations made after a long idle stretch are seen and
    /// forgotten like any other.
    #[test]
    fn idle_reservations_skip_the_ring() {
        let mut r = BankReservations::new(64);
        r.advance(50); // nothing recorded yet
        assert_eq!(r.base, 50);
        assert_eq!(r.reserve_first_free(7, 60), 60);
        assert_eq!(r.reserve_first_free(7, 60), 61);
        r.advance(61);
        assert!(!r.is_reserved(60, 7) && r.is_reserved(61, 7));
        let mut seen = vec![];
        r.for_each(61, |b| seen.push(b));
        assert_eq!(seen, [7]);
        r.advance(62); // the watermark: everything recorded is in the past
        assert!(r.bits.iter().all(|&w| w == 0));
        r.advance(100_000); // a jump far past the horizon: nothing to clear
        assert_eq!(r.base, 100_000);
        assert_eq!(r.reserve_first_free(3, 100_002), 100_002);
        assert!(r.is_reserved(100_002, 3) && !r.is_reserved(100_001, 3));
        assert!(!r.is_reserved(100_003, 3));
        r.advance(100_003);
        assert!(r.bits.iter().all(|&w| w == 0));
    }

    /// Hand-derived: a 6-element read stream launched at cycle 10 (launch latency 1, TCDM
    /// latency 1, 4 credits). Requests at 11, 12, 13, 14 (one per cycle, data usable one
    /// cycle later); the 5th waits for element 0's entry: element 0 last delivered at 20 ->
    /// entry free at 21 -> request 21, usable 22.
    #[test]
    fn read_stream_credits_and_latency() {
        let mut t = SsrTiming::new(&cfg(), 1);
        let mut r = BankReservations::new(32);
        t.launch(0, job(6, 4, false), 10, &mut r, &Banks(32))
            .unwrap();
        let ready: Vec<u64> = (0..4).map(|e| t.data_ready(0, e)).collect();
        assert_eq!(ready, [12, 13, 14, 15]);
        t.release(0, 0, 20, &mut r, &Banks(32)).unwrap();
        assert_eq!(t.data_ready(0, 4), 22);
        t.release(0, 1, 21, &mut r, &Banks(32)).unwrap();
        assert_eq!(t.data_ready(0, 5), 23);
    }

    /// Two streams of the same bank sequence: the second placed loses each bank cycle to the
    /// first and runs one cycle behind.
    #[test]
    fn streams_contend_for_banks() {
        let mut r = BankReservations::new(32);
        let mut a = SsrTiming::new(&cfg(), 1);
        let mut b = SsrTiming::new(&cfg(), 1);
        a.launch(0, job(4, 4, false), 0, &mut r, &Banks(32))
            .unwrap();
        b.launch(1, job(4, 4, false), 0, &mut r, &Banks(32))
            .unwrap();
        let ra: Vec<u64> = (0..4).map(|e| a.data_ready(0, e)).collect();
        let rb: Vec<u64> = (0..4).map(|e| b.data_ready(1, e)).collect();
        assert_eq!(ra, [2, 3, 4, 5]);
        assert_eq!(rb, [3, 4, 5, 6]);
    }

    /// A queued job starts when the active job's last request issues; a third configuration
    /// write before then waits, and one that could never proceed is refused.
    #[test]
    fn shadow_job_start() {
        let mut r = BankReservations::new(32);
        let mut t = SsrTiming::new(&cfg(), 1);
        t.launch(2, job(6, 4, false), 0, &mut r, &Banks(32))
            .unwrap();
        assert_eq!(t.config_ready(2), Some(0));
        t.launch(2, job(2, 4, false), 1, &mut r, &Banks(32))
            .unwrap();
        assert_eq!(
            t.config_ready(2),
            None,
            "6 elements, 4 credits: not started"
        );
        t.release(2, 0, 10, &mut r, &Banks(32)).unwrap(); // element 4 requested at 11
        assert_eq!(t.config_ready(2), None);
        t.release(2, 1, 11, &mut r, &Banks(32)).unwrap(); // element 5 (last) at 12
        assert_eq!(t.config_ready(2), Some(13));
    }

    /// A read job queued behind a write job on the same stream starts requesting after the
    /// write job's last store: element 0 of the read job at store + 1, usable a TCDM latency
    /// later.
    #[test]
    fn a_read_job_after_a_write_job_starts_after_its_last_store() {
        let mut r = BankReservations::new(32);
        let mut t = SsrTiming::new(&cfg(), 1);
        t.launch(0, job(2, 4, true), 0, &mut r, &Banks(32)).unwrap();
        t.launch(0, job(3, 4, false), 1, &mut r, &Banks(32))
            .unwrap();
        assert_eq!(t.config_ready(0), None, "queued behind the write job");
        assert_eq!(t.store(0, 0, 5, &mut r, &Banks(32)), Ok(5));
        assert_eq!(t.store(0, 1, 5, &mut r, &Banks(32)), Ok(6));
        assert_eq!(t.config_ready(0), Some(7));
        assert_eq!(t.data_ready(0, 2), 8, "requested at 7");
        assert_eq!(t.data_ready(0, 4), 10);
    }

    /// Write stream: each element is stored at write-back or one cycle after the previous
    /// store; a full FIFO holds back the write-back of element `e` until `e - 4`'s store.
    #[test]
    fn write_stream_stores_in_order() {
        let mut r = BankReservations::new(32);
        let mut t = SsrTiming::new(&cfg(), 1);
        t.launch(2, job(5, 4, true), 0, &mut r, &Banks(32)).unwrap();
        assert_eq!(t.store(2, 0, 10, &mut r, &Banks(32)), Ok(10));
        assert_eq!(t.store(2, 1, 10, &mut r, &Banks(32)), Ok(11));
        assert_eq!(
            t.entry_free(2, 4),
            11,
            "entry of element 0 free after its store"
        );
        assert_eq!(t.drained_at, 12);
    }
}
