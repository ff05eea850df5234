//! Decoder + executor on one hart: arbitrary instruction words and register state, a small
//! RAM, bounded steps. `decode`, `execute`, `take_trap` and the disassembler must never panic.
//!
//! Input layout: 32 x-registers, 32 f-registers, then fcsr/mstatus/mtvec/misc words (all
//! little-endian u32, missing bytes are zero), then the instruction words, placed in RAM at
//! 0x8000_0000 and run for at most 64 steps (traps go to mtvec, which points into RAM).
//!
//! The harness is `hetsim_tests::fuzzing::exec` (shared with the bounded run in the test suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::exec(data));
