//! `hetsim tile`: program one AIMC tile (or a tiled matrix) and report its accuracy against
//! the ideal f32 product over time after programming.

use super::emit;
use crate::cli::Mode;
use crate::error::Error;
use hetsim_models::aimc::{self, Matrix, TileConfig};
use std::io::Write;
use std::path::PathBuf;

/// Options of `hetsim tile`.
#[derive(clap::Args, Debug)]
pub struct TileArgs {
    /// Tile configuration (RON); default: the AHWA-LoRA study's 512x512 PCM tile
    /// (models/presets/aimc-ahwa-512.ron).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Weights as a 2-D f32/f64 .npy file, in x out unless --layout says otherwise (a square
    /// matrix needs --layout); default: N(0, 0.05) weights of --shape drawn from --seed.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Orientation of --weights: `in-out` (rows are inputs, y = x W; the default for a
    /// non-square matrix) or `out-in` (rows are outputs, as PyTorch's `nn.Linear.weight`).
    #[arg(long, value_enum, requires = "weights")]
    pub layout: Option<Layout>,
    /// Inputs, tokens x in, as a 1-D or 2-D .npy file; default: --tokens N(0, 1) vectors.
    #[arg(long)]
    pub inputs: Option<PathBuf>,
    /// Shape IN,OUT of generated weights.
    #[arg(long, default_value = "512,128", value_parser = parse_shape)]
    pub shape: (usize, usize),
    /// Number of generated input vectors.
    #[arg(long, default_value_t = 16)]
    pub tokens: usize,
    /// Seed of generated weights and inputs (the tile's noise uses the config's seed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Evaluate at this time after programming only (e.g. 0s, 1h, 1d, 1mo, 1y, 10y);
    /// default: all of 0 s, 1 h, 1 day, 1 month, 1 year, 10 years.
    #[arg(long)]
    pub t_inf: Option<String>,
    /// Number of independent programming draws to average.
    #[arg(long, default_value_t = 10)]
    pub draws: usize,
}

/// How the rows and columns of a weight file map to the layer's inputs and outputs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Rows are inputs, columns outputs: y = x W (the tile's orientation).
    InOut,
    /// Rows are outputs, columns inputs (PyTorch's `nn.Linear.weight`): transposed on load.
    OutIn,
}

/// Orients a weight file's matrix as `in x out`: a square matrix needs an explicit layout,
/// any other is read as `in-out` unless `out-in` is given; returns the matrix and the sentence
/// that says how it was read.
fn orient(
    m: Matrix,
    layout: Option<Layout>,
    path: &std::path::Path,
) -> Result<(Matrix, String), Error> {
    let (r, c) = (m.rows(), m.cols());
    let layout = match layout {
        Some(l) => l,
        None if r == c => {
            return Err(Error::Usage {
                option: "--weights".into(),
                message: format!(
                    "{}: a square {r} x {c} matrix can be read either way; give --layout in-out \
                     (rows are inputs, y = x W) or --layout out-in (rows are outputs, as \
                     PyTorch's nn.Linear.weight)",
                    path.display()
                ),
            })
        }
        None => Layout::InOut,
    };
    Ok(match layout {
        Layout::InOut => (
            m,
            format!(
                "{}: {r} x {c}, read as in x out (rows are inputs)",
                path.display()
            ),
        ),
        Layout::OutIn => {
            let v = m.as_slice();
            let t: Vec<f32> = (0..c)
                .flat_map(|j| (0..r).map(move |i| v[i * c + j]))
                .collect();
            let m = Matrix::new(c, r, t).map_err(|e| Error::Usage {
                option: "--layout".into(),
                message: e.to_string(),
            })?;
            (
                m,
                format!(
                    "{}: {r} x {c}, read as out x in (rows are outputs): {c} inputs, {r} outputs",
                    path.display()
                ),
            )
        }
    })
}

