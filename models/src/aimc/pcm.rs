//! The PCM device statistics of the reference kit (Nandakumar et al., ICECS 2019), as pure
//! functions of conductances in uS. Formulas: `shared/reference/aimc-noise.md`, `docs/aimc.md`.

/// Programming-noise polynomial coefficients `c0, c1, c2` in uS, referenced to 25 uS.
pub const PROG_COEFFS: [f32; 3] = [0.26348, 1.9650, -1.1731];
/// Reference g_max of [`PROG_COEFFS`] in uS.
pub const PROG_COEFF_G_MAX_US: f32 = 25.0;
/// Lower clip of the relative conductance in the drift-exponent formulas.
pub const G_REL_MIN: f32 = 1e-7;
/// Drift-comp reference floor: `ref = max(mean |y|, DRIFT_COMP_FLOOR)`.
pub const DRIFT_COMP_FLOOR: f32 = 1e-4;

/// Standard deviation of the programming noise at target conductance `g_t` (uS):
/// `(c0 + c1 r + c2 r^2) * g_max / 25` with `r = g_t / g_max`.
pub fn prog_noise_sigma(g_t: f32, g_max: f32) -> f32 {
    let r = g_t / g_max;
    (PROG_COEFFS[0] + PROG_COEFFS[1] * r + PROG_COEFFS[2] * r * r) * g_max / PROG_COEFF_G_MAX_US
}

/// Mean and standard deviation of the normal that the drift exponent is folded from, for
/// target conductance `g_t` (uS): `mu = clamp(-0.0155 ln g_rel + 0.0244, 0.049, 0.1)`,
/// `sigma = clamp(-0.0125 ln g_rel - 0.0059, 0.008, 0.045)`, `g_rel = max(|g_t/g_max|, 1e-7)`.
pub fn drift_exponent_params(g_t: f32, g_max: f32) -> (f32, f32) {
    let ln_rel = (g_t / g_max).abs().max(G_REL_MIN).ln();
    let mu = (-0.0155 * ln_rel + 0.0244).clamp(0.049, 0.1);
    let sigma = (-0.0125 * ln_rel - 0.0059).clamp(0.008, 0.045);
    (mu, sigma)
}

/// Drift exponent from a standard-normal draw `z`: `nu = max(0, |mu + sigma z|)`.
pub fn drift_exponent(g_t: f32, g_max: f32, z: f32) -> f32 {
    let (mu, sigma) = drift_exponent_params(g_t, g_max);
    (mu + sigma * z).abs().max(0.0)
}

/// Read-noise amplitude `Q_s = min(0.0088 / max((|g_prog|/g_max)^0.65, 1e-3), 0.2)`.
pub fn read_noise_q(g_prog: f32, g_max: f32) -> f32 {
    (0.0088 / (g_prog.abs() / g_max).powf(0.65).max(1e-3)).min(0.2)
}

/// Time factor of the 1/f read noise, `sqrt(ln((t + t_read) / (2 t_read)))`, with `t` the time
/// since programming plus t0 (so `t > t_read` and the logarithm is positive).
pub fn read_noise_time_factor(t_s: f64, t_read_s: f64) -> f64 {
    ((t_s + t_read_s) / (2.0 * t_read_s)).ln().max(0.0).sqrt()
}

/// `ln(t / t0)` with `t = t_inf + t0`: the drift factor of a device is `exp(-nu * this)`.
pub fn drift_log_ratio(t_inf_s: f64, t0_s: f64) -> f64 {
    ((t_inf_s + t0_s) / t0_s).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_spot_values() {
        // c0 at g_t = 0; c0 + c1 + c2 at g_t = g_max.
        assert!((prog_noise_sigma(0.0, 25.0) - 0.26348).abs() < 1e-6);
        assert!((prog_noise_sigma(25.0, 25.0) - (0.26348 + 1.9650 - 1.1731)).abs() < 1e-5);
        // Doubling g_max doubles sigma at the same relative conductance.
        assert!((prog_noise_sigma(50.0, 50.0) - 2.0 * prog_noise_sigma(25.0, 25.0)).abs() < 1e-5);
        // g_rel = 1: mu = 0.0244 -> clamped to 0.049; sigma = -0.0059 -> clamped to 0.008.
        assert_eq!(drift_exponent_params(25.0, 25.0), (0.049, 0.008));
        // g_rel = 1e-7 (g_t = 0): mu = 0.274 -> 0.1; sigma = 0.1956 -> 0.045.
        assert_eq!(drift_exponent_params(0.0, 25.0), (0.1, 0.045));
        assert!((read_noise_q(25.0, 25.0) - 0.0088).abs() < 1e-7);
        assert_eq!(read_noise_q(0.0, 25.0), 0.2);
        assert!(drift_exponent(25.0, 25.0, -100.0) >= 0.0);
    }
}
