//! One physical crossbar: programmed devices, the weights they realise at an inference time,
//! drift compensation and the periphery (DAC, output noise, ADC, bound management).
//!
//! Storage is row-major `rows x cols` (row i = input i). The MVM is an axpy over rows, so
//! every output column is summed sequentially over the rows starting from 0.0, exactly like a
//! plain f32 dot product; rows whose input is zero are skipped, which cannot change any sum
//! (an accumulator that starts at +0.0 never becomes -0.0, and adding +-0.0 to any other value
//! leaves it unchanged).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::config::{
    BoundManagement, DriftCompensation, NoiseModel, ReadNoiseRedraw, Realise, Scaling, TileConfig,
};
use super::pcm;
use super::rng::{stream, Purpose};

/// A converter: `levels` steps per sign up to `bound`, or no grid (`levels` = 0: saturation
/// only, `ConverterConfig::quantise` false).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quantizer {
    pub(crate) levels: f32,
    pub(crate) bound: f32,
}

impl Quantizer {
    /// Round half to even to the grid `k * bound / levels` and saturate at `+-bound` (without
    /// a grid: saturate only).
    #[inline]
    pub(crate) fn quantize(self, v: f32) -> f32 {
        if self.levels == 0.0 {
            return v.clamp(-self.bound, self.bound);
        }
        let x = v * self.levels / self.bound;
        // Below 2^22, adding and removing 1.5 x 2^23 rounds to an integer, ties to even (the
        // host's default mode), as `round_ties_even` does but without its libm call on
        // baseline x86-64; `copysign` keeps the sign of a result rounded to zero.
        let r = if x.abs() < 4_194_304.0 {
            ((x + 12_582_912.0) - 12_582_912.0).copysign(x)
        } else {
            x.round_ties_even()
        };
        r.clamp(-self.levels, self.levels) * self.bound / self.levels
    }
}

/// The periphery settings one pass needs, copied out of the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Periphery {
    /// Work in weight units with no input scaling (every nonideality off).
    pub(crate) exact: bool,
    pub(crate) dac: Option<Quantizer>,
    pub(crate) adc: Option<Quantizer>,
    pub(crate) out_noise: f32,
    /// Largest bound-management reduction factor, if bound management is on.
    pub(crate) bm_limit: Option<f32>,
}

impl Periphery {
    pub(crate) fn new(cfg: &TileConfig) -> Self {
        let q = |c: &super::config::ConverterConfig| {
            c.enabled.then(|| Quantizer {
                levels: if c.quantise { c.levels() } else { 0.0 },
                bound: c.bound,
            })
        };
        let bm_limit = match cfg.bound_management {
            BoundManagement::Off => None,
            BoundManagement::Iterative {
                max_factor,
                max_res,
            } => Some(if cfg.dac.enabled && cfg.dac.quantise {
                max_factor.min(max_res / (cfg.dac.resolution() * 2.0 * cfg.dac.bound))
            } else {
                max_factor
            }),
        };
        Self {
            exact: cfg.is_exact(),
            dac: q(&cfg.dac),
            adc: q(&cfg.adc),
            out_noise: cfg.output_noise,
            bm_limit,
        }
    }
}

/// Per-device state of the PCM model, drawn once at programming (index = row * cols + col).
#[derive(Debug, Clone)]
pub(crate) struct Devices {
    /// Programmed conductance of the positive / negative device (uS).
    pub(crate) g_prog: [Vec<f32>; 2],
    /// Drift exponent (already multiplied by the drift scale).
    pub(crate) nu: [Vec<f32>; 2],
    /// Read-noise amplitude Q_s (already multiplied by the read-noise scale).
    pub(crate) q_s: [Vec<f32>; 2],
}

/// Scratch buffers of one pass.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scratch {
    x: Vec<f32>,
    y: Vec<f32>,
}

/// One programmed crossbar.
#[derive(Debug, Clone)]
pub(crate) struct Crossbar {
    pub(crate) tile_id: u64,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    seed: u64,
    periphery: Periphery,
    noise: NoiseModel,
    g_max: f32,
    g_min: f32,
    drift_comp: DriftCompensation,
    /// Weight units per normalised unit, per column (1.0 on the exact path).
    pub(crate) col_scale: Vec<f32>,
    /// PCM devices, when the PCM model is on.
    pub(crate) devices: Option<Devices>,
    /// Normalised weights realised at `realised_at` (right after programming: programming
    /// noise only, no drift or read noise).
    pub(crate) w_eff: Vec<f32>,
    pub(crate) realised_at: Option<f64>,
    /// Drift-compensation baseline: one value (global) or one per column; empty when off.
    baseline: Vec<f32>,
    /// Output factor per column from drift compensation (1.0 when off).
    pub(crate) alpha: Vec<f32>,
    reads: u64,
    probes: u64,
    out_rng: ChaCha8Rng,
    scratch: Scratch,
}

