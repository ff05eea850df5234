//! `hetsim plot` end to end: the three views from a `hetsim run --csv` file of a small scenario
//! as SVG and PNG, a sweep directory's results.csv (rows not ok skipped), and the documented
//! errors for bad arguments.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// MobileBERT cut to 24 tokens; 2 integration times x 3 batch sizes x 2 strategies.
const SMALL: &str = r#"(
    name: "small",
    hardware: (tile: (rows: 512, cols: 512)),
    workload: (schedule: Model("mobilebert"), seq_len: Some(24)),
    sweep: (
        integration_time_ns: [128.0, 512.0],
        tokens_per_batch: [4, 8, 24],
        strategy: [Pipelined, Sequential],
    ),
    numerics: None,
)"#;

fn dir() -> &'static Path {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("hetsim-plots-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let sc = d.join("s.ron");
        std::fs::write(&sc, SMALL).unwrap();
        let out = hetsim(&[
            "run",
            sc.to_str().unwrap(),
            "--csv",
            d.join("run.csv").to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        d
    })
}

fn csv() -> String {
    dir().join("run.csv").to_str().unwrap().to_string()
}

fn hetsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args(args)
        .output()
        .unwrap()
}

fn plot(args: &[&str]) -> Output {
    let mut a = vec!["plot"];
    a.extend_from_slice(args);
    hetsim(&a)
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn failed(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(125),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn is_png(p: &Path) -> bool {
    let b = std::fs::read(p).unwrap();
    b.starts_with(b"\x89PNG\r\n\x1a\n") && b.len() > 20_000
}

#[test]
fn overhead_versus_t_per_integration_time() {
    let (svg, png) = (dir().join("line.svg"), dir().join("line.png"));
    for out in [&svg, &png] {
        let s = ok(&plot(&[
            &csv(),
            "--x",
            "t",
            "--y",
            "overhead",
            "--series",
            "integration_time",
            "--filter",
            "scope=model",
            "--filter",
            "strategy=pipelined",
            "--out",
            out.to_str().unwrap(),
        ]));
        // 2 integration times x 3 t, one model row each.
        assert!(s.contains("6 row(s), 2 series"), "{s}");
    }
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.len() > 10_000);
    for label in [
        "tokens_per_batch (tokens)",
        "overhead (hybrid / baseline)",
        "integration_time_ns = 128",
        "integration_time_ns = 512",
        // the default title names the filters (issue 16)
        "overhead vs tokens_per_batch per integration_time_ns (scope=model, strategy=pipelined)",
    ] {
        assert!(text.contains(label), "no {label:?} in the SVG");
    }
    assert!(is_png(&png));
}

#[test]
fn stacked_breakdown_per_layer() {
    let (svg, png) = (dir().join("stacked.svg"), dir().join("stacked.png"));
    for out in [&svg, &png] {
        let s = ok(&plot(&[
            &csv(),
            "--kind",
            "stacked",
            "--x",
            "layer",
            "--filter",
            "scope=layer",
            "--filter",
            "strategy=pipelined",
            "--filter",
            "t=8",
            "--filter",
            "integration_time=128",
            "--out",
            out.to_str().unwrap(),
        ]));
        // MobileBERT: embeddings, 24 encoder layers, the QA head.
        assert!(s.contains("26 row(s), 26 bar(s)"), "{s}");
    }
    let text = std::fs::read_to_string(&svg).unwrap();
    for label in [
        "tile_ns + cluster_ns + transfer_ns (ns)",
        "encoder.layer.23",
        "cluster_ns",
        "\nlayer\n</text>",
    ] {
        assert!(text.contains(label), "no {label:?} in the SVG");
    }
    assert!(is_png(&png));
}

#[test]
fn ratio_with_the_balance_line() {
    let (svg, png) = (dir().join("ratio.svg"), dir().join("ratio.png"));
    for out in [&svg, &png] {
        ok(&plot(&[
            &csv(),
            "--kind",
            "ratio",
            "--series",
            "strategy",
            "--filter",
            "scope=op",
            "--filter",
            "kind=linear",
            "--out",
            out.to_str().unwrap(),
        ]));
    }
    let text = std::fs::read_to_string(&svg).unwrap();
    for label in ["tile_ns (ns)", "cluster_ns (ns)", "balance: cluster = tile"] {
        assert!(text.contains(label), "no {label:?} in the SVG");
    }
    assert!(is_png(&png));
}

#[test]
fn sweep_directories_are_read_and_failed_points_skipped() {
    let sweep = dir().join("sweep");
    std::fs::create_dir_all(&sweep).unwrap();
    let run = std::fs::read_to_string(dir().join("run.csv")).unwrap();
    let mut lines = run.lines();
    let header = lines.next().unwrap();
    let mut text = format!("point,point_id,status,error,sweep.rank,{header}\n");
    for (i, l) in lines.filter(|l| l.contains(",model,")).enumerate() {
        text += &format!("{i},p{i},ok,,8,{l}\n");
    }
    // A failed point: its empty fields (one per report column) must not reach the parser.
    text += &format!(
        "99,p99,error,\"boom, badly\",8{}\n",
        ",".repeat(header.split(',').count())
    );
    std::fs::write(sweep.join("results.csv"), text).unwrap();
    let out = plot(&[
        sweep.to_str().unwrap(),
        "--x",
        "t",
        "--y",
        "overhead",
        "--series",
        "strategy",
        "--filter",
        "integration_time=128",
        "--out",
        sweep.join("o.svg").to_str().unwrap(),
    ]);
    let s = ok(&out);
    assert!(s.contains("6 row(s), 2 series"), "{s}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped 1 row(s)"));
}

