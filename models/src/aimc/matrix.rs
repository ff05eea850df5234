//! A small dense row-major f32 matrix used for weights, input batches and outputs.

use super::error::{AimcError, Result};

/// Dense row-major `rows x cols` matrix of f32.
///
/// Weights are `in x out` (row i holds the weights from input i); input batches are
/// `tokens x in`; outputs are `tokens x out`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl Matrix {
    /// Wraps `data` (row-major); fails unless `data.len() == rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(AimcError::ShapeMismatch {
                what: "matrix data",
                expected: format!("{rows} x {cols} = {} values", rows.saturating_mul(cols)),
                found: format!("{} values", data.len()),
            });
        }
        Ok(Self { rows, cols, data })
    }

    /// A matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Builds a matrix from a function of (row, column).
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f32) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                data.push(f(r, c));
            }
        }
        Self { rows, cols, data }
    }

    /// A matrix of independent normal values with standard deviation `std`, reproducible from
    /// `seed` (ChaCha8); for stand-alone runs without data files.
    pub fn random_normal(rows: usize, cols: usize, std: f32, seed: u64) -> Self {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Self::from_fn(rows, cols, |_, _| {
            let z: f32 = rng.sample(rand_distr::StandardNormal);
            std * z
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major data.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The row-major data, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the matrix and returns its row-major data.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Element (r, c), or `None` outside the matrix.
    pub fn get(&self, r: usize, c: usize) -> Option<f32> {
        if r < self.rows && c < self.cols {
            self.data.get(r * self.cols + c).copied()
        } else {
            None
        }
    }

    /// Row `r`, or `None` outside the matrix.
    pub fn row(&self, r: usize) -> Option<&[f32]> {
        if r < self.rows {
            self.data.get(r * self.cols..(r + 1) * self.cols)
        } else {
            None
        }
    }

    /// Fails with the position of the first NaN or infinity; `what` names the operand.
    pub fn check_finite(&self, what: &'static str) -> Result<()> {
        match self.data.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(i) => Err(AimcError::NonFinite {
                what,
                position: format!(
                    "row {}, column {}",
                    i / self.cols.max(1),
                    i % self.cols.max(1)
                ),
                value: self.data[i],
            }),
        }
    }
}

/// Fails with the index of the first NaN or infinity of a vector; `what` names the operand.
pub(crate) fn check_finite_vec(what: &'static str, v: &[f32]) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(AimcError::NonFinite {
            what,
            position: format!("index {i}"),
            value: v[i],
        }),
    }
}

/// The reference f32 product `x W` in the order the tiled model sums: for each output column
/// and each row block of `block_rows` rows (in order), a plain sequential f32 dot product
/// starting from 0.0; the block partial sums are then added in order to an accumulator that
/// starts at 0.0. With a single row block this is exactly the plain f32 dot product
/// `acc = 0.0; for i in 0..n { acc += x[i] * w[i][j] }` (no fused multiply-add).
pub fn reference_mvm(weights: &Matrix, x: &[f32], block_rows: usize) -> Result<Vec<f32>> {
    if x.len() != weights.rows {
        return Err(AimcError::ShapeMismatch {
            what: "input vector",
            expected: format!("{} values", weights.rows),
            found: format!("{} values", x.len()),
        });
    }
    let block_rows = block_rows.max(1);
    let mut y = vec![0.0f32; weights.cols];
    let mut partial = vec![0.0f32; weights.cols];
    for (xb, wb) in x
        .chunks(block_rows)
        .zip(weights.data.chunks(block_rows * weights.cols.max(1)))
    {
        partial.iter_mut().for_each(|p| *p = 0.0);
        for (xi, wrow) in xb.iter().zip(wb.chunks_exact(weights.cols.max(1))) {
            for (p, w) in partial.iter_mut().zip(wrow) {
                *p += xi * w;
            }
        }
        for (acc, p) in y.iter_mut().zip(&partial) {
            *acc += p;
        }
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_access() {
        assert!(Matrix::new(2, 3, vec![0.0; 5]).is_err());
        let m = Matrix::from_fn(2, 3, |r, c| (r * 10 + c) as f32);
        assert_eq!(m.get(1, 2), Some(12.0));
        assert_eq!(m.get(2, 0), None);
        assert_eq!(m.row(1), Some(&[10.0, 11.0, 12.0][..]));
        assert_eq!(m.row(2), None);
    }

    #[test]
    fn non_finite_is_located() {
        let m = Matrix::new(2, 2, vec![0.0, 1.0, f32::NAN, 3.0]).unwrap();
        let e = m.check_finite("weights").unwrap_err().to_string();
        assert!(
            e.contains("row 1, column 0") && e.contains("weights"),
            "{e}"
        );
    }

    #[test]
    fn reference_single_block_is_plain_dot() {
        let w = Matrix::from_fn(7, 3, |r, c| ((r * 3 + c) as f32 * 0.37).sin());
        let x: Vec<f32> = (0..7).map(|i| (i as f32 * 1.3).cos()).collect();
        let y = reference_mvm(&w, &x, 7).unwrap();
        for (j, yj) in y.iter().enumerate() {
            let mut acc = 0.0f32;
            for (i, xi) in x.iter().enumerate() {
                acc += xi * w.get(i, j).unwrap();
            }
            assert_eq!(acc.to_bits(), yj.to_bits());
        }
    }
}
