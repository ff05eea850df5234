//! Stream registers through the public decode / execute path: values derived by hand from
//! the configured address sequences (snitch-extensions.md section 2).

use super::*;
use crate::asm::*;
use crate::decode::decode_with;
use crate::exec::execute;
use crate::ext::Extensions;
use crate::hart::Hart;
use crate::mem::{Bus, Memory, Size};
use crate::trap::Exception;

const EXT: Extensions = Extensions {
    zfh: true,
    xfvec: true,
    xdma: false,
    xfrep: true,
    xssr: true,
};
const T0: u32 = 5;
const A0: u32 = 10;
const FA0: u32 = 10;
const FA1: u32 = 11;

fn setup() -> (Hart, Memory) {
    let mut h = Hart::new(0, 0x1000);
    h.set_extensions(EXT);
    let mut m = Memory::new();
    m.add_region("ram", 0, 0x1_0000).expect("region");
    (h, m)
}

fn run(h: &mut Hart, m: &mut Memory, word: u32) -> Result<(), Exception> {
    let inst = decode_with(word, h.ext);
    execute(&inst, h, m).map(|_| ())
}

fn ok(h: &mut Hart, m: &mut Memory, words: &[u32]) {
    for &w in words {
        run(h, m, w).unwrap_or_else(|e| panic!("{w:#010x}: {e} ({:?})", h.ssr));
    }
}

/// li t0, value; scfgwi t0, reg << 5 | stream.
fn cfg(h: &mut Hart, m: &mut Memory, stream: u32, reg: u32, value: u32) {
    let [hi, lo] = li(T0, value);
    ok(h, m, &[hi, lo, scfgwi(T0, reg << 5 | stream)]);
}

fn put(m: &mut Memory, addr: u32, values: &[f32]) {
    for (k, v) in values.iter().enumerate() {
        m.store(addr + 4 * k as u32, Size::Word, v.to_bits())
            .unwrap();
    }
}

fn get(m: &mut Memory, addr: u32) -> f32 {
    f32::from_bits(m.load(addr, Size::Word).unwrap())
}

/// 1-D read of `n` words from `base` on `stream`.
fn read_1d(h: &mut Hart, m: &mut Memory, stream: u32, base: u32, n: u32) {
    cfg(h, m, stream, 2, n - 1);
    cfg(h, m, stream, 6, 4);
    cfg(h, m, stream, 24, base);
}

#[test]
fn dot_product_streams_both_operands() {
    let (mut h, mut m) = setup();
    let x = [1.5f32, -2.0, 0.25, 3.0];
    let y = [2.0f32, 0.5, 8.0, -1.0];
    put(&mut m, 0x100, &x);
    put(&mut m, 0x200, &y);
    read_1d(&mut h, &mut m, 0, 0x100, 4);
    read_1d(&mut h, &mut m, 1, 0x200, 4);
    h.f[0] = 0xdead_beef;
    h.f[1] = 0xcafe_f00d;
    ok(&mut h, &mut m, &[csrrsi(0, CSR_SSR as u32, 1)]);
    for _ in 0..4 {
        ok(&mut h, &mut m, &[fmadd(FA0, 0, 1, FA0)]);
    }
    ok(&mut h, &mut m, &[csrrci(0, CSR_SSR as u32, 1)]);
    // 1.5*2 - 2*0.5 + 0.25*8 - 3 = 3 - 1 + 2 - 3 = 1, exact in every step.
    assert_eq!(f32::from_bits(h.f[FA0 as usize]), 1.0);
    assert_eq!(
        (h.f[0], h.f[1]),
        (0xdead_beef, 0xcafe_f00d),
        "registers untouched"
    );
    let s = h.ssr.as_ref().unwrap();
    assert_eq!((s.pending_jobs(0), s.pending_jobs(1)), (0, 0));
    // Streaming off: ft0 is the register again.
    ok(&mut h, &mut m, &[fadd(FA1, 0, 0)]);
    assert_eq!(h.f[FA1 as usize], {
        let v = f32::from_bits(0xdead_beef);
        (v + v).to_bits()
    });
}