#[test]
fn bad_arguments_give_the_documented_errors() {
    let out = dir().join("bad.svg");
    let o = out.to_str().unwrap();
    let c = csv();
    // Unknown column: the file and the available columns.
    let e = failed(&plot(&[&c, "--x", "tokens", "--y", "overhead", "--out", o]));
    assert!(
        e.contains("run.csv")
            && e.contains("no column \"tokens\"")
            && e.contains("available: strategy, integration_time_ns"),
        "{e}"
    );
    // No rows after the filters.
    let e = failed(&plot(&[
        &c,
        "--x",
        "t",
        "--y",
        "overhead",
        "--filter",
        "strategy=nope",
        "--out",
        o,
    ]));
    assert!(
        e.contains("no rows left after --filter strategy=nope"),
        "{e}"
    );
    // A non-numeric value names the file, the column and the value.
    let e = failed(&plot(&[&c, "--x", "t", "--y", "layer", "--out", o]));
    assert!(
        e.contains("run.csv") && e.contains("column layer") && e.contains("is not a number"),
        "{e}"
    );
    // Malformed filter, output type, missing file, stacked with a series.
    let e = failed(&plot(&[
        &c, "--x", "t", "--y", "overhead", "--filter", "scope", "--out", o,
    ]));
    assert!(e.contains("--filter") && e.contains("COL=VALUE"), "{e}");
    let e = failed(&plot(&[
        &c, "--x", "t", "--y", "overhead", "--out", "x.pdf",
    ]));
    assert!(e.contains("--out") && e.contains(".svg or .png"), "{e}");
    let e = failed(&plot(&[
        "/nonexistent/r.csv",
        "--x",
        "t",
        "--y",
        "overhead",
        "--out",
        o,
    ]));
    assert!(e.contains("/nonexistent/r.csv"), "{e}");
    let e = failed(&plot(&[
        &c, "--kind", "stacked", "--x", "layer", "--series", "t", "--out", o,
    ]));
    assert!(e.contains("--series"), "{e}");
    let e = failed(&plot(&[&c, "--y", "overhead", "--out", o]));
    assert!(e.contains("--kind line needs --x"), "{e}");
    // clap rejects an unknown view with a usage error (exit 2).
    let r = plot(&[&c, "--kind", "pie", "--out", o]);
    assert_eq!(r.status.code(), Some(2));
    assert!(!out.exists());
}
