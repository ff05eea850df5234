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
//!    the **model** error (errors accumulate over layers).
//!
//! The tile model also counts its analog passes (bound management repeats a pass while an
//! output saturates): the MVMs of each linear operation in the chained pass and the passes
//! they took are kept in [`NumericsResult::op_passes`], which the timing charges
//! (`crate::run`).
//!
//! Synthetic weights (seeded, `Weights::Synthetic`): W ~ N(0, 1/in), A ~ N(0, 1/in),
//! B ~ N(0, 0.05^2/r), model input x ~ N(0, 1); norms have gain 1 and bias 0.

use crate::backend::{host, ClusterBackend, LoraShape};
use crate::error::Error;
use crate::mapping::Mapping;
use crate::scenario::Loaded;
use crate::workload::{Lora, OpKind, BLOCK_INPUT};
use hetsim_models::aimc::{derive_seed, read_npy, AnalogMatrix, Matrix};
use std::collections::BTreeMap;
use std::path::Path;

/// Most weights the numerics program in one run (MobileBERT has about 20 M).
pub const MAX_WEIGHTS: u64 = 100_000_000;

/// Errors found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NumericsResult {
    /// Relative L2 error of each linear operation, by (instance, op index).
    pub op_err: BTreeMap<(usize, usize), f64>,
    /// Relative L2 error of each evaluated instance's output.
    pub layer_err: Vec<f64>,
    /// Relative L2 error of the last evaluated instance's output, chained from the model input.
    pub model_err: Option<f64>,
    /// Analog MVMs and passes of each linear operation's tiles in the chained pass (the model
    /// input through the hybrid layers, the data the hardware sees), by (instance, op index).
    pub op_passes: BTreeMap<(usize, usize), TilePasses>,
    /// Instances evaluated.
    pub instances: usize,
    /// Tokens in the sample.
    pub tokens: usize,
}

/// The MVMs a linear operation's tiles ran and the analog passes they took (each MVM takes one
/// pass plus one per bound-management repetition; `Latency::passes` of the tile model).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

