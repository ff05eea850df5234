//! A whole single-hart run: `Program::parse` then `Machine::new` and `Machine::run` with a
//! limit of 2000 instructions, on arbitrary bytes (seeded with real ISA-test ELFs).
//!
//! Programs whose segments add up to more than 16 MiB of memory are skipped: `Machine::new`
//! allocates every segment's memory (and a decode cache for executable ones) up front, which is
//! by design; see "Not covered" in docs/robustness.md.
//!
//! The harness is `hetsim_tests::fuzzing::machine` (shared with the bounded run in the test suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::machine(data));
