//! Differential test of Zfh against QEMU user mode (`qemu-riscv32 -cpu rv32,Zfh=true`).
//!
//! The test writes one assembly program with a few hundred random cases (random halves, NaN
//! boxed or not, edge values, every rounding mode static and dynamic), builds it with clang
//! (`-march=rv32imf_zfh`), and runs the same ELF on QEMU and on hetsim's functional machine
//! with Zfh enabled. Each case stores its result register and fflags; the program writes the
//! buffer with the Linux `write` syscall (a hetsim host call too) and both outputs must match
//! byte for byte. Without clang or qemu-riscv32 the test prints a notice and passes, unless
//! `HETSIM_REQUIRE_QEMU=1`. `HETSIM_ZFH_CASES` and `HETSIM_ZFH_SEED` change the case count and
//! the seed.

use hetsim_isa::{Extensions, Machine, MachineConfig, Program};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const HALF_EDGES: &[u16] = &[
    0x0000, 0x8000, 0x3c00, 0xbc00, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe55, 0x7bff, 0xfbff, 0x0001,
    0x8001, 0x03ff, 0x0400, 0x3555, 0x3800, 0x1000, 0x4100, 0x6800, 0x3c01,
];

fn half(r: &mut Rng) -> u16 {
    match r.below(4) {
        0 => r.pick(HALF_EDGES),
        1 => r.next() as u16,
        // exponents near 1.0, so sums and products round
        2 => (r.next() as u16 & 0x83ff) | ((12 + r.below(8) as u16) << 10),
        _ => 0x3c00 + r.below(64) as u16,
    }
}

/// A register value holding a half: NaN-boxed most of the time.
fn boxed_half(r: &mut Rng) -> u32 {
    let h = u32::from(half(r));
    if r.below(10) == 0 {
        (r.next() as u32 & 0xffff_0000) | h
    } else {
        0xffff_0000 | h
    }
}

fn single(r: &mut Rng) -> u32 {
    match r.below(4) {
        0 => r.pick(&[
            0x3f80_1000u32,
            0x477f_f000,
            0x4780_0000,
            0x3300_0000,
            0x7f80_0001,
            0x7fc0_1234,
            0xff80_0000,
            0x0000_0001,
            0x3880_0000,
        ]),
        1 => r.next() as u32,
        _ => (r.next() as u32 & 0x807f_ffff) | ((100 + r.below(50) as u32) << 23),
    }
}

fn int(r: &mut Rng) -> u32 {
    match r.below(3) {
        0 => r.pick(&[
            0u32,
            1,
            0xffff_ffff,
            2049,
            65504,
            65519,
            65520,
            65536,
            0x8000_0000,
            0x7fff_ffff,
        ]),
        1 => r.next() as u32,
        _ => (r.next() as u32) >> r.below(32),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Dest {
    F,
    X,
    Store,
}

/// Which instruction templates to test: (assembly with {rm}, destination, takes rm, input
/// kinds for fa0 / fa1 / fa2 / a3: h = half register, s = single, i = integer).
const TEMPLATES: &[(&str, Dest, bool, &str)] = &[
    ("fadd.h fa3, fa0, fa1", Dest::F, true, "hh"),
    ("fsub.h fa3, fa0, fa1", Dest::F, true, "hh"),
    ("fmul.h fa3, fa0, fa1", Dest::F, true, "hh"),
    ("fdiv.h fa3, fa0, fa1", Dest::F, true, "hh"),
    ("fsqrt.h fa3, fa0", Dest::F, true, "h"),
    ("fmadd.h fa3, fa0, fa1, fa2", Dest::F, true, "hhh"),
    ("fmsub.h fa3, fa0, fa1, fa2", Dest::F, true, "hhh"),
    ("fnmsub.h fa3, fa0, fa1, fa2", Dest::F, true, "hhh"),
    ("fnmadd.h fa3, fa0, fa1, fa2", Dest::F, true, "hhh"),
    ("fmin.h fa3, fa0, fa1", Dest::F, false, "hh"),
    ("fmax.h fa3, fa0, fa1", Dest::F, false, "hh"),
    ("fsgnj.h fa3, fa0, fa1", Dest::F, false, "hh"),
    ("fsgnjn.h fa3, fa0, fa1", Dest::F, false, "hh"),
    ("fsgnjx.h fa3, fa0, fa1", Dest::F, false, "hh"),
    ("feq.h a4, fa0, fa1", Dest::X, false, "hh"),
    ("flt.h a4, fa0, fa1", Dest::X, false, "hh"),
    ("fle.h a4, fa0, fa1", Dest::X, false, "hh"),
    ("fclass.h a4, fa0", Dest::X, false, "h"),
    ("fcvt.w.h a4, fa0", Dest::X, true, "h"),
    ("fcvt.wu.h a4, fa0", Dest::X, true, "h"),
    ("fcvt.h.w fa3, a3", Dest::F, true, "---i"),
    ("fcvt.h.wu fa3, a3", Dest::F, true, "---i"),
    ("fcvt.s.h fa3, fa0", Dest::F, false, "h"),
    ("fcvt.h.s fa3, fa0", Dest::F, true, "s"),
    ("fmv.x.h a4, fa0", Dest::X, false, "h"),
    ("fmv.h.x fa3, a3", Dest::F, false, "---i"),
    ("flh fa3, 12(s0)", Dest::F, false, "---i"),
    ("fsh fa0, 0(s1)", Dest::Store, false, "h"),
];

const RM: [&str; 8] = ["rne", "rtz", "rdn", "rup", "rmm", "", "", "dyn"];

/// The program's source and the number of output bytes.
fn program(seed: u64, cases: usize) -> (String, usize) {
    let mut r = Rng(seed);
    let mut text =
        String::from(".section .text\n.globl _start\n_start:\n  la s0, inputs\n  la s1, outputs\n");
    let mut data = String::from(".section .data\n.balign 4\ninputs:\n");
    for _ in 0..cases {
        let (asm, dest, takes_rm, kinds) = r.pick(TEMPLATES);
        let mut words = [0u32; 4];
        for (slot, k) in kinds.chars().enumerate() {
            words[slot] = match k {
                'h' => boxed_half(&mut r),
                's' => single(&mut r),
                'i' => int(&mut r),
                _ => r.next() as u32,
            };
        }
        let rm = if takes_rm {
            let m = r.pick(&[0usize, 1, 2, 3, 4, 7, 7]);
            format!(", {}", RM[m])
        } else {
            String::new()
        };
        let frm = r.below(5);
        let _ = writeln!(
            text,
            "  flw fa0, 0(s0)\n  flw fa1, 4(s0)\n  flw fa2, 8(s0)\n  lw a3, 12(s0)\n  csrwi frm, {frm}\n  csrwi fflags, 0\n  {asm}{rm}"
        );
        match dest {
            Dest::F => text.push_str("  fsw fa3, 0(s1)\n"),
            Dest::X => text.push_str("  sw a4, 0(s1)\n"),
            Dest::Store => {}
        }
        text.push_str("  csrr t2, fflags\n  sw t2, 4(s1)\n  addi s0, s0, 16\n  addi s1, s1, 8\n");
        let _ = writeln!(
            data,
            "  .word {:#x}, {:#x}, {:#x}, {:#x}",
            words[0], words[1], words[2], words[3]
        );
    }
    let bytes = cases * 8;
    let _ = writeln!(
        text,
        "  li a0, 1\n  la a1, outputs\n  li a2, {bytes}\n  li a7, 64\n  ecall\n  li a0, 0\n  li a7, 93\n  ecall"
    );
    let _ = writeln!(data, "outputs:\n  .zero {bytes}");
    (text + &data, bytes)
}

fn tool(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        Command::new(n)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|_| (*n).to_string())
    })
}