fn parse_shape(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s
        .split_once([',', 'x'])
        .ok_or_else(|| format!("{s:?}: expected IN,OUT such as 512,128"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{v:?} in {s:?} is not a positive integer"))
    };
    Ok((p(a)?, p(b)?))
}

/// The most elements `hetsim tile` generates for one matrix (weights or inputs): 2^26, 256 MiB
/// of f32. Larger matrices come from .npy files.
pub const MAX_GENERATED: usize = 1 << 26;

fn generated_size(option: &str, rows: usize, cols: usize) -> Result<(), Error> {
    match rows.checked_mul(cols) {
        Some(n) if n <= MAX_GENERATED => Ok(()),
        _ => Err(Error::Usage {
            option: option.into(),
            message: format!(
                "{rows} x {cols} values is more than the {MAX_GENERATED} this command generates; \
                 give a smaller size or a .npy file"
            ),
        }),
    }
}

/// Runs the command; prints the mapping and accuracy table. Options and input files are checked
/// before any matrix is generated or programmed; [`Mode::Check`] stops there.
pub fn run(args: &TileArgs, mode: Mode, out: &mut dyn Write) -> Result<i32, Error> {
    let cfg = match &args.config {
        Some(p) => TileConfig::from_ron_file(p)?,
        None => TileConfig::default(),
    };
    let weights = match args.weights.as_deref() {
        Some(p) => Some(orient(aimc::read_npy(p)?, args.layout, p)?),
        None => None,
    };
    let inputs = args.inputs.as_deref().map(aimc::read_npy).transpose()?;
    if let (Some((w, read_as)), Some(x)) = (&weights, &inputs) {
        if x.cols() != w.rows() {
            let hint = if args.layout.is_none() && x.cols() == w.cols() {
                "; the columns match: is the file out x in (then give --layout out-in)?"
            } else {
                ""
            };
            return Err(Error::Usage {
                option: "--inputs".into(),
                message: format!(
                    "the inputs have {} features per token, the weights {} inputs ({read_as}){hint}",
                    x.cols(),
                    w.rows()
                ),
            });
        }
    }
    let (weights, read_as) = match weights {
        Some((w, s)) => (Some(w), Some(s)),
        None => (None, None),
    };
    let rows = weights.as_ref().map_or(args.shape.0, Matrix::rows);
    if weights.is_none() {
        generated_size("--shape", args.shape.0, args.shape.1)?;
    }
    if inputs.is_none() {
        if args.tokens == 0 {
            return Err(Error::Usage {
                option: "--tokens".into(),
                message: "must be at least 1".into(),
            });
        }
        generated_size("--tokens", args.tokens, rows)?;
    }
    if args.draws == 0 {
        return Err(Error::Usage {
            option: "--draws".into(),
            message: "must be at least 1".into(),
        });
    }
    let times: Vec<f64> = match &args.t_inf {
        Some(t) => vec![aimc::parse_duration(t)?],
        None => aimc::REPORT_TIMES_S.to_vec(),
    };
    if mode == Mode::Check {
        return Ok(0);
    }
    let weights = weights
        .unwrap_or_else(|| Matrix::random_normal(args.shape.0, args.shape.1, 0.05, args.seed));
    let inputs = inputs.unwrap_or_else(|| {
        Matrix::random_normal(args.tokens, rows, 1.0, aimc::derive_seed(args.seed, 1))
    });
    if let Some(s) = &read_as {
        emit(out, format_args!("weights: {s}\n"))?;
    }
    let report = aimc::accuracy_report(&cfg, &weights, &inputs, &times, args.draws)?;
    if report.zero_signal {
        let what = if weights.as_slice().iter().all(|&v| v == 0.0) {
            "every weight is zero"
        } else {
            "the ideal output is zero"
        };
        super::note(format_args!(
            "warning: {what}: there is no signal to compare with, so the errors are absolute \
             (the noise alone), not relative"
        ));
    }
    emit(out, format_args!("{report}\n"))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(parse_shape("512,128"), Ok((512, 128)));
        assert_eq!(parse_shape("128x128"), Ok((128, 128)));
        assert!(parse_shape("0,3").is_err());
        assert!(parse_shape("512").is_err());
        assert!(generated_size("--shape", 8192, 8192).is_ok());
        assert!(generated_size("--shape", 8193, 8192).is_err());
        assert!(generated_size("--tokens", usize::MAX, 2).is_err());
    }
}
