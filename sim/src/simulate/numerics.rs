//! Numerical error of the hybrid (analog W on the AIMC model + digital LoRA on the cluster
//! backend) against the ideal f32 model, on a sample sequence.
//!
//! For each evaluated layer instance, the static matrices are programmed on the tile model
//! (with the mapping's tile numbers, so every tile has its own noise streams) and read at
//! `numerics.t_inf_s`. Three forward passes over `sample_tokens` tokens:
//! 1. ideal: every operation in f32 on the host (`y = x W + (alpha/r) (x A) B`);
//! 2. hybrid, isolated: the same layer input, linear operations through the analog tiles and the
//!    backend's LoRA; gives the **layer** error `||y_hybrid - y_ideal|| / ||y_ideal||`, and each
//!    linear operation's **op** error against the ideal operation applied to the same operand;
//! 3. hybrid, chained from the model input: its final output against the ideal model's gives
//!    the **model** error (errors accumulate over layers). This pass runs the hybrid model only.
//!
//! Instances go through a three-stage pipeline (programming, isolated pass, chained pass; see
//! [`evaluate`]), with results and errors equal to a serial evaluation on any number of threads.
//!
//! The tile model also counts its analog passes (bound management repeats a pass while an
//! output saturates): the MVMs of each linear operation in the chained pass and the passes
//! they took are kept in [`NumericsResult::op_passes`], which the timing charges
//! (`crate::run`).
//!
//! Synthetic weights (seeded, `Weights::Synthetic`): W ~ N(0, 1/in), A ~ N(0, 1/in),
//! B ~ N(0, 0.05^2/r), model input x ~ N(0, 1); LayerNorm and RMSNorm have gain 1 and bias 0.
//!
//! # Synthetic NoNorm gains
//!
//! MobileBERT's `NoNorm` is `g * x + b` with no normalisation: only its trained gains keep the
//! residual stream at a fixed scale, and with random weights and g = 1 nothing does. Mean
//! squares (m2) through one synthetic encoder layer with input m2 = s: a linear operation keeps
//! m2 (`in Var(W) = 1`) and its LoRA branch adds `(alpha/r)^2 in Var(A) r Var(B) = 16 * 0.0025
//! = 4 %`; ReLU halves m2; an `Add` of independent terms sums them. The attention block gives
//! `1.04 s + o` with the attention output o between 0 and about 1.1 s (how spread the softmax
//! is); each of the four stacked FFNs maps m2 to `m2 (1 + 1.04 / 2) = 1.52 m2` (5.3x over four);
//! the output bottleneck adds the layer input back. So m2 grows 7-13x per layer (RMS about
//! 2.7-3.6x; measured at seed 1 with 4 sample tokens: output RMS 1.08, 4.2, 16.9, 71, ...,
//! 4.7e13 after the last layer), binary16 (largest value 65504) overflows by the 6th-8th
//! instance, and the growing attention logits saturate the softmax, which makes the model error
//! erratic.
//!
//! The synthetic model instead gives every `NoNorm` one scalar gain `g = 1 / RMS(x_ideal)`, where
//! `x_ideal` is that NoNorm's input in the ideal f32 forward pass chained from the model input
//! (RMS over the sample's tokens and features), and bias 0: the stand-in for trained gains,
//! which keep each NoNorm's output at a fixed scale. Every NoNorm output of the ideal model then
//! has RMS 1, and so does every encoder layer's output, at any depth; by the factors above no
//! activation inside a layer has m2 above about 2.1 (a residual `Add` of two unit terms), so
//! activations stay far inside binary16 (at seed 1 the largest magnitude over the whole model
//! is about 6) and the attention logits stay O(1). Each instance's gains are computed by its first
//! (ideal-input) pass and are then fixed parameters of the model: the chained hybrid pass uses
//! the same gains, so hybrid errors are carried to the next layer, not normalised away. A closed
//! form from the variances alone is not used: the attention term depends on the softmax's
//! spread (the data), and a per-layer misprediction by a factor c compounds as c^24 through the
//! residual path. The rule is deterministic (a function of the seed, the schedule and
//! `sample_tokens`). It applies to `Weights::Synthetic` only; with `Weights::Npy` or
//! `Weights::Checkpoint` (W from the checkpoint; biases and norm parameters are not loaded here,
//! the `accuracy` evaluation runs the whole real model) every norm keeps gain 1 and bias 0. LayerNorm and RMSNorm normalise
//! already and are unchanged.

