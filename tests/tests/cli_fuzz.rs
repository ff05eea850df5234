//! The bounded CLI fuzz run of the normal test suite: argument vectors built from every
//! subcommand and flag that clap knows (read from `hetsim::cli::Cli`, so new options are
//! covered without editing this file), values chosen to break parsers (huge, negative, NaN,
//! malformed, non-UTF-8), real input files and missing ones, through
//! `hetsim_tests::fuzzing::cli_args` (the harness of the `cli` cargo-fuzz target): no panic,
//! and every failure has a message and a non-zero status. Commands run in check mode (nothing
//! is simulated or written); docs/robustness.md says what that covers.

use clap::CommandFactory;
use hetsim_tests::{fuzzing, workspace_root};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// Subcommand names (with `trace gen`), every flag (long and short, global ones too) and the
/// listed values of enumerated options.
fn vocabulary() -> (Vec<String>, Vec<String>, Vec<String>) {
    let cmd = hetsim::cli::Cli::command();
    let mut subs = Vec::new();
    let mut flags = Vec::new();
    let mut values = Vec::new();
    let add_args = |c: &clap::Command, flags: &mut Vec<String>, values: &mut Vec<String>| {
        for a in c.get_arguments() {
            if let Some(l) = a.get_long() {
                flags.push(format!("--{l}"));
            }
            if let Some(s) = a.get_short() {
                flags.push(format!("-{s}"));
            }
            for v in a.get_possible_values() {
                values.push(v.get_name().to_string());
            }
        }
    };
    add_args(&cmd, &mut flags, &mut values);
    for s in cmd.get_subcommands() {
        subs.push(s.get_name().to_string());
        add_args(s, &mut flags, &mut values);
        for t in s.get_subcommands() {
            subs.push(t.get_name().to_string());
            add_args(t, &mut flags, &mut values);
        }
    }
    flags.extend(["--help", "-h", "--version", "-V", "-vvv", "--"].map(String::from));
    flags.sort();
    flags.dedup();
    (subs, flags, values)
}

/// Values that break number, range, duration, binding and path parsers, and real inputs.
const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "1e308",
    "-0",
    "NaN",
    "inf",
    "",
    " ",
    "0x80000000:64M",
    "0xffffffff:1",
    "0:4096M",
    "18446744073709551615:1",
    "0/4",
    "3/4",
    "1/0",
    "4/4",
    "512,128",
    "0,0",
    "8193,8192",
    "99999999,99999999",
    "1y",
    "10y",
    "0s",
    "-1s",
    "1e400s",
    "100:",
    ":250",
    "250:100",
    "a:b",
    "0,1,99999",
    "mobilebert",
    "bert-large",
    "llama-3.1-8b",
    "gpt",
    "scope=model",
    "=",
    "x=",
    "t",
    "overhead",
    "layer",
    "lora_X=@/tests/fixtures/cli/w.npy",
    "lora_Y:16=o.npy",
    "lora_Y:x=o.npy",
    "p.svg",
    "p.png",
    "p.txt",
    "@/scenarios/ahwa-lora-mobilebert.ron",
    "@/scenarios/ahwa-lora-mobilebert-analytic.ron",
    "@/scenarios/example-512x128-128ns.ron",
    "@/models/presets/aimc-ahwa-512.ron",
    "@/models/presets/cluster-snitch.ron",
    "@/models/presets/cluster-pulp.ron",
    "@/kernels/build/lora.elf",
    "@/kernels/build/rv32ui-upper.elf",
    "@/traces/mobilebert.ron",
    "@/tests/fixtures/cli/w.npy",
    "@/tests/fixtures/cli/sweep.ron",
    "@/tests/fixtures/cli/misspelled.ron",
    "@/tests/fixtures/cli/shard-0",
    "@/tests/fixtures/cli/shard-0/results.csv",
    "@/scenarios",
    "@/",
    "no/such/file.ron",
    "no-such.elf",
];

fn argument(
    subs: Vec<String>,
    flags: Vec<String>,
    enums: Vec<String>,
) -> impl Strategy<Value = OsString> {
    let text = |v: Vec<String>| select(v).prop_map(OsString::from);
    prop_oneof![
        4 => text(flags),
        4 => select(VALUES).prop_map(OsString::from),
        1 => text(subs),
        1 => text(enums),
        1 => any::<u64>().prop_map(|n| OsString::from(n.to_string())),
        1 => any::<f64>().prop_map(|x| OsString::from(x.to_string())),
        1 => "[ -~]{0,16}".prop_map(OsString::from),
        1 => vec(any::<u8>(), 0..12).prop_map(OsString::from_vec),
    ]
}

