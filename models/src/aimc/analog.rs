//! A weight matrix programmed onto one or more crossbar tiles: clipping, splitting into row and
//! column blocks, evaluation with digital accumulation of partial sums, latency.

use std::fmt;

use super::config::{Clipping, TileConfig};
use super::crossbar::Crossbar;
use super::error::{AimcError, Result};
use super::matrix::{check_finite_vec, Matrix};

/// Timing of one or more MVMs of an [`AnalogMatrix`].
///
/// All tiles of a matrix work in parallel on their blocks, each with its own port, so one MVM
/// costs `transfer_in + passes * integration + transfer_out + (row_blocks - 1) * accumulation`,
/// where `passes` is the largest pass count of any tile (1 unless bound management repeats).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latency {
    /// Analog integration time, ns.
    pub integration_ns: f64,
    /// Input plus output transfer time, ns.
    pub transfer_ns: f64,
    /// Digital accumulation of row-block partial sums, ns.
    pub accumulation_ns: f64,
    /// Analog passes (MVMs x bound-management repetitions).
    pub passes: u64,
}

impl Latency {
    /// Total time in ns.
    pub fn total_ns(&self) -> f64 {
        self.integration_ns + self.transfer_ns + self.accumulation_ns
    }

    fn add(&mut self, other: &Latency) {
        self.integration_ns += other.integration_ns;
        self.transfer_ns += other.transfer_ns;
        self.accumulation_ns += other.accumulation_ns;
        self.passes += other.passes;
    }
}

/// Use of one tile by a mapped matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct TileUse {
    /// Global tile index (seeds this tile's random streams).
    pub tile_id: u64,
    /// Row block (block of inputs).
    pub row_block: usize,
    /// Column block (block of outputs).
    pub col_block: usize,
    /// Crossbar rows in use.
    pub rows_used: usize,
    /// Crossbar columns in use.
    pub cols_used: usize,
    /// Fraction of the tile's cells in use.
    pub utilisation: f64,
}

/// How a matrix was mapped onto tiles.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingReport {
    /// Matrix inputs (rows of W).
    pub in_dim: usize,
    /// Matrix outputs (columns of W).
    pub out_dim: usize,
    /// Tile rows.
    pub tile_rows: usize,
    /// Tile columns.
    pub tile_cols: usize,
    /// Number of row blocks, `ceil(in_dim / tile_rows)`.
    pub row_blocks: usize,
    /// Number of column blocks, `ceil(out_dim / tile_cols)`.
    pub col_blocks: usize,
    /// One entry per tile, row block major.
    pub tiles: Vec<TileUse>,
    /// Weights changed by clipping.
    pub clipped_weights: usize,
}

impl MappingReport {
    /// Number of tiles the matrix occupies.
    pub fn tile_count(&self) -> usize {
        self.tiles.len()
    }

    /// Cells in use over cells provided, over all tiles.
    pub fn mean_utilisation(&self) -> f64 {
        let cells = (self.tile_rows * self.tile_cols * self.tiles.len()) as f64;
        if cells == 0.0 {
            0.0
        } else {
            (self.in_dim * self.out_dim) as f64 / cells
        }
    }
}

impl fmt::Display for MappingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} x {} weights on {} tile(s) of {} x {} ({} row block(s) x {} column block(s)), \
             mean utilisation {:.1}%, {} weight(s) clipped",
            self.in_dim,
            self.out_dim,
            self.tile_count(),
            self.tile_rows,
            self.tile_cols,
            self.row_blocks,
            self.col_blocks,
            100.0 * self.mean_utilisation(),
            self.clipped_weights
        )?;
        for t in &self.tiles {
            writeln!(
                f,
                "  tile {:>4}  block ({}, {})  {:>5} x {:<5}  {:5.1}%",
                t.tile_id,
                t.row_block,
                t.col_block,
                t.rows_used,
                t.cols_used,
                100.0 * t.utilisation
            )?;
        }
        Ok(())
    }
}

/// A weight matrix W (`in x out`, row i = input i) programmed onto AIMC tiles.
///
/// Created by [`AnalogMatrix::program`]; evaluated by [`AnalogMatrix::mvm`] and
/// [`AnalogMatrix::mvm_batch`] at an inference time `t_inf` (seconds after programming).
#[derive(Debug, Clone)]
pub struct AnalogMatrix {
    cfg: TileConfig,
    mapping: MappingReport,
    /// Row block major: tile (rb, cb) at `rb * col_blocks + cb`.
    tiles: Vec<Crossbar>,
    partial: Vec<f32>,
}

