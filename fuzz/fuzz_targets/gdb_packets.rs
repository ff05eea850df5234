//! The GDB remote protocol stub (`--gdb`): arbitrary bytes as the stream a debugger sends,
//! over an in-memory connection, against a small program on the functional machine.
//!
//! The harness is `hetsim_tests::fuzzing::gdb_packets` (shared with the bounded run in the
//! test suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::gdb_packets(data));
