//! The shared instruction cache: set-associative, LRU, with in-flight refills that later
//! fetchers of the same line wait for.

use super::config::ICacheConfig;

#[derive(Clone, Copy)]
struct Way {
    tag: u32,
    valid: bool,
    /// Cycle from which the line can be fetched (refill completion).
    ready_at: u64,
    /// LRU stamp (higher = more recent).
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
    stamp: u64,
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
                stamp: 0,
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
                    stamp: 0,
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
    /// can proceed (`now` on a hit, later on a miss or while a refill is in flight).
    pub fn fetch(&mut self, pc: u32, now: u64) -> u64 {
        if self.ideal {
            return now;
        }
        self.accesses += 1;
        self.stamp += 1;
        let line = pc >> self.line_shift;
        let set = line & (self.sets - 1);
        let tag = line >> self.set_shift;
        let base = (set * self.ways) as usize;
        let ways = &mut self.table[base..base + self.ways as usize];
        if let Some(w) = ways.iter_mut().find(|w| w.valid && w.tag == tag) {
            w.used = self.stamp;
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
            used: self.stamp,
        };
        now + self.miss_latency
    }

    /// True when a fetch of `pc` at `now` would hit (no state change).
    pub fn probe(&self, pc: u32, now: u64) -> bool {
        if self.ideal {
            return true;
        }
        let line = pc >> self.line_shift;
        let set = line & (self.sets - 1);
        let tag = line >> self.set_shift;
        let base = (set * self.ways) as usize;
        self.table[base..base + self.ways as usize]
            .iter()
            .any(|w| w.valid && w.tag == tag && w.ready_at <= now)
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
        assert_eq!(c.fetch(0x0, 0), 5); // miss: ready at 0 + 5
        assert_eq!(c.fetch(0x4, 1), 5); // same line, refill in flight: wait for it
        assert_eq!(c.fetch(0x8, 7), 7); // hit
                                        // lines 0x00, 0x20, 0x40 all map to set 0 (line numbers 0, 2, 4)
        assert_eq!(c.fetch(0x20, 8), 13); // miss, second way
        assert_eq!(c.fetch(0x0, 14), 14); // hit, 0x00 becomes most recent
        assert_eq!(c.fetch(0x40, 15), 20); // miss evicts LRU = 0x20
        assert_eq!(c.fetch(0x0, 21), 21); // still there
        assert_eq!(c.fetch(0x20, 22), 27); // was evicted
        assert_eq!((c.accesses, c.misses), (8, 4));
    }
}
