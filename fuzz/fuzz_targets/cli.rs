//! The command line: arbitrary argument vectors (NUL-separated) through `hetsim::cli::run` in
//! check mode: parsing, every subcommand's option checks and input files, no simulation and no
//! output files.
//!
//! The harness is `hetsim_tests::fuzzing::cli` (shared with the bounded run in the test suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::cli(data));
