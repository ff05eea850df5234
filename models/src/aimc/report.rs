//! Accuracy of a layer on AIMC tiles against the ideal f32 product, over time after
//! programming and over independent noise draws; and the duration parser the CLI uses.

use std::fmt;

use super::analog::{AnalogMatrix, Latency, MappingReport};
use super::config::TileConfig;
use super::error::{AimcError, Result};
use super::matrix::{reference_mvm, Matrix};
use super::rng::derive_seed;

/// The study's evaluation times in seconds: 0 s, 1 h, 1 day, 1 month (30 d), 1 year (365 d),
/// 10 years.
pub const REPORT_TIMES_S: [f64; 6] = [
    0.0,
    3_600.0,
    86_400.0,
    2_592_000.0,
    31_536_000.0,
    315_360_000.0,
];

/// Error statistics at one inference time.
#[derive(Debug, Clone, PartialEq)]
pub struct AccuracyRow {
    /// Inference time, s after programming.
    pub t_inf_s: f64,
    /// Mean over draws of `||y - y_ideal|| / ||y_ideal||` (all tokens and outputs together).
    pub rel_l2_mean: f64,
    /// Sample standard deviation of that error over draws (0 for one draw).
    pub rel_l2_std: f64,
    /// Mean over draws of `10 log10(||y_ideal||^2 / ||y - y_ideal||^2)` in dB.
    pub snr_db_mean: f64,
}

/// Accuracy of one layer over time; `Display` renders a table.
#[derive(Debug, Clone, PartialEq)]
pub struct AccuracyReport {
    /// Tokens (rows of the input batch).
    pub tokens: usize,
    /// Independent programming draws averaged.
    pub draws: usize,
    /// How the layer was mapped onto tiles.
    pub mapping: MappingReport,
    /// Latency of one MVM with one analog pass per tile.
    pub mvm_latency: Latency,
    /// One row per requested time, in the order given.
    pub rows: Vec<AccuracyRow>,
    /// The ideal output is all zero (zero weights or zero inputs): the errors are then absolute
    /// L2 norms of the output (the noise alone), not relative, and the SNR is -inf.
    pub zero_signal: bool,
}

/// Renders seconds in the largest unit that divides them evenly (s, h, d, mo, y).
pub fn format_duration(s: f64) -> String {
    for (unit, secs) in [
        ("y", 31_536_000.0),
        ("mo", 2_592_000.0),
        ("d", 86_400.0),
        ("h", 3_600.0),
    ] {
        if s >= secs && (s / secs).fract() == 0.0 {
            return format!("{}{unit}", s / secs);
        }
    }
    format!("{s}s")
}

impl fmt::Display for AccuracyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.mapping)?;
        writeln!(
            f,
            "{} token(s), mean of {} draw(s); one MVM: {} ns",
            self.tokens,
            self.draws,
            self.mvm_latency.total_ns()
        )?;
        let err = if self.zero_signal {
            writeln!(
                f,
                "the ideal output is zero: errors are absolute L2 norms (the noise alone)"
            )?;
            "abs L2 err"
        } else {
            "rel L2 err"
        };
        writeln!(
            f,
            "{:>8}  {:>12}  {:>12}  {:>9}",
            "t_inf", err, "std", "SNR dB"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:>8}  {:>12.6}  {:>12.6}  {:>9.2}",
                format_duration(r.t_inf_s),
                r.rel_l2_mean,
                r.rel_l2_std,
                r.snr_db_mean
            )?;
        }
        Ok(())
    }
}

