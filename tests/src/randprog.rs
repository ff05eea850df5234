//! Random RV32IMF programs for differential testing against QEMU.
//!
//! A batch is one executable holding many programs run back to back. Each program loads
//! every integer and FP register and fcsr from a table of random and edge-case values, runs
//! a random body (integer, M and F arithmetic, conversions, compares, classify, moves, loads
//! and stores into a private scratch buffer, fflags/frm/fcsr accesses, short forward
//! branches and jumps), then stores every register and fcsr into its dump area. After the
//! last program the whole data area (tables, scratch buffers and dumps) is written to
//! stdout with the Linux `write` syscall and the program exits with `exit(0)`; both
//! `qemu-riscv32` and hetsim's functional machine serve those two calls, so their outputs
//! must be identical bytes.
//!
//! Register x31 (t6) holds the scratch base and is never a destination in the body.

use crate::elfgen;
use rand::Rng;

/// Where batches are linked (a typical Linux user-mode text address).
pub const BASE: u32 = 0x0001_0000;
/// Random instructions per program.
pub const BODY_LEN: usize = 64;
const SCRATCH: u32 = 256;
// Per-program data block: x table (32 words), f table (32), scratch, dump (x 32 + f 32 + fcsr).
const X_TAB: u32 = 0;
const F_TAB: u32 = 128;
const SCR: u32 = 256;
const DUMP: u32 = SCR + SCRATCH;
const BLOCK: u32 = DUMP + 65 * 4;

/// Field of a data block at byte `off` (for mismatch messages).
pub fn describe_offset(off: u32) -> String {
    let p = off / BLOCK;
    let o = off % BLOCK;
    let what = if o < F_TAB {
        format!("x table word {}", o / 4)
    } else if o < SCR {
        format!("f table word {}", (o - F_TAB) / 4)
    } else if o < DUMP {
        format!("scratch byte {}", o - SCR)
    } else {
        let w = (o - DUMP) / 4;
        match w {
            0..=31 => format!("final x{w}"),
            32..=63 => format!("final f{}", w - 32),
            _ => "final fcsr".to_string(),
        }
    };
    format!("program {p}: {what}")
}

use hetsim_isa::asm::{b, i, jal, li, lui, r, s};

const SCRATCH_REG: u32 = 31;

/// Interesting single-precision bit patterns.
const F_EDGES: [u32; 22] = [
    0x0000_0000,
    0x8000_0000,
    0x3f80_0000,
    0xbf80_0000,
    0x7f80_0000,
    0xff80_0000,
    0x7fc0_0000,
    0x7fc0_1234,
    0xffc0_0000,
    0x7f80_0001,
    0xff80_4321,
    0x0000_0001,
    0x8000_0001,
    0x007f_ffff,
    0x0080_0000,
    0x7f7f_ffff,
    0xff7f_ffff,
    0x4f00_0000,
    0xcf00_0000,
    0x4f80_0000,
    0x3f00_0000,
    0x4b80_0001,
];
const X_EDGES: [u32; 10] = [
    0,
    1,
    0xffff_ffff,
    0x8000_0000,
    0x7fff_ffff,
    2,
    31,
    32,
    0xffff_f800,
    0x0000_07ff,
];

fn rand_x(rng: &mut impl Rng) -> u32 {
    match rng.random_range(0..4) {
        0 => X_EDGES[rng.random_range(0..X_EDGES.len())],
        1 => rng.random_range(0..64),
        _ => rng.random(),
    }
}

fn rand_f(rng: &mut impl Rng) -> u32 {
    match rng.random_range(0..5) {
        0 | 1 => F_EDGES[rng.random_range(0..F_EDGES.len())],
        2 => {
            // a "normal-looking" value with a small exponent range so arithmetic is inexact
            let sign = rng.random::<u32>() & 0x8000_0000;
            let exp = rng.random_range(100u32..155) << 23;
            sign | exp | (rng.random::<u32>() & 0x7f_ffff)
        }
        3 => rng.random::<u32>() & 0x80ff_ffff, // subnormal or tiny
        _ => rng.random(),
    }
}

/// A destination register for the body (never x31, the scratch base).
fn rd(rng: &mut impl Rng) -> u32 {
    rng.random_range(0..31)
}
fn reg(rng: &mut impl Rng) -> u32 {
    rng.random_range(0..32)
}
/// A rounding-mode field: static 0-4 or dynamic (frm always holds a valid mode here).
fn rm(rng: &mut impl Rng) -> u32 {
    [0, 1, 2, 3, 4, 7][rng.random_range(0..6)]
}