use crate::backend::chunks::block;
use crate::backend::{host, ClusterBackend, LoraShape};
use crate::error::Error;
use crate::mapping::Mapping;
use crate::scenario::{Loaded, RowBlocks};
use crate::workload::{Lora, NormKind, OpKind, BLOCK_INPUT};
use hetsim_models::aimc::{derive_seed, read_npy, AnalogMatrix, Matrix};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Maps keyed by (instance, op index) as a list of `[key, value]` pairs (JSON keys are strings),
/// for a sweep's stored numerics (`crate::sweep`).
mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<V: Serialize, S: Serializer>(
        m: &BTreeMap<(usize, usize), V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub fn deserialize<'de, V: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<(usize, usize), V>, D::Error> {
        Ok(Vec::<((usize, usize), V)>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

/// Most weights the numerics program in one run (MobileBERT has about 20 M).
pub const MAX_WEIGHTS: u64 = 100_000_000;

/// Errors found.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NumericsResult {
    /// Relative L2 error of each linear operation, by (instance, op index).
    #[serde(with = "pairs")]
    pub op_err: BTreeMap<(usize, usize), f64>,
    /// Relative L2 error of each evaluated instance's output.
    pub layer_err: Vec<f64>,
    /// Relative L2 error of the last evaluated instance's output, chained from the model input.
    pub model_err: Option<f64>,
    /// Analog MVMs and passes of each linear operation's tiles in the chained pass (the model
    /// input through the hybrid layers, the data the hardware sees), by (instance, op index).
    #[serde(with = "pairs")]
    pub op_passes: BTreeMap<(usize, usize), TilePasses>,
    /// Relative L2 error of each evaluated instance's output, chained from the model input (the
    /// last one is `model_err`).
    pub chain_err: Vec<f64>,
    /// RMS of each evaluated instance's output in the ideal model (chained from the model input).
    pub ideal_rms: Vec<f64>,
    /// Largest magnitude of any activation of each evaluated instance in the ideal model (the
    /// block input and every operation's output).
    pub ideal_max_abs: Vec<f64>,
    /// Instances evaluated.
    pub instances: usize,
    /// Tokens in the sample.
    pub tokens: usize,
}

/// The MVMs a linear operation's tiles ran and the analog passes they took (each MVM takes one
/// pass plus one per bound-management repetition; `Latency::passes` of the tile model).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TilePasses {
    /// MVMs (one per token).
    pub mvms: u64,
    /// Analog passes over those MVMs.
    pub passes: u64,
}

impl TilePasses {
    /// Mean passes per MVM (1 when nothing was counted).
    pub fn mean(&self) -> f64 {
        if self.mvms == 0 {
            1.0
        } else {
            self.passes as f64 / self.mvms as f64
        }
    }
}

/// Scalar gain of a synthetic `NoNorm` whose ideal input is `x`: `1 / RMS(x)` (module docs);
/// 1 when `x` is empty, all zero or not finite.
pub fn calibrated_no_norm_gain(x: &Matrix) -> f32 {
    let d = x.as_slice();
    let ms = d.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / d.len().max(1) as f64;
    let g = 1.0 / ms.sqrt();
    if g.is_finite() && g > 0.0 {
        g as f32
    } else {
        1.0
    }
}

/// RMS of every element of `x` (0 when empty).
pub fn rms(x: &Matrix) -> f64 {
    let d = x.as_slice();
    (d.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / d.len().max(1) as f64).sqrt()
}

/// Largest magnitude in `x` (infinity if any element is not finite).
fn max_abs(x: &Matrix) -> f64 {
    x.as_slice().iter().fold(0.0, |m, &v| {
        let a = f64::from(v.abs());
        if a.is_finite() {
            m.max(a)
        } else {
            f64::INFINITY
        }
    })
}

/// The `NoNorm` gains of one layer instance, by operation index.
struct NoNormGains {
    /// Synthetic weights: calibrate each gain on its first use (module docs); otherwise 1.
    calibrate: bool,
    by_op: BTreeMap<usize, f32>,
}

impl NoNormGains {
    /// The gain of operation `oi`, calibrated on `ideal_input` the first time.
    fn gain(&mut self, oi: usize, ideal_input: &Matrix) -> f32 {
        if !self.calibrate {
            return 1.0;
        }
        *self
            .by_op
            .entry(oi)
            .or_insert_with(|| calibrated_no_norm_gain(ideal_input))
    }

    /// The gain of operation `oi` in a hybrid-only pass: 1, or the gain an earlier pass
    /// calibrated (None if none did).
    fn fixed(&self, oi: usize) -> Option<f32> {
        match self.calibrate {
            false => Some(1.0),
            true => self.by_op.get(&oi).copied(),
        }
    }
}

fn scaled(x: Matrix, g: f32) -> Matrix {
    if g == 1.0 {
        return x;
    }
    let d = x.as_slice().iter().map(|&v| v * g).collect();
    Matrix::new(x.rows(), x.cols(), d).unwrap_or(x)
}

/// One block's forward passes: the ideal and hybrid outputs and the ideal activations' range
/// (a hybrid-only pass leaves `ideal` empty, 0 x 0).
struct Pass {
    ideal: Matrix,
    hybrid: Matrix,
    ideal_max_abs: f64,
}

