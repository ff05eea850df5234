//! Clock domains: conversion between a component's cycles and the engine's picoseconds.

use super::Time;

/// Picoseconds per second.
pub const PS_PER_S: u128 = 1_000_000_000_000;

/// One clock domain (a component frequency) over the engine's picosecond time base.
///
/// The frequency is held exactly in hertz, so conversions never accumulate a rounded period.
/// Rounding rules (documented, tested):
/// - [`ClockDomain::cycles_to_ps`] rounds **up** to the next whole picosecond: a component that
///   needs `n` cycles is never done before `n` full periods have elapsed (1 GHz: exact; 3 GHz:
///   1 cycle = 334 ps, 3 cycles = 1000 ps).
/// - [`ClockDomain::ps_to_cycles_floor`] gives the cycles completed within a time;
///   [`ClockDomain::ps_to_cycles_ceil`] the cycles needed to cover a time (the next edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClockDomain {
    hz: u64,
}

impl ClockDomain {
    /// A domain of `hz` hertz; `None` for 0 Hz.
    pub fn from_hz(hz: u64) -> Option<Self> {
        (hz > 0).then_some(Self { hz })
    }

    /// A domain of `ghz` gigahertz, rounded to the nearest hertz; `None` unless finite, > 0 and
    /// at most 1000 GHz.
    pub fn from_ghz(ghz: f64) -> Option<Self> {
        if !(ghz.is_finite() && ghz > 0.0 && ghz <= 1000.0) {
            return None;
        }
        Self::from_hz((ghz * 1e9).round() as u64)
    }

    /// The frequency in hertz.
    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// The frequency in gigahertz.
    pub fn ghz(&self) -> f64 {
        self.hz as f64 / 1e9
    }

    /// Time of `cycles` periods in ps, rounded up (saturates at `u64::MAX`).
    pub fn cycles_to_ps(&self, cycles: u64) -> Time {
        let num = u128::from(cycles) * PS_PER_S;
        let ps = num.div_ceil(u128::from(self.hz));
        u64::try_from(ps).unwrap_or(u64::MAX)
    }

    /// Whole cycles completed within `ps` picoseconds (rounded down).
    pub fn ps_to_cycles_floor(&self, ps: Time) -> u64 {
        let c = u128::from(ps) * u128::from(self.hz) / PS_PER_S;
        u64::try_from(c).unwrap_or(u64::MAX)
    }

    /// Cycles needed to cover `ps` picoseconds (rounded up).
    pub fn ps_to_cycles_ceil(&self, ps: Time) -> u64 {
        let c = (u128::from(ps) * u128::from(self.hz)).div_ceil(PS_PER_S);
        u64::try_from(c).unwrap_or(u64::MAX)
    }

    /// The first clock edge at or after `t` (edges at multiples of the period from time 0).
    pub fn next_edge(&self, t: Time) -> Time {
        self.cycles_to_ps(self.ps_to_cycles_ceil(t))
    }
}

/// Converts nanoseconds (a configuration value) to picoseconds, rounded to the nearest
/// picosecond; negative or non-finite values give `None`.
pub fn ns_to_ps(ns: f64) -> Option<Time> {
    if !(ns.is_finite() && ns >= 0.0) {
        return None;
    }
    let ps = (ns * 1000.0).round();
    (ps <= u64::MAX as f64).then_some(ps as u64)
}

/// Picoseconds as nanoseconds (for reports).
pub fn ps_to_ns(ps: Time) -> f64 {
    ps as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_ghz_is_exact() {
        // 1 GHz: period 1000 ps exactly; 250 cycles = 250 000 ps = 250 ns.
        let c = ClockDomain::from_ghz(1.0).unwrap();
        assert_eq!(c.cycles_to_ps(250), 250_000);
        assert_eq!(c.ps_to_cycles_floor(250_999), 250);
        assert_eq!(c.ps_to_cycles_ceil(250_001), 251);
    }

    #[test]
    fn three_ghz_rounds_up() {
        // 3 GHz: period 333.33 ps. 1 cycle -> ceil(333.33) = 334 ps; 3 cycles -> 1000 ps
        // exactly (no accumulated rounding because the frequency is held in Hz).
        let c = ClockDomain::from_ghz(3.0).unwrap();
        assert_eq!(c.cycles_to_ps(1), 334);
        assert_eq!(c.cycles_to_ps(3), 1000);
        assert_eq!(c.ps_to_cycles_floor(1000), 3);
        assert_eq!(c.ps_to_cycles_floor(999), 2);
        assert_eq!(c.next_edge(1), 334);
        assert_eq!(c.next_edge(1000), 1000);
    }

    #[test]
    fn invalid_frequencies_rejected() {
        assert!(ClockDomain::from_ghz(0.0).is_none());
        assert!(ClockDomain::from_ghz(-1.0).is_none());
        assert!(ClockDomain::from_ghz(f64::NAN).is_none());
        assert!(ClockDomain::from_hz(0).is_none());
    }

    #[test]
    fn ns_conversion_rounds_to_nearest() {
        assert_eq!(ns_to_ps(128.0), Some(128_000));
        assert_eq!(ns_to_ps(0.0004), Some(0));
        assert_eq!(ns_to_ps(0.0006), Some(1));
        assert_eq!(ns_to_ps(-1.0), None);
    }
}
