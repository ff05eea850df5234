//! Differential test of block translation (`hetsim_isa::jit`): every committed ELF the
//! functional machine runs (the ISA self-tests and kernels in `kernels/build`, the Linux
//! user-mode builds in `kernels/build/user`) and batches of the QEMU differential's random
//! programs run with compiled blocks and fully interpreted; the final hart (every register,
//! CSR, fcsr, instret, cycle, pc, trap state), the result (exit or error), the console and all
//! of memory must be equal. Blocks are compiled at the first interpretation of a pc
//! (threshold 1) or the second, so nearly all code runs compiled; a run cut into chunks of
//! varying budgets checks that a block never overruns the instruction budget.

use hetsim_isa::{Machine, MachineConfig, Misaligned, Program};
use hetsim_tests::randprog;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// A whole run's observable outcome: result, hart state, console and memory.
fn outcome(m: &mut Machine, r: &Result<hetsim_isa::Exit, hetsim_isa::Error>) -> String {
    let mut s = format!("{r:?}\n{:?}\n{:?}\n{:?}\n", m.hart, m.console, m.stderr);
    for region in m.mem.regions() {
        // A digest keeps failure messages short; a difference is then found by bisection.
        let h = region.data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        s.push_str(&format!("{}: {h:016x}\n", region.name));
    }
    s
}

fn machine(program: &Program, config: &MachineConfig, jit: Option<u16>) -> Machine {
    let mut m = Machine::new(program, config).expect("machine");
    match jit {
        Some(t) => m.set_jit_threshold(t),
        None => m.set_jit(false),
    }
    m
}

/// Runs `program` interpreted and with blocks compiled after `threshold` interpretations
/// (whole, then in chunks of varying budgets up to `chunked` instructions) and compares.
fn same_with_and_without_jit(
    name: &str,
    program: &Program,
    config: &MachineConfig,
    limit: u64,
    chunked: u64,
) {
    let mut want = machine(program, config, None);
    let r = want.run(limit);
    let want_text = outcome(&mut want, &r);
    for threshold in [1, 2] {
        let mut got = machine(program, config, Some(threshold));
        let r = got.run(limit);
        assert_eq!(
            outcome(&mut got, &r),
            want_text,
            "{name}: whole run with jit threshold {threshold}"
        );
    }
    // Chunks of 1 to 97 instructions: the same state after every chunk.
    let (mut a, mut b) = (
        machine(program, config, None),
        machine(program, config, Some(1)),
    );
    let mut done = 0;
    let mut k = 1u64;
    while done < chunked {
        k = (k * 7 + 3) % 97 + 1;
        let (ra, rb) = (a.run(k), b.run(k));
        assert_eq!(
            format!("{ra:?} {:?}", a.hart),
            format!("{rb:?} {:?}", b.hart),
            "{name}: after {done} + {k} instructions in chunks"
        );
        if !matches!(ra, Err(hetsim_isa::Error::InstructionLimit { .. })) {
            break;
        }
        done += k;
    }
}

fn elfs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "elf"))
        .collect();
    v.sort();
    v
}

fn kernels() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernels/build")
}

#[test]
fn committed_elfs_run_the_same_with_and_without_jit() {
    let mut n = 0;
    for dir in [kernels(), kernels().join("user")] {
        for path in elfs(&dir) {
            let program = Program::load(&path).unwrap();
            if program.symbol("__tcdm_data_start").is_some() {
                continue; // cluster kernels need the cluster's peripherals
            }
            let name = path.display().to_string();
            for misaligned in [Misaligned::Trap, Misaligned::Allow] {
                let config = MachineConfig {
                    misaligned,
                    ..MachineConfig::default()
                };
                same_with_and_without_jit(&name, &program, &config, 200_000_000, 200_000);
            }
            n += 1;
        }
    }
    assert!(n >= 50, "only {n} ELFs");
}

#[test]
fn random_programs_run_the_same_with_and_without_jit() {
    let batches: u64 = std::env::var("HETSIM_JIT_DIFF_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for seed in 1..=batches {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let batch = randprog::batch(&mut rng, 100);
        let name = format!("random batch {seed}");
        let program = Program::parse(&name, &batch.elf).unwrap();
        let config = MachineConfig {
            ram_size: 0,
            ..MachineConfig::default()
        };
        same_with_and_without_jit(&name, &program, &config, 10_000_000, 20_000);
    }
}