struct LinearWeights {
    analog: AnalogMatrix,
    w: Matrix,
    lora: Option<(Lora, Matrix, Matrix)>,
    /// How the deployment splits the LoRA over the matrix's row blocks.
    row_blocks: RowBlocks,
}

fn npy(dir: &Path, name: &str) -> Result<Option<Matrix>, Error> {
    let p = dir.join(name);
    if p.is_file() {
        Ok(Some(read_npy(&p)?))
    } else {
        Ok(None)
    }
}

fn check_shape(m: &Matrix, rows: usize, cols: usize, what: &str) -> Result<(), Error> {
    if m.rows() == rows && m.cols() == cols {
        Ok(())
    } else {
        Err(Error::Mapping(format!(
            "{what}: expected {rows} x {cols}, the file holds {} x {}",
            m.rows(),
            m.cols()
        )))
    }
}

/// Evaluates the scenario's numerics (`None` when switched off).
pub fn evaluate(
    loaded: &Loaded,
    mapping: &Mapping,
    backend: &mut dyn ClusterBackend,
) -> Result<Option<NumericsResult>, Error> {
    let Some(cfg) = &loaded.scenario.numerics else {
        return Ok(None);
    };
    let sched = &loaded.schedule;
    let seed = loaded.scenario.seed;
    let s = cfg.sample_tokens;
    let limit = cfg.max_instances.unwrap_or(usize::MAX);
    // Guard: programming costs about 0.1 us per weight on the host; refuse runs that would take
    // minutes rather than silently hanging.
    let cells: u64 = mapping
        .instances
        .iter()
        .take(limit)
        .filter_map(|i| sched.blocks.get(i.block))
        .flat_map(|b| &b.ops)
        .map(|op| match op.kind {
            OpKind::Linear {
                in_features,
                out_features,
                ..
            } => (in_features * out_features) as u64,
            _ => 0,
        })
        .sum();
    if cells > MAX_WEIGHTS {
        return Err(Error::Scenario {
            path: loaded.path.clone(),
            field: "numerics.max_instances".into(),
            message: format!(
                "the numerics would program {cells} weights on the tile model (limit {MAX_WEIGHTS})"
            ),
            hint: "evaluate fewer layer instances (max_instances: Some(1)) or set numerics: None"
                .into(),
        });
    }
    let mut res = NumericsResult {
        tokens: s,
        ..Default::default()
    };
    // A checkpoint's W (the numerics' other parameters stay as documented above).
    let ckpt = match &loaded.checkpoint {
        Some(d) => Some(crate::checkpoint::Checkpoint::load(d)?),
        None => None,
    };
    let ideal_in = Matrix::random_normal(s, sched.input_features, 1.0, derive_seed(seed, 1));
    let mut chain_in = ideal_in.clone();
    let instances: Vec<At> = mapping
        .instances
        .iter()
        .take(limit)
        .map_while(|inst| sched.blocks.get(inst.block).map(|b| (inst, b)))
        .enumerate()
        .map(|(ii, (inst, b))| (ii, inst, b))
        .collect();
    let env = Env {
        loaded,
        ckpt: ckpt.as_ref(),
        t_inf: cfg.t_inf_s,
    };
    // A pipeline over the instances, three stages deep: while instance i's chained pass runs
    // (it needs instance i-1's chained output), instance i+1 gets its isolated pass (it needs
    // only instance i's ideal output) and instance i+2 is programmed (it needs nothing). Each
    // instance still sees program, isolated pass, chained pass in that order (its tiles'
    // read-noise streams advance the same way), and the two passes have their own backends
    // (deterministic, so which one serves a call does not matter): the result equals the serial
    // evaluation's whatever the thread count, and so does the first error.
    let mut chain_backend = crate::backend::build(
        &loaded.scenario.hardware.cluster_backend,
        loaded.path.parent().unwrap_or(Path::new(".")),
    )?;
    let program_at = |k: usize| instances.get(k).map(|&at| program(&env, at)).transpose();
    let (mut programmed, mut next) = match instances.first() {
        Some(&first) => {
            let (weights, following) = rayon::join(|| program(&env, first), || program_at(1));
            let prepared = isolated(&env, first, weights?, ideal_in, backend)?;
            (following, Some(prepared))
        }
        None => (Ok(None), None),
    };
    for (k, &(ii, _, block)) in instances.iter().enumerate() {
        let Some(mut cur) = next.take() else { break };
        let mut chain = |cur: &mut Prepared| {
            let mut passes = BTreeMap::new();
            forward(
                block,
                &chain_in,
                &mut cur.weights,
                &mut cur.gains,
                Record::Passes(&mut passes),
                env.t_inf,
                chain_backend.as_mut(),
            )
            .map(|p| (p, passes))
        };
        let (chain, prepared) = match programmed {
            // Instance i+1 failed to program: the serial order runs instance i's chained pass
            // first, then reports it.
            Err(e) => {
                chain(&mut cur)?;
                return Err(e);
            }
            Ok(weights) => {
                let ideal_out = cur.iso.ideal.clone();
                let following = instances.get(k + 1).copied();
                let (chain, (prepared, after)) = rayon::join(
                    || chain(&mut cur),
                    || {
                        rayon::join(
                            || match (following, weights) {
                                (Some(at), Some(w)) => {
                                    isolated(&env, at, w, ideal_out, backend).map(Some)
                                }
                                _ => Ok(None),
                            },
                            || program_at(k + 2),
                        )
                    },
                );
                programmed = after;
                (chain, prepared)
            }
        };
        // Serial order: instance i's chained pass, then instance i+1's isolated pass, then
        // instance i+2's programming (kept in `programmed` until its turn).
        let (chain, passes) = chain?;
        next = prepared?;
        for (oi, e) in cur.errs {
            res.op_err.insert((ii, oi), e);
        }
        for (oi, p) in passes {
            res.op_passes.insert((ii, oi), p);
        }
        let iso_ideal = cur.iso.ideal;
        res.layer_err
            .push(host::rel_l2(&cur.iso.hybrid, &iso_ideal));
        let chained = host::rel_l2(&chain.hybrid, &iso_ideal);
        res.chain_err.push(chained);
        res.model_err = Some(chained);
        res.ideal_rms.push(rms(&iso_ideal));
        res.ideal_max_abs.push(cur.iso.ideal_max_abs);
        res.instances = ii + 1;
        chain_in = chain.hybrid;
    }
    Ok(Some(res))
}

