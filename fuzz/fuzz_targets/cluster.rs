//! A whole cluster run on random programs: arbitrary instruction words at 0x8000_0000 after a
//! short prelude, a configuration chosen by the first input bytes, and a 1000-cycle watchdog.
//! `Cluster::new` and `Cluster::run` must end in `Ok` or `Err`, never panic or hang.
//!
//! Input layout: byte 0 = cores - 1 (mod 4) and flags (icache model, shared FPU, misaligned
//! accesses allowed, architectural traps), bytes 1..8 = which device address each of the
//! registers t0..t2, s0, s1, a0, a1, a2 starts with (so random loads and stores reach the
//! TCDM, the peripherals, the DMA and L2), then instruction words, little-endian. With
//! architectural traps, the prelude points mtvec at the first random word, so a trap restarts
//! the random code instead of ending the run.
//!
//! The harness is `hetsim_tests::fuzzing::cluster` (shared with the bounded run in the test suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::cluster(data));
