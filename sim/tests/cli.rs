//! The `hetsim` binary end to end: exit statuses, summaries and error messages.

mod common;
use common::hetsim;

#[test]
fn exec_reports_the_exit_code_and_instruction_count() {
    let (code, _, err) = hetsim(&["exec", "kernels/build/lora_matvec.elf"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("exited with code 0 (tohost = 0x1) after"),
        "{err}"
    );
}

#[test]
fn exec_watchdog_and_missing_file_are_errors() {
    let (code, _, err) = hetsim(&[
        "exec",
        "kernels/build/lora_matvec.elf",
        "--max-instructions",
        "100",
    ]);
    assert_eq!(code, 125);
    assert!(
        err.contains("instruction limit of 100 reached at pc 0x"),
        "{err}"
    );
    let (code, _, err) = hetsim(&["exec", "no/such.elf"]);
    assert_eq!(code, 125);
    assert!(err.contains("no/such.elf"), "{err}");
    let (code, _, err) = hetsim(&["exec", "kernels/build/lora_matvec.elf", "--ram", "12"]);
    assert_eq!(code, 125);
    assert!(err.contains("--ram"), "{err}");
}

#[test]
fn exec_trace_shows_register_writes() {
    let (code, _, err) = hetsim(&["exec", "kernels/build/rv32ui-upper.elf", "--trace"]);
    assert_eq!(code, 0, "{err}");
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with("0x80000000: "), "{first}");
    assert!(
        err.lines().any(|l| l.contains("lui ") && l.contains('=')),
        "no lui write traced"
    );
}