/// What every instance of one numerics evaluation shares.
struct Env<'a> {
    loaded: &'a Loaded,
    ckpt: Option<&'a crate::checkpoint::Checkpoint>,
    t_inf: f64,
}

/// An instance's place in the evaluation: its index, mapping and schedule block.
type At<'a> = (
    usize,
    &'a crate::mapping::InstancePlace,
    &'a crate::workload::Block,
);

/// One layer instance programmed and through its isolated pass, waiting for its chained pass.
struct Prepared {
    weights: Vec<Option<LinearWeights>>,
    gains: NoNormGains,
    /// Each linear operation's error in the isolated pass, by op index.
    errs: BTreeMap<usize, f64>,
    /// The isolated pass (from the ideal model's input to this instance).
    iso: Pass,
}

/// Programs instance `ii`'s matrices on the tile model (in parallel: each tile draws from its
/// own seeded streams, so the result does not depend on the order or the thread count); one
/// entry per operation, `None` for the non-linear ones.
fn program(env: &Env, (ii, inst, block): At) -> Result<Vec<Option<LinearWeights>>, Error> {
    let loaded = env.loaded;
    let seed = loaded.scenario.seed;
    let tile = &loaded.scenario.hardware.tile;
    let program = |(oi, op): (usize, &crate::workload::Op)| -> Result<_, Error> {
        let OpKind::Linear {
            in_features: n,
            out_features: m,
            lora,
        } = op.kind
        else {
            return Ok(None);
        };
        let key = ((ii as u64) << 20) | ((oi as u64) << 4);
        let stem = format!("{}.{}", inst.name, op.name);
        let w = match (&loaded.npy_dir, env.ckpt) {
            (_, Some(ck)) => {
                let b = &block.name;
                let stem = crate::checkpoint::stem(b, inst.rep, &op.name);
                ck.linear(&format!("{stem}.weight"), n, m)?
            }
            (Some(d), None) => {
                let w = npy(d, &format!("{stem}.W.npy"))?.ok_or_else(|| Error::Scenario {
                    path: loaded.path.clone(),
                    field: "workload.weights".into(),
                    message: format!("{} has no {stem}.W.npy", d.display()),
                    hint: "name files <instance>.<op>.W.npy (in x out)".into(),
                })?;
                check_shape(&w, n, m, &format!("{stem}.W.npy"))?;
                w
            }
            (None, None) => {
                Matrix::random_normal(n, m, 1.0 / (n as f32).sqrt(), derive_seed(seed, key))
            }
        };
        let lora = match lora {
            None => None,
            Some(l) => {
                let from = |suffix: &str, r, c| -> Result<Option<Matrix>, Error> {
                    match &loaded.npy_dir {
                        Some(d) => {
                            let m = npy(d, &format!("{stem}.{suffix}.npy"))?;
                            if let Some(m) = &m {
                                check_shape(m, r, c, &format!("{stem}.{suffix}.npy"))?;
                            }
                            Ok(m)
                        }
                        None => Ok(None),
                    }
                };
                let a = from("A", n, l.rank)?.unwrap_or_else(|| {
                    Matrix::random_normal(
                        n,
                        l.rank,
                        1.0 / (n as f32).sqrt(),
                        derive_seed(seed, key + 1),
                    )
                });
                let b = from("B", l.rank, m)?.unwrap_or_else(|| {
                    Matrix::random_normal(
                        l.rank,
                        m,
                        0.05 / (l.rank as f32).sqrt(),
                        derive_seed(seed, key + 2),
                    )
                });
                Some((l, a, b))
            }
        };
        let first = inst.ops.get(oi).map_or(0, |p| u64::from(p.first_tile));
        let analog = AnalogMatrix::program_at(tile, &w, first)?;
        Ok(Some(LinearWeights {
            analog,
            w,
            lora,
            row_blocks: loaded.scenario.mapping.row_blocks,
        }))
    };
    // Collected in order first, so that the error reported is the first operation's, as in a
    // serial run (a parallel collect into a Result keeps whichever error came first in time).
    let all: Vec<Result<_, Error>> = block.ops.par_iter().enumerate().map(program).collect();
    all.into_iter().collect()
}