/// y = x W for row-major `w` with `y.len()` columns; see the module doc for the order.
#[inline]
pub(crate) fn gemv(x: &[f32], w: &[f32], y: &mut [f32]) {
    y.fill(0.0);
    let cols = y.len();
    if cols == 0 {
        return;
    }
    for (xi, row) in x.iter().zip(w.chunks_exact(cols)) {
        let xi = *xi;
        if xi == 0.0 {
            continue;
        }
        for (yj, wij) in y.iter_mut().zip(row) {
            *yj += xi * wij;
        }
    }
}

/// One forward pass of a vector through the periphery and the weights `w` (`rows x cols`):
/// abs-max input scaling, DAC, MVM, output noise, ADC with saturation and iterative bound
/// management. Writes `y * input scale` to `out` (normalised weight units, input units) and
/// returns the number of analog passes used (1 + bound-management repetitions).
pub(crate) fn pass(
    p: &Periphery,
    w: &[f32],
    x: &[f32],
    rng: &mut ChaCha8Rng,
    scratch: &mut Scratch,
    out: &mut [f32],
) -> u32 {
    let cols = out.len();
    scratch.x.resize(x.len(), 0.0);
    scratch.y.resize(cols, 0.0);
    let a = if p.exact {
        1.0
    } else {
        let m = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if m > 0.0 {
            m
        } else {
            1.0
        }
    };
    let mut factor = 1.0f32;
    let mut passes = 0u32;
    loop {
        passes += 1;
        let scale = a * factor;
        match p.dac {
            Some(dac) => {
                for (xq, xi) in scratch.x.iter_mut().zip(x) {
                    *xq = dac.quantize(xi / scale);
                }
            }
            None if p.exact => scratch.x.copy_from_slice(x),
            None => {
                for (xq, xi) in scratch.x.iter_mut().zip(x) {
                    *xq = xi / scale;
                }
            }
        }
        gemv(&scratch.x, w, &mut scratch.y);
        if p.out_noise > 0.0 {
            for y in scratch.y.iter_mut() {
                let z: f32 = rng.sample(StandardNormal);
                *y += p.out_noise * z;
            }
        }
        let mut saturated = false;
        if let Some(adc) = p.adc {
            for y in scratch.y.iter_mut() {
                saturated |= y.abs() >= adc.bound;
                *y = adc.quantize(*y);
            }
        }
        if saturated {
            if let Some(limit) = p.bm_limit {
                if factor * 2.0 <= limit {
                    factor *= 2.0;
                    continue;
                }
            }
        }
        for (o, y) in out.iter_mut().zip(&scratch.y) {
            *o = y * scale;
        }
        return passes;
    }
}

