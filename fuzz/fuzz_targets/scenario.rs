//! Scenario files: `hetsim::scenario::load_str` on arbitrary text, then mapping and sweep
//! expansion of the scenarios that load.
//!
//! The harness is `hetsim_tests::fuzzing::scenario` (shared with the bounded run in the test suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::scenario(data));