fn build(clang: &str, dir: &Path, src: &str) -> Result<PathBuf, String> {
    let s = dir.join("zfh_cases.S");
    let elf = dir.join("zfh_cases.elf");
    std::fs::write(&s, src).map_err(|e| e.to_string())?;
    let out = Command::new(clang)
        .args([
            "--target=riscv32",
            "-march=rv32imf_zfh",
            "-mabi=ilp32f",
            "-nostdlib",
            "-static",
            "-fuse-ld=lld",
            "-o",
        ])
        .arg(&elf)
        .arg(&s)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(elf)
}

fn run_hetsim(elf: &[u8]) -> Result<Vec<u8>, String> {
    let program = Program::parse("zfh_cases", elf).map_err(|e| e.to_string())?;
    let config = MachineConfig {
        ram_size: 0,
        ..MachineConfig::default()
    };
    let mut m = Machine::new(&program, &config).map_err(|e| e.to_string())?;
    m.set_extensions(Extensions {
        zfh: true,
        xfvec: false,
        xdma: false,
        xfrep: false,
        xssr: false,
    });
    let exit = m.run(10_000_000).map_err(|e| e.to_string())?;
    if exit.code != 0 {
        return Err(format!("exit code {}", exit.code));
    }
    Ok(m.console)
}

#[test]
fn zfh_matches_qemu() {
    let require = std::env::var("HETSIM_REQUIRE_QEMU").is_ok_and(|v| v == "1");
    let clang = tool(&["clang-14", "clang"]);
    let qemu = tool(&["qemu-riscv32"]);
    let (Some(clang), Some(qemu)) = (clang, qemu) else {
        let msg = "zfh_matches_qemu: SKIPPED (needs clang and qemu-riscv32 on PATH)";
        assert!(!require, "{msg}, and HETSIM_REQUIRE_QEMU=1");
        eprintln!("{msg}");
        return;
    };
    let cases: usize = std::env::var("HETSIM_ZFH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let seed: u64 = std::env::var("HETSIM_ZFH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x2f16);
    let dir = std::env::temp_dir().join(format!("hetsim-zfh-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (src, bytes) = program(seed, cases);
    let elf = match build(&clang, &dir, &src) {
        Ok(p) => p,
        Err(e) => {
            let msg = format!("zfh_matches_qemu: SKIPPED ({clang} cannot build rv32imf_zfh: {e})");
            assert!(!require, "{msg}");
            eprintln!("{msg}");
            return;
        }
    };
    let out = Command::new(&qemu)
        .args(["-cpu", "rv32,Zfh=true"])
        .arg(&elf)
        .output()
        .expect("qemu runs");
    assert!(out.status.success(), "qemu failed: {:?}", out.status);
    let want = out.stdout;
    assert_eq!(want.len(), bytes, "qemu output length");
    let elf_bytes = std::fs::read(&elf).expect("elf");
    let got = run_hetsim(&elf_bytes).expect("hetsim runs the program");
    let lines: Vec<&str> = src
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with('f') && !t.starts_with("flw") && !t.starts_with("fsw")
        })
        .collect();
    for (n, (g, w)) in got.chunks(8).zip(want.chunks(8)).enumerate() {
        let word = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        assert_eq!(
            (word(g, 0), word(g, 4)),
            (word(w, 0), word(w, 4)),
            "case {n} (`{}`, seed {seed}; source in {}): (result, fflags) hetsim vs qemu",
            lines.get(n).copied().unwrap_or("?"),
            dir.display()
        );
    }
    assert_eq!(got.len(), want.len());
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("zfh_matches_qemu: {cases} cases agree with {qemu}");
}