struct LinearWeights {
    analog: AnalogMatrix,
    w: Matrix,
    lora: Option<(Lora, Matrix, Matrix)>,
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
    let tile = &loaded.scenario.hardware.tile;
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
    let mut ideal_in = Matrix::random_normal(s, sched.input_features, 1.0, derive_seed(seed, 1));
    let mut chain_in = ideal_in.clone();
    for (ii, inst) in mapping.instances.iter().enumerate().take(limit) {
        let Some(block) = sched.blocks.get(inst.block) else {
            break;
        };
        // Program this instance's matrices.
        let mut weights: Vec<Option<LinearWeights>> = Vec::with_capacity(block.ops.len());
        for (oi, op) in block.ops.iter().enumerate() {
            let OpKind::Linear {
                in_features: n,
                out_features: m,
                lora,
            } = op.kind
            else {
                weights.push(None);
                continue;
            };
            let key = ((ii as u64) << 20) | ((oi as u64) << 4);
            let stem = format!("{}.{}", inst.name, op.name);
            let w = match &loaded.npy_dir {
                Some(d) => {
                    let w = npy(d, &format!("{stem}.W.npy"))?.ok_or_else(|| Error::Scenario {
                        path: loaded.path.clone(),
                        field: "workload.weights".into(),
                        message: format!("{} has no {stem}.W.npy", d.display()),
                        hint: "name files <instance>.<op>.W.npy (in x out)".into(),
                    })?;
                    check_shape(&w, n, m, &format!("{stem}.W.npy"))?;
                    w
                }
                None => {
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
            weights.push(Some(LinearWeights { analog, w, lora }));
        }
        let mut errs = BTreeMap::new();
        let (ideal_out, iso) = forward(
            block,
            &ideal_in,
            &mut weights,
            Record::Errors(&mut errs),
            cfg.t_inf_s,
            backend,
        )?;
        let mut passes = BTreeMap::new();
        let (_, chain) = forward(
            block,
            &chain_in,
            &mut weights,
            Record::Passes(&mut passes),
            cfg.t_inf_s,
            backend,
        )?;
        for (oi, e) in errs {
            res.op_err.insert((ii, oi), e);
        }
        for (oi, p) in passes {
            res.op_passes.insert((ii, oi), p);
        }
        res.layer_err.push(host::rel_l2(&iso, &ideal_out));
        res.model_err = Some(host::rel_l2(&chain, &ideal_out));
        res.instances = ii + 1;
        ideal_in = ideal_out;
        chain_in = chain;
    }
    Ok(Some(res))
}

/// What a forward pass records per linear operation (by op index).
enum Record<'a> {
    /// The operation's error against the ideal operation on the same operand.
    Errors(&'a mut BTreeMap<usize, f64>),
    /// The tile model's MVMs and analog passes.
    Passes(&'a mut BTreeMap<usize, TilePasses>),
}

/// Runs one block on `input` twice in lockstep, ideal and hybrid; returns (ideal output,
/// hybrid output) and records what `record` asks for.
fn forward(
    block: &crate::workload::Block,
    input: &Matrix,
    weights: &mut [Option<LinearWeights>],
    mut record: Record,
    t_inf: f64,
    backend: &mut dyn ClusterBackend,
) -> Result<(Matrix, Matrix), Error> {
    let mut ideal: BTreeMap<&str, Matrix> = BTreeMap::new();
    let mut hyb: BTreeMap<&str, Matrix> = BTreeMap::new();
    ideal.insert(BLOCK_INPUT, input.clone());
    hyb.insert(BLOCK_INPUT, input.clone());
    let internal = |what: &str| Error::Mapping(format!("internal: numerics {what}"));
    let mut last = BLOCK_INPUT;
    for (oi, op) in block.ops.iter().enumerate() {
        let get = |map: &BTreeMap<&str, Matrix>, i: &String| map.get(i.as_str()).cloned();
        let ins_i: Vec<Matrix> = op.inputs.iter().filter_map(|i| get(&ideal, i)).collect();
        let ins_h: Vec<Matrix> = op.inputs.iter().filter_map(|i| get(&hyb, i)).collect();
        if ins_i.len() != op.inputs.len() || ins_h.len() != op.inputs.len() {
            return Err(internal("operand missing"));
        }
        let (yi, yh) = match (&op.kind, weights.get_mut(oi).and_then(|w| w.as_mut())) {
            (OpKind::Linear { .. }, Some(lw)) => {
                let ideal_of = |x: &Matrix, lw: &LinearWeights| -> Result<Matrix, Error> {
                    let xw = host::matmul(x, &lw.w).ok_or_else(|| internal("matmul"))?;
                    match &lw.lora {
                        Some((l, a, b)) => host::lora(x, &xw, a, b, l.alpha / l.rank as f32)
                            .ok_or_else(|| internal("lora")),
                        None => Ok(xw),
                    }
                };
                let xi = &ins_i[0];
                let xh = &ins_h[0];
                let yi = ideal_of(xi, lw)?;
                let (xw, lat) = lw.analog.mvm_batch(xh, t_inf)?;
                let yh = match &lw.lora {
                    Some((l, a, b)) => {
                        let shape = LoraShape {
                            tokens: xh.rows(),
                            in_features: xh.cols(),
                            out_features: xw.cols(),
                            rank: l.rank,
                        };
                        backend
                            .lora(&shape, l.alpha / l.rank as f32, xh, &xw, a, b)?
                            .y
                    }
                    None => xw,
                };
                match &mut record {
                    Record::Errors(e) => {
                        e.insert(oi, host::rel_l2(&yh, &ideal_of(xh, lw)?));
                    }
                    Record::Passes(p) => {
                        p.insert(
                            oi,
                            TilePasses {
                                mvms: xh.rows() as u64,
                                passes: lat.passes,
                            },
                        );
                    }
                }
                (yi, yh)
            }
            (OpKind::Linear { .. }, None) => return Err(internal("weights missing")),
            (kind, _) => {
                let ri: Vec<&Matrix> = ins_i.iter().collect();
                let rh: Vec<&Matrix> = ins_h.iter().collect();
                let yi = host::eval(kind, &ri).ok_or_else(|| internal(kind.label()))?;
                let yh = backend.dynamic(kind, &rh)?.y;
                (yi, yh)
            }
        };
        ideal.insert(&op.name, yi);
        hyb.insert(&op.name, yh);
        last = &op.name;
    }
    let yi = ideal.remove(last).ok_or_else(|| internal("output"))?;
    let yh = hyb.remove(last).ok_or_else(|| internal("output"))?;
    Ok((yi, yh))
}
