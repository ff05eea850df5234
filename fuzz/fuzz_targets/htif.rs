//! HTIF syscall blocks: `hetsim_isa::htif::serve` on a block at an arbitrary address in
//! arbitrary memory.
//!
//! The harness is `hetsim_tests::fuzzing::htif` (shared with the bounded run in the test
//! suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::htif(data));