#[test]
fn tile_prints_the_error_table_and_rejects_bad_times() {
    let (code, out, err) = hetsim(&["tile", "--shape", "64,32", "--tokens", "4", "--draws", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rel L2 err") && out.contains("10y"), "{out}");
    let (code, _, err) = hetsim(&["tile", "--t-inf=-1s"]);
    assert_eq!(code, 125, "{err}");
}

/// Weight files: a square matrix needs `--layout`; `out-in` is the transpose of `in-out` (same
/// numbers for W^T read as out-in as for W read as in-out); a mismatch with the inputs
/// suggests the other layout; all-zero weights get a warning and absolute errors.
#[test]
fn tile_weight_files_state_their_orientation() {
    use hetsim_models::aimc::{write_npy, Matrix};
    let dir = std::env::temp_dir().join(format!("hetsim-cli-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = |n: &str| dir.join(n).display().to_string();
    let (i, o) = (24, 8);
    let w = Matrix::random_normal(i, o, 0.05, 7);
    let wt: Vec<f32> = (0..o)
        .flat_map(|c| (0..i).map(move |r| (r, c)))
        .map(|(r, c)| w.as_slice()[r * o + c])
        .collect();
    write_npy(&dir.join("w.npy"), &w).unwrap();
    write_npy(&dir.join("wt.npy"), &Matrix::new(o, i, wt).unwrap()).unwrap();
    write_npy(&dir.join("sq.npy"), &Matrix::random_normal(16, 16, 0.05, 3)).unwrap();
    write_npy(
        &dir.join("zero.npy"),
        &Matrix::new(i, o, vec![0.0; i * o]).unwrap(),
    )
    .unwrap();
    write_npy(&dir.join("x.npy"), &Matrix::random_normal(3, i, 1.0, 5)).unwrap();
    let base = ["tile", "--t-inf", "0", "--draws", "1"];
    let run = |extra: &[&str]| hetsim(&[&base[..], extra].concat());

    let (code, _, err) = run(&["--weights", &p("sq.npy")]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("--layout in-out") && err.contains("square 16 x 16"),
        "{err}"
    );
    let (code, out, err) = run(&["--weights", &p("sq.npy"), "--layout", "in-out"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("read as in x out"), "{out}");

    let (code, a, err) = run(&["--weights", &p("w.npy"), "--inputs", &p("x.npy")]);
    assert_eq!(code, 0, "{err}");
    assert!(a.contains("24 x 8, read as in x out"), "{a}");
    let args = [
        "--weights",
        &p("wt.npy"),
        "--inputs",
        &p("x.npy"),
        "--layout",
        "out-in",
    ];
    let (code, b, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(b.contains("8 x 24, read as out x in"), "{b}");
    let table = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(
        table(&a),
        table(&b),
        "W in-out and W^T out-in must give the same errors"
    );

    let (code, _, err) = run(&["--weights", &p("wt.npy"), "--inputs", &p("x.npy")]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("give --layout out-in"), "{err}");

    let (code, out, err) = run(&["--weights", &p("zero.npy")]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: every weight is zero"), "{err}");
    assert!(
        out.contains("abs L2 err") && !out.contains("rel L2 err"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kernel_runs_on_both_presets_and_binds_symbols() {
    let dir = std::env::temp_dir().join(format!("hetsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("y.npy");
    let out_arg = format!("lora_Y:64={}", out.display());
    let (code, stdout, err) = hetsim(&["kernel", "kernels/build/lora.elf", "--output", &out_arg]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains("exit code 0") && stdout.contains("bank"),
        "{stdout}"
    );
    // 64 bytes = 16 f32 in a 1 x 16 .npy: 128-byte v1 header + 64 bytes of data.
    assert_eq!(
        std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0),
        128 + 64
    );
    let (code, stdout, err) = hetsim(&[
        "kernel",
        "kernels/build/lora.elf",
        "--cluster",
        "models/presets/cluster-pulp.ron",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("exit code 0"), "{stdout}");
    // A raw input file bound to a symbol that does not exist.
    let f = dir.join("x.bin");
    std::fs::write(&f, [0u8; 8]).expect("write");
    let in_arg = format!("no_such_symbol={}", f.display());
    let (code, _, err) = hetsim(&["kernel", "kernels/build/lora.elf", "--input", &in_arg]);
    assert_eq!(code, 125);
    assert!(
        err.contains("no_such_symbol") && err.contains("no such symbol"),
        "{err}"
    );
    let (code, _, err) = hetsim(&["kernel", "kernels/build/lora.elf", "--input", "oops"]);
    assert_eq!(code, 125);
    assert!(err.contains("SYMBOL=FILE"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kernel_trace_lists_issue_cycles_per_core() {
    let (code, _, err) = hetsim(&["kernel", "kernels/build/lora.elf", "--trace"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() > 100_000, "{} trace lines", lines.len());
    // Every core appears, and issue cycles never go backwards.
    for core in 0..9 {
        let tag = format!(" core {core:<2} ");
        assert!(
            lines.iter().any(|l| l.contains(&tag)),
            "core {core} missing"
        );
    }
    let cycles: Vec<u64> = lines
        .iter()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(cycles.windows(2).all(|w| w[0] <= w[1]));
}

/// Issue 16: output paths are checked before anything runs (the table never appears when
/// --csv points into a missing directory or --json at a directory), and a scenario with
/// sweep.axes is refused by `run` with the way to run it, while `validate` counts its points.
#[test]
fn outputs_and_sweep_axes_are_checked_before_the_run() {
    let main = "scenarios/ahwa-lora-mobilebert.ron";
    let (code, out, err) = hetsim(&["run", main, "--csv", "/nonexistent/x.csv"]);
    assert_eq!(code, 125);
    assert!(out.is_empty(), "the run started: {out}");
    assert!(
        err.contains("--csv: /nonexistent/x.csv: the directory /nonexistent does not exist"),
        "{err}"
    );
    let (code, out, err) = hetsim(&["run", main, "--json", "docs"]);
    assert_eq!(code, 125);
    assert!(
        out.is_empty() && err.contains("docs: is a directory"),
        "{err}"
    );
    // A writable path that does not exist yet is probed and left absent on a failed run.
    let probe = std::env::temp_dir().join(format!("hetsim-probe-{}.csv", std::process::id()));
    let (code, _, _) = hetsim(&[
        "run",
        "no/such/scenario.ron",
        "--csv",
        probe.to_str().unwrap(),
    ]);
    assert_eq!(code, 125);
    assert!(!probe.exists());

    let dir = std::env::temp_dir().join(format!("hetsim-axes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sc = dir.join("axes.ron");
    std::fs::write(&sc, common::sweep_scenario("axes")).unwrap();
    let sc = sc.to_str().unwrap();
    let (code, out, err) = hetsim(&["run", sc]);
    assert_eq!(code, 125);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("has sweep.axes (1 axis/axes)") && err.contains("hetsim sweep"),
        "{err}"
    );
    // 16 combinations x 3 ADC resolutions = 48 points.
    let (code, out, err) = hetsim(&["validate", sc]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("16 combination(s); with sweep.axes, 48 point(s) for `hetsim sweep`"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
