//! The DMA engine: a FIFO of 1-D/2-D transfers executed one at a time, one beat per cycle.
//!
//! Timing rule: a transfer queued (START written) at cycle q starts its first beat at cycle
//! `max(q + setup_latency, q + 1, end of the previous transfer + 1)`. Each beat moves up to
//! `bytes_per_cycle` bytes of the current row (a beat never spans two rows), so a row of S
//! bytes takes ceil(S / bytes_per_cycle) beats and a transfer of R rows takes the sum. The
//! transfer completes in the cycle of its last beat: DONE_ID shows its id from that cycle on.
//! Beats touching the TCDM claim the banks they cover for that cycle; the DMA is served
//! before the cores, so it always wins its banks.

use std::collections::VecDeque;

/// A queued transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Id (from 1, in queue order).
    pub id: u32,
    /// Source address of row 0.
    pub src: u32,
    /// Destination address of row 0.
    pub dst: u32,
    /// Bytes per row.
    pub size: u32,
    /// Source stride between rows.
    pub src_stride: u32,
    /// Destination stride between rows.
    pub dst_stride: u32,
    /// Rows (at least 1).
    pub reps: u32,
    /// Cycle at which it was queued.
    pub queued_at: u64,
}

impl Transfer {
    /// Beats (cycles of data movement) the transfer needs at `bpc` bytes per cycle.
    pub fn beats(&self, bpc: u32) -> u64 {
        u64::from(self.reps) * u64::from(self.size.div_ceil(bpc))
    }
}

/// One beat to perform: copy `len` bytes from `src` to `dst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Beat {
    /// Source address.
    pub src: u32,
    /// Destination address.
    pub dst: u32,
    /// Bytes.
    pub len: u32,
}

struct Active {
    t: Transfer,
    row: u32,
    off: u32,
}

/// The DMA registers and engine state.
pub struct Dma {
    /// Programmable registers: SRC, DST, SIZE, SRC_STRIDE, DST_STRIDE, REPS.
    pub regs: [u32; 6],
    queue: VecDeque<Transfer>,
    active: Option<Active>,
    /// Cycle after the last beat of the previous transfer.
    free_at: u64,
    /// Id of the last queued transfer.
    pub last_id: u32,
    /// Id of the last completed transfer.
    pub done_id: u32,
    /// Cycles in which a beat moved data.
    pub busy_cycles: u64,
    /// Bytes moved.
    pub bytes: u64,
    setup: u64,
    bpc: u32,
    depth: u32,
}

impl Dma {
    /// An idle engine.
    pub fn new(setup_latency: u32, bytes_per_cycle: u32, queue_depth: u32) -> Dma {
        Dma {
            regs: [0; 6],
            queue: VecDeque::new(),
            active: None,
            free_at: 0,
            last_id: 0,
            done_id: 0,
            busy_cycles: 0,
            bytes: 0,
            setup: u64::from(setup_latency),
            bpc: bytes_per_cycle,
            depth: queue_depth,
        }
    }

    /// Transfers queued or in flight.
    pub fn outstanding(&self) -> u32 {
        self.queue.len() as u32 + u32::from(self.active.is_some())
    }

    /// Queues a transfer from the registers at cycle `now`; returns it, or an error message
    /// when the queue is full.
    pub fn start(&mut self, now: u64) -> Result<Transfer, String> {
        if self.outstanding() >= self.depth {
            return Err(format!(
                "START with {} transfers outstanding (queue depth {})",
                self.outstanding(),
                self.depth
            ));
        }
        let [src, dst, size, src_stride, dst_stride, reps] = self.regs;
        self.last_id += 1;
        let t = Transfer {
            id: self.last_id,
            src,
            dst,
            size,
            src_stride,
            dst_stride,
            reps: reps.max(1),
            queued_at: now,
        };
        self.queue.push_back(t);
        Ok(t)
    }

    /// The next cycle at which the engine has work (None when idle).
    pub fn next_event(&self, now: u64) -> Option<u64> {
        if let Some(a) = &self.active {
            let _ = a;
            return Some(now);
        }
        self.queue.front().map(|t| self.first_beat(t))
    }