#[test]
fn write_stream_stores_results_and_2d_reads_walk_rows() {
    let (mut h, mut m) = setup();
    // A 2 x 3 matrix with a row pitch of 16 bytes at 0x100: read column-major through a 2-D
    // stream (inner loop over 2 rows, stride 16; outer over 3 columns, logical stride 4, so
    // stride register 4 - 16 * (2 - 1) = -12).
    put(&mut m, 0x100, &[1.0, 2.0, 3.0, 0.0, 10.0, 20.0, 30.0]);
    cfg(&mut h, &mut m, 0, 2, 1);
    cfg(&mut h, &mut m, 0, 3, 2);
    cfg(&mut h, &mut m, 0, 6, 16);
    cfg(&mut h, &mut m, 0, 7, (-12i32) as u32);
    cfg(&mut h, &mut m, 0, 25, 0x100); // rptr, 2 loops
                                       // Write stream on ft2: 6 results to 0x400, contiguous.
    cfg(&mut h, &mut m, 2, 2, 5);
    cfg(&mut h, &mut m, 2, 6, 4);
    cfg(&mut h, &mut m, 2, 28, 0x400); // wptr, 1 loop
    h.f[FA0 as usize] = 0.5f32.to_bits();
    ok(&mut h, &mut m, &[csrrsi(0, CSR_SSR as u32, 1)]);
    for _ in 0..6 {
        ok(&mut h, &mut m, &[fadd(2, 0, FA0)]);
    }
    ok(&mut h, &mut m, &[csrrci(0, CSR_SSR as u32, 1)]);
    let got: Vec<f32> = (0..6).map(|k| get(&mut m, 0x400 + 4 * k)).collect();
    assert_eq!(got, [1.5, 10.5, 2.5, 20.5, 3.5, 30.5]);
    assert_eq!(h.f[2], 0, "ft2 itself is not written");
}

#[test]
fn one_instruction_reading_a_stream_twice_pops_once() {
    let (mut h, mut m) = setup();
    put(&mut m, 0x100, &[3.0, 5.0]);
    read_1d(&mut h, &mut m, 0, 0x100, 2);
    ok(&mut h, &mut m, &[csrrsi(0, CSR_SSR as u32, 1)]);
    ok(&mut h, &mut m, &[fmul(FA0, 0, 0), fmul(FA1, 0, 0)]);
    assert_eq!(f32::from_bits(h.f[FA0 as usize]), 9.0);
    assert_eq!(f32::from_bits(h.f[FA1 as usize]), 25.0);
}

#[test]
fn repeat_feeds_one_element_to_several_instructions() {
    let (mut h, mut m) = setup();
    put(&mut m, 0x100, &[2.0, 3.0]);
    read_1d(&mut h, &mut m, 0, 0x100, 2);
    cfg(&mut h, &mut m, 0, 1, 1); // each element twice (the job already launched keeps 0)
    read_1d(&mut h, &mut m, 0, 0x100, 2); // second job with repeat 1
    ok(&mut h, &mut m, &[csrrsi(0, CSR_SSR as u32, 1)]);
    let mut seen = vec![];
    for _ in 0..6 {
        ok(&mut h, &mut m, &[fadd(FA0, 0, 31)]); // f31 = +0
        seen.push(f32::from_bits(h.f[FA0 as usize]));
    }
    assert_eq!(seen, [2.0, 3.0, 2.0, 2.0, 3.0, 3.0]);
}

#[test]
fn misuse_is_an_illegal_instruction_with_a_reason_and_changes_nothing() {
    let (mut h, mut m) = setup();
    ok(&mut h, &mut m, &[csrrsi(0, CSR_SSR as u32, 1)]);
    let pc = h.pc;
    let word = fadd(FA0, 0, 1);
    assert_eq!(
        run(&mut h, &mut m, word),
        Err(Exception::IllegalInstruction(word))
    );
    assert_eq!(h.pc, pc);
    let why = h.ssr.as_mut().unwrap().fault.take().unwrap();
    assert!(why.contains("ft0") && why.contains("no job"), "{why}");
    // A read stream written: refused before anything moves; ft1's job is still whole.
    read_1d(&mut h, &mut m, 1, 0x100, 1);
    let word = fadd(1, FA0, FA0);
    assert_eq!(
        run(&mut h, &mut m, word),
        Err(Exception::IllegalInstruction(word))
    );
    assert!(h
        .ssr
        .as_ref()
        .unwrap()
        .fault
        .as_ref()
        .unwrap()
        .contains("read stream"));
    assert_eq!(h.ssr.as_ref().unwrap().pending_jobs(1), 1);
    // A stream address outside memory: a load access fault, stream not advanced.
    read_1d(&mut h, &mut m, 0, 0x2_0000, 1);
    assert_eq!(
        run(&mut h, &mut m, fadd(FA0, 0, 31)),
        Err(Exception::LoadAccessFault(0x2_0000))
    );
    assert_eq!(h.ssr.as_ref().unwrap().pending_jobs(0), 1);
    // Configuration readback through scfgr (address in a register).
    let [hi, lo] = li(T0, 2 << 5 | 1);
    ok(&mut h, &mut m, &[hi, lo, scfgr(A0, T0)]);
    assert_eq!(h.x[A0 as usize], 0, "stream 1 bound0 = 1 - 1");
}

