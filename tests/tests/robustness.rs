//! The bounded fuzz run of the normal test suite: every harness of `hetsim_tests::fuzzing` (the
//! same functions the cargo-fuzz targets in `fuzz/` call) on random bytes and on mutations of
//! the committed seed corpora in `fuzz/corpus/<target>/`. A panic anywhere fails the test and
//! proptest shrinks the input. Case counts keep the whole file at a few seconds in release
//! mode; the long runs are cargo-fuzz commands (docs/robustness.md).

use hetsim_tests::{fuzzing, workspace_root};
use proptest::collection::vec;
use proptest::prelude::*;

/// The committed seeds of one fuzz target.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = workspace_root().join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seed-"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Random bytes, or a seed with up to 8 bytes overwritten, a 32-bit word overwritten with an
/// extreme value, and optionally truncated.
fn inputs(target: &str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds(target);
    let n = seeds.len();
    let extremes = prop_oneof![
        Just(0u32),
        Just(u32::MAX),
        Just(0x8000_0000),
        Just(0x7fff_ffff),
        any::<u32>()
    ];
    let mutated = (
        0..n,
        vec((any::<usize>(), any::<u8>()), 0..8),
        (any::<usize>(), extremes),
        proptest::option::of(any::<usize>()),
    )
        .prop_map(move |(i, edits, (wpos, word), cut)| {
            let mut v = seeds[i].clone();
            if !v.is_empty() {
                for (p, b) in edits {
                    let k = p % v.len();
                    v[k] = b;
                }
                let k = (wpos % v.len()) & !3;
                let end = (k + 4).min(v.len());
                v[k..end].copy_from_slice(&word.to_le_bytes()[..end - k]);
                if let Some(c) = cut {
                    v.truncate(c % (v.len() + 1));
                }
            }
            v
        });
    prop_oneof![1 => vec(any::<u8>(), 0..700), 3 => mutated]
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(200_000))]
    #[test]
    fn elf_loader_never_panics(data in inputs("elf")) {
        fuzzing::elf(&data);
    }

    #[test]
    fn npy_reader_never_panics(data in inputs("npy")) {
        fuzzing::npy(&data);
    }
}

proptest! {
    #![proptest_config(config(50_000))]
    #[test]
    fn decoder_and_executor_never_panic(data in inputs("exec")) {
        fuzzing::exec(&data);
    }

    #[test]
    fn single_hart_runs_never_panic(data in inputs("machine")) {
        fuzzing::machine(&data);
    }

    #[test]
    fn tile_configs_never_panic(data in inputs("ron_tile")) {
        fuzzing::ron_tile(&data);
    }

    #[test]
    fn scenarios_never_panic(data in inputs("scenario")) {
        fuzzing::scenario(&data);
    }

    #[test]
    fn cluster_configs_never_panic(data in inputs("ron_cluster")) {
        fuzzing::ron_cluster(&data);
    }

    #[test]
    fn checkpoints_never_panic(data in inputs("checkpoint")) {
        fuzzing::checkpoint(&data);
    }

    #[test]
    fn adapters_never_panic(data in inputs("adapter")) {
        fuzzing::adapter(&data);
    }

    #[test]
    fn accuracy_json_inputs_never_panic(data in inputs("tokens")) {
        fuzzing::tokens(&data);
    }
}

proptest! {
    #![proptest_config(config(20_000))]
    #[test]
    fn cluster_runs_never_panic(data in inputs("cluster")) {
        fuzzing::cluster(&data);
    }

    #[test]
    fn gdb_packets_never_panic(data in inputs("gdb_packets")) {
        fuzzing::gdb_packets(&data);
    }
}

proptest! {
    #![proptest_config(config(200_000))]
    #[test]
    fn htif_blocks_never_panic(data in inputs("htif")) {
        fuzzing::htif(&data);
    }
}

/// A fuzzing harness.
type Harness = fn(&[u8]);