impl Crossbar {
    /// Programs a block of (already clipped, finite) weights, `rows x cols` row-major, into
    /// crossbar `tile_id`.
    pub(crate) fn program(
        cfg: &TileConfig,
        weights: &[f32],
        rows: usize,
        cols: usize,
        tile_id: u64,
    ) -> Self {
        let periphery = Periphery::new(cfg);
        let n = rows * cols;
        // Column max |W| of this block.
        let mut col_max = vec![0.0f32; cols];
        if cols > 0 {
            for row in weights.chunks_exact(cols) {
                for (m, w) in col_max.iter_mut().zip(row) {
                    *m = m.max(w.abs());
                }
            }
        }
        let nonzero = |m: f32| if m > 0.0 { m } else { 1.0 };
        let col_scale: Vec<f32> = if periphery.exact {
            vec![1.0; cols]
        } else {
            match cfg.mapping.scaling {
                Scaling::ChannelWise => col_max.iter().map(|&m| nonzero(m)).collect(),
                Scaling::PerTile => {
                    vec![nonzero(col_max.iter().fold(0.0f32, |a, &b| a.max(b))); cols]
                }
            }
        };
        let mut w_norm = Vec::with_capacity(n);
        if cols > 0 {
            for row in weights.chunks_exact(cols) {
                w_norm.extend(row.iter().zip(&col_scale).map(|(w, s)| w / s));
            }
        }
        let g_max = cfg.mapping.g_max_us;
        let g_min = cfg.mapping.g_min_us;
        let g_range = g_max - g_min;
        let mut devices = None;
        let w_prog = match &cfg.noise {
            NoiseModel::Off => w_norm,
            NoiseModel::WeightNoise(wn) => {
                let mut rng = stream(cfg.seed, tile_id, Purpose::WeightNoise, 0);
                let sig: Vec<f32> = col_max
                    .iter()
                    .zip(&col_scale)
                    .map(|(m, s)| wn.relative_sigma * m / s)
                    .collect();
                let mut w = w_norm;
                if wn.relative_sigma > 0.0 && cols > 0 {
                    for row in w.chunks_exact_mut(cols) {
                        for (v, s) in row.iter_mut().zip(&sig) {
                            let z: f32 = rng.sample(StandardNormal);
                            *v += s * z;
                        }
                    }
                }
                w
            }
            NoiseModel::Pcm(pc) => {
                let mut prog_rng = stream(cfg.seed, tile_id, Purpose::ProgNoise, 0);
                let mut drift_rng = stream(cfg.seed, tile_id, Purpose::DriftExponent, 0);
                let mut d = Devices {
                    g_prog: [Vec::with_capacity(n), Vec::with_capacity(n)],
                    nu: [Vec::with_capacity(n), Vec::with_capacity(n)],
                    q_s: [Vec::with_capacity(n), Vec::with_capacity(n)],
                };
                let mut w = Vec::with_capacity(n);
                for &wn in &w_norm {
                    let targets = [
                        (wn.max(0.0) * g_range).min(g_max) + g_min,
                        ((-wn).max(0.0) * g_range).min(g_max) + g_min,
                    ];
                    let mut g = [0.0f32; 2];
                    for (k, &g_t) in targets.iter().enumerate() {
                        let g_p = if pc.prog_noise_scale > 0.0 {
                            let z: f32 = prog_rng.sample(StandardNormal);
                            (g_t + pc.prog_noise_scale * pcm::prog_noise_sigma(g_t, g_max) * z)
                                .max(0.0)
                        } else {
                            g_t
                        };
                        let nu = if pc.drift_scale > 0.0 {
                            let z: f32 = drift_rng.sample(StandardNormal);
                            pcm::drift_exponent(g_t, g_max, z) * pc.drift_scale
                        } else {
                            0.0
                        };
                        g[k] = g_p;
                        d.g_prog[k].push(g_p);
                        d.nu[k].push(nu);
                        d.q_s[k].push(pcm::read_noise_q(g_p, g_max) * pc.read_noise_scale);
                    }
                    w.push((g[0] - g[1]) / g_range);
                }
                devices = Some(d);
                w
            }
        };
        let mut xb = Self {
            tile_id,
            rows,
            cols,
            seed: cfg.seed,
            periphery,
            noise: cfg.noise.clone(),
            g_max,
            g_min,
            drift_comp: cfg.drift_compensation,
            col_scale,
            w_eff: w_prog,
            devices,
            realised_at: None,
            baseline: Vec::new(),
            alpha: vec![1.0; cols],
            reads: 0,
            probes: 0,
            out_rng: stream(cfg.seed, tile_id, Purpose::OutputNoise, 0),
            scratch: Scratch::default(),
        };
        if xb.drift_comp != DriftCompensation::Off {
            // Calibration right after programming: the programmed weights, no read noise.
            let means = xb.probe();
            xb.baseline = means.iter().map(|m| m.max(pcm::DRIFT_COMP_FLOOR)).collect();
        }
        xb
    }

    /// Whether the read noise is re-drawn before every MVM.
    pub(crate) fn redraw_per_mvm(&self) -> bool {
        matches!(&self.noise, NoiseModel::Pcm(p) if p.read_noise_redraw == ReadNoiseRedraw::PerMvm)
    }

    /// Realises the weights at `t_inf_s` seconds after programming: drift and a fresh 1/f
    /// read-noise draw (PCM), then the drift-compensation factors from the identity probe.
    pub(crate) fn realise(&mut self, t_inf_s: f64) {
        if let (Some(d), NoiseModel::Pcm(pc)) = (&self.devices, &self.noise) {
            let mut rng = stream(self.seed, self.tile_id, Purpose::ReadNoise, self.reads);
            self.reads += 1;
            let t = t_inf_s + pc.t0_s;
            let ln_ratio = pcm::drift_log_ratio(t_inf_s, pc.t0_s) as f32;
            let drift = ln_ratio > 0.0 && pc.drift_scale > 0.0;
            let read_factor = pcm::read_noise_time_factor(t, pc.t_read_s) as f32;
            let read = pc.read_noise_scale > 0.0 && read_factor > 0.0;
            let g_range = self.g_max - self.g_min;
            let [gp0, gp1] = &d.g_prog;
            let [nu0, nu1] = &d.nu;
            let [q0, q1] = &d.q_s;
            let mut realise_dev = |g: f32, nu: f32, q: f32| -> f32 {
                let g_d = if drift { g * (-nu * ln_ratio).exp() } else { g };
                if read {
                    let z: f32 = rng.sample(StandardNormal);
                    (g_d + g_d.abs() * q * read_factor * z).max(0.0)
                } else {
                    g_d
                }
            };
            if pc.realise == Realise::AihwkitReconvert {
                let (gpos_t, gneg_t, scale) = reconvert(gp0, gp1, self.g_min, self.g_max);
                let q = |g: f32| pcm::read_noise_q(g, self.g_max) * pc.read_noise_scale;
                for (k, w) in self.w_eff.iter_mut().enumerate() {
                    let (Some(&g0), Some(&g1), Some(&n0), Some(&n1)) =
                        (gpos_t.get(k), gneg_t.get(k), nu0.get(k), nu1.get(k))
                    else {
                        break;
                    };
                    let gpos = realise_dev(g0, n0, q(g0));
                    let gneg = realise_dev(g1, n1, q(g1));
                    *w = (gpos - gneg) / scale;
                }
            } else {
                for (k, w) in self.w_eff.iter_mut().enumerate() {
                    // All six arrays have length rows * cols, the length of w_eff.
                    let (Some(&g0), Some(&g1), Some(&n0), Some(&n1), Some(&s0), Some(&s1)) = (
                        gp0.get(k),
                        gp1.get(k),
                        nu0.get(k),
                        nu1.get(k),
                        q0.get(k),
                        q1.get(k),
                    ) else {
                        break;
                    };
                    let gpos = realise_dev(g0, n0, s0);
                    let gneg = realise_dev(g1, n1, s1);
                    *w = (gpos - gneg) / g_range;
                }
            }
        }
        if self.drift_comp != DriftCompensation::Off {
            let now = self.probe();
            match self.drift_comp {
                DriftCompensation::Global => {
                    let a = self.baseline.first().copied().unwrap_or(1.0)
                        / now
                            .first()
                            .copied()
                            .unwrap_or(1.0)
                            .max(pcm::DRIFT_COMP_FLOOR);
                    self.alpha.fill(a);
                }
                DriftCompensation::PerColumn => {
                    for ((a, b), m) in self.alpha.iter_mut().zip(&self.baseline).zip(&now) {
                        *a = b / m.max(pcm::DRIFT_COMP_FLOOR);
                    }
                }
                DriftCompensation::Off => {}
            }
        }
        self.realised_at = Some(t_inf_s);
    }

