//! The run's answer in a few lines: per integration time and strategy, the token batch t with
//! the lowest whole-model latency, its whole-model and worst-layer overhead against pure AIMC
//! and the stage that bounds most of its time; then one headline sentence per integration time
//! naming the best strategy. Computed from a report's rows ([`Report`]); `hetsim run` prints it
//! after the table and puts it in `--json` as `summary`.

use crate::report::{Report, Row};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The best token batch of one strategy at one integration time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Best {
    /// Tile integration time, ns.
    pub integration_time_ns: f64,
    /// Strategy name.
    pub strategy: String,
    /// The t with the lowest whole-model latency (the smaller t on a tie).
    pub tokens_per_batch: usize,
    /// Whole-model latency at that t, ns.
    pub hybrid_ns: f64,
    /// Whole-model overhead against the pure-AIMC baseline at that t.
    pub overhead: f64,
    /// The layer instance with the largest overhead at that t (`-` without layer rows).
    pub worst_layer: String,
    /// Its overhead.
    pub worst_layer_overhead: Option<f64>,
    /// The bound (`tile`, `cluster`, ...) of the linear operations that take most of the
    /// model's hybrid time at that t (their times summed per bound; dynamic operations do not
    /// count).
    pub bound: String,
    /// Energy of the whole model at that t, J.
    pub energy_j: f64,
    /// Its energy against pure AIMC (the energy overhead of LoRA).
    pub energy_overhead: f64,
    /// Its energy-delay product, J s.
    pub edp_js: f64,
    /// Where the whole-model overhead comes from: `overhead - 1` as the sum of its parts.
    pub parts: OverheadParts,
}

/// The whole-model overhead split into parts (`crate::split`): each part's time in the hybrid
/// minus its time in the baseline, over the baseline's latency, so that
/// `1 + static + dynamic + lora + link + wait` is the overhead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct OverheadParts {
    /// Change in the time a tile integrates.
    pub static_part: f64,
    /// Change in the time a dynamic operation runs and no tile.
    pub dynamic: f64,
    /// The time LoRA work alone runs (the baseline has none).
    pub lora: f64,
    /// Change in the time only transfers run.
    pub link: f64,
    /// Change in the time nothing runs.
    pub wait: f64,
}

impl OverheadParts {
    /// The parts of a model (or layer) row's overhead.
    pub fn of(r: &Row) -> OverheadParts {
        let b = r.baseline_ns;
        let f = |h: f64, base: f64| if b > 0.0 { (h - base) / b } else { 0.0 };
        OverheadParts {
            static_part: f(r.static_ns, r.baseline_static_ns),
            dynamic: f(r.dynamic_ns, r.baseline_dynamic_ns),
            lora: f(r.lora_ns, 0.0),
            link: f(r.link_ns, r.baseline_link_ns),
            wait: f(r.wait_ns, r.baseline_wait_ns),
        }
    }

    /// `+0.114 LoRA, +0.002 links`: the parts of at least 0.0005 in size, largest first.
    pub fn text(&self) -> String {
        let mut v = [
            (self.lora, "LoRA alone"),
            (self.dynamic, "dynamic operations"),
            (self.static_part, "tiles"),
            (self.link, "transfers alone"),
            (self.wait, "waiting"),
        ];
        v.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
        let shown: Vec<String> = v
            .iter()
            .filter(|(x, _)| x.abs() >= 0.0005)
            .map(|(x, n)| format!("{x:+.3} {n}"))
            .collect();
        if shown.is_empty() {
            "no part above 0.0005".into()
        } else {
            shown.join(", ")
        }
    }
}

