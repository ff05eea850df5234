//! Malformed and unsupported ELF files are rejected with an error that names the file and
//! what is wrong, never a panic.

use hetsim_isa::{Error, Program};
use hetsim_tests::elfgen;

fn good() -> Vec<u8> {
    // addi a0, zero, 0; li a7, 93; ecall
    let code: Vec<u8> = [0x0000_0513u32, 0x05d0_0893, 0x0000_0073]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    elfgen::executable(0x1_0000, 0x1_0000, &code)
}

fn error_of(bytes: &[u8]) -> String {
    match Program::parse("bad.elf", bytes) {
        Err(e @ Error::Elf { .. }) => e.to_string(),
        Err(e) => panic!("unexpected error kind: {e}"),
        Ok(_) => panic!("accepted a bad file"),
    }
}

#[test]
fn the_good_file_loads() {
    let p = Program::parse("good.elf", &good()).expect("valid ELF");
    assert_eq!(p.entry, 0x1_0000);
    assert_eq!(p.segments.len(), 1);
}

/// A change to a good file's bytes.
type Mutation = Box<dyn Fn(&mut Vec<u8>)>;

#[test]
fn bad_headers_are_named() {
    let cases: Vec<(Mutation, &str)> = vec![
        (Box::new(|b| b[0] = 0), "bad magic"),
        (Box::new(|b| b[4] = 2), "not 32-bit"),
        (Box::new(|b| b[5] = 2), "little-endian"),
        (Box::new(|b| b[18] = 62), "not RISC-V"),
        (Box::new(|b| b[16] = 3), "not an executable"),
        (Box::new(|b| b[36] |= 1), "compressed"),
        (Box::new(|b| b[36] = 4), "double"),
        (Box::new(|b| b.truncate(10)), "bad magic"),
        (Box::new(|b| b.truncate(3000)), "past the end of the file"),
        // p_memsz (offset 52 + 20) smaller than p_filesz (52 + 16)
        (
            Box::new(|b| {
                let v = u32::from_le_bytes([b[68], b[69], b[70], b[71]]) - 4;
                b[72..76].copy_from_slice(&v.to_le_bytes());
            }),
            "exceeds memory size",
        ),
        // p_vaddr near the top: the segment runs past 4 GiB
        (
            Box::new(|b| b[64..68].copy_from_slice(&0xffff_f000u32.to_le_bytes())),
            "32-bit address space",
        ),
        // p_type of the only segment: not PT_LOAD
        (Box::new(|b| b[52] = 4), "no loadable"),
    ];
    for (mutate, expected) in cases {
        let mut b = good();
        mutate(&mut b);
        let msg = error_of(&b);
        assert!(msg.starts_with("bad.elf: "), "{msg}");
        assert!(msg.contains(expected), "expected {expected:?} in {msg:?}");
    }
}

#[test]
fn random_corruption_never_panics() {
    // Every single-byte corruption of the headers, and random truncations, must give Ok or an
    // error, never a panic.
    let base = good();
    for pos in 0..(52 + 32) {
        for v in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut b = base.clone();
            b[pos] = v;
            let _ = Program::parse("fuzz.elf", &b);
        }
    }
    for len in (0..base.len()).step_by(97) {
        let _ = Program::parse("fuzz.elf", &base[..len]);
    }
}

/// Issue 15: the loader now reads DWARF line tables (addr2line/gimli) from ELFs built with
/// `-g`. The committed `debug_demo.elf` carries them; corrupting its bytes anywhere (DWARF
/// included) must give a program or an error, never a panic, and stay fast.
#[test]
fn corrupted_debug_info_never_panics() {
    use rand::{Rng, SeedableRng};
    let path = hetsim_tests::workspace_root().join("kernels/build/debug_demo.elf");
    let good = std::fs::read(&path).expect("kernels/build/debug_demo.elf");
    let p = Program::parse("debug_demo.elf", &good).expect("the fixture loads");
    let main = p.symbol("main").expect("main");
    assert!(p.symbolizer.has_lines());
    let place = p.symbolizer.place(main).to_string();
    assert!(place.starts_with("main (debug_demo.c:"), "{place}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
    let t = std::time::Instant::now();
    let mut loaded = 0;
    for _ in 0..3000 {
        let mut b = good.clone();
        for _ in 0..rng.random_range(1..16) {
            let i = rng.random_range(0..b.len());
            b[i] = rng.random();
        }
        if let Ok(p) = Program::parse("mutated.elf", &b) {
            loaded += 1;
            let _ = p.symbolizer.place(main).to_string();
        }
    }
    assert!(loaded > 100, "{loaded} of 3000 mutated files loaded");
    assert!(t.elapsed() < std::time::Duration::from_secs(60));
}