/// Programs `weights` (`in x out`) `draws` times (draw d uses seed
/// `derive_seed(cfg.seed, d)`), evaluates the `inputs` batch (`tokens x in`) at every time in
/// `times_s`, and compares with the plain f32 product of the unclipped weights
/// ([`reference_mvm`] with a single row block). SNR is `+inf` when the error is 0.
pub fn accuracy_report(
    cfg: &TileConfig,
    weights: &Matrix,
    inputs: &Matrix,
    times_s: &[f64],
    draws: usize,
) -> Result<AccuracyReport> {
    if draws == 0 {
        return Err(AimcError::InvalidArgument {
            name: "draws",
            value: "0".into(),
            reason: "must be at least 1",
        });
    }
    for &t in times_s {
        if !(t.is_finite() && t >= 0.0) {
            return Err(AimcError::InvalidTime {
                what: "report time",
                value: t,
            });
        }
    }
    if inputs.cols() != weights.rows() {
        return Err(AimcError::ShapeMismatch {
            what: "inputs",
            expected: format!(
                "tokens x {} (weights are {} x {})",
                weights.rows(),
                weights.rows(),
                weights.cols()
            ),
            found: format!("{} x {}", inputs.rows(), inputs.cols()),
        });
    }
    inputs.check_finite("inputs")?;
    let mut ideal = Vec::with_capacity(inputs.rows() * weights.cols());
    for t in 0..inputs.rows() {
        let x = inputs.row(t).unwrap_or(&[]);
        ideal.extend(reference_mvm(weights, x, weights.rows())?);
    }
    let signal: f64 = ideal.iter().map(|v| f64::from(*v) * f64::from(*v)).sum();
    let mut errs = vec![Vec::with_capacity(draws); times_s.len()];
    let mut snrs = vec![Vec::with_capacity(draws); times_s.len()];
    let mut mapping = None;
    let mut mvm_latency = Latency::default();
    for d in 0..draws {
        let c = TileConfig {
            seed: derive_seed(cfg.seed, d as u64),
            ..cfg.clone()
        };
        let mut m = AnalogMatrix::program(&c, weights)?;
        if mapping.is_none() {
            mapping = Some(m.mapping().clone());
            mvm_latency = m.mvm_latency(1);
        }
        for (k, &t) in times_s.iter().enumerate() {
            let (y, _) = m.mvm_batch(inputs, t)?;
            let noise: f64 = y
                .as_slice()
                .iter()
                .zip(&ideal)
                .map(|(a, b)| {
                    let e = f64::from(*a) - f64::from(*b);
                    e * e
                })
                .sum();
            let rel = if signal > 0.0 {
                (noise / signal).sqrt()
            } else {
                noise.sqrt()
            };
            let snr = 10.0 * (signal / noise).log10();
            if let (Some(e), Some(s)) = (errs.get_mut(k), snrs.get_mut(k)) {
                e.push(rel);
                s.push(if noise == 0.0 { f64::INFINITY } else { snr });
            }
        }
    }
    let rows = times_s
        .iter()
        .zip(errs.iter().zip(&snrs))
        .map(|(&t, (e, s))| {
            let n = e.len() as f64;
            let mean = e.iter().sum::<f64>() / n;
            let std = if e.len() > 1 {
                (e.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt()
            } else {
                0.0
            };
            AccuracyRow {
                t_inf_s: t,
                rel_l2_mean: mean,
                rel_l2_std: std,
                snr_db_mean: s.iter().sum::<f64>() / n,
            }
        })
        .collect();
    let Some(mapping) = mapping else {
        // draws >= 1, so a matrix was always programmed.
        return Err(AimcError::InvalidArgument {
            name: "draws",
            value: "0".into(),
            reason: "must be at least 1",
        });
    };
    Ok(AccuracyReport {
        tokens: inputs.rows(),
        draws,
        mapping,
        mvm_latency,
        rows,
        zero_signal: signal == 0.0,
    })
}

/// Parses a duration such as `0`, `250ns`, `3600s`, `90m`, `1h`, `1d`, `1w`, `1mo`, `1y`,
/// `10y` or `1.5h` into seconds. Units: `ns`, `us`, `ms`, `s` (default), `m` (minute), `h`,
/// `d`, `w` (7 d), `mo` (30 d), `y` (365 d).
pub fn parse_duration(text: &str) -> Result<f64> {
    let err = |reason| AimcError::Duration {
        input: text.to_string(),
        reason,
    };
    let s = text.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(err("missing number"));
    }
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| err("the number is not a decimal number"))?;
    // (multiplier, divisor): sub-second units divide so that e.g. 250ns is exactly 250e-9.
    let (mul, div) = match unit {
        "" | "s" => (1.0, 1.0),
        "ns" => (1.0, 1e9),
        "us" => (1.0, 1e6),
        "ms" => (1.0, 1e3),
        "m" | "min" => (60.0, 1.0),
        "h" => (3_600.0, 1.0),
        "d" => (86_400.0, 1.0),
        "w" => (604_800.0, 1.0),
        "mo" => (2_592_000.0, 1.0),
        "y" => (31_536_000.0, 1.0),
        _ => return Err(err("unknown unit (use ns, us, ms, s, m, h, d, w, mo or y)")),
    };
    let secs = value * mul / div;
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(err("must be finite and not negative"));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aimc::config::{Clipping, MappingConfig};

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1y").unwrap(), 31_536_000.0);
        assert_eq!(parse_duration("10y").unwrap(), 315_360_000.0);
        assert_eq!(parse_duration("1d").unwrap(), 86_400.0);
        assert_eq!(parse_duration("3600s").unwrap(), 3_600.0);
        assert_eq!(parse_duration("3600").unwrap(), 3_600.0);
        assert_eq!(parse_duration("1h").unwrap(), 3_600.0);
        assert_eq!(parse_duration("1mo").unwrap(), 2_592_000.0);
        assert_eq!(parse_duration("1.5h").unwrap(), 5_400.0);
        assert_eq!(parse_duration("250ns").unwrap(), 250e-9);
        for bad in ["", "y", "1x", "-1h", "nanh", "1e400s"] {
            let e = parse_duration(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        assert_eq!(format_duration(31_536_000.0), "1y");
        assert_eq!(format_duration(2_592_000.0), "1mo");
        assert_eq!(format_duration(0.0), "0s");
    }

    #[test]
    fn ideal_tile_has_zero_error_and_noise_grows_with_drift() {
        let w = Matrix::random_normal(300, 200, 0.05, 1);
        let x = Matrix::random_normal(8, 300, 1.0, 2);
        let cfg = TileConfig {
            rows: 256,
            cols: 256,
            ..TileConfig::ideal()
        };
        let r = accuracy_report(&cfg, &w, &x, &[0.0, 3600.0], 2).unwrap();
        assert_eq!(r.mapping.tile_count(), 2);
        // Two row blocks are summed block-wise, so the result may differ from the plain dot
        // product by f32 rounding only.
        assert!(r.rows.iter().all(|row| row.rel_l2_mean < 1e-6), "{r}");
        let cfg = TileConfig {
            rows: 256,
            cols: 256,
            mapping: MappingConfig {
                clipping: Clipping::Off,
                ..MappingConfig::default()
            },
            drift_compensation: crate::aimc::DriftCompensation::Off,
            ..TileConfig::default()
        };
        let r = accuracy_report(&cfg, &w, &x, &REPORT_TIMES_S, 2).unwrap();
        let text = r.to_string();
        assert!(text.contains("10y") && text.contains("SNR dB"), "{text}");
        let first = &r.rows[0];
        let last = &r.rows[5];
        // Without compensation, drift shrinks the outputs: the error grows with time.
        assert!(first.rel_l2_mean < last.rel_l2_mean, "{text}");
        assert!(first.snr_db_mean > last.snr_db_mean, "{text}");
        assert!(first.rel_l2_mean > 0.0 && first.rel_l2_mean < 0.5, "{text}");
    }

    #[test]
    fn report_rejects_bad_arguments() {
        let w = Matrix::random_normal(4, 4, 1.0, 1);
        let x = Matrix::random_normal(2, 4, 1.0, 2);
        let cfg = TileConfig::default();
        assert!(accuracy_report(&cfg, &w, &x, &[0.0], 0).is_err());
        assert!(accuracy_report(&cfg, &w, &x, &[-1.0], 1).is_err());
        let e = accuracy_report(&cfg, &w, &Matrix::zeros(2, 5), &[0.0], 1).unwrap_err();
        assert!(e.to_string().contains("inputs"), "{e}");
    }
}