/// Whether (latency, t) `a` beats `b`: lower latency, or equal latency and a smaller t.
pub fn faster(a: (f64, usize), b: (f64, usize)) -> bool {
    a.0 < b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// Per integration time (ascending) and strategy (in report order), the best t ([`Best`]).
pub fn best(report: &Report) -> Vec<Best> {
    let key = |r: &Row| (r.integration_time_ns.to_bits(), r.strategy.clone());
    // strategies in the order the report first lists them
    let mut order: Vec<String> = Vec::new();
    let mut winners: BTreeMap<(u64, usize), &Row> = BTreeMap::new();
    for r in report.rows.iter().filter(|r| r.scope == "model") {
        if !order.contains(&r.strategy) {
            order.push(r.strategy.clone());
        }
        let s = order.iter().position(|x| *x == r.strategy).unwrap_or(0);
        let k = (r.integration_time_ns.to_bits(), s);
        let better = winners.get(&k).is_none_or(|w| {
            faster(
                (r.hybrid_ns, r.tokens_per_batch),
                (w.hybrid_ns, w.tokens_per_batch),
            )
        });
        if better {
            winners.insert(k, r);
        }
    }
    let mut out: Vec<Best> = winners
        .values()
        .map(|m| {
            let same = |r: &&Row| key(r) == key(m) && r.tokens_per_batch == m.tokens_per_batch;
            let worst = report
                .rows
                .iter()
                .filter(same)
                .filter(|r| r.scope == "layer")
                .max_by(|a, b| a.overhead.total_cmp(&b.overhead));
            let mut by_bound: BTreeMap<&str, f64> = BTreeMap::new();
            for r in report.rows.iter().filter(same) {
                if r.scope == "op" && r.kind == "linear" && !r.bound.is_empty() {
                    *by_bound.entry(r.bound.as_str()).or_default() += r.hybrid_ns;
                }
            }
            let bound = by_bound
                .iter()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or("-", |(b, _)| b);
            Best {
                integration_time_ns: m.integration_time_ns,
                strategy: m.strategy.clone(),
                tokens_per_batch: m.tokens_per_batch,
                hybrid_ns: m.hybrid_ns,
                overhead: m.overhead,
                worst_layer: worst.map_or("-".into(), |r| r.layer.clone()),
                worst_layer_overhead: worst.map(|r| r.overhead),
                bound: bound.to_string(),
                energy_j: m.energy_j,
                energy_overhead: m.energy_overhead,
                edp_js: m.edp_js,
                parts: OverheadParts::of(m),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        a.integration_time_ns
            .total_cmp(&b.integration_time_ns)
            .then_with(|| {
                let p = |s: &str| order.iter().position(|x| x == s);
                p(&a.strategy).cmp(&p(&b.strategy))
            })
    });
    out
}

/// One sentence: per integration time, the strategy and t with the lowest whole-model latency
/// and its overhead. None for a report without model rows.
pub fn headline(best: &[Best]) -> Option<String> {
    let mut parts = Vec::new();
    let mut times: Vec<f64> = best.iter().map(|b| b.integration_time_ns).collect();
    times.dedup();
    for it in times {
        let top = best
            .iter()
            .filter(|b| b.integration_time_ns == it)
            .min_by(|a, b| a.hybrid_ns.total_cmp(&b.hybrid_ns))?;
        let bound = if top.bound == "-" {
            String::new()
        } else {
            format!(", {}-bound", top.bound)
        };
        parts.push(format!(
            "at {it} ns, {} with t = {} ({:.3}x{bound}: {})",
            top.strategy,
            top.tokens_per_batch,
            top.overhead,
            top.parts.text()
        ));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "LoRA costs the whole model, against pure AIMC: {}.",
            parts.join("; ")
        )
    })
}

/// The summary as text: a short table of [`best`] and the [`headline`].
pub fn text(report: &Report) -> String {
    let rows = best(report);
    let mut s = String::new();
    if rows.is_empty() {
        return s;
    }
    let head = [
        "t_int ns",
        "strategy",
        "best t",
        "model overhead",
        "worst layer",
        "its overhead",
        "bound",
        "energy mJ",
        "E ovh",
        "EDP uJs",
    ];
    let mut cells: Vec<Vec<String>> = vec![head.iter().map(|h| h.to_string()).collect()];
    for b in &rows {
        cells.push(vec![
            b.integration_time_ns.to_string(),
            b.strategy.clone(),
            b.tokens_per_batch.to_string(),
            format!("{:.3}", b.overhead),
            b.worst_layer.clone(),
            b.worst_layer_overhead
                .map_or("-".into(), |o| format!("{o:.3}")),
            b.bound.clone(),
            format!("{:.3}", b.energy_j * 1e3),
            format!("{:.3}", b.energy_overhead),
            format!("{:.3}", b.edp_js * 1e6),
        ]);
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|c| cells.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let _ = writeln!(
        s,
        "summary: per integration time and strategy, the t with the lowest whole-model latency"
    );
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (v, w))| match c {
                1 | 4 | 6 => format!("{v:<w$}"),
                _ => format!("{v:>w$}"),
            })
            .collect();
        let _ = writeln!(s, "{}", line.join("  ").trim_end());
    }
    if let Some(h) = headline(&rows) {
        let _ = writeln!(s, "{h}");
    }
    if let Some(h) = energy_headline(report) {
        let _ = writeln!(s, "{h}");
    }
    s
}

