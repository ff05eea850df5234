//! `hetsim report`: the self-contained HTML page from a `run --json` file and from a sweep
//! directory, its errors, and the page in a real headless browser (Debian `chromium`): it
//! loads without console errors, its script runs, and a screenshot shows the summary table and
//! a plot. Without chromium the browser test says so and passes, unless
//! `HETSIM_REQUIRE_CHROMIUM` is set (CI sets it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// A short MobileBERT on the analytic cluster: 2 integration times x 2 t x 2 strategies.
const SCENARIO: &str = r#"(
    name: "html-report",
    seed: 5,
    hardware: (tile: (rows: 512, cols: 512)),
    workload: (schedule: Model("mobilebert"), seq_len: Some(64)),
    sweep: (integration_time_ns: [128.0, 512.0], tokens_per_batch: [8, 16],
            strategy: [Pipelined, MultiCluster(2)]),
    numerics: Some((sample_tokens: 4, max_instances: Some(2))),
)"#;

fn hetsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hetsim"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A directory with the scenario, its `run --json` output and its report.
fn dir() -> &'static Path {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("hetsim-html-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("s.ron"), SCENARIO).unwrap();
        let s = d.join("s.ron");
        let j = d.join("run.json");
        ok(&hetsim(&[
            "run",
            "-q",
            s.to_str().unwrap(),
            "--json",
            j.to_str().unwrap(),
        ]));
        let h = d.join("report.html");
        let said = ok(&hetsim(&[
            "report",
            j.to_str().unwrap(),
            "--out",
            h.to_str().unwrap(),
        ]));
        assert!(said.contains("8 plot(s)"), "{said}");
        d
    })
}

fn page() -> String {
    std::fs::read_to_string(dir().join("report.html")).unwrap()
}

#[test]
fn the_page_holds_summary_tables_plots_scenario_and_versions() {
    let h = page();
    assert!(h.starts_with("<!DOCTYPE html>"));
    assert!(h.contains("<h1>hetsim report: html-report</h1>"));
    // the headline and the summary table, one row per integration time and strategy
    assert!(
        h.contains("LoRA costs the whole model, against pure AIMC"),
        "headline"
    );
    let summary = &h[h.find("id=\"summary-table\"").unwrap()..];
    let summary = &summary[..summary.find("</table>").unwrap()];
    assert_eq!(summary.matches("<tr>").count(), 1 + 4, "{summary}");
    // two overhead plots and two energy-latency plots (one each per integration time), the
    // area against latency (multi-cluster(2) has twice the clusters), the latency parts per
    // layer (hybrid and baseline) and by operation, as inline SVG
    assert_eq!(h.matches("<svg ").count(), 8);
    assert!(h.contains("Where the time goes per layer instance, hybrid: "));
    assert!(h.contains("Where the time goes per layer instance, pure-AIMC baseline: "));
    assert!(h.contains("Whole-model overhead against t at 128 ns"));
    assert!(h.contains("Energy against latency at 128 ns integration time"));
    assert!(h.contains("Area against latency at "));
    assert!(h.contains("Latency breakdown of"));
    // sortable tables of the model and layer rows
    assert!(h.contains("Whole-model rows (8 rows"), "model rows");
    assert!(h.matches("class=\"sortable\"").count() >= 3);
    // the scenario text (escaped) and the versions
    assert!(h.contains("name: &quot;html-report&quot;"));
    assert!(h.contains(&format!(
        "<td>hetsim</td><td>{}</td>",
        env!("CARGO_PKG_VERSION")
    )));
}

#[test]
fn the_page_fetches_nothing() {
    let h = page();
    for outside in ["src=", "href=", "@import", "url(", "<link", "<iframe"] {
        assert!(
            !h.contains(outside),
            "the page refers to a resource: {outside}"
        );
    }
    // the only URL is the SVG namespace name, which browsers do not fetch
    let urls = h.matches("http").count();
    let namespaces = h.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(urls, namespaces);
}

#[test]
fn a_sweep_directory_gives_a_page_too() {
    let d = dir().join("sweep");
    let s = dir().join("s.ron");
    ok(&hetsim(&[
        "sweep",
        "-q",
        s.to_str().unwrap(),
        "--out",
        d.to_str().unwrap(),
    ]));
    let h = dir().join("sweep.html");
    let said = ok(&hetsim(&[
        "report",
        d.to_str().unwrap(),
        "--out",
        h.to_str().unwrap(),
    ]));
    assert!(said.contains("2 plot(s), 8 table row(s)"), "{said}");
    let h = std::fs::read_to_string(h).unwrap();
    assert!(h.contains("Points (8 rows"));
    assert!(h.contains("id=\"summary-table\""));
    assert!(
        h.contains("name: &quot;html-report&quot;"),
        "scenario from the manifest"
    );
}

