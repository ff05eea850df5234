//! hetsim's IEEE 754 arithmetic against Berkeley SoftFloat 3 (RISC-V specialisation), an
//! outside reference: `data/softfloat_vectors.txt` holds SoftFloat's result bits and fflags for
//! operand sets biased to edge cases (subnormals, NaN payloads, overflow and underflow
//! boundaries, exact halves, cancellation), every operation and rounding mode. The vectors
//! were written by SoftFloat itself (isa/examples/softfloat_equiv.rs --vectors, at commit
//! f839fe6, docs/isa.md) before SoftFloat left the build; the full equivalence run (10^8 operand
//! sets per operation and mode, 0 mismatches) is recorded in docs/isa.md.

use hetsim_isa::fp::{self, BinOp, CmpOp, FmaOp, Rounding};
use hetsim_isa::fp16;

const VECTORS: &str = include_str!("data/softfloat_vectors.txt");

fn mode(name: &str) -> Rounding {
    match name {
        "rne" => Rounding::Rne,
        "rtz" => Rounding::Rtz,
        "rdn" => Rounding::Rdn,
        "rup" => Rounding::Rup,
        "rmm" => Rounding::Rmm,
        other => panic!("unknown rounding mode {other}"),
    }
}

/// hetsim's result for one vector: (result bits, flags).
fn ours(op: &str, rm: Rounding, i: [u32; 5]) -> (u32, u8) {
    let h = |v: u32| v as u16;
    let wide = |(v, f): (u16, u8)| (u32::from(v), f);
    let fma_op = |name: &str| match name {
        "fmadd" => FmaOp::Madd,
        "fmsub" => FmaOp::Msub,
        "fnmsub" => FmaOp::Nmsub,
        _ => FmaOp::Nmadd,
    };
    let bin_op = |name: &str| match name {
        "add" => BinOp::Add,
        "sub" => BinOp::Sub,
        "mul" => BinOp::Mul,
        _ => BinOp::Div,
    };
    let cmp_op = |k: u32| [CmpOp::Eq, CmpOp::Lt, CmpOp::Le][k as usize];
    let (fmt, name) = op.split_once('.').expect("op is fmt.name");
    match (fmt, name) {
        ("f32", "add" | "sub" | "mul" | "div") => fp::binary(bin_op(name), i[0], i[1], rm),
        ("f32", "sqrt") => fp::sqrt(i[0], rm),
        ("f32", "fmadd" | "fmsub" | "fnmsub" | "fnmadd") => {
            fp::fma(fma_op(name), i[0], i[1], i[2], rm)
        }
        ("f32", "cvt.w") => fp::to_int(i[0], true, rm),
        ("f32", "cvt.wu") => fp::to_int(i[0], false, rm),
        ("f32", "cvt.s.w") => fp::from_int(i[0], true, rm),
        ("f32", "cvt.s.wu") => fp::from_int(i[0], false, rm),
        ("f32", "cmp") => fp::compare(cmp_op(i[2]), i[0], i[1]),
        ("f16", "add" | "sub" | "mul" | "div") => {
            wide(fp16::binary(bin_op(name), h(i[0]), h(i[1]), rm))
        }
        ("f16", "sqrt") => wide(fp16::sqrt(h(i[0]), rm)),
        ("f16", "fmadd" | "fmsub" | "fnmsub" | "fnmadd") => {
            wide(fp16::fma(fma_op(name), h(i[0]), h(i[1]), h(i[2]), rm))
        }
        ("f16", "cvt.h.w") => wide(fp16::from_int(i[0], true, rm)),
        ("f16", "cvt.h.wu") => wide(fp16::from_int(i[0], false, rm)),
        ("f16", "cvt.h.s") => wide(fp16::from_f32(i[0], rm)),
        ("f16", "cvt.w.h") => fp16::to_int(h(i[0]), true, rm),
        ("f16", "cvt.wu.h") => fp16::to_int(h(i[0]), false, rm),
        ("f16", "cvt.s.h") => fp16::to_f32(h(i[0])),
        ("f16", "cmp") => fp16::compare(cmp_op(i[2]), h(i[0]), h(i[1])),
        ("f16", "dotpex") => fp16::dotp_ex(i[4], [h(i[0]), h(i[1])], [h(i[2]), h(i[3])], rm),
        _ => panic!("unknown operation {op}"),
    }
}

#[test]
fn every_vector_matches_softfloat() {
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    let mut bad = Vec::new();
    for (n, line) in VECTORS.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 9, "line {}: {line}", n + 1);
        let hex = |s: &str| u32::from_str_radix(s, 16).expect("hex");
        let inputs = [hex(f[2]), hex(f[3]), hex(f[4]), hex(f[5]), hex(f[6])];
        let want = (hex(f[7]), hex(f[8]) as u8);
        let got = ours(f[0], mode(f[1]), inputs);
        if got != want {
            bad.push(format!(
                "line {}: {line}: hetsim gives {:x} flags {:x}",
                n + 1,
                got.0,
                got.1
            ));
        }
        *checked.entry(format!("{} {}", f[0], f[1])).or_default() += 1;
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
    // Every operation of the F and Zfh/Xfvec arithmetic is covered, in all five modes where
    // the mode matters.
    let ops = checked
        .keys()
        .map(|k| k.split(' ').next().unwrap_or_default())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(ops.len(), 31, "{ops:?}");
    // 31 operations, three of them (the compares, binary16 to binary32) independent of the mode
    assert_eq!(checked.len(), 31 * 5 - 3 * 4, "(op, mode) pairs");
    assert!(checked.values().all(|&c| c >= 32));
}