/// Clips each column of `w` per `clipping`; returns the number of weights changed.
fn clip(w: &mut Matrix, clipping: Clipping) -> usize {
    let (rows, cols) = (w.rows(), w.cols());
    if rows == 0 || cols == 0 {
        return 0;
    }
    let bounds: Vec<f32> = match clipping {
        Clipping::Off => return 0,
        Clipping::Fixed(b) => vec![b; cols],
        Clipping::KSigma(k) => {
            // Population standard deviation of each column, in f64.
            let mut sum = vec![0.0f64; cols];
            let mut sq = vec![0.0f64; cols];
            for row in w.as_slice().chunks_exact(cols) {
                for ((s, q), v) in sum.iter_mut().zip(sq.iter_mut()).zip(row) {
                    *s += f64::from(*v);
                    *q += f64::from(*v) * f64::from(*v);
                }
            }
            let n = rows as f64;
            sum.iter()
                .zip(&sq)
                .map(|(s, q)| {
                    let mean = s / n;
                    (k as f64 * (q / n - mean * mean).max(0.0).sqrt()) as f32
                })
                .collect()
        }
    };
    let mut changed = 0;
    for row in w.as_mut_slice().chunks_exact_mut(cols) {
        for (v, b) in row.iter_mut().zip(&bounds) {
            let c = v.clamp(-b, *b);
            if c != *v {
                changed += 1;
                *v = c;
            }
        }
    }
    changed
}

impl AnalogMatrix {
    /// Validates `cfg` and `weights`, clips, splits W over tiles numbered from 0 and programs
    /// them (programming noise and drift exponents are drawn here, once).
    pub fn program(cfg: &TileConfig, weights: &Matrix) -> Result<Self> {
        Self::program_at(cfg, weights, 0)
    }

    /// As [`AnalogMatrix::program`], with tiles numbered from `first_tile` so that several
    /// matrices programmed with one seed draw independent noise.
    pub fn program_at(cfg: &TileConfig, weights: &Matrix, first_tile: u64) -> Result<Self> {
        cfg.validate()?;
        if weights.rows() == 0 || weights.cols() == 0 {
            return Err(AimcError::ShapeMismatch {
                what: "weights",
                expected: "at least 1 x 1".into(),
                found: format!("{} x {}", weights.rows(), weights.cols()),
            });
        }
        weights.check_finite("weights")?;
        let mut w = weights.clone();
        let clipped_weights = clip(&mut w, cfg.mapping.clipping);
        let (in_dim, out_dim) = (w.rows(), w.cols());
        let row_blocks = in_dim.div_ceil(cfg.rows);
        let col_blocks = out_dim.div_ceil(cfg.cols);
        let mut tiles = Vec::with_capacity(row_blocks * col_blocks);
        let mut uses = Vec::with_capacity(row_blocks * col_blocks);
        for rb in 0..row_blocks {
            let r0 = rb * cfg.rows;
            let r1 = (r0 + cfg.rows).min(in_dim);
            for cb in 0..col_blocks {
                let c0 = cb * cfg.cols;
                let c1 = (c0 + cfg.cols).min(out_dim);
                let mut block = Vec::with_capacity((r1 - r0) * (c1 - c0));
                for r in r0..r1 {
                    if let Some(row) = w.row(r).and_then(|row| row.get(c0..c1)) {
                        block.extend_from_slice(row);
                    }
                }
                let tile_id = first_tile.wrapping_add((rb * col_blocks + cb) as u64);
                tiles.push(Crossbar::program(cfg, &block, r1 - r0, c1 - c0, tile_id));
                uses.push(TileUse {
                    tile_id,
                    row_block: rb,
                    col_block: cb,
                    rows_used: r1 - r0,
                    cols_used: c1 - c0,
                    utilisation: ((r1 - r0) * (c1 - c0)) as f64 / (cfg.rows * cfg.cols) as f64,
                });
            }
        }
        Ok(Self {
            cfg: cfg.clone(),
            mapping: MappingReport {
                in_dim,
                out_dim,
                tile_rows: cfg.rows,
                tile_cols: cfg.cols,
                row_blocks,
                col_blocks,
                tiles: uses,
                clipped_weights,
            },
            tiles,
            partial: Vec::new(),
        })
    }

    /// The configuration the matrix was programmed with.
    pub fn config(&self) -> &TileConfig {
        &self.cfg
    }

    /// How the matrix was mapped onto tiles.
    pub fn mapping(&self) -> &MappingReport {
        &self.mapping
    }

    /// Number of inputs (length of `x`).
    pub fn in_dim(&self) -> usize {
        self.mapping.in_dim
    }

    /// Number of outputs (length of `y`).
    pub fn out_dim(&self) -> usize {
        self.mapping.out_dim
    }

    /// Latency of one MVM with `passes` analog passes per tile (1 without bound management).
    pub fn mvm_latency(&self, passes: u32) -> Latency {
        let t = &self.cfg.transfer;
        let rows = self.in_dim().min(self.cfg.rows) as f64;
        let cols = self.out_dim().min(self.cfg.cols) as f64;
        let tin = t
            .input_bytes_per_ns
            .map_or(0.0, |w| rows * f64::from(t.input_element_bytes) / w);
        let tout = t
            .output_bytes_per_ns
            .map_or(0.0, |w| cols * f64::from(t.output_element_bytes) / w);
        Latency {
            integration_ns: f64::from(passes) * self.cfg.integration_time_ns,
            transfer_ns: tin + tout,
            accumulation_ns: self.mapping.row_blocks.saturating_sub(1) as f64
                * self.cfg.accumulation_ns_per_row_block,
            passes: u64::from(passes),
        }
    }

