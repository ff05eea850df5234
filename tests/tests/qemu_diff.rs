//! Differential test: random RV32IMF programs run on hetsim's functional machine and on
//! `qemu-riscv32` (Linux user mode) must leave identical integer registers, FP registers,
//! fcsr and memory.
//!
//! `HETSIM_DIFF_PROGRAMS` (default 10,000) sets how many programs run, `HETSIM_DIFF_SEED`
//! (default 1) the first seed; a failure names the seed, batch and program so it can be
//! replayed.

use hetsim_isa::disasm::Disasm;
use hetsim_isa::{decode, Machine, MachineConfig, Program};
use hetsim_tests::randprog::{self, describe_offset};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PER_BATCH: usize = 100;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run_qemu(qemu: &Path, elf: &Path) -> Result<Vec<u8>, String> {
    // stdout goes to a file, not a pipe, so a large dump cannot block the child while we
    // poll it for the timeout.
    let out_path = elf.with_extension("out");
    let out_file = std::fs::File::create(&out_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(qemu)
        .arg(elf)
        .stdout(Stdio::from(out_file))
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", qemu.display()))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("qemu-riscv32 timed out after 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = std::fs::read(&out_path).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&out_path);
    if !status.success() {
        return Err(format!("qemu-riscv32 failed ({status})"));
    }
    Ok(out)
}

fn run_hetsim(name: &str, elf: &[u8]) -> Result<Vec<u8>, String> {
    let program = Program::parse(name, elf).map_err(|e| e.to_string())?;
    let config = MachineConfig {
        ram_size: 0,
        ..MachineConfig::default()
    };
    let mut m = Machine::new(&program, &config).map_err(|e| e.to_string())?;
    let exit = m.run(10_000_000).map_err(|e| e.to_string())?;
    if exit.code != 0 {
        return Err(format!("exit code {}", exit.code));
    }
    Ok(m.console)
}

fn listing(body: &[u32]) -> String {
    body.iter()
        .enumerate()
        .map(|(k, &w)| {
            let inst = decode(w);
            format!(
                "  {k:3}: {w:08x}  {}\n",
                Disasm {
                    inst: &inst,
                    pc: 4 * k as u32
                }
            )
        })
        .collect()
}

fn check_batch(qemu: &Path, dir: &Path, seed: u64) -> Result<(), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let batch = randprog::batch(&mut rng, PER_BATCH);
    let path: PathBuf = dir.join(format!("batch-{seed}.elf"));
    std::fs::write(&path, &batch.elf).map_err(|e| e.to_string())?;
    // QEMU's user-mode loader refuses files without execute permission.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    let theirs = run_qemu(qemu, &path).map_err(|e| format!("seed {seed}: {e}"))?;
    let ours = run_hetsim(&path.display().to_string(), &batch.elf)
        .map_err(|e| format!("seed {seed}: hetsim: {e}"))?;
    let _ = std::fs::remove_file(&path);
    if theirs.len() != batch.data_len as usize {
        return Err(format!(
            "seed {seed}: qemu wrote {} bytes, expected {}",
            theirs.len(),
            batch.data_len
        ));
    }
    if ours == theirs {
        return Ok(());
    }
    let off = ours
        .chunks(4)
        .zip(theirs.chunks(4))
        .position(|(a, b)| a != b)
        .unwrap_or(0)
        * 4;
    let word = |v: &[u8]| {
        v.get(off..off + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0)
    };
    let where_ = describe_offset(off as u32);
    let prog: usize = where_
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.trim_end_matches(':').parse().ok())
        .unwrap_or(0);
    Err(format!(
        "seed {seed}, {where_}: hetsim {:#010x}, qemu {:#010x}\nbody:\n{}",
        word(&ours),
        word(&theirs),
        batch.bodies.get(prog).map_or(String::new(), |b| listing(b))
    ))
}

#[test]
fn random_programs_match_qemu() {
    let Some(qemu) = hetsim_tests::qemu_riscv32() else {
        return;
    };
    let programs = env_u64("HETSIM_DIFF_PROGRAMS", 10_000);
    let first_seed = env_u64("HETSIM_DIFF_SEED", 1);
    let batches = programs.div_ceil(PER_BATCH as u64);
    let dir = std::env::temp_dir().join(format!("hetsim-qemu-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (qemu, dir) = (&qemu, &dir);
                s.spawn(move || {
                    (0..batches)
                        .filter(|b| b % workers == w)
                        .filter_map(|b| check_batch(qemu, dir, first_seed + b).err())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker thread"))
            .collect()
    });
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{} random programs ({} batches of {PER_BATCH}) compared with qemu-riscv32",
        batches * PER_BATCH as u64,
        batches
    );
    assert!(
        failures.is_empty(),
        "{} of {batches} batches differ from qemu:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