/// One random body instruction, or a short forward branch/jump (which may take 2 slots).
fn body_inst(rng: &mut impl Rng, remaining: usize) -> Vec<u32> {
    let f3r = |rng: &mut dyn rand::RngCore| rng.random_range(0..8u32);
    match rng.random_range(0..100) {
        // RV32I register-register
        0..=9 => {
            let (f7, f3) = [
                (0, 0),
                (0x20, 0),
                (0, 1),
                (0, 2),
                (0, 3),
                (0, 4),
                (0, 5),
                (0x20, 5),
                (0, 6),
                (0, 7),
            ][rng.random_range(0..10)];
            vec![r(f7, reg(rng), reg(rng), f3, rd(rng), 0x33)]
        }
        // RV32I immediate
        10..=17 => {
            let f3 = f3r(rng);
            let word = match f3 {
                1 => r(0, rng.random_range(0..32), reg(rng), 1, rd(rng), 0x13),
                5 => r(
                    if rng.random() { 0x20 } else { 0 },
                    rng.random_range(0..32),
                    reg(rng),
                    5,
                    rd(rng),
                    0x13,
                ),
                _ => i(rng.random_range(-2048..2048), reg(rng), f3, rd(rng), 0x13),
            };
            vec![word]
        }
        18 => vec![lui(rd(rng), rng.random_range(0..1 << 20))],
        19 => vec![(rng.random_range(0..1u32 << 20) << 12) | (rd(rng) << 7) | 0x17],
        // RV32M
        20..=29 => vec![r(1, reg(rng), reg(rng), f3r(rng), rd(rng), 0x33)],
        // loads and stores into the scratch buffer (aligned)
        30..=37 => {
            let (f3, size, store) = [
                (0, 1, false),
                (1, 2, false),
                (2, 4, false),
                (4, 1, false),
                (5, 2, false),
                (0, 1, true),
                (1, 2, true),
                (2, 4, true),
            ][rng.random_range(0..8)];
            let off = (rng.random_range(0..SCRATCH / size) * size) as i32;
            if store {
                vec![s(off, reg(rng), SCRATCH_REG, f3, 0x23)]
            } else {
                vec![i(off, SCRATCH_REG, f3, rd(rng), 0x03)]
            }
        }
        38..=40 => {
            let off = (rng.random_range(0..SCRATCH / 4) * 4) as i32;
            if rng.random() {
                vec![i(off, SCRATCH_REG, 2, reg(rng), 0x07)] // flw
            } else {
                vec![s(off, reg(rng), SCRATCH_REG, 2, 0x27)] // fsw
            }
        }
        // F arithmetic with rounding modes
        41..=50 => {
            let f7 = [0x00, 0x04, 0x08, 0x0c][rng.random_range(0..4)];
            vec![r(f7, reg(rng), reg(rng), rm(rng), reg(rng), 0x53)]
        }
        51..=56 => {
            let op = [0x43, 0x47, 0x4b, 0x4f][rng.random_range(0..4)];
            vec![(reg(rng) << 27) | r(0, reg(rng), reg(rng), rm(rng), reg(rng), op)]
        }
        57..=58 => vec![r(0x2c, 0, reg(rng), rm(rng), reg(rng), 0x53)], // fsqrt
        59..=61 => vec![r(
            0x10,
            reg(rng),
            reg(rng),
            rng.random_range(0..3),
            reg(rng),
            0x53,
        )],
        62..=65 => vec![r(
            0x14,
            reg(rng),
            reg(rng),
            rng.random_range(0..2),
            reg(rng),
            0x53,
        )],
        66..=70 => vec![r(
            0x50,
            reg(rng),
            reg(rng),
            rng.random_range(0..3),
            rd(rng),
            0x53,
        )],
        71..=74 => vec![r(
            0x60,
            rng.random_range(0..2),
            reg(rng),
            rm(rng),
            rd(rng),
            0x53,
        )],
        75..=77 => vec![r(
            0x68,
            rng.random_range(0..2),
            reg(rng),
            rm(rng),
            reg(rng),
            0x53,
        )],
        78..=79 => vec![r(0x70, 0, reg(rng), 0, rd(rng), 0x53)], // fmv.x.w
        80..=81 => vec![r(0x70, 0, reg(rng), 1, rd(rng), 0x53)], // fclass
        82..=83 => vec![r(0x78, 0, reg(rng), 0, reg(rng), 0x53)], // fmv.w.x
        // fcsr, frm, fflags accesses (frm only ever receives valid modes)
        84..=88 => {
            let word = match rng.random_range(0..6) {
                0 => i(0x001, rng.random_range(0..32), 5, rd(rng), 0x73), // csrrwi fflags
                1 => i(0x001, rng.random_range(0..32), 6, rd(rng), 0x73), // csrrsi fflags
                2 => i(0x001, rng.random_range(0..32), 7, rd(rng), 0x73), // csrrci fflags
                3 => i(0x002, rng.random_range(0..5), 5, rd(rng), 0x73),  // csrrwi frm
                4 => i(0x003, 0, 2, rd(rng), 0x73),                       // csrr fcsr
                _ => i(0x001, reg(rng), 3, rd(rng), 0x73),                // csrrc fflags, rs
            };
            vec![word]
        }
        // short forward branch or jump over the next 0-2 instructions
        _ => {
            let skip = rng.random_range(0..3usize).min(remaining.saturating_sub(1));
            let off = 4 * (skip as i32 + 1);
            let word = if rng.random_range(0..4) == 0 {
                jal(rd(rng), off)
            } else {
                let f3 = [0, 1, 4, 5, 6, 7][rng.random_range(0..6)];
                b(off, reg(rng), reg(rng), f3)
            };
            let mut v = vec![word];
            for _ in 0..skip {
                v.push(i(1, rd(rng).max(1), 0, rd(rng), 0x13)); // addi, maybe skipped
            }
            v
        }
    }
}

