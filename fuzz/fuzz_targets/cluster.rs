//! A whole cluster run on random programs: arbitrary instruction words at 0x8000_0000 after a
//! short prelude, a configuration chosen by the first input bytes, and a 1000-cycle watchdog.
//! `Cluster::new` and `Cluster::run` must end in `Ok` or `Err`, never panic or hang.
//!
//! Input layout:
//! - byte 0: bits 0-1 = cores - 1; bit 2 = ideal I-cache (else a 1 KiB cache); bit 3 =
//!   misaligned accesses allowed; bit 4 = architectural traps; bit 5 = shared FPU; bit 6 = the
//!   study's extensions (Zfh, Xfvec, Xdma, Xfrep, Xssr, as `cluster-snitch-study.ron`);
//!   bit 7 = the extensions and the SSR prelude (below);
//! - bytes 1..8: which device address each of the registers t0..t2, s0, s1, a0, a1, a2 starts
//!   with (so random loads and stores reach the TCDM, the peripherals, the DMA and L2);
//! - byte 9, only when bit 6 or 7 is set: bits 0-1 = `ssr.fifo_depth` - 1; bits 2-3 = the
//!   read streams' repeat; bits 4-5 = elements per loop (1, 4, 16 or 64); bit 6 = 2-D jobs
//!   (two passes, the second starting 64 bytes below the first's last element); bit 7 =
//!   `ssr.launch_latency` 4 (else 1);
//! - then instruction words, little-endian (at most 256).
//!
//! The SSR prelude (bit 7) configures, on every core, read jobs on streams 0 and 1 over TCDM
//! buffers at 0x1000_1000 and 0x1000_2000 and a write job on stream 2 at 0x1000_3000, and sets
//! bit 0 of CSR `ssr` (0x7C0): random FP instructions naming ft0-ft2 then stream. With
//! architectural traps, the prelude points mtvec at the first random word, so a trap restarts
//! the random code instead of ending the run.
//!
//! The harness is `hetsim_tests::fuzzing::cluster` (shared with the bounded run in the test suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::cluster(data));