/// Runs instance `at`'s isolated pass on `ideal_in` with its programmed `weights`, which
/// calibrates its NoNorm gains.
fn isolated(
    env: &Env,
    (_, _, block): At,
    mut weights: Vec<Option<LinearWeights>>,
    ideal_in: Matrix,
    backend: &mut dyn ClusterBackend,
) -> Result<Prepared, Error> {
    let mut errs = BTreeMap::new();
    // The isolated pass (from the ideal model's input) calibrates the NoNorm gains; the chained
    // pass reuses them.
    let mut gains = NoNormGains {
        calibrate: env.loaded.npy_dir.is_none() && env.ckpt.is_none(),
        by_op: BTreeMap::new(),
    };
    let iso = forward(
        block,
        &ideal_in,
        &mut weights,
        &mut gains,
        Record::Errors(&mut errs),
        env.t_inf,
        backend,
    )?;
    Ok(Prepared {
        weights,
        gains,
        errs,
        iso,
    })
}

/// What a forward pass records per linear operation (by op index).
enum Record<'a> {
    /// The operation's error against the ideal operation on the same operand.
    Errors(&'a mut BTreeMap<usize, f64>),
    /// The tile model's MVMs and analog passes.
    Passes(&'a mut BTreeMap<usize, TilePasses>),
}

/// Runs one block on `input`, hybrid and (for [`Record::Errors`]) ideal in lockstep; returns
/// both outputs and records what `record` asks for. NoNorm gains not yet in `gains` are
/// calibrated on this pass's ideal operands. A [`Record::Passes`] pass (the chained one) runs
/// the hybrid model only: its ideal twin would repeat the isolated pass's work for nothing, and
/// its gains are the isolated pass's.
fn forward(
    block: &crate::workload::Block,
    input: &Matrix,
    weights: &mut [Option<LinearWeights>],
    gains: &mut NoNormGains,
    mut record: Record,
    t_inf: f64,
    backend: &mut dyn ClusterBackend,
) -> Result<Pass, Error> {
    let with_ideal = matches!(record, Record::Errors(_));
    let mut ideal: BTreeMap<&str, Matrix> = BTreeMap::new();
    let mut hyb: BTreeMap<&str, Matrix> = BTreeMap::new();
    if with_ideal {
        ideal.insert(BLOCK_INPUT, input.clone());
    }
    hyb.insert(BLOCK_INPUT, input.clone());
    let internal = |what: &str| Error::Mapping(format!("internal: numerics {what}"));
    let mut last = BLOCK_INPUT;
    let mut ideal_max_abs = max_abs(input);
    for (oi, op) in block.ops.iter().enumerate() {
        let get = |map: &BTreeMap<&str, Matrix>, i: &String| map.get(i.as_str()).cloned();
        let ins_h: Vec<Matrix> = op.inputs.iter().filter_map(|i| get(&hyb, i)).collect();
        let ins_i: Vec<Matrix> = if with_ideal {
            op.inputs.iter().filter_map(|i| get(&ideal, i)).collect()
        } else {
            Vec::new()
        };
        if ins_h.len() != op.inputs.len() || (with_ideal && ins_i.len() != op.inputs.len()) {
            return Err(internal("operand missing"));
        }
        let (yi, yh) = match (&op.kind, weights.get_mut(oi).and_then(|w| w.as_mut())) {
            (OpKind::Linear { .. }, Some(lw)) => {
                let LinearWeights {
                    analog,
                    w,
                    lora,
                    row_blocks,
                } = lw;
                let (w, lora) = (&*w, &*lora);
                let ideal_of = |x: &Matrix| -> Result<Matrix, Error> {
                    let xw = host::matmul(x, w).ok_or_else(|| internal("matmul"))?;
                    match lora {
                        Some((l, a, b)) => host::lora(x, &xw, a, b, l.alpha / l.rank as f32)
                            .ok_or_else(|| internal("lora")),
                        None => Ok(xw),
                    }
                };
                let xh = &ins_h[0];
                let mut hybrid = || -> Result<_, Error> {
                    let (xw, lat) = analog.mvm_batch(xh, t_inf)?;
                    let yh = match lora {
                        Some((l, a, b)) => {
                            let rows = analog.mapping().tile_rows;
                            let scale = l.alpha / l.rank as f32;
                            lora_by_row_blocks(backend, *row_blocks, rows, scale, xh, xw, a, b)?
                        }
                        None => xw,
                    };
                    Ok((yh, lat))
                };
                match &mut record {
                    Record::Errors(e) => {
                        // The ideal model's operation on its own operand and on the hybrid's
                        // operand run beside the hybrid operation (all three are pure).
                        let ((yh, ideal_h), yi) = rayon::join(
                            || rayon::join(hybrid, || ideal_of(xh)),
                            || ideal_of(&ins_i[0]),
                        );
                        let (yh, _) = yh?;
                        e.insert(oi, host::rel_l2(&yh, &ideal_h?));
                        (Some(yi?), yh)
                    }
                    Record::Passes(p) => {
                        let (yh, lat) = hybrid()?;
                        p.insert(
                            oi,
                            TilePasses {
                                mvms: xh.rows() as u64,
                                passes: lat.passes,
                            },
                        );
                        (None, yh)
                    }
                }
            }
            (OpKind::Linear { .. }, None) => return Err(internal("weights missing")),
            (kind, _) => {
                let rh: Vec<&Matrix> = ins_h.iter().collect();
                let yh = backend.dynamic_y(kind, &rh)?;
                if let Record::Errors(e) = &mut record {
                    // the operation alone: the backend's Y (a binary16 kernel's rounding)
                    // against the ideal f32 operation on the same operands
                    let ideal_h = host::eval(kind, &rh).ok_or_else(|| internal(kind.label()))?;
                    e.insert(oi, host::rel_l2(&yh, &ideal_h));
                }
                let yi = if with_ideal {
                    let ri: Vec<&Matrix> = ins_i.iter().collect();
                    Some(host::eval(kind, &ri).ok_or_else(|| internal(kind.label()))?)
                } else {
                    None
                };
                match kind {
                    OpKind::Norm(NormKind::NoNorm) => {
                        let g = match ins_i.first() {
                            Some(x) => gains.gain(oi, x),
                            None => gains.fixed(oi).ok_or_else(|| internal("NoNorm gain"))?,
                        };
                        (yi.map(|y| scaled(y, g)), scaled(yh, g))
                    }
                    _ => (yi, yh),
                }
            }
        };
        if let Some(yi) = yi {
            ideal_max_abs = ideal_max_abs.max(max_abs(&yi));
            ideal.insert(&op.name, yi);
        }
        hyb.insert(&op.name, yh);
        last = &op.name;
    }
    let hybrid = hyb.remove(last).ok_or_else(|| internal("output"))?;
    let ideal = match with_ideal {
        true => ideal.remove(last).ok_or_else(|| internal("output"))?,
        false => Matrix::zeros(0, 0),
    };
    Ok(Pass {
        ideal,
        hybrid,
        ideal_max_abs,
    })
}

/// The LoRA of a linear layer as the deployment runs it over the row blocks of `rows` input
/// features of its tiles (one call when the layer fits one tile): with `PassY`
/// (`strategy::LinearJob::lora_chain`) Y starts as XW and each row block adds
/// `(X_k s A_k) B`; with `ReduceXA` ([`reduce_xa`]) H is summed over the row blocks first.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lora_by_row_blocks(
    backend: &mut dyn ClusterBackend,
    split: RowBlocks,
    rows: usize,
    scale: f32,
    x: &Matrix,
    xw: Matrix,
    a: &Matrix,
    b: &Matrix,
) -> Result<Matrix, Error> {
    let (n, r) = (x.cols(), a.cols());
    if split == RowBlocks::ReduceXA && n > rows.max(1) {
        return reduce_xa(backend, rows, scale, x, xw, a, b);
    }
    let mut y = xw;
    for k0 in (0..n).step_by(rows.max(1)) {
        let ins = k0..(k0 + rows.max(1)).min(n);
        let whole = ins.len() == n;
        let (xk, ak) = if whole {
            (x.clone(), a.clone())
        } else {
            let xk = Matrix::new(
                x.rows(),
                ins.len(),
                block(x.as_slice(), n, &(0..x.rows()), &ins),
            )
            .map_err(|e| Error::Backend(e.to_string()))?;
            let ak = Matrix::new(ins.len(), r, block(a.as_slice(), r, &ins, &(0..r)))
                .map_err(|e| Error::Backend(e.to_string()))?;
            (xk, ak)
        };
        let shape = LoraShape {
            tokens: x.rows(),
            in_features: ins.len(),
            out_features: y.cols(),
            rank: r,
        };
        y = backend.lora(&shape, scale, &xk, &y, &ak, b)?.y;
    }
    Ok(y)
}

