//! The shared instruction cache: set-associative, LRU, with in-flight refills that later
//! fetchers of the same line wait for.
//!
//! Recency is the fetch's place in the cluster's issue order (cycle, then the core's turn in
//! that cycle), not a running count: a hit recorded out of order (a core's private run,
//! ahead of the clock, `Cluster::private_run`) leaves the cache as the in-order hit would, so
//! long as it is recorded before the next miss in its set looks at recency.

use super::config::ICacheConfig;

#[derive(Clone, Copy)]
struct Way {
    tag: u32,
    valid: bool,
    /// Cycle from which the line can be fetched (refill completion).
    ready_at: u64,
    /// Issue-order key of its latest fetch (higher = more recent; `ICache::fetch`).
    used: u64,
}

/// The cache state. `Ideal` has no state and always hits.
pub struct ICache {
    ideal: bool,
    line_shift: u32,
    sets: u32,
    /// log2(sets) (`ClusterConfig::validate` requires a power of two): the tag is the line
    /// number shifted by it, without a division per lookup.
    set_shift: u32,
    ways: u32,
    miss_latency: u64,
    table: Vec<Way>,
    /// Lookups that missed.
    pub misses: u64,
    /// Lookups.
    pub accesses: u64,
}

impl ICache {
    /// A cache as configured.
    pub fn new(cfg: &ICacheConfig) -> ICache {
        match *cfg {
            ICacheConfig::Ideal => ICache {
                ideal: true,
                line_shift: 2,
                sets: 1,
                set_shift: 0,
                ways: 1,
                miss_latency: 0,
                table: Vec::new(),
                misses: 0,
                accesses: 0,
            },
            ICacheConfig::Cache {
                size,
                ways,
                line,
                miss_latency,
            } => {
                let sets = size / (ways * line);
                ICache {
                    ideal: false,
                    line_shift: line.trailing_zeros(),
                    sets,
                    set_shift: sets.trailing_zeros(),
                    ways,
                    miss_latency: u64::from(miss_latency),
                    table: vec![
                        Way {
                            tag: 0,
                            valid: false,
                            ready_at: 0,
                            used: 0,
                        };
                        (sets * ways) as usize
                    ],
                    misses: 0,
                    accesses: 0,
                }
            }
        }
    }

    /// True for the ideal cache (no state: every fetch hits, so line changes cost nothing).
    #[inline]
    pub fn is_ideal(&self) -> bool {
        self.ideal
    }

    /// The line number of `pc` (fetches within one line need one lookup).
    #[inline]
    pub fn line_of(&self, pc: u32) -> u32 {
        pc >> self.line_shift
    }

    /// Looks up the line holding `pc` at cycle `now`; returns the cycle from which the fetch
    /// can proceed (`now` on a hit, later on a miss or while a refill is in flight). `order`
    /// is the fetch's place in the issue order (`Cluster`'s `fetch_order`: increasing with
    /// the cycle, then with the core's turn in it); a miss replaces an invalid way, else the
    /// way whose latest fetch comes first in that order.
    pub fn fetch(&mut self, pc: u32, now: u64, order: u64) -> u64 {
        if self.ideal {
            return now;
        }
        self.accesses += 1;
        let base = self.set_base(pc);
        let tag = self.tag_of(pc);
        let ways = &mut self.table[base..base + self.ways as usize];
        if let Some(w) = ways.iter_mut().find(|w| w.valid && w.tag == tag) {
            w.used = w.used.max(order);
            return w.ready_at.max(now);
        }
        self.misses += 1;
        // Replace an invalid way, else the least recently used one.
        let victim = ways
            .iter_mut()
            .min_by_key(|w| (w.valid, w.used))
            .expect("a set has at least one way");
        *victim = Way {
            tag,
            valid: true,
            ready_at: now + self.miss_latency,
            used: order,
        };
        now + self.miss_latency
    }

    /// The index of the way from which `pc` can be fetched at cycle `at` (valid, refill
    /// done), without recording the fetch (`record_hit` does); `None` on a miss or while the
    /// refill is in flight. Not for the ideal cache (it has no ways).
    #[inline]
    pub fn hit_way(&self, pc: u32, at: u64) -> Option<u32> {
        let base = self.set_base(pc);
        let tag = self.tag_of(pc);
        self.table[base..base + self.ways as usize]
            .iter()
            .position(|w| w.valid && w.tag == tag && w.ready_at <= at)
            .map(|k| (base + k) as u32)
    }

