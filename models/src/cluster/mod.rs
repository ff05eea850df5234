//! The Snitch-class RISC-V cluster: cores, banked TCDM, DMA, barrier, instruction cache and
//! the peripheral map, advanced cycle by cycle.

pub mod map;
