//! Where a latency goes: the time from a scope's start to its end split into the parts an
//! architect can act on (issue 18 item 5). Every instant of the window is charged to one part,
//! by what is running then among the scope's own tasks, in this order of precedence:
//!
//! 1. **static**: a tile of the scope integrates (the static linear layers on AIMC);
//! 2. **dynamic**: no tile, but a cluster runs a dynamic operation (attention, softmax, norms,
//!    activations, adds);
//! 3. **LoRA**: no tile and no dynamic operation, but a cluster runs LoRA work (its cold
//!    start, the branch, the add, a gather);
//! 4. **link**: only transfers run;
//! 5. **wait**: nothing of the scope runs (operands not yet complete, queueing behind other
//!    scopes' work on a shared tile, cluster or link).
//!
//! So the parts add up to the latency exactly, LoRA time hidden behind tiles or dynamic work
//! costs nothing, and the LoRA part is the time the LoRA branch alone holds the scope up.

use crate::engine::Time;
use crate::replay::{Stage, Work};
use serde::{Deserialize, Serialize};

/// One of the parts of [`Split`], in order of precedence (lowest value wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// A tile integrates.
    Static = 0,
    /// A cluster runs a dynamic operation.
    Dynamic = 1,
    /// A cluster runs LoRA work.
    Lora = 2,
    /// A transfer runs.
    Link = 3,
}

impl Part {
    /// The part a task's time belongs to.
    pub fn of(work: &Work, stage: Stage) -> Part {
        match work {
            Work::Tile { .. } => Part::Static,
            Work::Cluster { .. } if stage == Stage::Dynamic => Part::Dynamic,
            Work::Cluster { .. } => Part::Lora,
            Work::Transfer { .. } => Part::Link,
        }
    }
}

/// A latency split into parts (ps); the parts add up to the window's length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Time some tile of the scope integrates.
    pub static_ps: Time,
    /// Time a dynamic operation runs and no tile.
    pub dynamic_ps: Time,
    /// Time only LoRA work (and transfers) runs.
    pub lora_ps: Time,
    /// Time only transfers run.
    pub link_ps: Time,
    /// Time nothing of the scope runs.
    pub wait_ps: Time,
}

impl Split {
    /// The sum of the parts (the window's length).
    pub fn total(&self) -> Time {
        self.static_ps + self.dynamic_ps + self.lora_ps + self.link_ps + self.wait_ps
    }

    /// Splits the window `[begin, end)` by the intervals `(start, end, part)` of the scope's
    /// tasks (clipped to the window; empty or outside intervals are ignored).
    pub fn of(
        begin: Time,
        end: Time,
        intervals: impl IntoIterator<Item = (Time, Time, Part)>,
    ) -> Split {
        let mut ev: Vec<(Time, bool, Part)> = Vec::new();
        for (s, e, p) in intervals {
            let (s, e) = (s.max(begin), e.min(end));
            if s < e {
                ev.push((s, true, p));
                ev.push((e, false, p));
            }
        }
        // At equal times, ends before starts: a part that ends as another begins leaves no gap.
        ev.sort_unstable_by_key(|&(t, start, p)| (t, start, p));
        let mut active = [0u32; 4];
        let mut out = Split::default();
        let mut at = begin;
        for (t, start, p) in ev {
            out.charge(&active, t - at);
            at = t;
            let n = &mut active[p as usize];
            if start {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
            }
        }
        out.charge(&active, end.saturating_sub(at));
        out
    }

    fn charge(&mut self, active: &[u32; 4], dt: Time) {
        let slot = match active.iter().position(|&n| n > 0) {
            Some(0) => &mut self.static_ps,
            Some(1) => &mut self.dynamic_ps,
            Some(2) => &mut self.lora_ps,
            Some(_) => &mut self.link_ps,
            None => &mut self.wait_ps,
        };
        *slot += dt;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instant_goes_to_the_first_running_part() {
        // window 0..100: tile 10..40, LoRA 30..60 (hidden 30..40), dynamic 55..70 (hides LoRA
        // 55..60), link 65..80 (hidden 65..70), nothing 0..10 and 80..100.
        let s = Split::of(
            0,
            100,
            [
                (10, 40, Part::Static),
                (30, 60, Part::Lora),
                (55, 70, Part::Dynamic),
                (65, 80, Part::Link),
            ],
        );
        assert_eq!(
            s,
            Split {
                static_ps: 30,
                dynamic_ps: 15,
                lora_ps: 15,
                link_ps: 10,
                wait_ps: 30,
            }
        );
        assert_eq!(s.total(), 100);
    }

    #[test]
    fn overlapping_tasks_of_one_part_and_clipping() {
        // two tiles 0..30 and 20..50, a LoRA task 40..90 clipped to the window 10..80:
        // static 10..50 = 40, LoRA 50..80 = 30.
        let s = Split::of(
            10,
            80,
            [
                (0, 30, Part::Static),
                (20, 50, Part::Static),
                (40, 90, Part::Lora),
            ],
        );
        assert_eq!((s.static_ps, s.lora_ps, s.wait_ps), (40, 30, 0));
        assert_eq!(s.total(), 70);
        // back-to-back tasks leave no wait; an empty window is all zero
        let s = Split::of(
            0,
            20,
            [
                (0, 10, Part::Lora),
                (10, 20, Part::Lora),
                (5, 5, Part::Static),
            ],
        );
        assert_eq!((s.lora_ps, s.wait_ps, s.static_ps), (20, 0, 0));
        assert_eq!(Split::of(7, 7, [(0, 10, Part::Static)]), Split::default());
    }
}
