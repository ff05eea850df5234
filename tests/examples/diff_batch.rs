//! Writes one random differential-test batch ELF: `cargo run -p hetsim-tests --example
//! diff_batch -- SEED OUT.elf`, for replaying a failing seed by hand (with `qemu-riscv32
//! OUT.elf | xxd` and `hetsim exec OUT.elf --trace --ram 0:0`... see docs/isa.md).
use rand::SeedableRng;

fn main() {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let out = args.next().unwrap_or_else(|| "batch.elf".into());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let batch = hetsim_tests::randprog::batch(&mut rng, 100);
    if let Err(e) = std::fs::write(&out, &batch.elf) {
        eprintln!("{out}: {e}");
        std::process::exit(1);
    }
}
