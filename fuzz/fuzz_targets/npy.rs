//! `.npy` reader on arbitrary bytes: `read_npy_bytes` must return `Ok` or `Err`, never panic,
//! and an `Ok` matrix must hold rows x cols values.
//!
//! The harness is `hetsim_tests::fuzzing::npy` (shared with the bounded run in the test suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::npy(data));