#[test]
fn without_xssr_the_csr_and_instructions_are_illegal() {
    let mut h = Hart::new(0, 0);
    h.set_extensions(Extensions::SNITCH_FP16);
    let mut m = Memory::new();
    m.add_region("ram", 0, 0x1000).unwrap();
    let csr = csrrsi(0, CSR_SSR as u32, 1);
    assert_eq!(
        run(&mut h, &mut m, csr),
        Err(Exception::IllegalInstruction(csr))
    );
    let w = scfgwi(T0, 64);
    assert_eq!(
        run(&mut h, &mut m, w),
        Err(Exception::IllegalInstruction(w))
    );
    // A hart built with the extension but then without it drops the streams.
    h.set_extensions(EXT);
    assert!(h.ssr.is_some());
    h.set_extensions(Extensions::SNITCH_FP16);
    assert!(h.ssr.is_none());
}

/// The streamed execution of an FP computation (elements passed as operand values, the result
/// stored straight to its stream: `exec::streamed`) equals the register path (elements put in
/// ft0-ft2, the instruction executed through `execute`, the registers restored:
/// `exec::streamed_via_registers`, which streamed FP loads and stores still take), for every
/// FP computation with streamed sources and destinations in several register patterns, with
/// the streams' jobs in place, with none, and with the FPU off: the same result or
/// exception, hart state (registers, fflags, mstatus, pc, stream state, events and fault) and
/// memory.
#[test]
fn streamed_computations_equal_the_register_path() {
    use crate::decode::{Class, Inst, Op};
    use crate::exec::{streamed, streamed_via_registers, StreamUse};
    let mut seed = 0x2545_f491_u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    // (rd, rs1, rs2, rs3): all streamed, one streamed twice, destination streamed only,
    // sources streamed only, destination also a streamed source (a read and a write job
    // cannot share a stream: an illegal instruction either way).
    let patterns = [
        (2, 0, 1, 2),
        (3, 1, 1, 0),
        (0, 5, 6, 7),
        (9, 0, 2, 1),
        (1, 1, 0, 4),
        (2, 9, 0, 2),
    ];
    let mut compared = 0;
    for &op in Op::ALL {
        if !op.is_fp() || matches!(op.class(), Class::FpLoad | Class::FpStore) {
            continue;
        }
        for &(rd, rs1, rs2, rs3) in &patterns {
            for rm in [7u8, 0, 5] {
                let inst = Inst {
                    op,
                    rd,
                    rs1,
                    rs2,
                    rs3,
                    rm,
                    imm: 0,
                    raw: 0x5a5a_0000 | u32::from(op as u16),
                };
                let uses = StreamUse::of(&inst);
                if !uses.any() {
                    continue;
                }
                for case in 0..3 {
                    let (mut h, mut m) = setup();
                    for r in 0..32 {
                        h.f[r] = next();
                        h.x[r] = next();
                    }
                    h.x[0] = 0;
                    h.frm = (next() % 5) as u8;
                    for k in 0..64 {
                        m.store(0x2000 + 4 * k, Size::Word, next()).unwrap();
                    }
                    let ssr = h.ssr.as_deref_mut().unwrap();
                    ssr.enabled = true;
                    ssr.record = true;
                    if case != 1 {
                        for s in 0..3u32 {
                            assert!(ssr.cfg_write(2 << 5 | s, 3)); // 4 elements
                            assert!(ssr.cfg_write(6 << 5 | s, 4));
                            let write =
                                uses.writes() && u32::from(rd) == s && !uses.reads(s as usize);
                            let reg = if write { 28 } else { 24 };
                            assert!(ssr.cfg_write(reg << 5 | s, 0x2000 + 0x40 * s));
                        }
                    }
                    if case == 2 {
                        h.mstatus &= !crate::hart::mstatus::FS;
                    }
                    let (mut h2, mut m2) = (h.clone(), m.clone());
                    let fast = streamed(inst, uses, &mut h, &mut m);
                    let slow = streamed_via_registers(inst, uses, &mut h2, &mut m2);
                    let what = format!("{inst:?} case {case}");
                    assert_eq!(fast, slow, "{what}");
                    assert_eq!(format!("{h:?}"), format!("{h2:?}"), "{what}");
                    for k in 0..64 {
                        let a = 0x2000 + 4 * k;
                        assert_eq!(
                            m.load(a, Size::Word).unwrap(),
                            m2.load(a, Size::Word).unwrap(),
                            "{what}: memory at {a:#x}"
                        );
                    }
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 1000, "{compared} comparisons");
}