    /// Pushes the identity (one unit input per row) through the tile with the full periphery
    /// and returns mean |output|: one value (global) or one per column. Uses the probe noise
    /// stream, so ordinary MVM outputs do not depend on whether compensation is on.
    fn probe(&mut self) -> Vec<f32> {
        let mut rng = stream(self.seed, self.tile_id, Purpose::ProbeNoise, self.probes);
        self.probes += 1;
        let mut x = vec![0.0f32; self.rows];
        let mut out = vec![0.0f32; self.cols];
        let mut sums = vec![0.0f64; self.cols];
        for i in 0..self.rows {
            if let Some(xi) = x.get_mut(i) {
                *xi = 1.0;
            }
            pass(
                &self.periphery,
                &self.w_eff,
                &x,
                &mut rng,
                &mut self.scratch,
                &mut out,
            );
            for (s, o) in sums.iter_mut().zip(&out) {
                *s += f64::from(o.abs());
            }
            if let Some(xi) = x.get_mut(i) {
                *xi = 0.0;
            }
        }
        let rows = self.rows.max(1) as f64;
        match self.drift_comp {
            DriftCompensation::PerColumn => sums.iter().map(|s| (s / rows) as f32).collect(),
            _ => {
                let total: f64 = sums.iter().sum();
                vec![(total / (rows * self.cols.max(1) as f64)) as f32]
            }
        }
    }

    /// One MVM of `x` (length `rows`) at the realised time; writes `cols` outputs in weight
    /// units (column scale and drift compensation applied) and returns the pass count.
    pub(crate) fn mvm(&mut self, x: &[f32], out: &mut [f32]) -> u32 {
        let passes = pass(
            &self.periphery,
            &self.w_eff,
            x,
            &mut self.out_rng,
            &mut self.scratch,
            out,
        );
        if !self.periphery.exact || self.drift_comp != DriftCompensation::Off {
            for ((o, s), a) in out.iter_mut().zip(&self.col_scale).zip(&self.alpha) {
                *o *= s * a;
            }
        }
        passes
    }
}

/// The reference kit's re-conversion of programmed pairs (`Realise::AihwkitReconvert`): the
/// net weights `(g+ - g-) / (g_max - g_min)` are mapped back to one device per sign with the
/// scale `(g_max - g_min) / max |net weight|` (the kit's `SinglePairConductanceConverter`,
/// largest magnitude floored at 1e-7 as there): `g = clamp(w * scale, 0, g_max) + g_min`.
/// Returns the positive and negative conductances and the scale (uS per normalised weight).
pub(crate) fn reconvert(
    g_pos: &[f32],
    g_neg: &[f32],
    g_min: f32,
    g_max: f32,
) -> (Vec<f32>, Vec<f32>, f32) {
    let g_range = g_max - g_min;
    let net: Vec<f32> = g_pos
        .iter()
        .zip(g_neg)
        .map(|(p, n)| (p - n) / g_range)
        .collect();
    let max = net.iter().fold(0.0f32, |m, w| m.max(w.abs())).max(1e-7);
    let scale = g_range / max;
    let pos = net
        .iter()
        .map(|w| (w * scale).clamp(0.0, g_max) + g_min)
        .collect();
    let neg = net
        .iter()
        .map(|w| (-w * scale).clamp(0.0, g_max) + g_min)
        .collect();
    (pos, neg, scale)
}

