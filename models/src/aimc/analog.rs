//! A weight matrix programmed onto one or more crossbar tiles: clipping, splitting into row and
//! column blocks, evaluation with digital accumulation of partial sums, latency.

use std::fmt;

use super::config::{Clipping, TileConfig};
use super::crossbar::Crossbar;
use super::error::{AimcError, Result};
use super::matrix::{check_finite_vec, Matrix};

/// Timing of one or more MVMs of an [`AnalogMatrix`], as [`mvm_latency`] computes it.
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

/// The tile's MVM timing rule; the only place it is written (the tile model, its MMIO face and
/// the system replay all call it).
///
/// `mvms` MVMs of an `in_dim x out_dim` matrix on tiles of `cfg.rows x cfg.cols` that took
/// `passes` analog passes in all (each MVM takes one pass, plus one per bound-management
/// repetition; for one MVM, the largest pass count of any of the matrix's tiles) cost
///
/// - integration: `passes * integration_time_ns`;
/// - transfer: `mvms * (in_transfer + out_transfer)`, with
///   `in_transfer = min(in_dim, rows) * input_element_bytes / input_bytes_per_ns` and
///   `out_transfer = min(out_dim, cols) * output_element_bytes / output_bytes_per_ns` (0 when
///   a port width is `None`);
/// - accumulation: `mvms * (row_blocks - 1) * accumulation_ns_per_row_block`, with
///   `row_blocks = ceil(in_dim / rows)`.
///
/// All tiles of the matrix work in parallel on their blocks, each with its own port, so the
/// number of column blocks does not enter. Pure: no state, no validation (a `cfg` with
/// `rows = 0` counts no row blocks).
pub fn mvm_latency(
    cfg: &TileConfig,
    in_dim: usize,
    out_dim: usize,
    mvms: u64,
    passes: u64,
) -> Latency {
    let t = &cfg.transfer;
    let rows = in_dim.min(cfg.rows) as f64;
    let cols = out_dim.min(cfg.cols) as f64;
    let tin = t
        .input_bytes_per_ns
        .map_or(0.0, |w| rows * f64::from(t.input_element_bytes) / w);
    let tout = t
        .output_bytes_per_ns
        .map_or(0.0, |w| cols * f64::from(t.output_element_bytes) / w);
    let row_blocks = if cfg.rows == 0 {
        0
    } else {
        in_dim.div_ceil(cfg.rows)
    };
    Latency {
        integration_ns: passes as f64 * cfg.integration_time_ns,
        transfer_ns: mvms as f64 * (tin + tout),
        accumulation_ns: mvms as f64
            * (row_blocks.saturating_sub(1) as f64 * cfg.accumulation_ns_per_row_block),
        passes,
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

/// Clips each column of `w` per `clipping`; returns the number of weights changed. A column
/// whose standard deviation is 0 (constant column) is left alone by k-sigma clipping.
fn clip(w: &mut Matrix, clipping: Clipping) -> usize {
    let (rows, cols) = (w.rows(), w.cols());
    if rows == 0 || cols == 0 {
        return 0;
    }
    let bounds: Vec<f32> = match clipping {
        Clipping::Off => return 0,
        Clipping::Fixed(b) => vec![b; cols],
        Clipping::LayerGaussian(k) => {
            // Column maxima, then the unbiased standard deviation of the whole normalised
            // layer (all-zero columns contribute zeros), in f64.
            let mut max = vec![0.0f32; cols];
            for row in w.as_slice().chunks_exact(cols) {
                for (m, v) in max.iter_mut().zip(row) {
                    *m = m.max(v.abs());
                }
            }
            let n = (rows * cols) as f64;
            let (mut sum, mut sq) = (0.0f64, 0.0f64);
            for row in w.as_slice().chunks_exact(cols) {
                for (v, m) in row.iter().zip(&max) {
                    let x = if *m > 0.0 { f64::from(v / m) } else { 0.0 };
                    sum += x;
                    sq += x * x;
                }
            }
            let var = if n > 1.0 {
                ((sq - sum * sum / n) / (n - 1.0)).max(0.0)
            } else {
                0.0
            };
            let alpha = k as f64 * var.sqrt();
            max.iter().map(|m| (alpha * f64::from(*m)) as f32).collect()
        }
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
            if *b <= 0.0 {
                continue;
            }
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
    /// ([`mvm_latency`] for one MVM of this matrix.)
    pub fn mvm_latency(&self, passes: u32) -> Latency {
        mvm_latency(
            &self.cfg,
            self.in_dim(),
            self.out_dim(),
            1,
            u64::from(passes),
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aimc::config::{
        BoundManagement, ConverterConfig, DriftCompensation, MappingConfig, NoiseModel, Scaling,
    };
    use crate::aimc::matrix::reference_mvm;

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn noise_free_tile_matches_f32_product_exactly() {
        let cfg = TileConfig::ideal();
        let w = Matrix::random_normal(512, 512, 0.05, 1);
        let x = Matrix::random_normal(1, 512, 1.0, 2).into_vec();
        let mut m = AnalogMatrix::program(&cfg, &w).unwrap();
        for t in [0.0, 31_536_000.0] {
            let (y, lat) = m.mvm(&x, t).unwrap();
            assert_eq!(bits(&y), bits(&reference_mvm(&w, &x, 512).unwrap()));
            // Plain sequential f32 dot product, column by column.
            for (j, yj) in y.iter().enumerate() {
                let mut acc = 0.0f32;
                for (i, xi) in x.iter().enumerate() {
                    acc += xi * w.get(i, j).unwrap();
                }
                assert_eq!(acc.to_bits(), yj.to_bits());
            }
            assert_eq!(lat.total_ns(), 128.0);
        }
        // With drift compensation on, the noise-free probe gives alpha = 1 exactly.
        let cfg = TileConfig {
            drift_compensation: DriftCompensation::PerColumn,
            ..cfg
        };
        let mut m = AnalogMatrix::program(&cfg, &w).unwrap();
        let (y, _) = m.mvm(&x, 1e6).unwrap();
        assert_eq!(bits(&y), bits(&reference_mvm(&w, &x, 512).unwrap()));
    }

    #[test]
    fn noise_free_multi_tile_matches_blocked_f32_sum() {
        let cfg = TileConfig {
            rows: 256,
            cols: 128,
            ..TileConfig::ideal()
        };
        let w = Matrix::random_normal(700, 300, 0.05, 3);
        let xs = Matrix::random_normal(4, 700, 1.0, 4);
        let mut m = AnalogMatrix::program(&cfg, &w).unwrap();
        let rep = m.mapping().clone();
        assert_eq!(
            (rep.row_blocks, rep.col_blocks, rep.tile_count()),
            (3, 3, 9)
        );
        // 700 x 300 cells over 9 tiles of 256 x 128.
        assert!((rep.mean_utilisation() - 210_000.0 / (9.0 * 32_768.0)).abs() < 1e-12);
        assert_eq!((rep.tiles[8].rows_used, rep.tiles[8].cols_used), (188, 44));
        let (ys, lat) = m.mvm_batch(&xs, 0.0).unwrap();
        for t in 0..4 {
            let x = xs.row(t).unwrap();
            let want = reference_mvm(&w, x, 256).unwrap();
            assert_eq!(bits(ys.row(t).unwrap()), bits(&want));
        }
        // 4 tokens x 128 ns; no transfer or accumulation cost configured.
        assert_eq!(lat.total_ns(), 512.0);
        assert_eq!(lat.passes, 4);
    }

    #[test]
    fn latency_adds_transfers_and_accumulation() {
        let mut cfg = TileConfig {
            rows: 256,
            cols: 256,
            ..TileConfig::ideal()
        };
        cfg.transfer.input_bytes_per_ns = Some(64.0);
        cfg.transfer.output_bytes_per_ns = Some(32.0);
        cfg.accumulation_ns_per_row_block = 2.0;
        let w = Matrix::random_normal(600, 100, 0.05, 3);
        let mut m = AnalogMatrix::program(&cfg, &w).unwrap();
        let (_, lat) = m.mvm(&vec![0.5; 600], 0.0).unwrap();
        // 256 inputs x 1 B / 64 B/ns = 4 ns; 100 outputs x 2 B / 32 B/ns = 6.25 ns;
        // 3 row blocks -> 2 accumulations x 2 ns; integration 128 ns.
        assert_eq!(lat.transfer_ns, 10.25);
        assert_eq!(lat.accumulation_ns, 4.0);
        assert_eq!(lat.total_ns(), 128.0 + 10.25 + 4.0);
    }

    #[test]
    fn latency_rule_charges_passes_transfers_and_accumulation() {
        // 700 x 300 on 256 x 128 tiles: ceil(700/256) = 3 row blocks (3 column blocks, which
        // do not enter: the tiles run in parallel). Ports: 8 B/ns in with 1-byte inputs,
        // 16 B/ns out with 2-byte outputs; 3 ns per extra row block; 100 ns integration.
        let mut cfg = TileConfig {
            rows: 256,
            cols: 128,
            integration_time_ns: 100.0,
            accumulation_ns_per_row_block: 3.0,
            ..TileConfig::ideal()
        };
        cfg.transfer.input_bytes_per_ns = Some(8.0);
        cfg.transfer.output_bytes_per_ns = Some(16.0);
        // One MVM, 3 passes: in = min(700, 256) * 1 / 8 = 32 ns, out = min(300, 128) * 2 / 16
        // = 16 ns, accumulation = (3 - 1) * 3 = 6 ns, integration = 3 * 100 = 300 ns; 354 ns.
        let one = mvm_latency(&cfg, 700, 300, 1, 3);
        assert_eq!(
            (one.integration_ns, one.transfer_ns, one.accumulation_ns),
            (300.0, 48.0, 6.0)
        );
        assert_eq!((one.total_ns(), one.passes), (354.0, 3));
        // The matrix's own latency is the same rule.
        let m = AnalogMatrix::program(&cfg, &Matrix::zeros(700, 300)).unwrap();
        assert_eq!(m.mvm_latency(3), one);
        // 4 MVMs that took 7 passes in all: 7 * 100 + 4 * 48 + 4 * 6 = 700 + 192 + 24 = 916 ns.
        let four = mvm_latency(&cfg, 700, 300, 4, 7);
        assert_eq!(
            (four.integration_ns, four.transfer_ns, four.accumulation_ns),
            (700.0, 192.0, 24.0)
        );
        assert_eq!((four.total_ns(), four.passes), (916.0, 7));
        // One pass: the integration time plus the fixed costs, 100 + 48 + 6 = 154 ns.
        assert_eq!(mvm_latency(&cfg, 700, 300, 1, 1).total_ns(), 154.0);
        // One row block, no ports: the integration time alone.
        assert_eq!(
            mvm_latency(&TileConfig::default(), 512, 128, 1, 1).total_ns(),
            128.0
        );
    }

    #[test]
    fn batch_latency_is_the_rule_over_the_passes_taken() {
        // 64 ones on a 64-row tile, 8-bit DAC and ADC (bound 12), iterative bound management:
        // each token of ones needs 4 passes (outputs 64, 32, 16 saturate; 8 does not), a token
        // of zeros needs 1 (output 0). Tokens [ones, zeros, ones]: 3 MVMs, 4 + 1 + 4 = 9
        // passes, 9 * 128 = 1152 ns of integration and nothing else configured.
        let mut cfg = periphery_only(true, true);
        cfg.bound_management = BoundManagement::default();
        let ones = Matrix::from_fn(64, 1, |_, _| 1.0);
        let xs = Matrix::from_fn(3, 64, |t, _| if t == 1 { 0.0 } else { 1.0 });
        let mut m = AnalogMatrix::program(&cfg, &ones).unwrap();
        let (_, lat) = m.mvm_batch(&xs, 0.0).unwrap();
        assert_eq!((lat.passes, lat.total_ns()), (9, 1152.0));
        assert_eq!(lat, mvm_latency(&cfg, 64, 1, 3, 9));
    }

    fn periphery_only(dac: bool, adc: bool) -> TileConfig {
        let mut cfg = TileConfig {
            rows: 64,
            cols: 64,
            ..TileConfig::ideal()
        };
        cfg.dac.enabled = dac;
        cfg.adc.enabled = adc;
        cfg
    }

    fn identity(n: usize) -> Matrix {
        Matrix::from_fn(n, n, |r, c| if r == c { 1.0 } else { 0.0 })
    }

    #[test]
    fn quantisation_error_within_half_lsb() {
        let x = Matrix::random_normal(1, 64, 1.5, 9).into_vec();
        let a = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (dac, adc) in [(true, false), (false, true)] {
            let cfg = periphery_only(dac, adc);
            let step = if dac { cfg.dac.step() } else { cfg.adc.step() };
            let mut m = AnalogMatrix::program(&cfg, &identity(64)).unwrap();
            let (y, _) = m.mvm(&x, 0.0).unwrap();
            for (yi, xi) in y.iter().zip(&x) {
                // In normalised units the error is <= step / 2; it is rescaled by a = max|x|.
                // Allow 1e-6 relative for the f32 divisions and products of the rescaling.
                assert!(
                    (yi - xi).abs() <= a * step / 2.0 * (1.0 + 1e-6) + 1e-6 * a,
                    "{yi} {xi}"
                );
                // The result lies on the grid of the converter.
                let k = yi / a / step;
                assert!((k - k.round()).abs() < 1e-3, "{k}");
            }
        }
    }

    /// `quantise: false` removes the grid only: outputs keep full resolution, still saturate
    /// at the ADC bound, and bound management still repeats the pass (hand-derived: 64 ones
    /// with the DAC unquantised limit the factor to max_factor = 1000, so the input is halved
    /// while the output exceeds 12: 64, 32, 16 saturate, 8 does not -> 4 passes, exact 64).
    #[test]
    fn an_unquantised_adc_keeps_its_bound_and_bound_management() {
        let ones = Matrix::from_fn(64, 1, |_, _| 1.0);
        let x = vec![1.0f32; 64];
        let mut cfg = periphery_only(false, true);
        cfg.adc.quantise = false;
        let mut m = AnalogMatrix::program(&cfg, &ones).unwrap();
        let (y, lat) = m.mvm(&x, 0.0).unwrap();
        assert_eq!(
            (y[0], lat.passes),
            (12.0, 1),
            "saturated at the bound, no grid"
        );
        // 8 inputs of 1/3 (normalised to 1 by the input scaling): the output 8 lies below the
        // bound and between grid points (8 / (12/127) = 84.7 steps), so 8/3 comes back exact
        let third: Vec<f32> = (0..64)
            .map(|i| if i < 8 { 1.0 / 3.0 } else { 0.0 })
            .collect();
        let (y, _) = m.mvm(&third, 0.0).unwrap();
        assert!(
            (y[0] - 8.0 / 3.0).abs() <= 1e-6,
            "{y:?}: full resolution below the bound"
        );
        cfg.dac.enabled = true;
        cfg.dac.quantise = false;
        cfg.bound_management = BoundManagement::default();
        let mut m = AnalogMatrix::program(&cfg, &ones).unwrap();
        let (y, lat) = m.mvm(&x, 0.0).unwrap();
        assert_eq!(lat.passes, 4);
        assert!((y[0] - 64.0).abs() <= 64.0 * 1e-6, "{y:?}");
        // a disabled ADC with bound management is refused rather than silently unbounded
        cfg.adc.enabled = false;
        let e = AnalogMatrix::program(&cfg, &ones).unwrap_err().to_string();
        assert!(
            e.contains("adc.enabled") && e.contains("quantise: false"),
            "{e}"
        );
    }

    #[test]
    fn outputs_and_inputs_saturate_at_the_bounds() {
        // 64 ones: the normalised output is 64, above the ADC bound 12.
        let ones = Matrix::from_fn(64, 1, |_, _| 1.0);
        let x = vec![1.0f32; 64];
        let mut cfg = periphery_only(false, true);
        let mut m = AnalogMatrix::program(&cfg, &ones).unwrap();
        let (y, lat) = m.mvm(&x, 0.0).unwrap();
        assert_eq!(y, vec![12.0]);
        assert_eq!(lat.passes, 1);
        // Iterative bound management (limit min(1000, 0.25 / (2/254)) = 31.75): the input is
        // halved to 1/2, 1/4, 1/8 (outputs 32, 16 saturate; 8 does not) -> 4 passes, and the
        // result 64 is recovered to within half an ADC LSB times the factor 8.
        cfg.dac.enabled = true;
        cfg.bound_management = BoundManagement::default();
        let mut m = AnalogMatrix::program(&cfg, &ones).unwrap();
        let (y, lat) = m.mvm(&x, 0.0).unwrap();
        assert_eq!(lat.passes, 4);
        assert_eq!(lat.integration_ns, 4.0 * 128.0);
        assert!((y[0] - 64.0).abs() <= 8.0 * cfg.adc.step() / 2.0, "{y:?}");
        // 1024 ones: even factor 16 leaves 64 > 12, so it stops at 16 with 12 * 16 = 192.
        let cfg = TileConfig { rows: 1024, ..cfg };
        let ones = Matrix::from_fn(1024, 1, |_, _| 1.0);
        let mut m = AnalogMatrix::program(&cfg, &ones).unwrap();
        let (y, lat) = m.mvm(&vec![1.0; 1024], 0.0).unwrap();
        assert_eq!((y[0], lat.passes), (192.0, 5));
        // DAC saturation: bound 0.5 clips the abs-max-scaled input 1.0 to 0.5.
        let mut cfg = periphery_only(true, false);
        cfg.dac.bound = 0.5;
        let mut m = AnalogMatrix::program(&cfg, &identity(64)).unwrap();
        let mut x = vec![0.0f32; 64];
        x[0] = 2.0;
        x[1] = -0.5;
        let (y, _) = m.mvm(&x, 0.0).unwrap();
        // x / max|x| = -0.25 is -63.5 steps of 0.5/127: half to even gives -64 steps.
        assert_eq!((y[0], y[1]), (1.0, (-64.0f32 * 0.5 / 127.0) * 2.0));
    }

    fn mean_abs(v: &[f32]) -> f64 {
        v.iter().map(|x| f64::from(x.abs())).sum::<f64>() / v.len() as f64
    }

    #[test]
    fn drift_compensation_restores_mean_output_scale() {
        let w = Matrix::random_normal(256, 256, 0.05, 11);
        let xs = Matrix::random_normal(32, 256, 1.0, 12);
        let ideal: Vec<f32> = (0..32)
            .flat_map(|t| reference_mvm(&w, xs.row(t).unwrap(), 256).unwrap())
            .collect();
        let base = TileConfig {
            rows: 256,
            cols: 256,
            mapping: MappingConfig {
                clipping: Clipping::Off,
                ..MappingConfig::default()
            },
            ..TileConfig::default()
        };
        let ratio = |comp: DriftCompensation, t: f64| {
            let cfg = TileConfig {
                drift_compensation: comp,
                ..base.clone()
            };
            let mut m = AnalogMatrix::program(&cfg, &w).unwrap();
            let (y, _) = m.mvm_batch(&xs, t).unwrap();
            mean_abs(y.as_slice()) / mean_abs(&ideal)
        };
        let year = 31_536_000.0;
        let off = ratio(DriftCompensation::Off, year);
        // exp(-mu L) with mu ~ 0.05-0.1 and L = ln(1 y / 20 s) = 14.3: about half the scale.
        assert!(off < 0.6, "uncompensated scale after 1 y: {off}");
        for comp in [DriftCompensation::Global, DriftCompensation::PerColumn] {
            let on = ratio(comp, year);
            assert!(
                (on - 1.0).abs() < 0.05,
                "{comp:?}: compensated scale after 1 y: {on}"
            );
        }
        let fresh = ratio(DriftCompensation::Off, 0.0);
        assert!(
            (fresh - 1.0).abs() < 0.05,
            "scale right after programming: {fresh}"
        );
    }

    #[test]
    fn same_seed_same_bits_and_tiles_are_independent_of_position() {
        let cfg = TileConfig {
            rows: 128,
            cols: 128,
            ..TileConfig::default()
        };
        let w = Matrix::random_normal(128, 256, 0.05, 5);
        let xs = Matrix::random_normal(3, 128, 1.0, 6);
        let run = |cfg: &TileConfig, w: &Matrix, first: u64| {
            let mut m = AnalogMatrix::program_at(cfg, w, first).unwrap();
            let (a, _) = m.mvm_batch(&xs, 86_400.0).unwrap();
            let (b, _) = m.mvm_batch(&xs, 3600.0).unwrap();
            (a, b)
        };
        let (a1, b1) = run(&cfg, &w, 0);
        let (a2, b2) = run(&cfg, &w, 0);
        assert_eq!(bits(a1.as_slice()), bits(a2.as_slice()));
        assert_eq!(bits(b1.as_slice()), bits(b2.as_slice()));
        let (a3, _) = run(
            &TileConfig {
                seed: 1,
                ..cfg.clone()
            },
            &w,
            0,
        );
        assert_ne!(bits(a1.as_slice()), bits(a3.as_slice()));
        // The right column block alone, programmed as tile 1, gives the same bits as tile 1 of
        // the full matrix: streams depend on (seed, tile, purpose), not on evaluation order.
        // Clipping is per column, so the block sees the same clipped weights.
        let right = Matrix::from_fn(128, 128, |r, c| w.get(r, c + 128).unwrap());
        let (ar, _) = run(&cfg, &right, 1);
        for t in 0..3 {
            assert_eq!(bits(&a1.row(t).unwrap()[128..]), bits(ar.row(t).unwrap()));
        }
    }

    #[test]
    fn read_noise_redraw_per_mvm_or_per_time() {
        use crate::aimc::config::{PcmConfig, ReadNoiseRedraw};
        let w = Matrix::random_normal(64, 64, 0.05, 1);
        let x = Matrix::random_normal(1, 64, 1.0, 2).into_vec();
        let ideal_periph = TileConfig {
            rows: 64,
            cols: 64,
            ..TileConfig::ideal()
        };
        for (redraw, same) in [
            (ReadNoiseRedraw::PerEvaluationTime, true),
            (ReadNoiseRedraw::PerMvm, false),
        ] {
            let cfg = TileConfig {
                noise: NoiseModel::Pcm(PcmConfig {
                    read_noise_redraw: redraw,
                    ..PcmConfig::default()
                }),
                ..ideal_periph.clone()
            };
            let mut m = AnalogMatrix::program(&cfg, &w).unwrap();
            let (a, _) = m.mvm(&x, 3600.0).unwrap();
            let (b, _) = m.mvm(&x, 3600.0).unwrap();
            assert_eq!(a == b, same, "{redraw:?}");
        }
    }

    #[test]
    fn bad_inputs_are_rejected_not_panicked_on() {
        let cfg = TileConfig {
            rows: 8,
            cols: 8,
            ..TileConfig::default()
        };
        let mut w = Matrix::random_normal(8, 8, 1.0, 1);
        w.as_mut_slice()[9] = f32::NAN;
        let e = AnalogMatrix::program(&cfg, &w).unwrap_err().to_string();
        assert!(
            e.contains("weights") && e.contains("row 1, column 1"),
            "{e}"
        );
        let e = AnalogMatrix::program(&cfg, &Matrix::zeros(0, 4))
            .unwrap_err()
            .to_string();
        assert!(e.contains("weights"), "{e}");
        let bad_cfg = TileConfig {
            rows: 0,
            ..cfg.clone()
        };
        let e = AnalogMatrix::program(&bad_cfg, &Matrix::zeros(2, 2))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`rows` = 0"), "{e}");
        let mut m = AnalogMatrix::program(&cfg, &Matrix::random_normal(8, 8, 1.0, 1)).unwrap();
        let e = m.mvm(&[1.0; 7], 0.0).unwrap_err().to_string();
        assert!(e.contains("input vector") && e.contains("8 values"), "{e}");
        let mut x = vec![1.0f32; 8];
        x[3] = f32::INFINITY;
        let e = m.mvm(&x, 0.0).unwrap_err().to_string();
        assert!(e.contains("inputs") && e.contains("index 3"), "{e}");
        for t in [-1.0, f64::NAN, f64::INFINITY] {
            let e = m.mvm(&[1.0; 8], t).unwrap_err().to_string();
            assert!(e.contains("t_inf"), "{e}");
        }
        let e = m
            .mvm_batch(&Matrix::zeros(2, 9), 0.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("input batch"), "{e}");
    }

    #[test]
    fn clipping_k_sigma_and_fixed() {
        // Column 0: 99 values of +-1 and one outlier 100; population sigma ~ 10.
        let w = Matrix::from_fn(100, 2, |r, c| match (r, c) {
            (0, 0) => 100.0,
            (_, 0) => {
                if r % 2 == 0 {
                    1.0
                } else {
                    -1.0
                }
            }
            _ => 0.5,
        });
        // Column 0: mean 0.99, E[w^2] = 100.99, sigma = 10.0 -> bound 30 clips the outlier
        // only; column 1 is constant (sigma 0) and is left alone.
        let mut k = w.clone();
        assert_eq!(clip(&mut k, Clipping::KSigma(3.0)), 1);
        assert_eq!(k.get(3, 1), Some(0.5));
        assert!(k.get(0, 0).unwrap() < 35.0 && k.get(0, 0).unwrap() > 25.0);
        let mut f = w.clone();
        assert_eq!(clip(&mut f, Clipping::Fixed(0.75)), 100);
        assert_eq!(f.get(0, 0), Some(0.75));
        assert_eq!(f.get(5, 1), Some(0.5));
        // LayerGaussian(1): columns [4, -2, 1, 0] and [1, 1, 1, -1] normalise by 4 and 1 to
        // 1, -0.5, 0.25, 0, 1, 1, 1, -1: sum 2.75, sum of squares 5.3125, unbiased variance
        // (5.3125 - 2.75^2 / 8) / 7 = 0.623884, sigma 0.789863; five values exceed it and are
        // clipped to +-0.789863 times their column's max (3.159453 in column 0).
        let mut g = Matrix::new(4, 2, vec![4.0, 1.0, -2.0, 1.0, 1.0, 1.0, 0.0, -1.0]).unwrap();
        assert_eq!(clip(&mut g, Clipping::LayerGaussian(1.0)), 5);
        let close = |a: f32, b: f32| (a - b).abs() <= 1e-5;
        assert!(close(g.get(0, 0).unwrap(), 3.159_453), "{g:?}");
        assert!(close(g.get(3, 1).unwrap(), -0.789_863), "{g:?}");
        assert_eq!((g.get(1, 0), g.get(2, 0)), (Some(-2.0), Some(1.0)));
        let cfg = TileConfig {
            rows: 100,
            cols: 2,
            mapping: MappingConfig {
                scaling: Scaling::PerTile,
                clipping: Clipping::KSigma(3.0),
                ..MappingConfig::default()
            },
            noise: NoiseModel::Off,
            dac: ConverterConfig {
                enabled: false,
                ..ConverterConfig::default()
            },
            ..TileConfig::default()
        };
        assert_eq!(
            AnalogMatrix::program(&cfg, &w)
                .unwrap()
                .mapping()
                .clipped_weights,
            1
        );
    }
}