/// A swept axis gets its own plots (one per value and integration time), not an average over
/// its values.
#[test]
fn a_swept_axis_gets_a_plot_per_value() {
    let d = dir().join("axes");
    std::fs::create_dir_all(&d).unwrap();
    let s = d.join("axes.ron");
    std::fs::write(
        &s,
        SCENARIO.replace(
            "strategy: [Pipelined, MultiCluster(2)]),",
            "strategy: [Pipelined, MultiCluster(2)],\n axes: [(path: \"hardware.tile.adc.bits\", values: List([6, 8]))]),",
        ),
    )
    .unwrap();
    let out = d.join("sweep");
    ok(&hetsim(&[
        "sweep",
        "-q",
        s.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    let h = d.join("axes.html");
    let said = ok(&hetsim(&[
        "report",
        out.to_str().unwrap(),
        "--out",
        h.to_str().unwrap(),
    ]));
    assert!(said.contains("4 plot(s), 16 table row(s)"), "{said}");
    let h = std::fs::read_to_string(h).unwrap();
    assert!(h.contains("128.0 ns integration time, hardware.tile.adc.bits = 6"));
    assert!(h.contains("512.0 ns integration time, hardware.tile.adc.bits = 8"));
    assert!(
        !h.contains("average several rows"),
        "no averaging over the axis"
    );
}

#[test]
fn bad_inputs_are_named_errors() {
    let d = dir();
    let cases = [
        (d.join("missing.json"), "no such file or directory"),
        (d.join("s.ron"), "not a `hetsim run --json` report"),
        (d.to_path_buf(), "not a sweep directory (no results.csv"),
    ];
    std::fs::write(d.join("s.json"), "{\"a\": 1}").unwrap();
    for (input, says) in cases.into_iter().chain([(
        d.join("s.json"),
        "not a `hetsim run --json` report (no `scenario`",
    )]) {
        let o = hetsim(&["report", input.to_str().unwrap(), "--out", "/dev/null"]);
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{e}");
        assert!(
            e.contains(input.to_str().unwrap()) && e.contains(says),
            "{input:?}: {e}"
        );
    }
}

/// The chromium binary, or None (with a notice) when it is not installed and not required.
fn chromium() -> Option<&'static str> {
    for c in ["chromium", "chromium-browser"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(c);
        }
    }
    assert!(
        std::env::var_os("HETSIM_REQUIRE_CHROMIUM").is_none(),
        "HETSIM_REQUIRE_CHROMIUM is set but chromium is not installed (apt-get install chromium)"
    );
    eprintln!("NOTICE: chromium is not installed: the HTML report's browser test is skipped");
    None
}

fn headless(browser: &str, args: &[&str]) -> Output {
    let profile = dir().join("chromium-profile");
    let mut a = vec![
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--hide-scrollbars".into(),
        "--no-first-run".into(),
        // no connections out: this machine's network is closed, and refused connections
        // would only add noise and time
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-quic".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    a.extend(args.iter().map(|s| s.to_string()));
    a.push(format!("file://{}", dir().join("report.html").display()));
    Command::new(browser).args(&a).output().unwrap()
}

#[test]
fn the_page_renders_in_a_headless_browser() {
    let Some(browser) = chromium() else {
        return;
    };
    // The script ran to its end (it marks the body) and nothing was logged to the console.
    let dom = headless(browser, &["--enable-logging=stderr", "--v=0", "--dump-dom"]);
    let text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        text.contains("<body data-ready=\"yes\">"),
        "the script did not run"
    );
    let log = String::from_utf8_lossy(&dom.stderr);
    for line in log.lines() {
        assert!(
            !(line.contains("CONSOLE") || line.contains("Uncaught")),
            "console message: {line}"
        );
    }
    // A screenshot shows the summary table (its header's colour, #1f4e79, across a band near
    // the top) and a plot (the first series colour, #0072b2, below the table).
    let png = dir().join("report.png");
    let shot = headless(
        browser,
        &[
            "--window-size=1400,1800",
            &format!("--screenshot={}", png.display()),
        ],
    );
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.line_size / info.width as usize;
    let px = |x: u32, y: u32| {
        let i = y as usize * info.line_size + x as usize * channels;
        (buf[i], buf[i + 1], buf[i + 2])
    };
    let near = |p: (u8, u8, u8), q: (u8, u8, u8)| {
        p.0.abs_diff(q.0) < 12 && p.1.abs_diff(q.1) < 12 && p.2.abs_diff(q.2) < 12
    };
    let rows_with = |colour, min: usize| -> Vec<u32> {
        (0..info.height)
            .filter(|&y| (0..info.width).filter(|&x| near(px(x, y), colour)).count() >= min)
            .collect()
    };
    let header = rows_with((0x1f, 0x4e, 0x79), 300);
    let first_header = *header
        .first()
        .expect("no summary table header in the screenshot");
    assert!(first_header < 400, "summary header at y = {first_header}");
    let series = rows_with((0x00, 0x72, 0xb2), 3);
    assert!(
        series.iter().any(|&y| y > first_header + 100),
        "no plot line below the summary table"
    );
}
