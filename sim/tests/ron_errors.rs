//! RON errors end to end: the binary prints `hetsim: error: message`, ` --> file:line:column`,
//! the offending line under a gutter and carets under the column, as rustc does (through
//! annotate-snippets, `hetsim::diag`; docs/robustness.md). The expected excerpts are worked
//! out by hand in the comments; `COLUMNS` fixes the width.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Tmp(PathBuf);
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `text` to a scratch file and runs hetsim with `args` (`{}` is the file) at the
/// terminal width `columns`; returns the file and stderr's lines.
fn error_of(name: &str, text: &str, args: &[&str], columns: usize) -> (String, Vec<String>) {
    // a directory per call: tests run in parallel, and several write a file of the same name
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("hetsim-ron-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let _tmp = Tmp(dir.clone());
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let f = file.display().to_string();
    let args: Vec<String> = args.iter().map(|a| a.replace("{}", &f)).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args(&args)
        .env("COLUMNS", columns.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8(out.stderr).unwrap();
    (f, err.lines().map(String::from).collect())
}

#[test]
fn a_tile_config_with_tabs_and_crlf() {
    // Line 3 is "\tcolz: 3," (CRLF): RON reports column 6, after the name; the carets go
    // under `colz` from column 2, shown 4 columns in (the tab is 4 spaces); no `\r` shown.
    let (f, lines) = error_of(
        "t.ron",
        "(\r\n\trows: 256,\r\n\tcolz: 3,\r\n)\r\n",
        &["tile", "--config", "{}"],
        80,
    );
    assert!(
        lines[0].starts_with("hetsim: error: Unexpected field named `colz` in `TileConfig`"),
        "{lines:?}"
    );
    assert_eq!(
        lines[1..],
        [
            format!(" --> {f}:3:2"),
            "  |".into(),
            "3 |     colz: 3,".into(),
            "  |     ^^^^".into(),
        ]
    );
}

#[test]
fn a_long_cluster_config_line_is_cut_around_the_column() {
    // 83 characters; `max_cyclez` starts in column 69. Width 40: the line is cut on the left
    // with "...", and the carets stay under the name.
    let line =
        "(cores: 2, clock_ghz: 1.0, tcdm: (size: 65536), barrier_latency: 3, max_cyclez: 10)";
    assert_eq!(line.len(), 83);
    let (f, lines) = error_of(
        "c.ron",
        line,
        &["kernel", "no-such.elf", "--cluster", "{}"],
        40,
    );
    assert!(
        lines[0]
            .starts_with("hetsim: error: Unexpected field named `max_cyclez` in `ClusterConfig`"),
        "{lines:?}"
    );
    assert_eq!(
        lines[1..],
        [
            format!(" --> {f}:1:69"),
            "  |".into(),
            "1 | ...tency: 3, max_cyclez: 10)".into(),
            format!("  | {}{}", " ".repeat(13), "^".repeat(10)),
        ]
    );
    assert!(lines[3].len() <= 40);
}

#[test]
fn an_empty_scenario_and_one_cut_short() {
    let (f, lines) = error_of("e.ron", "", &["validate", "{}"], 80);
    assert_eq!(
        lines,
        [
            "hetsim: error: Expected opening `(` for struct `Scenario`".to_string(),
            format!(" --> {f}:1:1"),
            "  |".into(),
            "1 |".into(),
            "  | ^".into(),
            "  |".into(),
            "  = hint: check the syntax near this position against docs/scenarios.md".into(),
        ]
    );
    // The file ends after 10 characters where a comma should come: column 11, one past the
    // end of the line, the caret 10 columns in.
    let (f, lines) = error_of("cut.ron", "(name: \"x\"", &["validate", "{}"], 80);
    assert_eq!(lines[0], "hetsim: error: Expected comma");
    assert_eq!(
        lines[1..5],
        [
            format!(" --> {f}:1:11"),
            "  |".into(),
            "1 | (name: \"x\"".into(),
            format!("  | {}^", " ".repeat(10))
        ]
    );
    // A string left open: "Expected end of string" at its first character (column 9).
    let (f, lines) = error_of("open.ron", "(name: \"unfinished", &["validate", "{}"], 80);
    assert_eq!(lines[0], "hetsim: error: Expected end of string");
    assert_eq!(lines[1], format!(" --> {f}:1:9"));
    assert_eq!(lines[4], format!("  | {}^", " ".repeat(8)), "{lines:?}");
}

#[test]
fn an_unknown_enum_variant_in_a_scenario() {
    // `Foo` starts in column 86 of the line (RON reports 89, after it).
    let text = "(name: \"x\", workload: (schedule: Model(\"mobilebert\")), sweep: (strategy: [Pipelined, Foo]))";
    let (f, lines) = error_of("s.ron", text, &["validate", "{}"], 200);
    assert!(
        lines[0].starts_with("hetsim: error: Unexpected variant named `Foo`"),
        "{lines:?}"
    );
    assert_eq!(lines[1], format!(" --> {f}:1:86"));
    assert_eq!(lines[3], format!("1 | {text}"));
    assert_eq!(lines[4], format!("  | {}^^^", " ".repeat(85)));
    assert_eq!(
        lines[6],
        "  = hint: use one of: Sequential, Pipelined, ParallelBranch, MultiCluster"
    );
}

#[test]
fn control_characters_do_not_reach_the_terminal() {
    // An ESC sequence that would clear the screen, a C1 CSI and a right-to-left override in
    // a misspelled field's line: shown as `␛`, U+FFFD, U+FFFD; the carets stay under `colz`
    // (column 22, shown 21 columns in: each replacement is one column).
    let (f, lines) = error_of(
        "t.ron",
        "(rows: 1, /*\u{1b}[2J\u{9b}\u{202e}*/ colz: 3)",
        &["tile", "--config", "{}"],
        80,
    );
    assert_eq!(lines[1], format!(" --> {f}:1:22"));
    assert_eq!(lines[3], "1 | (rows: 1, /*␛[2J\u{fffd}\u{fffd}*/ colz: 3)");
    assert_eq!(lines[4], format!("  | {}^^^^", " ".repeat(21)));
}

#[test]
fn wide_characters_keep_the_carets_aligned() {
    // `漢字` take 2 columns each: `colz` (column 18) is shown 19 columns in.
    let (f, lines) = error_of(
        "t.ron",
        "(rows: 1, /*漢字*/ colz: 3)",
        &["tile", "--config", "{}"],
        80,
    );
    assert_eq!(lines[1], format!(" --> {f}:1:18"));
    assert_eq!(lines[3], "1 | (rows: 1, /*漢字*/ colz: 3)");
    assert_eq!(lines[4], format!("  | {}^^^^", " ".repeat(19)));
}
