//! Tile configuration: one struct, one documented `Default` (the AHWA-LoRA study's tile), a
//! HERMES-like preset, RON loading and validation.
//!
//! Units: times in nanoseconds for hardware timing (`*_ns`) and in seconds for device physics
//! (`*_s`); conductances in microsiemens (`*_us`); periphery bounds, resolutions and noise in the
//! tile's normalised units (inputs scaled into [-1, 1], a column's max |W| maps to 1).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{AimcError, Result};
use crate::diag::SourceError;

/// Complete description of one AIMC crossbar tile and its periphery.
///
/// Defaults are the AHWA-LoRA deployment study's tile (512 x 512, 128 ns, 8-bit DAC/ADC, PCM
/// noise, global drift compensation, 3-sigma clipping); see `docs/aimc.md` for every source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TileConfig {
    /// Crossbar rows = inputs per MVM (default 512, study; HERMES: 256; at most [`MAX_DIM`]).
    pub rows: usize,
    /// Crossbar columns = outputs per MVM (default 512, study; HERMES: 256; at most
    /// [`MAX_DIM`]).
    pub cols: usize,
    /// Analog integration time of one MVM pass in ns (default 128, study/HERMES single core;
    /// the study sweeps 128/256/512; HERMES chip: 133 one-phase, 520 four-phase).
    pub integration_time_ns: f64,
    /// Cost of moving an input vector in and an output vector out of the tile.
    pub transfer: TransferConfig,
    /// Digital time to add one further row block's partial sums when a matrix spans several
    /// row blocks, in ns (default 0: folded into the post-processing of the cluster).
    pub accumulation_ns_per_row_block: f64,
    /// Weight-to-conductance mapping.
    pub mapping: MappingConfig,
    /// Weight/conductance noise model.
    pub noise: NoiseModel,
    /// Drift compensation applied to the outputs (default global, study/kit).
    pub drift_compensation: DriftCompensation,
    /// Input DAC (default 8 bits, bound 1.0, study).
    pub dac: ConverterConfig,
    /// Output ADC (default 8 bits, bound 12.0, study; bound is the kit's).
    pub adc: ConverterConfig,
    /// Standard deviation of additive Gaussian output noise before the ADC, normalised units
    /// (default 0.04, study; kit default 0.06; 0 switches it off).
    pub output_noise: f32,
    /// Iterative bound management on ADC saturation (default on, kit default).
    pub bound_management: BoundManagement,
    /// Seed of every random stream of the tile (default 0).
    pub seed: u64,
}

/// Cost of moving data between the tile and the outside, added to every MVM's latency.
///
/// A width of `None` means that the transfer is not modelled by the tile (the interconnect
/// model accounts for it), so the latency is the integration time alone, as the study states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransferConfig {
    /// Input port width in bytes per ns (default `None`: not modelled).
    pub input_bytes_per_ns: Option<f64>,
    /// Output port width in bytes per ns (default `None`: not modelled).
    pub output_bytes_per_ns: Option<f64>,
    /// Bytes per input element on the port (default 1: an 8-bit DAC code).
    pub input_element_bytes: u32,
    /// Bytes per output element on the port (default 2: FP16 after the affine stage, HERMES).
    pub output_element_bytes: u32,
}

/// How weights become conductances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingConfig {
    /// One digital scale per column (channel-wise, default, kit/study) or one per tile.
    pub scaling: Scaling,
    /// Weight clipping before mapping (default 3 sigma per column, study).
    pub clipping: Clipping,
    /// Largest programmable conductance in uS (default 25, kit).
    pub g_max_us: f32,
    /// Conductance added to both devices of a pair in uS (default 0, kit).
    pub g_min_us: f32,
}

/// Granularity of the digital weight scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scaling {
    /// Each column (output channel) of a tile is divided by its own max |W|.
    ChannelWise,
    /// All columns of a tile share the tile's max |W|.
    PerTile,
}

