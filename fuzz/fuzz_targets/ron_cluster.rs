//! Cluster configuration: `ClusterConfig::from_ron_str` on arbitrary text. A configuration that
//! validates is round-tripped and a cluster is built from it (with a one-instruction program),
//! when its memories are small enough to allocate quickly.
//!
//! The harness is `hetsim_tests::fuzzing::ron_cluster` (shared with the bounded run in the test suite).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hetsim_tests::fuzzing::ron_cluster(data));