    /// Time (s after programming) the stored weights are currently realised at, if any.
    pub fn realised_at(&self) -> Option<f64> {
        self.tiles.first().and_then(|t| t.realised_at)
    }

    /// Realises the weights at `t_inf_s` seconds after programming: drift and a fresh 1/f
    /// read-noise draw on every device, then new drift-compensation factors. [`Self::mvm`]
    /// calls this itself whenever the time changes.
    pub fn set_inference_time(&mut self, t_inf_s: f64) -> Result<()> {
        check_time(t_inf_s)?;
        for t in &mut self.tiles {
            t.realise(t_inf_s);
        }
        Ok(())
    }

    fn ensure_realised(&mut self, t_inf_s: f64) -> Result<()> {
        check_time(t_inf_s)?;
        for t in &mut self.tiles {
            if t.realised_at != Some(t_inf_s) || t.redraw_per_mvm() {
                t.realise(t_inf_s);
            }
        }
        Ok(())
    }

    /// One MVM `y = x W` at `t_inf_s` seconds after programming. Row blocks are evaluated in
    /// order and their partial sums added, in f32, to an accumulator starting at 0.0.
    pub fn mvm(&mut self, x: &[f32], t_inf_s: f64) -> Result<(Vec<f32>, Latency)> {
        let mut y = vec![0.0f32; self.out_dim()];
        let lat = self.mvm_into(x, t_inf_s, &mut y)?;
        Ok((y, lat))
    }

    /// As [`Self::mvm`], writing into `y` (length `out_dim`).
    pub fn mvm_into(&mut self, x: &[f32], t_inf_s: f64, y: &mut [f32]) -> Result<Latency> {
        if x.len() != self.in_dim() {
            return Err(AimcError::ShapeMismatch {
                what: "input vector",
                expected: format!("{} values", self.in_dim()),
                found: format!("{} values", x.len()),
            });
        }
        if y.len() != self.out_dim() {
            return Err(AimcError::ShapeMismatch {
                what: "output vector",
                expected: format!("{} values", self.out_dim()),
                found: format!("{} values", y.len()),
            });
        }
        check_finite_vec("inputs", x)?;
        self.ensure_realised(t_inf_s)?;
        Ok(self.mvm_unchecked(x, y))
    }

    /// The MVM proper; `x` and `y` have the right lengths and the tiles are realised.
    fn mvm_unchecked(&mut self, x: &[f32], y: &mut [f32]) -> Latency {
        y.fill(0.0);
        let (tr, tc) = (self.cfg.rows, self.cfg.cols);
        let col_blocks = self.mapping.col_blocks;
        let mut passes = 0u32;
        for (k, tile) in self.tiles.iter_mut().enumerate() {
            let (rb, cb) = (k / col_blocks, k % col_blocks);
            let xs = x.get(rb * tr..rb * tr + tile.rows).unwrap_or(&[]);
            self.partial.resize(tile.cols, 0.0);
            passes = passes.max(tile.mvm(xs, &mut self.partial));
            if let Some(ys) = y.get_mut(cb * tc..cb * tc + tile.cols) {
                for (acc, p) in ys.iter_mut().zip(&self.partial) {
                    *acc += p;
                }
            }
        }
        self.mvm_latency(passes)
    }

    /// MVMs of a batch of tokens (`inputs` is `tokens x in_dim`), one after the other on the
    /// same tiles; returns `tokens x out_dim` outputs and the summed latency.
    pub fn mvm_batch(&mut self, inputs: &Matrix, t_inf_s: f64) -> Result<(Matrix, Latency)> {
        if inputs.cols() != self.in_dim() {
            return Err(AimcError::ShapeMismatch {
                what: "input batch",
                expected: format!("tokens x {}", self.in_dim()),
                found: format!("{} x {}", inputs.rows(), inputs.cols()),
            });
        }
        inputs.check_finite("inputs")?;
        let mut out = Matrix::zeros(inputs.rows(), self.out_dim());
        let mut total = Latency::default();
        let out_dim = self.out_dim();
        for (x, y) in inputs
            .as_slice()
            .chunks_exact(self.in_dim())
            .zip(out.as_mut_slice().chunks_exact_mut(out_dim))
        {
            self.ensure_realised(t_inf_s)?;
            total.add(&self.mvm_unchecked(x, y));
        }
        Ok((out, total))
    }
}

fn check_time(t: f64) -> Result<()> {
    if t.is_finite() && t >= 0.0 {
        Ok(())
    } else {
        Err(AimcError::InvalidTime {
            what: "inference time t_inf",
            value: t,
        })
    }
}