fn argv() -> impl Strategy<Value = Vec<OsString>> {
    let (subs, flags, enums) = vocabulary();
    let first = prop_oneof![
        6 => select(subs.clone()).prop_map(OsString::from),
        1 => argument(subs.clone(), flags.clone(), enums.clone()),
    ];
    (
        first,
        vec(argument(subs, flags, enums), 0..10),
        any::<bool>(),
    )
        .prop_map(|(first, mut rest, gen)| {
            // `trace` needs its `gen` subcommand to go further.
            if gen && first == "trace" {
                rest.insert(0, OsString::from("gen"));
            }
            rest.insert(0, first);
            rest
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 50_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]
    #[test]
    fn any_command_line_ends_in_a_status_and_a_message(args in argv()) {
        fuzzing::cli_args(args);
    }
}

/// The committed seeds of the `cli` fuzz target are valid command lines: each passes check
/// mode with status 0, so the harness reaches every command's checks.
#[test]
fn cli_seeds_are_valid_command_lines() {
    let dir = workspace_root().join("fuzz/corpus/cli");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        // Only the committed seeds: libFuzzer adds its own entries next to them locally.
        if !p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("seed-"))
        {
            continue;
        }
        let data = std::fs::read(&p).unwrap();
        fuzzing::cli(&data);
        // Again, asserting status 0 this time.
        let root = workspace_root().display().to_string();
        let args: Vec<String> = std::iter::once("hetsim".to_string())
            .chain(
                data.split(|&b| b == 0)
                    .map(|a| String::from_utf8_lossy(a).replace("@/", &format!("{root}/"))),
            )
            .collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = hetsim::cli::run(&args, hetsim::cli::Mode::Check, &mut out, &mut err);
        assert_eq!(
            code,
            0,
            "{}: {}",
            p.display(),
            String::from_utf8_lossy(&err)
        );
        n += 1;
    }
    assert!(n >= 10, "{n} seeds");
}

/// The fuzz dictionary names every subcommand and flag, so libFuzzer can build them.
#[test]
fn the_fuzz_dictionary_names_every_flag() {
    let dict = std::fs::read_to_string(workspace_root().join("fuzz/dict/cli.dict")).unwrap();
    let (subs, flags, _) = vocabulary();
    for w in subs.iter().chain(&flags).filter(|w| *w != "--") {
        assert!(
            dict.lines().any(|l| l == format!("\"{w}\"")),
            "fuzz/dict/cli.dict lacks {w}"
        );
    }
}

/// Help and version go to stdout with status 0; no arguments, an unknown subcommand or a bad
/// value are usage errors (status 2) with clap's message on stderr.
#[test]
fn help_version_and_usage_errors() {
    let run = |args: &[&str]| {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let argv: Vec<&str> = std::iter::once("hetsim")
            .chain(args.iter().copied())
            .collect();
        let code = hetsim::cli::run(argv, hetsim::cli::Mode::Check, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    };
    let (c, out, err) = run(&["--help"]);
    assert!(
        c == 0 && out.contains("Usage: hetsim") && err.is_empty(),
        "{out}{err}"
    );
    let (c, out, _) = run(&["--version"]);
    assert!(c == 0 && out.starts_with("hetsim "), "{out}");
    let (c, _, err) = run(&[]);
    assert!(c == 2 && err.contains("Usage: hetsim"), "{err}");
    let (c, _, err) = run(&["simulate"]);
    assert!(
        c == 2 && err.contains("unrecognized subcommand 'simulate'"),
        "{err}"
    );
    let (c, _, err) = run(&["sweep", "s.ron", "--out", "d", "--jobs", "100000"]);
    assert!(c == 2 && err.contains("from 1 to 1024"), "{err}");
    let (c, _, err) = run(&["tile", "--shape", "99999999,99999999"]);
    assert!(
        c == 125 && err.contains("--shape: 99999999 x 99999999 values"),
        "{err}"
    );
    let (c, _, err) = run(&["exec", "x.elf", "--ram", "18446744073709551615:1"]);
    assert!(c == 125 && err.contains("--ram"), "{err}");
    // Not UTF-8 where a text value is needed: a usage error, not a panic.
    let bad = OsString::from_vec(vec![b'm', 0xff, b'b']);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = hetsim::cli::run(
        [
            OsString::from("hetsim"),
            "trace".into(),
            "gen".into(),
            "--model".into(),
            bad,
        ],
        hetsim::cli::Mode::Check,
        &mut out,
        &mut err,
    );
    assert_eq!(code, 2, "{}", String::from_utf8_lossy(&err));
    assert!(String::from_utf8_lossy(&err).contains("invalid UTF-8"));
}

/// A RON error names the file, line and column in its excerpt's header, shows the line (a tab
/// as 4 columns, wide characters as 2) and puts carets under the misspelled name.
#[test]
fn a_ron_error_names_file_line_and_column() {
    let f = workspace_root().join("tests/fixtures/cli/misspelled.ron");
    let f = f.display().to_string();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = hetsim::cli::run(
        ["hetsim", "validate", &f],
        hetsim::cli::Mode::Check,
        &mut out,
        &mut err,
    );
    let err = String::from_utf8(err).unwrap();
    assert_eq!(code, 125, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with("hetsim: error: Unexpected field named `seqlen` in `Workload`"),
        "{err}"
    );
    // `seqlen` is character 53 of line 5; shown after a 4-column tab and two wide characters.
    let before = "\tworkload: (schedule: Model(\"mobilebert\"), /* 長さ */ ";
    let column = before.chars().count() + 1;
    assert_eq!(column, 53);
    assert_eq!(lines[1], format!(" --> {f}:5:{column}"));
    assert_eq!(
        lines[3],
        "5 |     workload: (schedule: Model(\"mobilebert\"), /* 長さ */ seqlen: Some(16)),"
    );
    assert_eq!(
        lines[4],
        format!("  | {}^^^^^^", " ".repeat(column - 1 + 3 + 2))
    );
    assert!(
        lines[6].starts_with("  = hint: remove or rename the field"),
        "{err}"
    );
}