/// A generated batch: the ELF image, and where its data area lies.
pub struct Batch {
    /// The ELF file contents.
    pub elf: Vec<u8>,
    /// The bodies, one word list per program (for failure reports).
    pub bodies: Vec<Vec<u32>>,
    /// Size of the data area that the program writes to stdout.
    pub data_len: u32,
}

/// Generates `programs` random programs into one executable.
pub fn batch(rng: &mut impl Rng, programs: usize) -> Batch {
    let mut bodies = Vec::with_capacity(programs);
    for _ in 0..programs {
        let mut body = Vec::with_capacity(BODY_LEN + 4);
        while body.len() < BODY_LEN {
            body.extend(body_inst(rng, BODY_LEN - body.len()));
        }
        bodies.push(body);
    }
    // prologue: 2 (li t6) + 32 flw + 2 (li fcsr value) + 1 (fscsr) + 31 lw = 68
    // epilogue: 2 (li t6 dump) + 31 sw + 32 fsw + 1 (frcsr) + 1 (sw) = 67
    let code_words: usize = bodies.iter().map(|b| b.len() + 68 + 67).sum::<usize>() + 8;
    let data_base = (BASE + code_words as u32 * 4 + 0xff) & !0xff;
    let data_len = BLOCK * programs as u32;
    let mut code: Vec<u32> = Vec::with_capacity(code_words);
    let mut data = vec![0u8; data_len as usize];
    for (p, body) in bodies.iter().enumerate() {
        let blk = data_base + BLOCK * p as u32;
        let d = (BLOCK * p as u32) as usize;
        for k in 0..32 {
            let xv = rand_x(rng);
            let fv = rand_f(rng);
            data[d + 4 * k..d + 4 * k + 4].copy_from_slice(&xv.to_le_bytes());
            let fo = d + F_TAB as usize + 4 * k;
            data[fo..fo + 4].copy_from_slice(&fv.to_le_bytes());
        }
        for k in 0..SCRATCH as usize {
            data[d + SCR as usize + k] = rng.random();
        }
        // prologue
        code.extend(li(SCRATCH_REG, blk));
        for f in 0..32 {
            code.push(i((F_TAB + 4 * f) as i32, SCRATCH_REG, 2, f, 0x07));
        }
        let fcsr = rng.random_range(0..5u32) << 5 | rng.random_range(0..32u32);
        code.extend(li(1, fcsr));
        code.push(i(0x003, 1, 1, 0, 0x73)); // csrw fcsr, ra
        for x in 1..31 {
            code.push(i((X_TAB + 4 * x) as i32, SCRATCH_REG, 2, x, 0x03));
        }
        code.extend(li(SCRATCH_REG, blk + SCR));
        // body
        code.extend(body);
        // epilogue
        code.extend(li(SCRATCH_REG, blk + DUMP));
        for x in 1..31 {
            code.push(s(4 * x as i32, x, SCRATCH_REG, 2, 0x23));
        }
        for f in 0..32 {
            code.push(s((128 + 4 * f) as i32, f, SCRATCH_REG, 2, 0x27));
        }
        code.push(i(0x003, 0, 2, 1, 0x73)); // csrr ra, fcsr
        code.push(s(256, 1, SCRATCH_REG, 2, 0x23));
    }
    // write(1, data_base, data_len); exit(0)
    code.extend(li(10, 1));
    code.extend(li(11, data_base));
    code.extend(li(12, data_len));
    code.push(i(64, 0, 0, 17, 0x13)); // li a7, 64
    code.push(0x0000_0073);
    code.push(i(0, 0, 0, 10, 0x13)); // li a0, 0
    code.push(i(93, 0, 0, 17, 0x13)); // li a7, 93
    code.push(0x0000_0073);
    let mut image: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert!(BASE as usize + image.len() <= data_base as usize);
    image.resize((data_base - BASE) as usize, 0);
    image.extend_from_slice(&data);
    Batch {
        elf: elfgen::executable(BASE, BASE, &image),
        bodies,
        data_len,
    }
}
