//! ELF loader: `Program::parse` on arbitrary bytes must return `Ok` or `Err`, never panic.
//!
//! The harness is `hetsim_tests::fuzzing::elf` (shared with the bounded run in the test suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::elf(data));