/// One sentence: per integration time, the combination (strategy and t) with the lowest
/// whole-model energy-delay product, its energy and its energy against pure AIMC (None without
/// model rows or energies).
pub fn energy_headline(report: &Report) -> Option<String> {
    let mut best: Vec<&Row> = Vec::new();
    for r in report
        .rows
        .iter()
        .filter(|r| r.scope == "model" && r.energy_j > 0.0)
    {
        match best
            .iter_mut()
            .find(|b| b.integration_time_ns == r.integration_time_ns)
        {
            Some(b) if r.edp_js < b.edp_js => *b = r,
            Some(_) => {}
            None => best.push(r),
        }
    }
    let parts: Vec<String> = best
        .iter()
        .map(|b| {
            format!(
                "at {} ns, {} with t = {} ({:.3} mJ, {:.3}x the energy of pure AIMC, {:.1} mW)",
                b.integration_time_ns,
                b.strategy,
                b.tokens_per_batch,
                b.energy_j * 1e3,
                b.energy_overhead,
                b.power_w * 1e3
            )
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "Lowest energy-delay product (docs/energy.md): {}.",
            parts.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(strategy: &str, it: f64, t: usize, scope: &str, layer: &str, hybrid: f64) -> Row {
        Row {
            strategy: strategy.into(),
            integration_time_ns: it,
            tokens_per_batch: t,
            scope: scope.into(),
            layer: layer.into(),
            hybrid_ns: hybrid,
            // a 1000 ns baseline at every t, all tile time; the hybrid adds LoRA time alone
            overhead: hybrid / 1000.0,
            baseline_ns: 1000.0,
            baseline_static_ns: 1000.0,
            static_ns: 1000.0,
            lora_ns: hybrid - 1000.0,
            // 1 mJ per us of latency: EDP = hybrid^2 x 1e-15 J s, power 1000 W
            energy_j: hybrid * 1e-6,
            energy_overhead: hybrid / 1000.0,
            edp_js: hybrid * hybrid * 1e-15,
            power_w: 1000.0,
            ..Row::default()
        }
    }

    fn op(strategy: &str, it: f64, t: usize, bound: &str, hybrid: f64) -> Row {
        Row {
            bound: bound.into(),
            kind: "linear".into(),
            ..row(strategy, it, t, "op", "l.0", hybrid)
        }
    }

    /// Two strategies at two integration times, t = 8 and 16: the best t is the one with the
    /// lowest model latency (a tie goes to the smaller t), the worst layer is the largest
    /// layer overhead at that t, the bound is the one with most op time, and the headline
    /// names the best strategy per integration time.
    #[test]
    fn best_t_worst_layer_bound_and_headline() {
        let report = Report {
            rows: vec![
                row("pipelined", 128.0, 8, "model", "(all)", 1200.0),
                row("pipelined", 128.0, 8, "layer", "l.0", 1500.0),
                row("pipelined", 128.0, 8, "layer", "l.1", 1100.0),
                op("pipelined", 128.0, 8, "cluster", 700.0),
                op("pipelined", 128.0, 8, "tile", 300.0),
                op("pipelined", 128.0, 8, "tile", 300.0),
                // a dynamic operation's row does not count towards the bound
                Row {
                    kind: "softmax".into(),
                    ..op("pipelined", 128.0, 8, "tile", 900.0)
                },
                row("pipelined", 128.0, 16, "model", "(all)", 1300.0),
                row("sequential", 128.0, 8, "model", "(all)", 1250.0),
                row("sequential", 128.0, 16, "model", "(all)", 1250.0),
                row("pipelined", 512.0, 8, "model", "(all)", 1050.0),
                row("pipelined", 512.0, 16, "model", "(all)", 1010.0),
                row("sequential", 512.0, 8, "model", "(all)", 1001.0),
            ],
            ..Report::default()
        };
        let b = best(&report);
        let got: Vec<(f64, &str, usize)> = b
            .iter()
            .map(|b| {
                (
                    b.integration_time_ns,
                    b.strategy.as_str(),
                    b.tokens_per_batch,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (128.0, "pipelined", 8),
                (128.0, "sequential", 8),
                (512.0, "pipelined", 16),
                (512.0, "sequential", 8),
            ]
        );
        assert_eq!(
            (b[0].worst_layer.as_str(), b[0].worst_layer_overhead),
            ("l.0", Some(1.5))
        );
        // cluster 700 ns of op time against tile 600 ns
        assert_eq!(b[0].bound, "cluster");
        assert_eq!(b[1].worst_layer, "-");
        assert_eq!(
            headline(&b).unwrap(),
            "LoRA costs the whole model, against pure AIMC: at 128 ns, pipelined with t = 8 \
             (1.200x, cluster-bound: +0.200 LoRA alone); at 512 ns, sequential with t = 8 \
             (1.001x: +0.001 LoRA alone)."
        );
        let t = text(&report);
        assert!(t.contains("summary: per integration time"), "{t}");
        assert!(t.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == [
                "128",
                "pipelined",
                "8",
                "1.200",
                "l.0",
                "1.500",
                "cluster",
                "1.200",
                "1.200",
                "0.001"
            ]));
        // the lowest EDP per integration time: the fastest model rows here
        assert_eq!(
            energy_headline(&report).unwrap(),
            "Lowest energy-delay product (docs/energy.md): at 128 ns, pipelined with t = 8 \
             (1.200 mJ, 1.200x the energy of pure AIMC, 1000000.0 mW); at 512 ns, sequential \
             with t = 8 (1.001 mJ, 1.001x the energy of pure AIMC, 1000000.0 mW)."
        );
        assert!(t.contains("Lowest energy-delay product"), "{t}");
    }

    /// The parts are each part's hybrid time minus its baseline time over the baseline
    /// latency, add up to overhead - 1, and print largest first.
    #[test]
    fn overhead_parts_add_up_and_print_largest_first() {
        // baseline 2000 ns = static 500 + dynamic 1200 + link 100 + wait 200; hybrid 2300 ns =
        // static 500 + dynamic 1300 + LoRA 300 + link 0 + wait 200
        let r = Row {
            hybrid_ns: 2300.0,
            baseline_ns: 2000.0,
            overhead: 1.15,
            static_ns: 500.0,
            dynamic_ns: 1300.0,
            lora_ns: 300.0,
            link_ns: 0.0,
            wait_ns: 200.0,
            baseline_static_ns: 500.0,
            baseline_dynamic_ns: 1200.0,
            baseline_link_ns: 100.0,
            baseline_wait_ns: 200.0,
            ..Row::default()
        };
        let p = OverheadParts::of(&r);
        assert_eq!(
            p,
            OverheadParts {
                static_part: 0.0,
                dynamic: 0.05,
                lora: 0.15,
                link: -0.05,
                wait: 0.0,
            }
        );
        let sum = p.static_part + p.dynamic + p.lora + p.link + p.wait;
        assert!((1.0 + sum - r.overhead).abs() < 1e-12);
        assert_eq!(
            p.text(),
            "+0.150 LoRA alone, +0.050 dynamic operations, -0.050 transfers alone"
        );
        assert_eq!(OverheadParts::default().text(), "no part above 0.0005");
    }

    #[test]
    fn a_report_without_model_rows_has_no_summary() {
        assert!(text(&Report::default()).is_empty());
        assert_eq!(headline(&[]), None);
        assert_eq!(energy_headline(&Report::default()), None);
    }
}