#[cfg(test)]
mod tests {
    //! Statistical checks of the PCM model against the reference formulas.
    //!
    //! Tolerances: for n independent draws of a distribution with standard deviation s, the
    //! sample mean has standard error s / sqrt(n) and the sample standard deviation of a
    //! (near-)normal sample has standard error s / sqrt(2 n). Every check allows 5 standard
    //! errors (two-sided p of about 6e-7 per check for a correct model), with n >= 100,000
    //! devices and fixed seeds, so the tests are deterministic.
    use super::*;
    use crate::aimc::config::{Clipping, MappingConfig, PcmConfig};

    /// The converter's rounding gives exactly `round_ties_even` then the clamp, sign of zero
    /// included: on ties (k + 1/2) of both parities, values just beside them, tiny values of
    /// both signs, the 2^22 boundary, saturation, a non-integer level count and NaN.
    #[test]
    fn quantize_rounds_ties_to_even_bit_exactly() {
        let want = |q: Quantizer, v: f32| {
            (v * q.levels / q.bound)
                .round_ties_even()
                .clamp(-q.levels, q.levels)
                * q.bound
                / q.levels
        };
        let mut vals: Vec<f32> = vec![0.0, -0.0, 1e-30, -1e-30, 0.3, -0.3, f32::NAN];
        for k in -300..300 {
            let t = k as f32 + 0.5;
            vals.extend([t, -t, t.next_up(), t.next_down()]);
        }
        for e in [21, 22, 23, 24, 30] {
            let x = (1u64 << e) as f32;
            vals.extend([x, x + 0.5, x - 0.5, -x - 0.5, x.next_up(), x.next_down()]);
        }
        for levels in [127.0f32, 255.5, 4_194_303.0, 1e9] {
            let q = Quantizer {
                levels,
                bound: levels,
            };
            for &v in &vals {
                let (got, w) = (q.quantize(v), want(q, v));
                assert!(
                    got.to_bits() == w.to_bits() || (got.is_nan() && w.is_nan()),
                    "levels {levels}, v {v:e}: {got:e} != {w:e}"
                );
            }
        }
    }

    // Expectations are written from the reference text (shared/reference/aimc-noise.md) with
    // literal constants, independently of `pcm.rs`, and computed in f64.
    fn ref_prog_sigma(g_t: f64) -> f64 {
        let r = g_t / 25.0;
        0.26348 + 1.9650 * r - 1.1731 * r * r
    }

    fn ref_drift_params(g_t: f64) -> (f64, f64) {
        let l = (g_t / 25.0).abs().max(1e-7).ln();
        (
            (-0.0155 * l + 0.0244).clamp(0.049, 0.1),
            (-0.0125 * l - 0.0059).clamp(0.008, 0.045),
        )
    }

    fn ref_read_sigma(g: f64, t: f64) -> f64 {
        let q = (0.0088 / (g.abs() / 25.0).powf(0.65).max(1e-3)).min(0.2);
        q * ((t + 250e-9) / (2.0 * 250e-9)).ln().sqrt()
    }

    /// 320 x 320 = 102,400 weights, one device per weight at the target of interest.
    const SIDE: usize = 320;
    const N: usize = SIDE * SIDE;

    fn pcm_cfg(prog: f32, drift: f32, read: f32) -> TileConfig {
        TileConfig {
            rows: SIDE,
            cols: SIDE,
            mapping: MappingConfig {
                scaling: Scaling::PerTile,
                clipping: Clipping::Off,
                ..MappingConfig::default()
            },
            noise: NoiseModel::Pcm(PcmConfig {
                prog_noise_scale: prog,
                drift_scale: drift,
                read_noise_scale: read,
                ..PcmConfig::default()
            }),
            drift_compensation: DriftCompensation::Off,
            seed: 1234,
            ..TileConfig::default()
        }
    }