    /// Records a hit found by `hit_way` with issue-order key `order`: counts the access and
    /// makes the way at least that recent. Hits may be recorded in any order between two
    /// misses of their set: the result is the same.
    #[inline]
    pub fn record_hit(&mut self, way: u32, order: u64) {
        self.accesses += 1;
        let w = &mut self.table[way as usize];
        w.used = w.used.max(order);
    }

    /// The first index in `table` of the set holding `pc`'s line.
    #[inline]
    fn set_base(&self, pc: u32) -> usize {
        let set = (pc >> self.line_shift) & (self.sets - 1);
        (set * self.ways) as usize
    }

    /// The tag of `pc`'s line.
    #[inline]
    fn tag_of(&self, pc: u32) -> u32 {
        (pc >> self.line_shift) >> self.set_shift
    }

    /// True when a fetch of `pc` at `now` would hit (no state change).
    pub fn probe(&self, pc: u32, now: u64) -> bool {
        self.ideal || self.hit_way(pc, now).is_some()
    }

    /// Invalidates every line (fence.i).
    pub fn flush(&mut self) {
        for w in &mut self.table {
            w.valid = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misses_refills_and_lru() {
        // 2 sets x 2 ways x 16-byte lines = 64 bytes; miss latency 5.
        let mut c = ICache::new(&ICacheConfig::Cache {
            size: 64,
            ways: 2,
            line: 16,
            miss_latency: 5,
        });
        // One fetch per cycle: the cycle is the issue-order key.
        assert_eq!(c.fetch(0x0, 0, 0), 5); // miss: ready at 0 + 5
        assert_eq!(c.fetch(0x4, 1, 1), 5); // same line, refill in flight: wait for it
        assert_eq!(c.fetch(0x8, 7, 7), 7); // hit
                                           // lines 0x00, 0x20, 0x40 all map to set 0 (line numbers 0, 2, 4)
        assert_eq!(c.fetch(0x20, 8, 8), 13); // miss, second way
        assert_eq!(c.fetch(0x0, 14, 14), 14); // hit, 0x00 becomes most recent
        assert_eq!(c.fetch(0x40, 15, 15), 20); // miss evicts LRU = 0x20
        assert_eq!(c.fetch(0x0, 21, 21), 21); // still there
        assert_eq!(c.fetch(0x20, 22, 22), 27); // was evicted
        assert_eq!((c.accesses, c.misses), (8, 4));
    }

    /// Hits recorded out of issue order (`hit_way` + `record_hit`, as a private run does)
    /// leave the same recency as in order: the next miss evicts the same way.
    #[test]
    fn hits_recorded_out_of_order_choose_the_same_victim() {
        let cfg = ICacheConfig::Cache {
            size: 64,
            ways: 2,
            line: 16,
            miss_latency: 5,
        };
        // Set 0 holds lines 0x00 (missed at cycle 0, ready from 5) and 0x20 (cycle 1, from 6).
        let fill = || {
            let mut c = ICache::new(&cfg);
            c.fetch(0x00, 0, 0);
            c.fetch(0x20, 1, 1);
            c
        };
        // In order: 0x20 hit at key 10, 0x00 at key 12: 0x20 is the LRU line.
        let mut a = fill();
        assert_eq!(a.fetch(0x20, 10, 10), 10);
        assert_eq!(a.fetch(0x00, 12, 12), 12);
        // Out of order: the later hit recorded first.
        let mut b = fill();
        let w0 = b.hit_way(0x00, 12).expect("0x00 is ready at 12");
        b.record_hit(w0, 12);
        let w2 = b.hit_way(0x24, 10).expect("0x20 is ready at 10");
        b.record_hit(w2, 10);
        assert_eq!(b.hit_way(0x20, 5), None, "the refill is in flight until 6");
        for c in [&mut a, &mut b] {
            assert_eq!(c.fetch(0x40, 20, 20), 25); // miss: evicts 0x20
            assert_eq!(c.fetch(0x00, 26, 26), 26); // still there
            assert_eq!((c.accesses, c.misses), (6, 3));
        }
    }
}
