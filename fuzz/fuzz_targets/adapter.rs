//! The `adapter` harness of `hetsim_tests::fuzzing` (docs/robustness.md): arbitrary bytes must give
//! `Ok` or `Err`, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::adapter(data));