/// The partial X A reduction as the deployment runs it (`strategy::LinearJob::partial_h`),
/// with the unmodified LoRA kernel: each row block k of `rows` input features gives the
/// partial `H_k = X_k s A_k` (tokens x rank) by a call with B the identity and XW zero; then
/// `Y = XW + (sum_k H_k) B` by one call with x the partials side by side, A the identities
/// stacked and scale 1 (`strategy::final_shape`).
fn reduce_xa(
    backend: &mut dyn ClusterBackend,
    rows: usize,
    scale: f32,
    x: &Matrix,
    xw: Matrix,
    a: &Matrix,
    b: &Matrix,
) -> Result<Matrix, Error> {
    let (t, n, r) = (x.rows(), x.cols(), a.cols());
    let err = |e: hetsim_models::aimc::AimcError| Error::Backend(e.to_string());
    let eye = |copies: usize| {
        Matrix::new(
            copies * r,
            r,
            (0..copies * r * r)
                .map(|i| if (i / r) % r == i % r { 1.0 } else { 0.0 })
                .collect(),
        )
    };
    let zero = Matrix::new(t, r, vec![0.0; t * r]).map_err(err)?;
    let blocks: Vec<_> = (0..n).step_by(rows.max(1)).collect();
    let identity = eye(1).map_err(err)?;
    // the partials side by side: H_k in columns k r .. (k + 1) r
    let w = r * blocks.len();
    let mut hs = vec![0.0; t * w];
    for (k, &k0) in blocks.iter().enumerate() {
        let ins = k0..(k0 + rows.max(1)).min(n);
        let xk = Matrix::new(t, ins.len(), block(x.as_slice(), n, &(0..t), &ins)).map_err(err)?;
        let ak = Matrix::new(ins.len(), r, block(a.as_slice(), r, &ins, &(0..r))).map_err(err)?;
        let shape = crate::strategy::partial_shape(t, ins.len(), r);
        let h = backend.lora(&shape, scale, &xk, &zero, &ak, &identity)?.y;
        for i in 0..t {
            hs[i * w + k * r..i * w + (k + 1) * r]
                .copy_from_slice(&h.as_slice()[i * r..(i + 1) * r]);
        }
    }
    let hs = Matrix::new(t, w, hs).map_err(err)?;
    let shape = crate::strategy::final_shape(t, xw.cols(), r, blocks.len());
    Ok(backend
        .lora(&shape, 1.0, &hs, &xw, &eye(blocks.len()).map_err(err)?, b)?
        .y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;
    use std::path::PathBuf;

    /// The first `instances` layer instances of the synthetic MobileBERT (traces/mobilebert.ron:
    /// embedding, 24 encoder layers, QA head: 26) on the analytic cluster, 4 sample tokens.
    fn mobilebert(seed: u64, instances: usize) -> NumericsResult {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/test.ron");
        let text = format!(
            r#"(name: "nonorm", seed: {seed}, hardware: (tile: (rows: 512, cols: 512)),
                workload: (schedule: File("../traces/mobilebert.ron"), seq_len: Some(320)),
                numerics: Some((sample_tokens: 4, max_instances: Some({instances}))))"#
        );
        let loaded = load_str(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        let res = crate::run::evaluate_numerics(&loaded)
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("numerics on");
        assert_eq!(res.instances, instances.min(26));
        res
    }

    #[test]
    fn both_row_block_splits_compute_the_layers_lora() {
        // 300 input features over row blocks of 128 (128, 128, 44): passing Y down the chain
        // and reducing the partial X A (identity B, stacked identity A) both give
        // XW + s (X A) B up to f32 rounding.
        let (t, n, m, r) = (5, 300, 70, 8);
        let x = Matrix::random_normal(t, n, 1.0, 1);
        let a = Matrix::random_normal(n, r, 0.1, 2);
        let b = Matrix::random_normal(r, m, 0.1, 3);
        let xw = Matrix::random_normal(t, m, 1.0, 4);
        let want = host::lora(&x, &xw, &a, &b, 0.5).unwrap();
        let base = host::rel_l2(&xw, &want);
        let mut be = crate::backend::AnalyticCluster::new(Default::default()).unwrap();
        for split in [RowBlocks::PassY, RowBlocks::ReduceXA] {
            let y = lora_by_row_blocks(&mut be, split, 128, 0.5, &x, xw.clone(), &a, &b).unwrap();
            let err = host::rel_l2(&y, &want);
            assert!(
                err < 1e-6 && base > 1e-2,
                "{split:?}: error {err} (XW alone {base})"
            );
        }
    }

    #[test]
    fn gain_is_the_inverse_rms() {
        // RMS of [3, -4, 0, 0] is sqrt(25 / 4) = 2.5.
        let x = Matrix::new(2, 2, vec![3.0, -4.0, 0.0, 0.0]).unwrap();
        assert_eq!(calibrated_no_norm_gain(&x), 0.4);
        assert_eq!(rms(&x), 2.5);
        assert_eq!(calibrated_no_norm_gain(&Matrix::zeros(2, 2)), 1.0);
        let inf = Matrix::new(1, 2, vec![f32::INFINITY, 1.0]).unwrap();
        assert_eq!(calibrated_no_norm_gain(&inf), 1.0);
        assert_eq!(max_abs(&inf), f64::INFINITY);
        assert_eq!(max_abs(&x), 4.0);
    }

    #[test]
    fn synthetic_mobilebert_stays_bounded_and_in_binary16_range_over_all_layers() {
        // With unit NoNorm gains (the old rule) this failed at instance 1: the output RMS grew
        // about 4x per layer (1.08, 4.2, 16.9, 71, ...; 4.7e13 at the end) and activations
        // passed binary16's 65504 at instance 5 (1.8e5) and 3.3e26 at the end. Now: RMS 1 and at
        // most about 6 everywhere.
        let res = mobilebert(1, 26);
        assert_eq!((res.ideal_rms.len(), res.ideal_max_abs.len()), (26, 26));
        for (i, (&r, &m)) in res.ideal_rms.iter().zip(&res.ideal_max_abs).enumerate() {
            assert!((0.25..=4.0).contains(&r), "instance {i}: output RMS {r}");
            assert!(m < 65504.0, "instance {i}: activation of magnitude {m}");
        }
    }

    #[test]
    fn the_pipeline_gives_the_same_numerics_on_any_number_of_threads() {
        // Instances are programmed, isolated and chained in a three-stage pipeline; one thread
        // runs it in the serial order.
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| mobilebert(3, 5))
        };
        let one = on(1);
        assert_eq!(one, on(2));
        assert_eq!(one, on(3));
    }

    #[test]
    fn the_first_missing_weight_file_is_reported_as_a_serial_run_would() {
        // Weights for instance 0 only: instances 0, 1 and 2 are in flight together, and the
        // error must name instance 1's first linear operation, the first file a serial
        // evaluation misses.
        let dir = std::env::temp_dir().join(format!("hetsim-npy-order-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/test.ron");
        let text = format!(
            r#"(name: "npy", hardware: (tile: (rows: 512, cols: 512)),
                workload: (schedule: File("../traces/mobilebert.ron"), seq_len: Some(320),
                           weights: Npy("{}")),
                numerics: Some((sample_tokens: 2, max_instances: Some(3))))"#,
            dir.display()
        );
        let loaded = load_str(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        let map = Mapping::new(&loaded.schedule, &loaded.scenario, 1).unwrap();
        let linear_stems = |i: usize| -> Vec<(String, usize, usize)> {
            let inst = &map.instances[i];
            loaded.schedule.blocks[inst.block]
                .ops
                .iter()
                .filter_map(|op| match op.kind {
                    OpKind::Linear {
                        in_features,
                        out_features,
                        ..
                    } => Some((
                        format!("{}.{}", inst.name, op.name),
                        in_features,
                        out_features,
                    )),
                    _ => None,
                })
                .collect()
        };
        for (stem, n, m) in linear_stems(0) {
            let w = Matrix::random_normal(n, m, 0.1, 7);
            hetsim_models::aimc::write_npy(&dir.join(format!("{stem}.W.npy")), &w).unwrap();
        }
        let first_missing = format!("has no {}.W.npy", linear_stems(1)[0].0);
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let err = pool
                .install(|| crate::run::evaluate_numerics(&loaded))
                .expect_err("instance 1 has no weights");
            assert!(
                err.to_string().contains(&first_missing),
                "{threads} thread(s): {err} (expected {first_missing})"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn same_seed_gives_bit_identical_numerics() {
        // Ten instances: past the 8th, where unit gains overflowed binary16.
        let (a, b) = (mobilebert(5, 10), mobilebert(5, 10));
        let bits = |r: &NumericsResult| -> Vec<u64> {
            let v = r.op_err.values().chain(&r.layer_err).chain(&r.chain_err);
            let v = v.chain(&r.ideal_rms);
            v.chain(&r.ideal_max_abs)
                .chain(r.model_err.iter())
                .map(|x| x.to_bits())
                .collect()
        };
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(a, b);
        assert_ne!(
            bits(&a),
            bits(&mobilebert(6, 10)),
            "the seed changes the numerics"
        );
    }
}
