//! AIMC tile configuration: `TileConfig::from_ron_str` on arbitrary text. A configuration that
//! validates is then used: a small weight matrix is programmed onto it and one matrix-vector
//! product evaluated (tiles larger than 256 x 256 are only parsed, to keep executions fast).
//!
//! The harness is `hetsim_tests::fuzzing::ron_tile` (shared with the bounded run in the test suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::ron_tile(data));