/// Weight clipping applied per column of the whole matrix before it is split over tiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Clipping {
    /// Weights are programmed as given (reference inference flow).
    Off,
    /// Clip each column at +-k times its standard deviation (study: k = 3).
    KSigma(f32),
    /// Clip every weight at +-bound (in weight units).
    Fixed(f32),
    /// The kit's `LAYER_GAUSSIAN` clip followed by its `CHANNELWISE_SYMMETRIC` remap
    /// (aihwkit 1.1.0 hardware-aware training): each column (output channel) is divided by
    /// its max |W|, the whole normalised layer is clipped at +-k times its standard deviation
    /// (torch's `std()`: about the mean, over n - 1), and the column scale is re-applied. One
    /// bound for the whole layer in normalised units, where `KSigma` has one per column.
    LayerGaussian(f32),
}

/// Noise model of the stored weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NoiseModel {
    /// Ideal devices: weights are stored exactly.
    Off,
    /// PCM statistical model (programming noise, drift, 1/f read noise; kit, Nandakumar 2019).
    Pcm(PcmConfig),
    /// Additive Gaussian weight noise drawn once at programming (hardware-aware training).
    WeightNoise(WeightNoiseConfig),
}

/// Parameters of the PCM model; every scale of 0 switches that effect off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PcmConfig {
    /// Multiplier of the programming-noise sigma (default 1, kit).
    pub prog_noise_scale: f32,
    /// Multiplier of the drift exponent nu (default 1, kit).
    pub drift_scale: f32,
    /// Multiplier of the 1/f read-noise sigma (default 1, kit).
    pub read_noise_scale: f32,
    /// Time between programming and the drift reference read, t0, in s (default 20, kit).
    pub t0_s: f64,
    /// Duration of one read, t_read, in s (default 250e-9, kit).
    pub t_read_s: f64,
    /// When a fresh read-noise sample is drawn (default once per evaluation time, kit).
    pub read_noise_redraw: ReadNoiseRedraw,
    /// What drift and read noise act on (default `Devices`).
    pub realise: Realise,
}

/// What drift and read noise act on when the tile is read at an inference time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Realise {
    /// Both devices of each pair keep their programmed conductances (the one programmed to
    /// `g_min` included, with its programming noise) and each drifts and reads on its own:
    /// the devices as programmed.
    #[default]
    Devices,
    /// The reference kit's flow one to one (aihwkit 1.1.0 `drift_weights` after
    /// `program_weights`): the net programmed weight of each cell is converted back to
    /// conductances, one device per sign at `g_min` on the other, with a new scale from the
    /// tile's largest |programmed weight|; those drift (with the exponents drawn at
    /// programming) and read (Q_s of the re-converted conductance), and are converted back.
    AihwkitReconvert,
}

/// When the 1/f read noise is re-drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadNoiseRedraw {
    /// Once each time the inference time changes (the reference kit's `drift_analog_weights`).
    PerEvaluationTime,
    /// Before every MVM (physically closer; costs a full device pass per MVM).
    PerMvm,
}

/// Additive Gaussian weight noise of hardware-aware training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeightNoiseConfig {
    /// Noise sigma relative to the column's max |W| (default 0.067, study).
    pub relative_sigma: f32,
}

/// Output drift compensation by an identity-probe calibration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DriftCompensation {
    /// No compensation.
    Off,
    /// One factor for the whole tile (kit `GlobalDriftCompensation`).
    Global,
    /// One factor per column.
    PerColumn,
}

/// A DAC or ADC: `bits` give `2^(bits-1) - 1` levels per sign, i.e. resolution
/// `1 / (2^bits - 2)` of the full range `2 * bound` (kit convention). In RON `enabled`, `bits`
/// and `bound` must be given (a DAC and an ADC have different default bounds); `quantise`
/// defaults to `true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConverterConfig {
    /// The converter is in the path (`true`): it saturates at `bound` and, with `quantise`,
    /// rounds to `bits`; `false` passes values through unchanged (no bound either, so an ADC
    /// that is not enabled leaves bound management nothing to detect: `validate` refuses that
    /// combination).
    pub enabled: bool,
    /// Resolution in bits, 2..=16.
    pub bits: u32,
    /// Saturation bound in normalised units (> 0).
    pub bound: f32,
    /// Round to the `bits` grid (`true`, default) or keep full resolution while still
    /// saturating at `bound` (`false`: "no quantisation" without losing the output bound and
    /// bound management, the kit's `out_res = -1` with `out_bound` kept).
    #[serde(default = "quantise_default")]
    pub quantise: bool,
}

