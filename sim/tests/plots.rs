//! `hetsim plot` end to end: the three views from a `hetsim run --csv` file of a small scenario
//! as SVG and PNG, a sweep directory's results.csv (rows not ok skipped), the documented
//! errors for bad arguments, and the axes (issue 16): log scales for values spanning decades,
//! units by magnitude, text x columns as categories, the legend beside the plot. The SVGs are
//! read back (text, circle, rect and polyline elements) to check where things were drawn.

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
    // a drawn plot, not an empty frame (about 9 KB with the analytic defaults of 2026-12-06)
    assert!(text.len() > 8_000, "{} bytes", text.len());
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
    // the latency parts by default: they add up to each layer's latency
    for label in [
        "static_ns + dynamic_ns + lora_ns + link_ns + wait_ns (",
        "encoder.layer.23",
        "lora_ns",
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
    for label in ["tile_ns (µs)", "cluster_ns (µs)", "balance: cluster = tile"] {
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

/// A scratch directory for the report CSVs written by the tests below (no simulation).
fn scratch() -> &'static Path {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("hetsim-plot-axes-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

/// Writes a report CSV (the columns of `hetsim run --csv`) whose rows set the given columns;
/// the others get a plain value. Returns its path.
fn report_csv(name: &str, rows: &[Vec<(&str, String)>]) -> String {
    let cols = hetsim::report::row_columns();
    let mut text = cols.join(",") + "\n";
    for r in rows {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| match r.iter().find(|(k, _)| k == c) {
                Some((_, v)) => v.clone(),
                None => match c.as_str() {
                    "strategy" => "pipelined".into(),
                    "scope" => "op".into(),
                    "layer" => "encoder.layer.0".into(),
                    "op" => "encoder.layer.0/query".into(),
                    "kind" => "linear".into(),
                    "shape" => "128x128".into(),
                    "bound" => "tile".into(),
                    "tcdm_over" => "false".into(),
                    "cluster_model" => "analytic".into(),
                    _ => "1".into(),
                },
            })
            .collect();
        text += &(cells.join(",") + "\n");
    }
    let path = scratch().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The value of attribute `name` in an SVG element's text.
fn attr(element: &str, name: &str) -> Option<String> {
    let at = element.find(&format!(" {name}=\""))? + name.len() + 3;
    let rest = &element[at..];
    Some(rest[..rest.find('"')?].to_string())
}

fn num_attr(element: &str, name: &str) -> f64 {
    attr(element, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric {name} in {element}"))
}

/// The opening tags (with attributes) of every `<tag ...>` element.
fn elements<'a>(svg: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag} ");
    svg.match_indices(&open)
        .map(|(i, _)| {
            let e = &svg[i..];
            &e[..e.find('>').map_or(e.len(), |j| j + 1)]
        })
        .collect()
}

/// Every text element: (x, y, text).
fn texts(svg: &str) -> Vec<(f64, f64, String)> {
    svg.match_indices("<text ")
        .map(|(i, _)| {
            let e = &svg[i..];
            let close = e.find('>').unwrap();
            let end = e.find("</text>").unwrap();
            (
                num_attr(&e[..close], "x"),
                num_attr(&e[..close], "y"),
                e[close + 1..end].trim().to_string(),
            )
        })
        .collect()
}

/// The right edge of the plot area: where the grid lines end.
fn plot_right(svg: &str) -> f64 {
    elements(svg, "line")
        .into_iter()
        .filter(|e| attr(e, "stroke").as_deref() == Some("#EBEBEB"))
        .flat_map(|e| [num_attr(e, "x1"), num_attr(e, "x2")])
        .fold(f64::MIN, f64::max)
}

fn svg_plot(args: &[&str], out: &str) -> (String, String) {
    let mut a = args.to_vec();
    a.extend_from_slice(&["--out", out]);
    let s = ok(&plot(&a));
    (s, std::fs::read_to_string(out).unwrap())
}

/// Linear operations whose tile time spans 1 µs .. 1 ms (one per decade) used to sit in the
/// leftmost 1% of a linear axis; the auto log scale spreads them evenly, and its tick labels
/// carry their unit.
#[test]
fn ratio_of_values_spanning_decades_is_drawn_on_log_axes() {
    let rows: Vec<Vec<(&str, String)>> = [1e3, 1e4, 1e5, 1e6]
        .iter()
        .map(|&t| {
            vec![
                ("tile_ns", format!("{t}")),
                ("cluster_ns", format!("{}", t * 1.5)),
            ]
        })
        .collect();
    let csv = report_csv("decades.csv", &rows);
    let out = scratch().join("decades.svg");
    let (s, svg) = svg_plot(&[&csv, "--kind", "ratio"], out.to_str().unwrap());
    assert!(s.contains("x log, y log"), "{s}");
    let right = plot_right(&svg);
    let mut cx: Vec<f64> = elements(&svg, "circle")
        .iter()
        .map(|e| num_attr(e, "cx"))
        .filter(|&x| x < right)
        .collect();
    cx.sort_by(f64::total_cmp);
    assert_eq!(cx.len(), 4, "{cx:?}");
    // One decade apart: equal gaps, together most of the plot's width.
    let gaps: Vec<f64> = cx.windows(2).map(|w| w[1] - w[0]).collect();
    for g in &gaps {
        assert!((g / gaps[0] - 1.0).abs() < 0.05, "uneven gaps {gaps:?}");
    }
    assert!(
        cx[3] - cx[0] > 0.6 * (right - cx[0]),
        "{cx:?}, right edge {right}"
    );
    let labels: Vec<String> = texts(&svg).into_iter().map(|t| t.2).collect();
    for l in ["1 µs", "10 µs", "100 µs", "1 ms", "tile_ns (log scale)"] {
        assert!(labels.iter().any(|x| x == l), "no tick {l:?} in {labels:?}");
    }
    // --x-scale linear puts them back on a linear axis.
    let (s, _) = svg_plot(
        &[
            &csv,
            "--kind",
            "ratio",
            "--x-scale",
            "linear",
            "--y-scale",
            "linear",
        ],
        out.to_str().unwrap(),
    );
    assert!(s.contains("x linear, y linear"), "{s}");
}

/// t = 8, 16, .., 128 (a factor of 16) is a log axis labelled at each t, evenly spaced.
#[test]
fn powers_of_two_are_evenly_spaced_on_a_log_axis() {
    let mut rows = Vec::new();
    for it in [128, 512] {
        for t in [8, 16, 32, 64, 128] {
            rows.push(vec![
                ("scope", "model".to_string()),
                ("integration_time_ns", format!("{it}.0")),
                ("tokens_per_batch", t.to_string()),
                ("overhead", format!("{}", 1.0 + t as f64 / 1000.0)),
            ]);
        }
    }
    let csv = report_csv("t.csv", &rows);
    let out = scratch().join("t.svg");
    let (s, svg) = svg_plot(
        &[
            &csv,
            "--x",
            "t",
            "--y",
            "overhead",
            "--series",
            "integration_time",
        ],
        out.to_str().unwrap(),
    );
    assert!(s.contains("10 row(s), 2 series; x log, y linear"), "{s}");
    let ts = texts(&svg);
    let xs: Vec<f64> = ["8", "16", "32", "64", "128"]
        .iter()
        .map(|l| {
            ts.iter()
                .find(|t| t.2 == *l)
                .unwrap_or_else(|| panic!("no tick {l}"))
                .0
        })
        .collect();
    let gap = xs[1] - xs[0];
    assert!(gap > 100.0, "{xs:?}");
    for w in xs.windows(2) {
        assert!(((w[1] - w[0]) - gap).abs() <= 2.0, "uneven ticks {xs:?}");
    }
    assert!(ts
        .iter()
        .any(|t| t.2 == "tokens_per_batch (tokens, log scale)"));
    // The series key reads 128, not 128.0.
    assert!(ts.iter().any(|t| t.2 == "integration_time_ns = 128"));
    // Forced linear: t = 8 and 16 are closer than 64 and 128.
    let (s, _) = svg_plot(
        &[&csv, "--x", "t", "--y", "overhead", "--x-scale", "linear"],
        out.to_str().unwrap(),
    );
    assert!(s.contains("x linear"), "{s}");
}

/// The legend sits right of the plot area: every legend label and its box start beyond the
/// grid, so no line is covered (it used to sit in a corner of the plot).
#[test]
fn the_legend_is_outside_the_plot_area() {
    let out = dir().join("legend.svg");
    let (_, svg) = svg_plot(
        &[
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
        ],
        out.to_str().unwrap(),
    );
    let right = plot_right(&svg);
    assert!(right > 500.0, "{right}");
    let legend: Vec<(f64, f64, String)> = texts(&svg)
        .into_iter()
        .filter(|t| t.2.starts_with("integration_time_ns = "))
        .collect();
    assert_eq!(legend.len(), 2, "{legend:?}");
    for (x, _, l) in &legend {
        assert!(
            *x > right,
            "legend label {l:?} at x {x}, plot area ends at {right}"
        );
    }
    let boxes: Vec<f64> = elements(&svg, "rect")
        .iter()
        .filter(|e| attr(e, "fill").as_deref() == Some("none"))
        .map(|e| num_attr(e, "x"))
        .collect();
    assert!(
        !boxes.is_empty() && boxes.iter().all(|&x| x > right),
        "{boxes:?}"
    );
}

/// Times are shown in the unit their size calls for: layers of about 25 ms read 25 (ms), not
/// 25M (ns).
#[test]
fn time_axes_use_units_by_magnitude() {
    let rows: Vec<Vec<(&str, String)>> = (0..4)
        .map(|i| {
            vec![
                ("scope", "layer".to_string()),
                ("layer", format!("encoder.layer.{i}")),
                ("static_ns", "5000000".into()),
                ("dynamic_ns", "18000000".into()),
                ("lora_ns", "2000000".into()),
                ("link_ns", "0".into()),
                ("wait_ns", "0".into()),
            ]
        })
        .collect();
    let csv = report_csv("ms.csv", &rows);
    let out = scratch().join("ms.svg");
    let (_, svg) = svg_plot(
        &[&csv, "--kind", "stacked", "--x", "layer"],
        out.to_str().unwrap(),
    );
    let labels: Vec<String> = texts(&svg).into_iter().map(|t| t.2).collect();
    assert!(
        labels.contains(&"static_ns + dynamic_ns + lora_ns + link_ns + wait_ns (ms)".to_string()),
        "{labels:?}"
    );
    assert!(labels.contains(&"25".to_string()), "{labels:?}");
    assert!(
        !labels.iter().any(|l| l.ends_with('M') || l.ends_with('k')),
        "{labels:?}"
    );
    // Every category is labelled.
    for i in 0..4 {
        assert!(labels.contains(&format!("encoder.layer.{i}")), "{labels:?}");
    }
    // A CSV written before the latency parts existed stacks the busy times.
    let old = scratch().join("old.csv");
    std::fs::write(
        &old,
        "scope,layer,tile_ns,cluster_ns,transfer_ns\nlayer,l.0,5000000,18000000,2000000\n",
    )
    .unwrap();
    let out = scratch().join("old.svg");
    let (_, svg) = svg_plot(
        &[old.to_str().unwrap(), "--kind", "stacked", "--x", "layer"],
        out.to_str().unwrap(),
    );
    let labels: Vec<String> = texts(&svg).into_iter().map(|t| t.2).collect();
    assert!(
        labels.contains(&"tile_ns + cluster_ns + transfer_ns (ms)".to_string()),
        "{labels:?}"
    );
}

/// A text x column (here strategy) draws grouped bars, one group per strategy, one bar per
/// series value, each strategy labelled (it used to fail with "not a number").
#[test]
fn a_text_x_column_gives_grouped_bars() {
    let out = dir().join("strategy.svg");
    let (s, svg) = svg_plot(
        &[
            &csv(),
            "--x",
            "strategy",
            "--y",
            "hybrid_ns",
            "--series",
            "t",
            "--filter",
            "scope=model",
            "--filter",
            "integration_time=128",
        ],
        out.to_str().unwrap(),
    );
    // 2 strategies x 3 t.
    assert!(s.contains("6 row(s), 3 series; x categories"), "{s}");
    let labels: Vec<String> = texts(&svg).into_iter().map(|t| t.2).collect();
    for l in [
        "pipelined",
        "sequential",
        "strategy",
        "tokens_per_batch = 24",
    ] {
        assert!(labels.contains(&l.to_string()), "no {l:?} in {labels:?}");
    }
    // 6 bars in the three series colours (the legend adds one block per series).
    let bars = elements(&svg, "rect")
        .iter()
        .filter(|e| {
            matches!(
                attr(e, "fill").as_deref(),
                Some("#0072B2" | "#E69F00" | "#009E73")
            )
        })
        .count();
    assert_eq!(bars, 6 + 3, "{svg}");
    // PNG too.
    let png = dir().join("strategy.png");
    ok(&plot(&[
        &csv(),
        "--x",
        "strategy",
        "--y",
        "overhead",
        "--filter",
        "scope=model",
        "--out",
        png.to_str().unwrap(),
    ]));
    assert!(is_png(&png));
}

#[test]
fn scale_errors_name_the_column_and_line() {
    let rows = vec![
        vec![("tile_ns", "1000".to_string())],
        vec![("tile_ns", "0".to_string())],
    ];
    let csv = report_csv("zero.csv", &rows);
    let o = scratch().join("zero.svg");
    let o = o.to_str().unwrap();
    // A forced log axis with a 0: the option, the column and the file line (header = 1).
    let e = failed(&plot(&[
        &csv,
        "--kind",
        "ratio",
        "--x-scale",
        "log",
        "--out",
        o,
    ]));
    assert!(
        e.contains("zero.csv") && e.contains("--x-scale log: column tile_ns is 0 on line 3"),
        "{e}"
    );
    // auto stays linear (values <= 0), without an error.
    let s = ok(&plot(&[&csv, "--kind", "ratio", "--out", o]));
    assert!(s.contains("x linear, y linear"), "{s}");
    // Categories cannot be logarithmic; stacked bars are linear.
    let e = failed(&plot(&[
        &csv,
        "--x",
        "strategy",
        "--y",
        "tile_ns",
        "--x-scale",
        "log",
        "--out",
        o,
    ]));
    assert!(
        e.contains("--x-scale")
            && e.contains("column strategy holds text (\"pipelined\" on line 2)"),
        "{e}"
    );
    let e = failed(&plot(&[
        &csv,
        "--kind",
        "stacked",
        "--x",
        "layer",
        "--y-scale",
        "log",
        "--out",
        o,
    ]));
    assert!(e.contains("--y-scale") && e.contains("stacked"), "{e}");
    // The value error names the file line too.
    let e = failed(&plot(&[&csv, "--x", "tile_ns", "--y", "layer", "--out", o]));
    assert!(
        e.contains("column layer: \"encoder.layer.0\" (line 2) is not a number"),
        "{e}"
    );
}

/// A title longer than the image (many filters) is set smaller instead of losing its ends.
#[test]
fn a_long_title_is_set_smaller() {
    let csv = report_csv("title.csv", &[vec![("tile_ns", "5".to_string())]]);
    let size = |title: &str| {
        let out = scratch().join("title.svg");
        let (_, svg) = svg_plot(
            &[
                &csv,
                "--x",
                "tile_ns",
                "--y",
                "cluster_ns",
                "--title",
                title,
            ],
            out.to_str().unwrap(),
        );
        let first = elements(&svg, "text")[0];
        num_attr(first, "font-size")
    };
    let short = size("short");
    let long = size(&"a long title with many filters ".repeat(5));
    assert!(long < 0.7 * short, "{long} vs {short}");
}
