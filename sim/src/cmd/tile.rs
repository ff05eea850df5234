//! `hetsim tile`: program one AIMC tile (or a tiled matrix) and report its accuracy against
//! the ideal f32 product over time after programming.

use super::{emit, note};
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
    /// Weights as a 2-D f32/f64 .npy file, in x out (rows are inputs, y = x W) unless
    /// --layout out-in says otherwise; a square matrix needs --layout. Default: N(0, 0.05)
    /// weights of --shape drawn from --seed.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Orientation of --weights: in-out (rows are inputs) or out-in (rows are outputs, as
    /// PyTorch's nn.Linear.weight and safetensors checkpoints store it; transposed here).
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

/// Orientation of a weight file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// Rows are inputs: `in x out`, y = x W.
    InOut,
    /// Rows are outputs: `out x in` (PyTorch `nn.Linear.weight`).
    OutIn,
}

/// `w` as `in x out`: as it is for [`Layout::InOut`], transposed for [`Layout::OutIn`]; a
/// square matrix without a layout is a usage error (the orientation cannot be told).
fn oriented(w: Matrix, layout: Option<Layout>, file: &std::path::Path) -> Result<Matrix, Error> {
    match layout {
        Some(Layout::OutIn) => Ok(Matrix::from_fn(w.cols(), w.rows(), |i, o| {
            w.get(o, i).unwrap_or(0.0)
        })),
        Some(Layout::InOut) => Ok(w),
        None if w.rows() == w.cols() => Err(Error::Usage {
            option: "--weights".into(),
            message: format!(
                "{} is {} x {} (square), so its orientation cannot be told; give --layout \
                 in-out (rows are inputs, y = x W) or --layout out-in (rows are outputs, as \
                 PyTorch's nn.Linear.weight)",
                file.display(),
                w.rows(),
                w.cols()
            ),
        }),
        None => Ok(w),
    }
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
    let weights = match &args.weights {
        Some(p) => Some(oriented(aimc::read_npy(p)?, args.layout, p)?),
        None => None,
    };
    let inputs = args.inputs.as_deref().map(aimc::read_npy).transpose()?;
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
    if let Some(p) = &args.weights {
        note(format_args!(
            "weights {}: {} inputs x {} outputs (y = x W{})",
            p.display(),
            weights.rows(),
            weights.cols(),
            match args.layout {
                Some(Layout::OutIn) => "; the file's out x in rows transposed",
                Some(Layout::InOut) => "",
                None => "; rows are inputs: --layout out-in for a PyTorch weight",
            }
        ));
    }
    if weights.as_slice().iter().all(|&v| v == 0.0) {
        note(format_args!(
            "warning: every weight is 0: the ideal product is 0, so relative errors say \
             nothing; no accuracy table"
        ));
        return Ok(0);
    }
    let report = aimc::accuracy_report(&cfg, &weights, &inputs, &times, args.draws)?;
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

    #[test]
    fn layouts() {
        let f = std::path::Path::new("w.npy");
        // 2 x 3 in-out stays; out-in [[1 2 3] [4 5 6]] (2 outputs of 3 inputs) becomes 3 x 2
        let w = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(oriented(w.clone(), None, f).unwrap(), w);
        let t = oriented(w, Some(Layout::OutIn), f).unwrap();
        assert_eq!((t.rows(), t.cols()), (3, 2));
        assert_eq!(t.as_slice(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        // square: refused without a layout, kept or transposed with one
        let sq = Matrix::new(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let e = oriented(sq.clone(), None, f).unwrap_err().to_string();
        assert!(
            e.contains("--weights") && e.contains("--layout in-out"),
            "{e}"
        );
        assert_eq!(oriented(sq.clone(), Some(Layout::InOut), f).unwrap(), sq);
        let t = oriented(sq, Some(Layout::OutIn), f).unwrap();
        assert_eq!(t.as_slice(), &[1.0, 3.0, 2.0, 4.0]);
    }
}