fn quantise_default() -> bool {
    true
}

/// What happens when an ADC output saturates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BoundManagement {
    /// Saturated outputs stay clipped at the bound.
    Off,
    /// Halve the input scale and repeat the pass while any output saturates and the reduction
    /// stays within `min(max_factor, max_res / DAC step)` (kit `ITERATIVE`).
    Iterative {
        /// Largest total reduction factor (kit default 1000).
        max_factor: f32,
        /// Largest effective input resolution after reduction (kit default 0.25).
        max_res: f32,
    },
}

impl Default for TileConfig {
    fn default() -> Self {
        Self {
            rows: 512,
            cols: 512,
            integration_time_ns: 128.0,
            transfer: TransferConfig::default(),
            accumulation_ns_per_row_block: 0.0,
            mapping: MappingConfig::default(),
            noise: NoiseModel::Pcm(PcmConfig::default()),
            drift_compensation: DriftCompensation::Global,
            dac: ConverterConfig::default(),
            adc: ConverterConfig {
                bound: 12.0,
                ..ConverterConfig::default()
            },
            output_noise: 0.04,
            bound_management: BoundManagement::default(),
            seed: 0,
        }
    }
}

impl Default for TransferConfig {
    fn default() -> Self {
        Self {
            input_bytes_per_ns: None,
            output_bytes_per_ns: None,
            input_element_bytes: 1,
            output_element_bytes: 2,
        }
    }
}

impl Default for MappingConfig {
    fn default() -> Self {
        Self {
            scaling: Scaling::ChannelWise,
            clipping: Clipping::KSigma(3.0),
            g_max_us: 25.0,
            g_min_us: 0.0,
        }
    }
}

impl Default for PcmConfig {
    fn default() -> Self {
        Self {
            prog_noise_scale: 1.0,
            drift_scale: 1.0,
            read_noise_scale: 1.0,
            t0_s: 20.0,
            t_read_s: 250e-9,
            read_noise_redraw: ReadNoiseRedraw::PerEvaluationTime,
            realise: Realise::Devices,
        }
    }
}

impl Default for WeightNoiseConfig {
    fn default() -> Self {
        Self {
            relative_sigma: 0.067,
        }
    }
}

impl Default for ConverterConfig {
    /// An enabled 8-bit converter with bound 1.0 (the study's DAC).
    fn default() -> Self {
        Self {
            enabled: true,
            bits: 8,
            bound: 1.0,
            quantise: true,
        }
    }
}

impl Default for BoundManagement {
    fn default() -> Self {
        Self::Iterative {
            max_factor: 1000.0,
            max_res: 0.25,
        }
    }
}

impl ConverterConfig {
    /// Quantisation levels per sign, `2^(bits-1) - 1` (127 for 8 bits).
    pub fn levels(&self) -> f32 {
        // bits is validated to 2..=16, so the shift cannot overflow; clamp anyway for safety.
        ((1u32 << (self.bits.clamp(2, 16) - 1)) - 1) as f32
    }

    /// Resolution as a fraction of the full range, `1 / (2^bits - 2)` (kit `inp_res`/`out_res`).
    pub fn resolution(&self) -> f32 {
        1.0 / (2.0 * self.levels())
    }

    /// One LSB in normalised units, `resolution * 2 * bound = bound / levels`.
    pub fn step(&self) -> f32 {
        self.bound / self.levels()
    }
}

impl TileConfig {
    /// The HERMES-like preset: 256 x 256 cells, 133 ns (one-phase read), 8-bit converters,
    /// PCM noise, no clipping (reference inference flow). Source: platform.md, HERMES 2023.
    pub fn hermes() -> Self {
        Self {
            rows: 256,
            cols: 256,
            integration_time_ns: 133.0,
            mapping: MappingConfig {
                clipping: Clipping::Off,
                ..MappingConfig::default()
            },
            ..Self::default()
        }
    }