    fn first_beat(&self, t: &Transfer) -> u64 {
        (t.queued_at + self.setup)
            .max(t.queued_at + 1)
            .max(self.free_at)
    }

    /// Performs the beat of cycle `now`, if any. The caller copies the bytes and claims the
    /// banks.
    pub fn step(&mut self, now: u64) -> Option<Beat> {
        if self.active.is_none() {
            let t = self.queue.front()?;
            if self.first_beat(t) > now {
                return None;
            }
            let t = self.queue.pop_front()?;
            if t.size == 0 {
                // An empty transfer completes at its first-beat cycle without moving data.
                self.done_id = t.id;
                self.free_at = now + 1;
                return None;
            }
            self.active = Some(Active { t, row: 0, off: 0 });
        }
        let a = self.active.as_mut()?;
        let len = (a.t.size - a.off).min(self.bpc);
        let row_src = a.t.src.wrapping_add(a.row.wrapping_mul(a.t.src_stride));
        let row_dst = a.t.dst.wrapping_add(a.row.wrapping_mul(a.t.dst_stride));
        let beat = Beat {
            src: row_src.wrapping_add(a.off),
            dst: row_dst.wrapping_add(a.off),
            len,
        };
        a.off += len;
        if a.off == a.t.size {
            a.off = 0;
            a.row += 1;
            if a.row == a.t.reps {
                self.done_id = a.t.id;
                self.free_at = now + 1;
                self.active = None;
            }
        }
        self.busy_cycles += 1;
        self.bytes += u64::from(len);
        Some(beat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_d_and_two_d_beat_timing() {
        // setup 10, 64 B/cycle. 1-D 200 B queued at cycle 5: beats at 15, 16, 17, 18
        // (64 + 64 + 64 + 8), done at 18.
        let mut d = Dma::new(10, 64, 4);
        d.regs = [0x1000, 0x2000, 200, 0, 0, 0];
        assert_eq!(d.start(5).unwrap().id, 1);
        let mut beats = Vec::new();
        for now in 0..30 {
            if let Some(b) = d.step(now) {
                beats.push((now, b.len));
            }
            if d.done_id == 1 {
                assert_eq!(now, 18);
                break;
            }
        }
        assert_eq!(beats, vec![(15, 64), (16, 64), (17, 64), (18, 8)]);
        // 2-D: 3 rows of 100 B (2 beats each), queued at 18 behind nothing: first beat at
        // max(18 + 10, 19) = 28; 6 beats -> done at 33.
        d.regs = [0x1000, 0x2000, 100, 256, 128, 3];
        d.start(18).unwrap();
        let mut rows = Vec::new();
        let mut done_at = 0;
        for now in 18..60 {
            if let Some(b) = d.step(now) {
                rows.push((b.src, b.dst, b.len));
            }
            if d.done_id == 2 {
                done_at = now;
                break;
            }
        }
        assert_eq!(done_at, 33);
        assert_eq!(
            rows,
            vec![
                (0x1000, 0x2000, 64),
                (0x1040, 0x2040, 36),
                (0x1100, 0x2080, 64),
                (0x1140, 0x20c0, 36),
                (0x1200, 0x2100, 64),
                (0x1240, 0x2140, 36)
            ]
        );
    }

    #[test]
    fn back_to_back_transfers_and_queue_limit() {
        // setup 2: A (64 B) queued at 0 -> beat at 2; B queued at 0 -> max(2, 1, 3) = 3.
        let mut d = Dma::new(2, 64, 2);
        d.regs = [0, 0x100, 64, 0, 0, 1];
        d.start(0).unwrap();
        d.start(0).unwrap();
        assert!(d.start(0).is_err());
        let done: Vec<_> = (0..10)
            .filter_map(|now| d.step(now).map(|_| (now, d.done_id)))
            .collect();
        assert_eq!(done, vec![(2, 1), (3, 2)]);
    }
}
