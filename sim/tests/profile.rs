//! `hetsim kernel --profile`: the profile is exact, i.e. its cycles per core add up to the
//! core's cycles in the run's report, its instructions to the retired instructions and its
//! stalls to the report's stalls by cause; the folded output carries the same cycles.

use std::collections::BTreeMap;

mod common;
use common::hetsim;

/// The per-core rows of the run's report: core -> (cycles, instructions, stalls by column).
fn report_rows(text: &str) -> BTreeMap<usize, (u64, u64, BTreeMap<String, u64>)> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("core "));
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let mut rows = BTreeMap::new();
    for l in lines {
        let cols: Vec<&str> = l.split_whitespace().collect();
        let Some(Ok(core)) = cols.first().map(|c| c.parse::<usize>()) else {
            break;
        };
        let stalls = header[5..]
            .iter()
            .zip(&cols[5..])
            .map(|(h, v)| (h.to_string(), v.parse().unwrap()))
            .collect();
        rows.insert(
            core,
            (cols[1].parse().unwrap(), cols[2].parse().unwrap(), stalls),
        );
    }
    rows
}

/// The rows of one profile table (the lines after `title`, up to a blank line or the end):
/// function -> (cycles, instructions, stall total, stalls by column).
type Table = BTreeMap<String, (u64, u64, u64, BTreeMap<String, u64>)>;

fn profile_table(text: &str, title: &str) -> Table {
    let mut lines = text.lines().skip_while(|l| !l.starts_with(title)).skip(1);
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header[..6],
        ["function", "cycles", "%", "instrs", "IPC", "stalls"]
    );
    let mut rows = Table::new();
    for l in lines.take_while(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = l.split_whitespace().collect();
        let stalls = header[6..]
            .iter()
            .zip(&cols[6..])
            .map(|(h, v)| (h.to_string(), v.parse().unwrap()))
            .collect();
        rows.insert(
            cols[0].to_string(),
            (
                cols[1].parse().unwrap(),
                cols[3].parse().unwrap(),
                cols[5].parse().unwrap(),
                stalls,
            ),
        );
    }
    rows
}

#[test]
fn profile_cycles_instructions_and_stalls_add_up_to_the_report() {
    let folded = std::env::temp_dir().join(format!("hetsim-profile-{}.folded", std::process::id()));
    let (code, out, err) = hetsim(&[
        "kernel",
        "kernels/build/printf_demo_cluster.elf",
        "--profile-per-core",
        "--profile-folded",
        folded.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let report = report_rows(&out);
    assert_eq!(report.len(), 9, "{out}");
    let folded_text = std::fs::read_to_string(&folded).unwrap();
    std::fs::remove_file(&folded).unwrap();
    let mut folded_cycles: BTreeMap<usize, u64> = BTreeMap::new();
    for l in folded_text.lines() {
        let (stack, n) = l.rsplit_once(' ').unwrap();
        let (core, _function) = stack.split_once(';').unwrap();
        let core: usize = core.strip_prefix("core").unwrap().parse().unwrap();
        *folded_cycles.entry(core).or_default() += n.parse::<u64>().unwrap();
    }
    let (mut all_cycles, mut all_instrs) = (0, 0);
    for (&core, (cycles, instrs, stalls)) in &report {
        let table = profile_table(&out, &format!("profile, core {core}:"));
        let total = &table["(total)"];
        let functions: Vec<_> = table.iter().filter(|(n, _)| *n != "(total)").collect();
        let sum_cycles: u64 = functions.iter().map(|(_, r)| r.0).sum();
        let sum_instrs: u64 = functions.iter().map(|(_, r)| r.1).sum();
        assert_eq!(
            (sum_cycles, total.0),
            (*cycles, *cycles),
            "core {core}\n{out}"
        );
        assert_eq!(
            (sum_instrs, total.1),
            (*instrs, *instrs),
            "core {core}\n{out}"
        );
        assert_eq!(folded_cycles[&core], *cycles, "core {core}\n{folded_text}");
        // Each function's cycles are its issue cycles plus its stall cycles.
        for (name, r) in &functions {
            assert_eq!(r.0, r.1 + r.2, "core {core} {name}\n{out}");
        }
        // Stalls by cause: every cause the profile lists sums to the report's column, and
        // the causes it omits are zero in the report.
        for (cause, &n) in stalls {
            let sum: u64 = functions
                .iter()
                .map(|(_, r)| r.3.get(cause).copied().unwrap_or(0))
                .sum();
            assert_eq!(sum, n, "core {core} stall {cause}\n{out}");
        }
        all_cycles += cycles;
        all_instrs += instrs;
    }
    let all = profile_table(&out, "profile, all 9 cores");
    assert_eq!(
        (all["(total)"].0, all["(total)"].1),
        (all_cycles, all_instrs),
        "{out}"
    );
    // The printf demo's formatting code shows up as functions of its own.
    assert!(all["hetsim_printf"].1 > 0, "{out}");
    assert!(
        all.contains_key("_start") && all.contains_key("main"),
        "{out}"
    );
    assert!(out.contains(&format!("{all_instrs} instructions")), "{out}");
}

#[test]
fn profile_is_printed_only_when_asked_and_folded_alone_prints_no_table() {
    let (code, out, err) = hetsim(&["kernel", "kernels/build/lora.elf"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("profile,"), "{out}");
    let (code, out, err) = hetsim(&["kernel", "kernels/build/lora.elf", "--profile"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("profile, all 9 cores"), "{out}");
    assert!(!out.contains("profile, core 0:"), "{out}");
    let main = &profile_table(&out, "profile, all 9 cores")["main"];
    assert!(main.0 > 0 && main.1 > 0, "{out}");

    let folded = std::env::temp_dir().join(format!("hetsim-profile-{}.only", std::process::id()));
    let (code, out, err) = hetsim(&[
        "kernel",
        "kernels/build/lora.elf",
        "--profile-folded",
        folded.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("profile,"), "{out}");
    let text = std::fs::read_to_string(&folded).unwrap();
    std::fs::remove_file(&folded).unwrap();
    assert!(text.lines().any(|l| l.starts_with("core8;main ")), "{text}");

    // An unwritable folded file is an error naming the path.
    let (code, _, err) = hetsim(&[
        "kernel",
        "kernels/build/lora.elf",
        "--profile-folded",
        "/nonexistent-dir/p.folded",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent-dir/p.folded"), "{err}");
}