    /// A configuration with every nonideality off: the tile reproduces the exact f32 product.
    pub fn ideal() -> Self {
        Self {
            mapping: MappingConfig {
                clipping: Clipping::Off,
                ..MappingConfig::default()
            },
            noise: NoiseModel::Off,
            drift_compensation: DriftCompensation::Off,
            dac: ConverterConfig {
                enabled: false,
                ..ConverterConfig::default()
            },
            adc: ConverterConfig {
                enabled: false,
                bits: 8,
                bound: 12.0,
                quantise: true,
            },
            output_noise: 0.0,
            bound_management: BoundManagement::Off,
            ..Self::default()
        }
    }

    /// True when the stored weights, inputs and outputs are not perturbed at all, so the tile
    /// works in weight units directly and reproduces the f32 product bit for bit.
    pub fn is_exact(&self) -> bool {
        matches!(self.noise, NoiseModel::Off)
            && !self.dac.enabled
            && !self.adc.enabled
            && self.output_noise == 0.0
    }

    /// Parses and validates a RON configuration (missing fields take their defaults).
    pub fn from_ron_str(text: &str) -> Result<Self> {
        let cfg: Self = ron::from_str(text).map_err(|e| {
            AimcError::Ron(Box::new(SourceError::from_ron("<tile config>", text, &e)))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads, parses and validates a RON configuration file.
    pub fn from_ron_file(path: &Path) -> Result<Self> {
        let text = crate::diag::read_text(path, "a tile configuration").map_err(|source| {
            AimcError::Io {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let cfg: Self = ron::from_str(&text).map_err(|e| {
            AimcError::Ron(Box::new(SourceError::from_ron(
                path.display().to_string(),
                &text,
                &e,
            )))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Renders the configuration as pretty RON.
    pub fn to_ron_string(&self) -> Result<String> {
        Ok(ron::ser::to_string_pretty(
            self,
            ron::ser::PrettyConfig::default(),
        )?)
    }

    /// Checks every field against its documented range; the error names the field and value.
    pub fn validate(&self) -> Result<()> {
        check_usize("rows", self.rows, 1, MAX_DIM)?;
        check_usize("cols", self.cols, 1, MAX_DIM)?;
        check_pos("integration_time_ns", self.integration_time_ns)?;
        check_nonneg(
            "accumulation_ns_per_row_block",
            self.accumulation_ns_per_row_block,
        )?;
        if let Some(w) = self.transfer.input_bytes_per_ns {
            check_pos("transfer.input_bytes_per_ns", w)?;
        }
        if let Some(w) = self.transfer.output_bytes_per_ns {
            check_pos("transfer.output_bytes_per_ns", w)?;
        }
        check_usize(
            "transfer.input_element_bytes",
            self.transfer.input_element_bytes as usize,
            1,
            8,
        )?;
        check_usize(
            "transfer.output_element_bytes",
            self.transfer.output_element_bytes as usize,
            1,
            8,
        )?;
        let m = &self.mapping;
        check_pos("mapping.g_max_us", f64::from(m.g_max_us))?;
        check_nonneg("mapping.g_min_us", f64::from(m.g_min_us))?;
        if m.g_min_us >= m.g_max_us {
            return Err(invalid(
                "mapping.g_min_us",
                m.g_min_us,
                "must be below mapping.g_max_us",
            ));
        }
        match m.clipping {
            Clipping::Off => {}
            Clipping::KSigma(k) => check_pos("mapping.clipping.KSigma", f64::from(k))?,
            Clipping::Fixed(b) => check_pos("mapping.clipping.Fixed", f64::from(b))?,
            Clipping::LayerGaussian(k) => {
                check_pos("mapping.clipping.LayerGaussian", f64::from(k))?
            }
        }
        match &self.noise {
            NoiseModel::Off => {}
            NoiseModel::Pcm(p) => {
                check_nonneg("noise.Pcm.prog_noise_scale", f64::from(p.prog_noise_scale))?;
                check_nonneg("noise.Pcm.drift_scale", f64::from(p.drift_scale))?;
                check_nonneg("noise.Pcm.read_noise_scale", f64::from(p.read_noise_scale))?;
                check_pos("noise.Pcm.t0_s", p.t0_s)?;
                check_pos("noise.Pcm.t_read_s", p.t_read_s)?;
                if p.t0_s <= p.t_read_s {
                    return Err(invalid(
                        "noise.Pcm.t0_s",
                        p.t0_s,
                        "must exceed noise.Pcm.t_read_s",
                    ));
                }
            }
            NoiseModel::WeightNoise(w) => {
                check_nonneg(
                    "noise.WeightNoise.relative_sigma",
                    f64::from(w.relative_sigma),
                )?;
            }
        }
        check_converter("dac", &self.dac)?;
        check_converter("adc", &self.adc)?;
        check_nonneg("output_noise", f64::from(self.output_noise))?;
        if let BoundManagement::Iterative {
            max_factor,
            max_res,
        } = self.bound_management
        {
            if !(max_factor.is_finite() && max_factor >= 1.0) {
                return Err(invalid(
                    "bound_management.Iterative.max_factor",
                    max_factor,
                    "must be finite and >= 1",
                ));
            }
            check_pos("bound_management.Iterative.max_res", f64::from(max_res))?;
            if !self.adc.enabled {
                return Err(invalid(
                    "adc.enabled",
                    false,
                    "an ADC that is not enabled has no output bound, so bound management would \
                     never trigger; keep the bound without rounding (adc.quantise: false) or \
                     set bound_management: Off",
                ));
            }
        }
        Ok(())
    }
}

/// Largest accepted tile side: a 4096 x 4096 PCM tile keeps about 470 MiB of device state.
pub const MAX_DIM: usize = 4096;

fn invalid(field: &'static str, value: impl std::fmt::Display, reason: &'static str) -> AimcError {
    AimcError::InvalidConfig {
        field,
        value: value.to_string(),
        reason,
    }
}

fn check_usize(field: &'static str, v: usize, lo: usize, hi: usize) -> Result<()> {
    if v < lo || v > hi {
        let reason = match (lo, hi) {
            (1, MAX_DIM) => "must be in 1..=4096",
            (1, 8) => "must be in 1..=8",
            _ => "out of range",
        };
        return Err(invalid(field, v, reason));
    }
    Ok(())
}

fn check_pos(field: &'static str, v: f64) -> Result<()> {
    if !(v.is_finite() && v > 0.0) {
        return Err(invalid(field, v, "must be finite and > 0"));
    }
    Ok(())
}

fn check_nonneg(field: &'static str, v: f64) -> Result<()> {
    if !(v.is_finite() && v >= 0.0) {
        return Err(invalid(field, v, "must be finite and >= 0"));
    }
    Ok(())
}

fn check_converter(name: &'static str, c: &ConverterConfig) -> Result<()> {
    let (bits, bound) = match name {
        "dac" => ("dac.bits", "dac.bound"),
        _ => ("adc.bits", "adc.bound"),
    };
    if !(2..=16).contains(&c.bits) {
        return Err(invalid(bits, c.bits, "must be in 2..=16"));
    }
    check_pos(bound, f64::from(c.bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presets() -> Vec<(std::path::PathBuf, TileConfig)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
        vec![
            (dir.join("aimc-ahwa-512.ron"), TileConfig::default()),
            (dir.join("aimc-hermes-256.ron"), TileConfig::hermes()),
            (dir.join("aimc-ideal-512.ron"), TileConfig::ideal()),
        ]
    }

    #[test]
    fn presets_load_match_constructors_and_round_trip() {
        for (path, expected) in presets() {
            let cfg = TileConfig::from_ron_file(&path).unwrap();
            assert_eq!(cfg, expected, "{}", path.display());
            let text = cfg.to_ron_string().unwrap();
            let back = TileConfig::from_ron_str(&text).unwrap();
            assert_eq!(back, cfg, "{}", path.display());
        }
    }

    #[test]
    fn defaults_validate() {
        TileConfig::default().validate().unwrap();
        TileConfig::hermes().validate().unwrap();
        TileConfig::ideal().validate().unwrap();
        assert!(TileConfig::ideal().is_exact());
        assert!(!TileConfig::default().is_exact());
    }

    #[test]
    fn converter_levels_match_kit_resolution() {
        let dac = TileConfig::default().dac;
        assert_eq!(dac.levels(), 127.0);
        assert_eq!(dac.resolution(), 1.0 / 254.0);
        let adc = TileConfig::default().adc;
        assert_eq!(adc.step(), 12.0 / 127.0);
    }

    fn field_of(e: AimcError) -> &'static str {
        match e {
            AimcError::InvalidConfig { field, .. } => field,
            other => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn bad_configs_name_the_field() {
        let cases: Vec<(TileConfig, &str)> = vec![
            (
                TileConfig {
                    rows: 0,
                    ..TileConfig::default()
                },
                "rows",
            ),
            (
                TileConfig {
                    cols: 0,
                    ..TileConfig::default()
                },
                "cols",
            ),
            (
                TileConfig {
                    integration_time_ns: -1.0,
                    ..TileConfig::default()
                },
                "integration_time_ns",
            ),
            (
                TileConfig {
                    integration_time_ns: f64::NAN,
                    ..TileConfig::default()
                },
                "integration_time_ns",
            ),
            (
                TileConfig {
                    dac: ConverterConfig {
                        bits: 1,
                        ..ConverterConfig::default()
                    },
                    ..TileConfig::default()
                },
                "dac.bits",
            ),
            (
                TileConfig {
                    adc: ConverterConfig {
                        bits: 17,
                        ..ConverterConfig::default()
                    },
                    ..TileConfig::default()
                },
                "adc.bits",
            ),
            (
                TileConfig {
                    adc: ConverterConfig {
                        bound: 0.0,
                        ..ConverterConfig::default()
                    },
                    ..TileConfig::default()
                },
                "adc.bound",
            ),
            (
                TileConfig {
                    adc: ConverterConfig {
                        enabled: false,
                        ..ConverterConfig::default()
                    },
                    ..TileConfig::default()
                },
                "adc.enabled",
            ),
            (
                TileConfig {
                    noise: NoiseModel::Pcm(PcmConfig {
                        t0_s: -20.0,
                        ..PcmConfig::default()
                    }),
                    ..TileConfig::default()
                },
                "noise.Pcm.t0_s",
            ),
            (
                TileConfig {
                    noise: NoiseModel::Pcm(PcmConfig {
                        t_read_s: f64::NAN,
                        ..PcmConfig::default()
                    }),
                    ..TileConfig::default()
                },
                "noise.Pcm.t_read_s",
            ),
            (
                TileConfig {
                    output_noise: f32::NAN,
                    ..TileConfig::default()
                },
                "output_noise",
            ),
            (
                TileConfig {
                    mapping: MappingConfig {
                        clipping: Clipping::KSigma(-3.0),
                        ..MappingConfig::default()
                    },
                    ..TileConfig::default()
                },
                "mapping.clipping.KSigma",
            ),
            (
                TileConfig {
                    mapping: MappingConfig {
                        g_min_us: 30.0,
                        ..MappingConfig::default()
                    },
                    ..TileConfig::default()
                },
                "mapping.g_min_us",
            ),
        ];
        for (cfg, field) in cases {
            let err = cfg.validate().unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(field), "{msg}");
            assert_eq!(field_of(err), field);
        }
    }

    #[test]
    fn ron_errors_carry_position_and_unknown_fields_are_rejected() {
        let err = TileConfig::from_ron_str("(rows: 256, colz: 3)").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("colz") && msg.contains("1:"), "{msg}");
        let err = TileConfig::from_ron_str("(rows: 0)").unwrap_err();
        assert!(err.to_string().contains("`rows` = 0"), "{err}");
        let err = TileConfig::from_ron_str("(cols: 4097)").unwrap_err();
        assert!(err.to_string().contains(&format!("1..={MAX_DIM}")), "{err}");
        let err = TileConfig::from_ron_str("(adc: (enabled: true, bits: 8))").unwrap_err();
        assert!(err.to_string().contains("bound"), "{err}");
        let cfg = TileConfig::from_ron_str("(rows: 256, cols: 128)").unwrap();
        assert_eq!(
            (cfg.rows, cfg.cols, cfg.integration_time_ns),
            (256, 128, 128.0)
        );
    }
}