    /// The kit's re-conversion by hand: pairs (20, 1), (3, 8), (0.5, 0.5) uS with g in
    /// [0, 25] have net weights 0.76, -0.2, 0; the scale is 25 / 0.76 = 32.894737 uS per unit,
    /// so the pairs become (25, 0), (0, 6.578947), (0, 0). With g_min = 1 (range 24): nets
    /// 19/24, -5/24, 0, scale 24 / (19/24) = 30.315789, pairs (25, 1), (1, 7.315789), (1, 1).
    #[test]
    fn reconvert_maps_net_weights_to_one_device_per_sign() {
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-4);
        let (p, n, s) = reconvert(&[20.0, 3.0, 0.5], &[1.0, 8.0, 0.5], 0.0, 25.0);
        assert!((s - 32.894_737).abs() < 1e-3, "{s}");
        assert!(
            close(&p, &[25.0, 0.0, 0.0]) && close(&n, &[0.0, 6.578_947, 0.0]),
            "{p:?} {n:?}"
        );
        let (p, n, s) = reconvert(&[20.0, 3.0, 0.5], &[1.0, 8.0, 0.5], 1.0, 25.0);
        assert!((s - 30.315_789).abs() < 1e-3, "{s}");
        assert!(
            close(&p, &[25.0, 1.0, 1.0]) && close(&n, &[1.0, 7.315_789, 1.0]),
            "{p:?} {n:?}"
        );
    }

    /// `AihwkitReconvert` against `Devices` on the same programmed tile: right after
    /// programming with read noise off both give the programmed weights; a year later, in the
    /// kit's flow a cell with a positive programmed weight has its negative device at 0 uS, so
    /// drift and read noise can never flip its sign, while the devices as programmed (the
    /// negative one carries programming noise around 0 uS) flip many of the small weights.
    #[test]
    fn kit_reconversion_keeps_one_device_per_sign() {
        let realised = |mode: Realise, read: f32, t: f64| {
            let mut cfg = pcm_cfg(1.0, 1.0, read);
            if let NoiseModel::Pcm(p) = &mut cfg.noise {
                p.realise = mode;
            }
            let mut xb = program_level(&cfg, 0.01);
            let programmed = xb.w_eff.clone();
            xb.realise(t);
            (programmed, xb.w_eff.clone())
        };
        let (prog, dev0) = realised(Realise::Devices, 0.0, 0.0);
        let (_, kit0) = realised(Realise::AihwkitReconvert, 0.0, 0.0);
        for ((p, d), k) in prog.iter().zip(&dev0).zip(&kit0) {
            assert!(
                (p - d).abs() <= 1e-6 && (p - k).abs() <= 1e-6,
                "{p} {d} {k}"
            );
        }
        let year = 365.0 * 86400.0;
        let flips = |w: &[f32]| {
            prog.iter()
                .zip(w)
                .filter(|(p, w)| **p > 0.0 && **w < 0.0)
                .count()
        };
        let (_, dev) = realised(Realise::Devices, 1.0, year);
        let (_, kit) = realised(Realise::AihwkitReconvert, 1.0, year);
        assert_eq!(flips(&kit), 0, "one device per sign cannot flip");
        assert!(flips(&dev) > N / 100, "{} flips of {N}", flips(&dev));
    }

    /// The statistics of `AihwkitReconvert` (the kit's flow) against the formulas: with
    /// programming noise and drift on (read noise off), every weight at 0.5 (g_T = 12.5 uS;
    /// the negative devices target 0 uS and carry programming noise) is re-converted to one
    /// positive device holding its net programmed weight, so its value a year later is that
    /// weight times exp(-nu L) with nu ~ N(mu, sigma^2) of g_T (mu 0.049 and sigma 0.008,
    /// both at their clamps; L = ln((t + 20) / 20) = 14.27 for a year): the mean ratio
    /// w(t) / w(0) is exp(-mu L + sigma^2 L^2 / 2) = 0.5002 (standard deviation 0.0573,
    /// standard error 1.8e-4 over 102,399 weights). The devices as programmed (`Devices`) keep
    /// the negative device's conductance (about 0.105 uS), which drifts faster (mu 0.1, sigma
    /// 0.045 at 0 uS: E[exp(-nu L)] = 0.295): their ratio is higher by about
    /// 0.105 / 12.5 x (0.500 - 0.295) = 0.0017, about 10 standard errors, so the test tells the
    /// two flows apart.
    #[test]
    fn kit_reconversion_drifts_the_net_weight_as_the_formula_says() {
        let ratio = |mode: Realise| {
            let mut cfg = pcm_cfg(1.0, 1.0, 0.0);
            if let NoiseModel::Pcm(p) = &mut cfg.noise {
                p.realise = mode;
            }
            let mut xb = program_level(&cfg, 0.5);
            xb.realise(0.0);
            let w0 = xb.w_eff.clone();
            let year = 365.0 * 86400.0;
            xb.realise(year);
            assert!(w0.iter().all(|&w| w > 0.0), "every net weight is positive");
            mean_std(
                xb.w_eff
                    .iter()
                    .zip(&w0)
                    .skip(1)
                    .map(|(&w, &w0)| f64::from(w) / f64::from(w0)),
            )
        };
        let (mu, sigma) = ref_drift_params(12.5);
        let l = ((365.0 * 86400.0 + 20.0) / 20.0f64).ln();
        let want = (-mu * l + sigma * sigma * l * l / 2.0).exp();
        let (mean, std, n) = ratio(Realise::AihwkitReconvert);
        let sd = want * ((sigma * sigma * l * l).exp() - 1.0).sqrt();
        let tol = 5.0 * sd / (n as f64).sqrt();
        assert_close("kit: mean w(t)/w(0)", mean, want, tol);
        assert_close("kit: std", std, sd, 5.0 * sd / (2.0 * n as f64).sqrt());
        let (devices, _, _) = ratio(Realise::Devices);
        assert!(
            devices - want > tol,
            "the device model's ratio {devices} should exceed the kit's {want} by more than {tol}"
        );
    }

    /// Weight 0 is 1.0 (sets the per-tile scale so that 1.0 maps to g_max); all others are
    /// `r`, so their positive devices target `r * g_max` and their negative devices 0 uS.
    fn program_level(cfg: &TileConfig, r: f32) -> Crossbar {
        let mut w = vec![r; N];
        w[0] = 1.0;
        Crossbar::program(cfg, &w, SIDE, SIDE, 7)
    }

    fn mean_std(v: impl Iterator<Item = f64> + Clone) -> (f64, f64, usize) {
        let n = v.clone().count();
        let mean = v.clone().sum::<f64>() / n as f64;
        let var = v.map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        (mean, var.sqrt(), n)
    }

    fn assert_close(what: &str, got: f64, want: f64, tol: f64) {
        assert!(
            (got - want).abs() <= tol,
            "{what}: got {got}, want {want} +- {tol}"
        );
    }

    #[test]
    fn programming_noise_std_follows_polynomial() {
        let cfg = pcm_cfg(1.0, 0.0, 0.0);
        for r in [0.2f32, 0.5, 1.0] {
            let xb = program_level(&cfg, r);
            let d = xb.devices.as_ref().unwrap();
            let g_t = f64::from(r * 25.0);
            let sigma = ref_prog_sigma(g_t);
            // At g_T >= 5 uS, sigma <= 1.1 uS: the clamp at 0 is > 4.5 sigma away.
            let (mean, std, n) = mean_std(d.g_prog[0].iter().skip(1).map(|&g| f64::from(g)));
            let nf = n as f64;
            assert!(n >= 100_000);
            assert_close("prog mean", mean, g_t, 5.0 * sigma / nf.sqrt());
            assert_close("prog std", std, sigma, 5.0 * sigma / (2.0 * nf).sqrt());
        }
        // Negative devices target 0 uS: g = max(0, c0 z), so P(g = 0) = 1/2 and
        // E[g^2] = c0^2 / 2; Var(g^2) = E[g^4] - E[g^2]^2 = 3 c0^4 / 2 - c0^4 / 4 = 1.25 c0^4.
        let xb = program_level(&cfg, 0.5);
        let neg = &xb.devices.as_ref().unwrap().g_prog[1];
        let c0 = 0.26348;
        let nf = neg.len() as f64;
        let zeros = neg.iter().filter(|&&g| g == 0.0).count() as f64 / nf;
        assert_close("P(g = 0)", zeros, 0.5, 5.0 * 0.5 / nf.sqrt());
        let m2 = neg
            .iter()
            .map(|&g| f64::from(g) * f64::from(g))
            .sum::<f64>()
            / nf;
        assert_close(
            "E[g^2] at 0 uS",
            m2,
            c0 * c0 / 2.0,
            5.0 * 1.25f64.sqrt() * c0 * c0 / nf.sqrt(),
        );
    }

    /// erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7).
    fn erf(x: f64) -> f64 {
        let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
        let y = 1.0
            - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736)
                * t
                + 0.254_829_592)
                * t
                * (-x * x).exp();
        y.copysign(x)
    }

    /// Mean and standard deviation of |X| for X ~ N(mu, sigma^2) (folded normal).
    fn folded(mu: f64, sigma: f64) -> (f64, f64) {
        let mean =
            sigma * (2.0 / std::f64::consts::PI).sqrt() * (-mu * mu / (2.0 * sigma * sigma)).exp()
                + mu * erf(mu / (sigma * std::f64::consts::SQRT_2));
        (mean, (mu * mu + sigma * sigma - mean * mean).sqrt())
    }

    #[test]
    fn drift_exponent_mean_and_spread() {
        let cfg = pcm_cfg(0.0, 1.0, 0.0);
        // g_T = 25 uS (mu 0.049, sigma 0.008, clamped), 5 uS and 1 uS on the positive devices;
        // 0 uS (g_rel = 1e-7: mu 0.1, sigma 0.045) on the negative devices.
        for (r, dev) in [(1.0f32, 0usize), (0.2, 0), (0.04, 0), (0.5, 1)] {
            let xb = program_level(&cfg, r);
            let nu = &xb.devices.as_ref().unwrap().nu[dev];
            let g_t = if dev == 0 { f64::from(r) * 25.0 } else { 0.0 };
            let (mu, sigma) = ref_drift_params(g_t);
            let (want_mean, want_std) = folded(mu, sigma);
            let (mean, std, n) = mean_std(nu.iter().skip(1).map(|&v| f64::from(v)));
            let nf = n as f64;
            assert_close("nu mean", mean, want_mean, 5.0 * want_std / nf.sqrt());
            assert_close("nu std", std, want_std, 5.0 * want_std / (2.0 * nf).sqrt());
        }
    }

    #[test]
    fn mean_conductance_drifts_as_expected() {
        // Only drift on; all weights 1.0, so every positive device targets g_max = 25 uS and
        // the negative devices stay at exactly 0: w_eff = g(t) / g_max = exp(-nu L) with
        // L = ln((t_inf + t0) / t0). For nu ~ N(mu, sigma^2) (folding is > 6 sigma away at
        // 25 uS), E[exp(-nu L)] = exp(-mu L + sigma^2 L^2 / 2) and
        // Var = E^2 (exp(sigma^2 L^2) - 1).
        let cfg = pcm_cfg(0.0, 1.0, 0.0);
        let mut xb = Crossbar::program(&cfg, &vec![1.0; N], SIDE, SIDE, 3);
        let (mu, sigma) = ref_drift_params(25.0);
        for t_inf in [3600.0f64, 86_400.0, 31_536_000.0] {
            xb.realise(t_inf);
            let l = ((t_inf + 20.0) / 20.0).ln();
            let want = (-mu * l + sigma * sigma * l * l / 2.0).exp();
            let sd = want * ((sigma * sigma * l * l).exp() - 1.0).sqrt();
            let (mean, _, n) = mean_std(xb.w_eff.iter().map(|&v| f64::from(v)));
            assert_close("mean g(t)/g0", mean, want, 5.0 * sd / (n as f64).sqrt());
        }
        xb.realise(0.0);
        assert!(xb.w_eff.iter().all(|&w| w == 1.0), "no drift at t_inf = 0");
    }

    #[test]
    fn read_noise_spread_follows_one_over_f_model() {
        // Only read noise on: g_final = g + |g| Q_s(g) sqrt(ln((t + t_read) / (2 t_read))) z,
        // so (w_eff - r) / r is normal with that relative sigma (clamp at 0 is > 20 sigma away).
        let cfg = pcm_cfg(0.0, 0.0, 1.0);
        for r in [1.0f32, 0.2] {
            let mut xb = program_level(&cfg, r);
            for t_inf in [0.0, 31_536_000.0] {
                xb.realise(t_inf);
                let rel = ref_read_sigma(f64::from(r) * 25.0, t_inf + 20.0);
                let rf = f64::from(r);
                let (mean, std, n) =
                    mean_std(xb.w_eff.iter().skip(1).map(|&w| (f64::from(w) - rf) / rf));
                let nf = n as f64;
                assert_close("read-noise mean", mean, 0.0, 5.0 * rel / nf.sqrt());
                assert_close("read-noise std", std, rel, 5.0 * rel / (2.0 * nf).sqrt());
            }
        }
        // Spot value: Q_s(25 uS) = 0.0088, t = 20 s: sqrt(ln(20 / 5e-7)) = 4.1838.
        assert!((ref_read_sigma(25.0, 20.0) - 0.036_817).abs() < 1e-5);
    }

    #[test]
    fn read_noise_is_redrawn_per_realisation() {
        let cfg = pcm_cfg(1.0, 1.0, 1.0);
        let mut xb = program_level(&cfg, 0.5);
        xb.realise(3600.0);
        let a = xb.w_eff.clone();
        xb.realise(3600.0);
        assert_ne!(a, xb.w_eff);
    }

    #[test]
    fn weight_noise_sigma_is_relative_to_column_max() {
        // Hardware-aware-training noise: w_eff = w / max|w_col| + 0.067 z (channel-wise), drawn
        // once. Column values 0.5 with a 2.0 at row 0: normalised 0.25, noise sigma 0.067.
        let cfg = TileConfig {
            rows: SIDE,
            cols: SIDE,
            mapping: MappingConfig {
                clipping: Clipping::Off,
                ..MappingConfig::default()
            },
            noise: NoiseModel::WeightNoise(crate::aimc::config::WeightNoiseConfig::default()),
            ..TileConfig::default()
        };
        let mut w = vec![0.5f32; N];
        w[..SIDE].fill(2.0);
        let mut xb = Crossbar::program(&cfg, &w, SIDE, SIDE, 0);
        let before = xb.w_eff.clone();
        let (mean, std, n) = mean_std(xb.w_eff[SIDE..].iter().map(|&v| f64::from(v) - 0.25));
        let nf = n as f64;
        assert_close("weight-noise mean", mean, 0.0, 5.0 * 0.067 / nf.sqrt());
        assert_close(
            "weight-noise std",
            std,
            0.067,
            5.0 * 0.067 / (2.0 * nf).sqrt(),
        );
        xb.realise(31_536_000.0);
        assert_eq!(before, xb.w_eff, "no drift or read noise in this model");
    }

    #[test]
    fn quantizer_rounds_half_to_even_and_saturates() {
        let q = Quantizer {
            levels: 127.0,
            bound: 1.0,
        };
        assert_eq!(q.quantize(1.0), 1.0);
        assert_eq!(q.quantize(-1.0), -1.0);
        assert_eq!(q.quantize(3.0), 1.0);
        assert_eq!(q.quantize(-3.0), -1.0);
        // 0.5 / 127 lies exactly between 0 and 1 / 127: half to even gives 0.
        assert_eq!(q.quantize(0.5 / 127.0), 0.0);
        assert_eq!(q.quantize(1.5 / 127.0), 2.0 / 127.0);
    }
}
