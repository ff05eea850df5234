//! Cross-crate tests for hetsim. The tests live in `tests/tests/`; this library holds helpers
//! they share (locating committed kernel ELFs, building small ELF images in memory).