/// Every committed seed, replayed as is. Files in `fuzz/corpus/<target>/` named `seed-*` are
/// committed; the rest are local fuzzing output. (Inputs that once crashed are regression tests
/// next to the code they broke.)
#[test]
fn committed_seeds_run() {
    let targets: [(&str, Harness); 12] = [
        ("elf", fuzzing::elf),
        ("exec", fuzzing::exec),
        ("machine", fuzzing::machine),
        ("cluster", fuzzing::cluster),
        ("npy", fuzzing::npy),
        ("ron_tile", fuzzing::ron_tile),
        ("ron_cluster", fuzzing::ron_cluster),
        ("gdb_packets", fuzzing::gdb_packets),
        ("htif", fuzzing::htif),
        ("checkpoint", fuzzing::checkpoint),
        ("adapter", fuzzing::adapter),
        ("tokens", fuzzing::tokens),
    ];
    for (target, harness) in targets {
        for s in seeds(target) {
            harness(&s);
        }
    }
}

/// The RON harnesses check that a parse error names its file, line and column, in its text
/// and in the CLI's excerpt (`fuzzing::check_located`); these inputs reach that check with an
/// empty file, a misspelled field, tabs and CRLF, wide, control and bidi characters, and a
/// line longer than the terminal.
#[test]
fn ron_errors_name_file_line_and_column() {
    let long = format!("(rows: 1, {} colz: 2)", "/* long */ ".repeat(20));
    let texts = [
        "",
        "(colz: 1)",
        "(\r\n\trows: 1,\r\n\tcolz: 2,\r\n)",
        "(/*\u{1b}[2J\u{9b}漢😀\u{202e}*/ colz: 2)",
        &long,
        "(rows: 1",
    ];
    for text in texts {
        let e = hetsim_models::aimc::TileConfig::from_ron_str(text).unwrap_err();
        assert!(
            matches!(e, hetsim_models::aimc::AimcError::Ron(_)),
            "{text:?}: {e}"
        );
        fuzzing::ron_tile(text.as_bytes());
        fuzzing::ron_cluster(text.as_bytes());
        fuzzing::scenario(text.as_bytes());
    }
}

/// The SSR seed really streams: its FREP block multiplies 16 elements of streams 0 and 1 into
/// stream 2 and exits; one repetition more reads past the jobs' end, which only streaming can
/// notice.
#[test]
fn the_ssr_seed_streams() {
    let seed = std::fs::read(workspace_root().join("fuzz/corpus/cluster/seed-ssr-frep")).unwrap();
    let report = fuzzing::cluster_run(&seed).unwrap();
    assert!(report.is_ok(), "{:?}", report.err().map(|e| e.to_string()));
    // `addi t4, zero, 15` is the first random word (bytes 10..14): make it 16.
    let mut more = seed.clone();
    more[10..14].copy_from_slice(&hetsim_isa::asm::addi(29, 0, 16).to_le_bytes());
    let err = fuzzing::cluster_run(&more)
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(err.contains("stream 0 has no job left"), "{err}");
}

/// Runs `f` on a thread; fails if it takes more than `secs` seconds (a hang or a quadratic
/// blow-up) instead of letting the test run forever.
fn within(secs: u64, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("did not finish within {secs} s"));
}

/// A cluster fuzz input (layout in `fuzzing::cluster`): `flags`, the seeds' register
/// selectors, extension byte 0, then `words`.
fn cluster_input(flags: u8, words: &[u32]) -> Vec<u8> {
    let mut b = vec![flags, 0, 3, 2, 0, 3, 5, 6, 0, 0];
    b.extend(words.iter().flat_map(|w| w.to_le_bytes()));
    b
}

/// Fuzz regression (docs/robustness.md): two cores looping over `frep.o` blocks of 16 `fadd.s`
/// repeated 65,536 times (2^20 operations per block). On a shared FPU every operation walked the
/// whole busy-cycle set (`retain`) and then probed it cycle by cycle: quadratic, minutes per
/// input. Both FPU kinds must now finish in seconds.
#[test]
fn long_freps_on_a_shared_fpu_finish() {
    use hetsim_isa::asm::{addi, fadd, frep_o, jal, lui};
    let mut words = vec![lui(29, 0x10), addi(29, 29, -1), frep_o(29, 16, 0, 0)];
    words.extend([fadd(3, 4, 5); 16]);
    words.push(jal(0, -4 * 17));
    for flags in [0x40 | 0x20 | 0x04 | 1, 0x40 | 0x04 | 1] {
        let input = cluster_input(flags, &words);
        within(20, move || {
            let e = fuzzing::cluster_run(&input)
                .unwrap()
                .unwrap_err()
                .to_string();
            assert!(e.contains("watchdog"), "{e}");
        });
    }
}
