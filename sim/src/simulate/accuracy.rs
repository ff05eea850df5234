//! Accuracy of a real model on the hybrid: a checkpoint's sentence encoder run on tokenised
//! sentences, in f32 on the host (the reference) and with every static linear layer on the AIMC
//! tile model plus its LoRA branch on the cluster backend (the hybrid), at several inference
//! times, with and without drift compensation (docs/accuracy.md explains every number).
//!
//! The forward pass follows the layer schedule (`crate::workload`), with the checkpoint's
//! parameters (`crate::checkpoint`): the embeddings block's input is the sum of the word,
//! position and token-type-0 embeddings of each token; linear operations add their bias;
//! LayerNorms use the checkpoint's gain, bias and epsilon; attention scores of padding tokens
//! are masked (set to minus infinity before the softmax); the FFN activation is the schedule's
//! (`GeluErf` for Hugging Face `gelu`). The sentence embedding is the mean of the last block's
//! output over the sentence's tokens (padding excluded), as sentence-transformers pools.
//! Every sentence is padded to the schedule's sequence length, the length the timing runs.
//!
//! Hybrid linear operation: `y = tiles(x) [+ LoRA on the backend] + bias`. The tiles are
//! [`AnalogMatrix`] (programming noise drawn once per matrix, drift and read noise at each
//! inference time, DAC/ADC, bound management, the tile's drift compensation as each point
//! asks); the LoRA runs through the backend's `lora` call as the deployment splits it over row
//! blocks (`crate::numerics`), so a binary16 kernel rounds XW, the operands and Y as it does on
//! the cluster. The bias is added in f32. Dynamic operations (attention, softmax, LayerNorm,
//! GELU, residual adds) have no kernel: both backends compute them in f32 on the host (their
//! `dynamic`), so the hybrid uses the reference's arithmetic for them and they add no error.
//!
//! LoRA matrices come from the scenario's PEFT adapter (`workload.adapter`, whose rank, alpha
//! and targets also set the schedule's LoRA); without one, every LoRA gets seeded synthetic
//! A ~ N(0, 1/in) and B = 0 (PEFT's initialisation): the adapted model equals the checkpoint,
//! and the LoRA kernel still runs on every token with its own rounding.
//!
//! Tiles of each (drift compensation) setting are programmed once (with the mapping's tile
//! numbers, so each tile has its own noise streams) and copied for each inference time; the
//! points run in parallel and each is deterministic, so results do not depend on the thread
//! count.

use crate::backend::{self, host, ClusterBackend};
use crate::checkpoint::{self, Checkpoint};
use crate::error::Error;
use crate::mapping::Mapping;
use crate::scenario::{Loaded, RowBlocks};
use crate::workload::{Activation, Block, Lora, NormKind, OpKind, Schedule, BLOCK_INPUT};
use hetsim_models::aimc::{derive_seed, AnalogMatrix, DriftCompensation, Matrix};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Most sentences one evaluation takes.
pub const MAX_SENTENCES: usize = 4096;

/// One tokenised sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentence {
    /// The text.
    pub text: String,
    /// Token ids, `[CLS] ... [SEP]`.
    pub ids: Vec<u32>,
}

/// A sentence file (`tools/minilm/tokenize.py`'s output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentences {
    /// SHA-256 of the tokenizer.json the ids come from.
    #[serde(default)]
    pub tokenizer_sha256: String,
    /// The sentences.
    pub sentences: Vec<Sentence>,
}

impl Sentences {
    /// Reads a sentence file; errors name the file.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text =
            hetsim_models::diag::read_text(path, "a sentence file").map_err(|e| Error::Data {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        Self::parse(path, &text)
    }

    /// Parses a sentence file's text (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let err = |message: String| Error::Data {
            path: path.to_path_buf(),
            message,
        };
        let s: Self = serde_json::from_str(text).map_err(|e| {
            err(format!(
                "{e}; expected {{\"sentences\": [{{\"text\": \"...\", \"ids\": [101, ..., 102]}}]}}"
            ))
        })?;
        if s.sentences.is_empty() || s.sentences.len() > MAX_SENTENCES {
            return Err(err(format!(
                "{} sentences; give 1..={MAX_SENTENCES}",
                s.sentences.len()
            )));
        }
        if let Some(i) = s.sentences.iter().position(|s| s.ids.is_empty()) {
            return Err(err(format!("sentence {i} has no token ids")));
        }
        Ok(s)
    }
}

/// The accuracy at one inference time and drift-compensation setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyPoint {
    /// Seconds after programming.
    pub t_inf_s: f64,
    /// `Off`, `Global` or `PerColumn`.
    pub drift_compensation: String,
    /// Relative L2 error of each layer instance's output (hybrid chained from the sentence
    /// against the reference), over every sentence's tokens, padding excluded.
    pub layer_err: Vec<f64>,
    /// Mean over the sentences of the cosine similarity of the hybrid's sentence embedding to
    /// the reference's.
    pub cosine_mean: f64,
    /// The smallest such cosine similarity.
    pub cosine_min: f64,
    /// The sentence (0-based) with the smallest one.
    pub worst_sentence: usize,
}

/// The accuracy evaluation of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyResult {
    /// The checkpoint directory.
    pub checkpoint: String,
    /// Sentences evaluated.
    pub sentences: usize,
    /// Tokens each sentence is padded to (the schedule's sequence length).
    pub seq_len: usize,
    /// Tokens of all sentences, padding excluded.
    pub tokens: usize,
    /// Layer instance names, in order (the columns of `layer_err`).
    pub layers: Vec<String>,
    /// One point per drift-compensation setting and inference time, in that order.
    pub points: Vec<AccuracyPoint>,
}

/// One CSV row of an accuracy evaluation (`hetsim run --accuracy-csv`): a layer instance's
/// error or the model's embedding similarity at one point.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AccuracyRow {
    /// Seconds after programming.
    pub t_inf_s: f64,
    /// The same time in words (`0 s`, `1 h`, `1 d`, `1 y`, `10 y`), a category for plots.
    pub t_inf: String,
    /// `Off`, `Global` or `PerColumn`.
    pub drift_compensation: String,
    /// `layer` or `model`.
    pub scope: String,
    /// Layer instance (`(all)` for the model).
    pub layer: String,
    /// Layer rows: relative L2 error of the layer's output; model rows: of the last layer's.
    pub rel_err: f64,
    /// Model rows: mean cosine similarity of the sentence embeddings (layer rows: empty).
    pub cosine_mean: Option<f64>,
    /// Model rows: the smallest cosine similarity.
    pub cosine_min: Option<f64>,
    /// Model rows: the sentence with the smallest.
    pub worst_sentence: Option<usize>,
}

/// `t` seconds in the largest unit it reaches (`0 s`, `90 s`, `1 h`, `1 d`, `1 y`, `10 y`).
pub fn time_label(t: f64) -> String {
    const UNITS: [(&str, f64); 5] = [
        ("y", 31_536_000.0),
        ("d", 86_400.0),
        ("h", 3_600.0),
        ("min", 60.0),
        ("s", 1.0),
    ];
    let (unit, size) = UNITS
        .iter()
        .copied()
        .find(|&(_, size)| t >= size)
        .unwrap_or(("s", 1.0));
    let v = t / size;
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

impl AccuracyResult {
    /// Every row: per point, each layer instance's error, then the model row.
    pub fn rows(&self) -> Vec<AccuracyRow> {
        let mut rows = Vec::new();
        for p in &self.points {
            let base = AccuracyRow {
                t_inf_s: p.t_inf_s,
                t_inf: time_label(p.t_inf_s),
                drift_compensation: p.drift_compensation.clone(),
                ..Default::default()
            };
            for (name, e) in self.layers.iter().zip(&p.layer_err) {
                rows.push(AccuracyRow {
                    scope: "layer".into(),
                    layer: name.clone(),
                    rel_err: *e,
                    ..base.clone()
                });
            }
            rows.push(AccuracyRow {
                scope: "model".into(),
                layer: "(all)".into(),
                rel_err: p.layer_err.last().copied().unwrap_or(0.0),
                cosine_mean: Some(p.cosine_mean),
                cosine_min: Some(p.cosine_min),
                worst_sentence: Some(p.worst_sentence),
                ..base
            });
        }
        rows
    }

    /// CSV text of [`Self::rows`].
    pub fn csv(&self) -> Result<String, Error> {
        let e = |e: csv::Error| Error::Serialise(e.to_string());
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in self.rows() {
            w.serialize(r).map_err(e)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|x| Error::Serialise(x.to_string()))?;
        String::from_utf8(bytes).map_err(|x| Error::Serialise(x.to_string()))
    }

    /// The terminal table: one line per point with the embeddings' cosine similarity (mean,
    /// worst and its sentence) and each layer's relative error.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let short = |n: &str| n.strip_prefix("encoder.layer.").unwrap_or(n).to_string();
        let mut head = vec![
            "t_inf".to_string(),
            "drift comp".into(),
            "cos mean".into(),
            "cos min".into(),
            "worst".into(),
        ];
        head.extend(self.layers.iter().map(|n| format!("err {}", short(n))));
        let mut cells = vec![head];
        for p in &self.points {
            let mut r = vec![
                time_label(p.t_inf_s),
                p.drift_compensation.clone(),
                format!("{:.5}", p.cosine_mean),
                format!("{:.5}", p.cosine_min),
                p.worst_sentence.to_string(),
            ];
            r.extend(p.layer_err.iter().map(|e| format!("{e:.4}")));
            cells.push(r);
        }
        let mut s = String::new();
        let _ = writeln!(
            s,
            "accuracy of {} on {} sentence(s) ({} tokens, each padded to {}): hybrid against \
             the f32 reference; cos = cosine similarity of the sentence embeddings, err = \
             relative L2 error of each layer's output (docs/accuracy.md)",
            self.checkpoint, self.sentences, self.tokens, self.seq_len
        );
        s.push_str(&crate::report::aligned_table(&cells, |c| c < 2));
        s
    }
}

/// Parameters of one operation.
#[derive(Debug, Clone)]
enum OpParams {
    /// A dynamic operation without parameters.
    None,
    /// A linear operation.
    Linear {
        w: Matrix,
        bias: Vec<f32>,
        lora: Option<(Lora, Matrix, Matrix)>,
    },
    /// A LayerNorm's gain and bias.
    Norm { gamma: Vec<f32>, beta: Vec<f32> },
}

/// A checkpoint's parameters laid on a schedule.
#[derive(Debug, Clone)]
pub struct ModelParams {
    word: Matrix,
    position: Matrix,
    token_type: Vec<f32>,
    eps: f32,
    vocab: usize,
    /// By instance, then op index.
    ops: Vec<Vec<OpParams>>,
    /// (block index, instance name) of each instance.
    instances: Vec<(usize, String)>,
}

fn schedule_err(message: String) -> Error {
    Error::Schedule {
        location: "checkpoint".into(),
        reason: message,
    }
}

impl ModelParams {
    /// The parameters of every operation of `schedule` from `ck`, checked against the
    /// schedule's shapes and kinds; LoRA A is seeded from `seed` (module docs).
    pub fn new(ck: &Checkpoint, schedule: &Schedule, seed: u64) -> Result<Self, Error> {
        Self::with_adapter(ck, None, schedule, seed)
    }

    /// As [`Self::new`], with the LoRA matrices of `adapter` (when given) on the operations
    /// the schedule gives LoRA.
    pub fn with_adapter(
        ck: &Checkpoint,
        adapter: Option<&checkpoint::Adapter>,
        schedule: &Schedule,
        seed: u64,
    ) -> Result<Self, Error> {
        let c = &ck.config;
        let h = c.hidden_size;
        let file = ck.dir.join(checkpoint::CONFIG_FILE);
        let cfg_err = |message: String| Error::Data {
            path: file.clone(),
            message,
        };
        if schedule.input_features != h {
            return Err(cfg_err(format!(
                "hidden_size {h}, the schedule's model ({}) has {} input features",
                schedule.model, schedule.input_features
            )));
        }
        let act = match c.hidden_act.as_str() {
            "gelu" => Activation::GeluErf,
            "gelu_new" | "gelu_pytorch_tanh" => Activation::Gelu,
            "relu" => Activation::Relu,
            a => return Err(cfg_err(format!("hidden_act {a:?} is not supported"))),
        };
        let layers: usize = schedule
            .blocks
            .iter()
            .filter(|b| b.name == "encoder.layer")
            .map(|b| b.repeat)
            .sum();
        if layers != c.num_hidden_layers {
            return Err(cfg_err(format!(
                "num_hidden_layers {}, the schedule has {layers} encoder.layer instances",
                c.num_hidden_layers
            )));
        }
        if schedule.seq_len > c.max_position_embeddings {
            return Err(cfg_err(format!(
                "max_position_embeddings {}, the schedule's sequence has {} tokens",
                c.max_position_embeddings, schedule.seq_len
            )));
        }
        let word = ck.table("embeddings.word_embeddings.weight", c.vocab_size, h)?;
        let position = ck.table(
            "embeddings.position_embeddings.weight",
            c.max_position_embeddings,
            h,
        )?;
        let types = ck
            .tensors
            .get("embeddings.token_type_embeddings.weight")
            .map_or(0, |t| t.shape.first().copied().unwrap_or(0));
        let token_type = ck
            .table("embeddings.token_type_embeddings.weight", types.max(1), h)?
            .row(0)
            .map(<[f32]>::to_vec)
            .unwrap_or_default();
        let mut ops = Vec::new();
        let mut instances = Vec::new();
        for (bi, b) in schedule.blocks.iter().enumerate() {
            for rep in 0..b.repeat {
                let inst = if b.repeat == 1 {
                    b.name.clone()
                } else {
                    format!("{}.{rep}", b.name)
                };
                let ii = instances.len();
                let mut params = Vec::with_capacity(b.ops.len());
                for (oi, op) in b.ops.iter().enumerate() {
                    let stem = checkpoint::stem(&b.name, rep, &op.name);
                    params.push(match &op.kind {
                        OpKind::Linear {
                            in_features: n,
                            out_features: m,
                            lora,
                        } => {
                            let key = ((ii as u64) << 20) | ((oi as u64) << 4);
                            let lora = match (lora, adapter) {
                                (None, _) => None,
                                (Some(l), Some(ad)) => {
                                    let (a, b) = ad.lora(&stem, *n, *m)?;
                                    Some((*l, a, b))
                                }
                                (Some(l), None) => {
                                    let a = Matrix::random_normal(
                                        *n,
                                        l.rank,
                                        1.0 / (*n as f32).sqrt(),
                                        derive_seed(seed, key + 1),
                                    );
                                    Some((*l, a, Matrix::zeros(l.rank, *m)))
                                }
                            };
                            OpParams::Linear {
                                w: ck.linear(&format!("{stem}.weight"), *n, *m)?,
                                bias: ck.vector(&format!("{stem}.bias"), *m)?,
                                lora,
                            }
                        }
                        OpKind::Norm(NormKind::LayerNorm) => OpParams::Norm {
                            gamma: ck.vector(&format!("{stem}.weight"), op.out.1)?,
                            beta: ck.vector(&format!("{stem}.bias"), op.out.1)?,
                        },
                        OpKind::Norm(k) => {
                            return Err(schedule_err(format!(
                                "{inst}.{}: a {k:?} has no BERT checkpoint parameters",
                                op.name
                            )))
                        }
                        OpKind::Activation(a) if *a != act => {
                            return Err(cfg_err(format!(
                                "hidden_act {:?} is {act:?}, the schedule's {inst}.{} is {a:?}",
                                c.hidden_act, op.name
                            )))
                        }
                        OpKind::Scores { heads, .. } if *heads != c.num_attention_heads => {
                            return Err(cfg_err(format!(
                                "num_attention_heads {}, the schedule's {inst}.{} has {heads}",
                                c.num_attention_heads, op.name
                            )))
                        }
                        OpKind::Rope { .. } => {
                            return Err(schedule_err(format!(
                                "{inst}.{}: rotary embeddings are not part of a BERT checkpoint",
                                op.name
                            )))
                        }
                        _ => OpParams::None,
                    });
                }
                ops.push(params);
                instances.push((bi, inst));
            }
        }
        Ok(Self {
            word,
            position,
            token_type,
            eps: c.layer_norm_eps,
            vocab: c.vocab_size,
            ops,
            instances,
        })
    }

    /// The embeddings block's input for `ids` padded with id 0 to `len` tokens: word +
    /// position + token type 0.
    pub fn embed(&self, ids: &[u32], len: usize) -> Result<Matrix, Error> {
        let h = self.word.cols();
        let mut out = Vec::with_capacity(len * h);
        for pos in 0..len {
            let id = ids.get(pos).copied().unwrap_or(0) as usize;
            let (Some(w), Some(p)) = (self.word.row(id), self.position.row(pos)) else {
                return Err(schedule_err(format!(
                    "token id {id} at position {pos}: the vocabulary has {} ids",
                    self.vocab
                )));
            };
            out.extend(
                w.iter()
                    .zip(p)
                    .zip(&self.token_type)
                    .map(|((w, p), t)| w + p + t),
            );
        }
        Matrix::new(len, h, out).map_err(|e| schedule_err(e.to_string()))
    }
}

fn layer_norm(x: &Matrix, gamma: &[f32], beta: &[f32], eps: f32) -> Matrix {
    let f = x.cols();
    let mut out = Vec::with_capacity(x.rows() * f);
    for row in x.as_slice().chunks_exact(f.max(1)) {
        let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / f as f64;
        let var = row
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / f as f64;
        let inv = 1.0 / (var + f64::from(eps)).sqrt();
        out.extend(
            row.iter()
                .zip(gamma.iter().zip(beta))
                .map(|(&v, (g, b))| ((f64::from(v) - mean) * inv) as f32 * g + b),
        );
    }
    Matrix::new(x.rows(), f, out).unwrap_or_else(|_| Matrix::zeros(x.rows(), f))
}

fn add_bias(y: Matrix, bias: &[f32]) -> Matrix {
    let (r, c) = (y.rows(), y.cols());
    let mut d = y.into_vec();
    for row in d.chunks_exact_mut(c.max(1)) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
    Matrix::new(r, c, d).unwrap_or_else(|_| Matrix::zeros(r, c))
}

fn internal(what: &str) -> Error {
    Error::Mapping(format!("internal: accuracy {what}"))
}

/// How a forward pass computes a linear operation: `(op index, x, parameters)` to `x W + b`
/// (with its LoRA).
type LinearFn<'a> = dyn FnMut(usize, &Matrix, &OpParams) -> Result<Matrix, Error> + 'a;

/// A dynamic operation evaluated otherwise than on the host in f32 (the hybrid pass: a binary16
/// kernel's numerics, `ClusterBackend::kernel_dynamic`), given a LayerNorm's gain, bias and
/// epsilon; None: the host's f32 evaluation.
type DynamicFn<'a> = dyn FnMut(&OpKind, &[&Matrix], Option<(&[f32], &[f32], f32)>) -> Result<Option<Matrix>, Error>
    + 'a;

/// Runs one block on `input` (`len x features`; tokens at or past `valid` are padding, masked
/// as keys); returns its output.
fn run_block(
    block: &Block,
    params: &[OpParams],
    eps: f32,
    input: &Matrix,
    valid: usize,
    linear: &mut LinearFn,
    dynamic: &mut DynamicFn,
) -> Result<Matrix, Error> {
    let mut vals: BTreeMap<&str, Matrix> = BTreeMap::new();
    vals.insert(BLOCK_INPUT, input.clone());
    let mut last = BLOCK_INPUT;
    for (oi, op) in block.ops.iter().enumerate() {
        let ins: Vec<&Matrix> = op
            .inputs
            .iter()
            .filter_map(|i| vals.get(i.as_str()))
            .collect();
        if ins.len() != op.inputs.len() {
            return Err(internal("operand missing"));
        }
        let p = params
            .get(oi)
            .ok_or_else(|| internal("parameters missing"))?;
        let norm = match p {
            OpParams::Norm { gamma, beta } => Some((gamma.as_slice(), beta.as_slice(), eps)),
            _ => None,
        };
        // mean pooling averages the sentence's tokens, not its padding
        let tokens;
        let ins = match (&op.kind, ins.first()) {
            (OpKind::MeanPool, Some(x)) if valid < x.rows() => {
                let n = valid * x.cols();
                tokens = Matrix::new(valid, x.cols(), x.as_slice()[..n].to_vec())
                    .map_err(|e| internal(&e.to_string()))?;
                vec![&tokens]
            }
            _ => ins,
        };
        let by_kernel = match op.kind {
            OpKind::Linear { .. } => None,
            ref kind => dynamic(kind, &ins, norm)?,
        };
        let y = match (&op.kind, p, by_kernel) {
            (OpKind::Linear { .. }, p @ OpParams::Linear { .. }, _) => linear(oi, ins[0], p)?,
            (OpKind::Scores { heads, .. }, _, k) => {
                let mut s = match k {
                    Some(s) => s,
                    None => host::eval(&op.kind, &ins).ok_or_else(|| internal("scores"))?,
                };
                let keys = ins.get(1).map_or(0, |k| k.rows());
                let cols = s.cols();
                for row in s.as_mut_slice().chunks_exact_mut(cols.max(1)) {
                    for h in 0..*heads {
                        for v in row.iter_mut().skip(h * keys + valid).take(keys - valid) {
                            *v = f32::NEG_INFINITY;
                        }
                    }
                }
                s
            }
            (_, _, Some(y)) => y,
            (OpKind::Norm(NormKind::LayerNorm), OpParams::Norm { gamma, beta }, None) => {
                layer_norm(ins[0], gamma, beta, eps)
            }
            (kind, _, None) => host::eval(kind, &ins).ok_or_else(|| internal(kind.label()))?,
        };
        vals.insert(&op.name, y);
        last = &op.name;
    }
    vals.remove(last).ok_or_else(|| internal("output"))
}

/// Every instance's output for one sentence (the last is the encoder's output).
fn forward(
    sched: &Schedule,
    params: &ModelParams,
    ids: &[u32],
    linear: &mut LinearFn,
    dynamic: &mut DynamicFn,
) -> Result<Vec<Matrix>, Error> {
    let mut x = params.embed(ids, sched.seq_len)?;
    let mut outs = Vec::with_capacity(params.instances.len());
    for (ii, (bi, _)) in params.instances.iter().enumerate() {
        let block = sched.blocks.get(*bi).ok_or_else(|| internal("block"))?;
        let p = params.ops.get(ii).ok_or_else(|| internal("instance"))?;
        let linear_ii = &mut |oi: usize, x: &Matrix, p: &OpParams| linear(ii << 16 | oi, x, p);
        x = run_block(block, p, params.eps, &x, ids.len(), linear_ii, dynamic)?;
        outs.push(x.clone());
    }
    Ok(outs)
}

/// The f32 reference of one linear operation: `x W + b + s (x A) B`.
fn ideal_linear(x: &Matrix, p: &OpParams) -> Result<Matrix, Error> {
    let OpParams::Linear { w, bias, lora } = p else {
        return Err(internal("linear parameters"));
    };
    let xw = host::matmul(x, w).ok_or_else(|| internal("matmul"))?;
    let y = match lora {
        Some((l, a, b)) => {
            host::lora(x, &xw, a, b, l.alpha / l.rank as f32).ok_or_else(|| internal("lora"))?
        }
        None => xw,
    };
    Ok(add_bias(y, bias))
}

/// The reference forward pass of `ids`: every instance's output.
pub fn reference(
    sched: &Schedule,
    params: &ModelParams,
    ids: &[u32],
) -> Result<Vec<Matrix>, Error> {
    forward(
        sched,
        params,
        ids,
        &mut |_, x, p| ideal_linear(x, p),
        &mut |_, _, _| Ok(None),
    )
}

/// The sentence embedding of a forward pass's last output `x` for a sentence of `valid`
/// tokens: the row of the schedule's mean pooling when it ends with one (a sentence encoder:
/// the operation ran on the cluster, [`OpKind::MeanPool`]), else [`mean_pool`] of `x` on the
/// host.
pub fn sentence_vector(sched: &Schedule, x: &Matrix, valid: usize) -> Vec<f64> {
    if sched.pooled() {
        x.as_slice().iter().map(|&v| f64::from(v)).collect()
    } else {
        mean_pool(x, valid)
    }
}

/// Mean of the first `valid` rows of `x` (mean pooling over a sentence's tokens, in f64 on
/// the host: the sentence vector of a schedule that does not pool).
pub fn mean_pool(x: &Matrix, valid: usize) -> Vec<f64> {
    let f = x.cols();
    let mut s = vec![0.0f64; f];
    for row in x.as_slice().chunks_exact(f.max(1)).take(valid) {
        for (a, &v) in s.iter_mut().zip(row) {
            *a += f64::from(v);
        }
    }
    s.iter().map(|v| v / valid.max(1) as f64).collect()
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Sums of squares over the first `valid` rows: (||y - r||^2, ||r||^2).
fn sq_err(y: &Matrix, r: &Matrix, valid: usize) -> (f64, f64) {
    let n = valid * r.cols();
    y.as_slice()
        .iter()
        .zip(r.as_slice())
        .take(n)
        .fold((0.0, 0.0), |(e, d), (&a, &b)| {
            let (a, b) = (f64::from(a), f64::from(b));
            (e + (a - b) * (a - b), d + b * b)
        })
}

/// The scenario's sentences, the checkpoint's parameters and the sentence file's path.
pub struct Prepared {
    /// Parameters on the schedule.
    pub params: ModelParams,
    /// The sentences (at most `accuracy.max_sentences`).
    pub sentences: Vec<Sentence>,
    /// The checkpoint directory.
    pub dir: PathBuf,
}

/// Loads the checkpoint and sentences of a scenario with an `accuracy` section.
pub fn prepare(loaded: &Loaded) -> Result<Option<Prepared>, Error> {
    let (Some(cfg), Some(dir)) = (&loaded.scenario.accuracy, &loaded.checkpoint) else {
        return Ok(None);
    };
    let ck = Checkpoint::load(dir)?;
    let adapter = match &loaded.adapter {
        Some(d) => Some(checkpoint::Adapter::load(d)?),
        None => None,
    };
    let params = ModelParams::with_adapter(
        &ck,
        adapter.as_ref(),
        &loaded.schedule,
        loaded.scenario.seed,
    )?;
    let base = loaded.path.parent().unwrap_or(Path::new("."));
    let file = base.join(&cfg.sentences);
    let mut s = Sentences::read(&file)?.sentences;
    s.truncate(cfg.max_sentences.unwrap_or(usize::MAX));
    let seq = loaded.schedule.seq_len;
    if let Some((i, long)) = s.iter().enumerate().find(|(_, s)| s.ids.len() > seq) {
        return Err(Error::Scenario {
            path: loaded.path.clone(),
            field: "workload.seq_len".into(),
            message: format!(
                "sentence {i} of {} has {} tokens, the schedule's sequence {seq}",
                file.display(),
                long.ids.len()
            ),
            hint: "raise workload.seq_len to the longest sentence (sentences are padded to it)"
                .into(),
        });
    }
    Ok(Some(Prepared {
        params,
        sentences: s,
        dir: dir.clone(),
    }))
}

/// Runs the scenario's accuracy evaluation (`None` without an `accuracy` section).
pub fn evaluate(loaded: &Loaded, mapping: &Mapping) -> Result<Option<AccuracyResult>, Error> {
    let Some(prep) = prepare(loaded)? else {
        return Ok(None);
    };
    let Some(cfg) = &loaded.scenario.accuracy else {
        return Ok(None);
    };
    let sched = &loaded.schedule;
    let params = &prep.params;
    let sents = &prep.sentences;
    let refs: Vec<Vec<Matrix>> = sents
        .par_iter()
        .map(|s| reference(sched, params, &s.ids))
        .collect::<Result<_, _>>()?;
    let pooled_ref: Vec<Vec<f64>> = refs
        .iter()
        .zip(sents)
        .map(|(r, s)| {
            r.last()
                .map_or(Vec::new(), |x| sentence_vector(sched, x, s.ids.len()))
        })
        .collect();
    let row_blocks = loaded.scenario.mapping.row_blocks;
    let base = loaded.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut points = Vec::new();
    for &comp in &cfg.drift_compensation {
        let mut tile = loaded.scenario.hardware.tile.clone();
        tile.drift_compensation = comp;
        // Program every matrix once for this setting, in parallel (seeded per tile).
        let jobs: Vec<(usize, usize, &OpParams)> = params
            .ops
            .iter()
            .enumerate()
            .flat_map(|(ii, ops)| ops.iter().enumerate().map(move |(oi, p)| (ii, oi, p)))
            .filter(|(_, _, p)| matches!(p, OpParams::Linear { .. }))
            .collect();
        let programmed: BTreeMap<usize, AnalogMatrix> = jobs
            .par_iter()
            .map(|&(ii, oi, p)| {
                let OpParams::Linear { w, .. } = p else {
                    return Err(internal("linear parameters"));
                };
                let first = mapping
                    .instances
                    .get(ii)
                    .and_then(|i| i.ops.get(oi))
                    .map_or(0, |o| u64::from(o.first_tile));
                Ok((ii << 16 | oi, AnalogMatrix::program_at(&tile, w, first)?))
            })
            .collect::<Result<_, Error>>()?;
        let at_times: Vec<AccuracyPoint> = cfg
            .t_inf_s
            .par_iter()
            .map(|&t| {
                let mut tiles = programmed.clone();
                let mut be = backend::build(&loaded.scenario.hardware.cluster_backend, &base)?;
                hybrid_point(
                    sched,
                    params,
                    sents,
                    &refs,
                    &pooled_ref,
                    &mut tiles,
                    be.as_mut(),
                    row_blocks,
                    t,
                    comp,
                )
            })
            .collect::<Result<_, Error>>()?;
        points.extend(at_times);
    }
    Ok(Some(AccuracyResult {
        checkpoint: prep.dir.display().to_string(),
        sentences: sents.len(),
        seq_len: sched.seq_len,
        tokens: sents.iter().map(|s| s.ids.len()).sum(),
        layers: params.instances.iter().map(|(_, n)| n.clone()).collect(),
        points,
    }))
}

/// The hybrid pass of every sentence at `t` with `tiles` (keyed `instance << 16 | op`).
#[allow(clippy::too_many_arguments)]
fn hybrid_point(
    sched: &Schedule,
    params: &ModelParams,
    sents: &[Sentence],
    refs: &[Vec<Matrix>],
    pooled_ref: &[Vec<f64>],
    tiles: &mut BTreeMap<usize, AnalogMatrix>,
    be: &mut dyn ClusterBackend,
    row_blocks: RowBlocks,
    t: f64,
    comp: DriftCompensation,
) -> Result<AccuracyPoint, Error> {
    let layers = params.instances.len();
    let mut sums = vec![(0.0f64, 0.0f64); layers];
    let mut cos = Vec::with_capacity(sents.len());
    for (s, r) in sents.iter().zip(refs) {
        // the linear operations' LoRA and the dynamic operations share the backend
        let be = std::cell::RefCell::new(&mut *be);
        let outs = forward(
            sched,
            params,
            &s.ids,
            &mut |key, x, p| {
                let OpParams::Linear { bias, lora, .. } = p else {
                    return Err(internal("linear parameters"));
                };
                let tile = tiles.get_mut(&key).ok_or_else(|| internal("tiles"))?;
                let (xw, _) = tile.mvm_batch(x, t)?;
                let y = match lora {
                    Some((l, a, b)) => {
                        let rows = tile.mapping().tile_rows;
                        let scale = l.alpha / l.rank as f32;
                        let be = &mut **be.borrow_mut();
                        crate::numerics::lora_by_row_blocks(
                            be, row_blocks, rows, scale, x, xw, a, b,
                        )?
                    }
                    None => xw,
                };
                Ok(add_bias(y, bias))
            },
            &mut |kind, ins, norm| be.borrow_mut().kernel_dynamic(kind, ins, norm),
        )?;
        for ((acc, y), r) in sums.iter_mut().zip(&outs).zip(r) {
            let (e, d) = sq_err(y, r, s.ids.len());
            acc.0 += e;
            acc.1 += d;
        }
        let pooled = outs
            .last()
            .map_or(Vec::new(), |x| sentence_vector(sched, x, s.ids.len()));
        cos.push(cosine(&pooled, &pooled_ref[cos.len()]));
    }
    let (worst, min) =
        cos.iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |(wi, m), (i, c)| {
                    if c < m {
                        (i, c)
                    } else {
                        (wi, m)
                    }
                },
            );
    Ok(AccuracyPoint {
        t_inf_s: t,
        drift_compensation: format!("{comp:?}"),
        layer_err: sums
            .iter()
            .map(|&(e, d)| if d == 0.0 { 0.0 } else { (e / d).sqrt() })
            .collect(),
        cosine_mean: cos.iter().sum::<f64>() / cos.len().max(1) as f64,
        cosine_min: min,
        worst_sentence: worst,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::BertConfig;
    use crate::workload::models::{self, ModelDims};
    use safetensors::tensor::TensorView;
    use safetensors::Dtype;

    /// The all-MiniLM-L6-v2 cache of `tools/fetch-minilm` (`HETSIM_MINILM_DIR` or
    /// `.cache/minilm`), or `None` after a NOTICE when it is absent (a failure instead with
    /// `HETSIM_REQUIRE_MINILM=1`, as in CI).
    fn minilm_cache() -> Option<PathBuf> {
        let dir = std::env::var_os("HETSIM_MINILM_DIR").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/minilm"),
            PathBuf::from,
        );
        let ok = [
            "model/model.safetensors",
            "model/config.json",
            "reference.json",
        ]
        .iter()
        .all(|f| dir.join(f).is_file());
        if ok {
            return Some(dir);
        }
        let msg = format!(
            "{} lacks the model or its NumPy reference: run tools/fetch-minilm (with NumPy)",
            dir.display()
        );
        assert!(
            std::env::var("HETSIM_REQUIRE_MINILM").as_deref() != Ok("1"),
            "{msg}"
        );
        eprintln!("NOTICE: skipped: {msg}");
        None
    }

    fn tokens() -> Vec<Sentence> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/minilm/tokens.json");
        Sentences::read(&p).unwrap().sentences
    }

    fn rel(a: &[f64], b: &[f64]) -> f64 {
        let e: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
        let d: f64 = b.iter().map(|y| y * y).sum();
        (e / d).sqrt()
    }

    #[test]
    fn numpy_reference_agrees() {
        // The f32 host pass against tools/minilm/reference.py (float64, the sentences padded
        // to the longest, 13 tokens); here they are padded to 16, so the padding mask is
        // exercised too.
        let Some(dir) = minilm_cache() else { return };
        let ck = Checkpoint::load(&dir.join("model")).unwrap();
        let sched = models::generate(&models::ALL_MINILM_L6_V2, 16, None);
        let params = ModelParams::new(&ck, &sched, 0).unwrap();
        let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
        let want: serde_json::Value = serde_json::from_str(&text).unwrap();
        let emb = want["embeddings"].as_array().unwrap();
        let sents = tokens();
        assert_eq!(emb.len(), sents.len());
        let vec = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array()
                .unwrap()
                .iter()
                .flat_map(|x| match x.as_array() {
                    Some(row) => row.iter().map(|y| y.as_f64().unwrap()).collect(),
                    None => vec![x.as_f64().unwrap()],
                })
                .collect()
        };
        let outs: Vec<Vec<Matrix>> = sents
            .par_iter()
            .map(|s| reference(&sched, &params, &s.ids).unwrap())
            .collect();
        for (i, (s, o)) in sents.iter().zip(&outs).enumerate() {
            let got = sentence_vector(&sched, o.last().unwrap(), s.ids.len());
            let e = rel(&got, &vec(&emb[i]));
            assert!(e < 2e-5, "sentence {i}: embedding differs by {e}");
        }
        // sentence 0's block outputs (embeddings, then every layer; the schedule's last
        // output is the pooled embedding, checked above), unpadded rows
        let blocks = want["sentence0_blocks"].as_array().unwrap();
        assert_eq!(blocks.len() + 1, outs[0].len());
        let n = sents[0].ids.len();
        for (b, (w, got)) in blocks.iter().zip(&outs[0]).enumerate() {
            let got: Vec<f64> = got.as_slice()[..n * 384]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let e = rel(&got, &vec(w));
            assert!(e < 2e-5, "block {b}: differs by {e}");
        }
        // The model is the real one: related sentences are closer than unrelated ones
        // (0: a man playing guitar, 11: the quick brown fox, 2: two dogs in the park).
        let p: Vec<Vec<f64>> = sents
            .iter()
            .zip(&outs)
            .map(|(s, o)| sentence_vector(&sched, o.last().unwrap(), s.ids.len()))
            .collect();
        assert!(cosine(&p[11], &p[2]) > cosine(&p[11], &p[4]));
    }

    /// The tests' one-layer BERT.
    const TINY: ModelDims = models::TINY_BERT;

    fn tiny_config() -> BertConfig {
        BertConfig::tiny_bert()
    }

    /// The tiny model's tensors (PyTorch shapes), seeded values; `swap` replaces one
    /// tensor's shape (its values are kept as many).
    fn tiny_tensors(swap: Option<(&str, Vec<usize>)>) -> Vec<(String, Vec<usize>)> {
        let l = "encoder.layer.0";
        let mut t: Vec<(String, Vec<usize>)> = vec![
            ("embeddings.word_embeddings.weight".into(), vec![12, 8]),
            ("embeddings.position_embeddings.weight".into(), vec![8, 8]),
            ("embeddings.token_type_embeddings.weight".into(), vec![2, 8]),
            ("embeddings.LayerNorm.weight".into(), vec![8]),
            ("embeddings.LayerNorm.bias".into(), vec![8]),
        ];
        for (name, shape) in [
            ("attention.self.query", vec![8, 8]),
            ("attention.self.key", vec![8, 8]),
            ("attention.self.value", vec![8, 8]),
            ("attention.output.dense", vec![8, 8]),
            ("attention.output.LayerNorm", vec![8]),
            ("intermediate.dense", vec![16, 8]),
            ("output.dense", vec![8, 16]),
            ("output.LayerNorm", vec![8]),
        ] {
            let out = shape[0];
            t.push((format!("{l}.{name}.weight"), shape));
            t.push((format!("{l}.{name}.bias"), vec![out]));
        }
        if let Some((name, shape)) = swap {
            for (n, s) in &mut t {
                if n == name {
                    *s = shape.clone();
                }
            }
        }
        t
    }

    /// Writes `tensors` (with `prefix`, plus an I64 `position_ids` as Hugging Face files
    /// have) and a config to a fresh directory; LayerNorm gains are 1 + N(0, 0.1^2), other
    /// values N(0, 0.5^2).
    fn write_tiny(tag: &str, prefix: &str, tensors: &[(String, Vec<usize>)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hetsim-tiny-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .iter()
            .enumerate()
            .map(|(i, (n, s))| {
                let len: usize = s.iter().product();
                let gain = n.ends_with("LayerNorm.weight");
                let v = Matrix::random_normal(1, len, if gain { 0.1 } else { 0.5 }, 100 + i as u64);
                let b = v
                    .as_slice()
                    .iter()
                    .flat_map(|x| (x + if gain { 1.0 } else { 0.0 }).to_le_bytes())
                    .collect();
                (format!("{prefix}{n}"), s.clone(), b)
            })
            .collect();
        let ids: Vec<u8> = (0..8i64).flat_map(|i| i.to_le_bytes()).collect();
        let mut views: Vec<(String, TensorView)> = bytes
            .iter()
            .map(|(n, s, b)| {
                (
                    n.clone(),
                    TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
                )
            })
            .collect();
        views.push((
            format!("{prefix}embeddings.position_ids"),
            TensorView::new(Dtype::I64, vec![1, 8], &ids).unwrap(),
        ));
        let file = safetensors::serialize(views, None).unwrap();
        std::fs::write(dir.join(checkpoint::WEIGHTS_FILE), file).unwrap();
        let c = tiny_config();
        let cfg = serde_json::json!({
            "hidden_size": c.hidden_size, "num_attention_heads": c.num_attention_heads,
            "num_hidden_layers": c.num_hidden_layers, "intermediate_size": c.intermediate_size,
            "hidden_act": c.hidden_act, "layer_norm_eps": c.layer_norm_eps,
            "max_position_embeddings": c.max_position_embeddings, "vocab_size": c.vocab_size,
            "model_type": "bert"
        });
        std::fs::write(dir.join(checkpoint::CONFIG_FILE), cfg.to_string()).unwrap();
        dir
    }

    #[test]
    fn tiny_checkpoint_loads_with_its_prefix_and_transposes_linear_weights() {
        let dir = write_tiny("load", "bert.", &tiny_tensors(None));
        let ck = Checkpoint::load(&dir).unwrap();
        assert_eq!(ck.prefix, "bert.");
        assert_eq!(ck.config, tiny_config());
        // 13 linear/norm pairs + 3 embedding tables + the embeddings' LayerNorm; the I64
        // position_ids are skipped
        assert_eq!(ck.tensors.len(), 21);
        assert!(!ck.tensors.contains_key("embeddings.position_ids"));
        // stored out x in (16 x 8), returned in x out: W[i][o] = stored[o * 8 + i]
        let name = "encoder.layer.0.intermediate.dense.weight";
        let stored = ck.tensors[name].data.clone();
        let w = ck.linear(name, 8, 16).unwrap();
        assert_eq!((w.rows(), w.cols()), (8, 16));
        assert_eq!(w.get(3, 11), Some(stored[11 * 8 + 3]));
        assert_eq!(w.get(7, 0), Some(stored[7]));
        let sched = models::generate(&TINY, 8, None);
        ModelParams::new(&ck, &sched, 0).unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn checkpoint_errors_name_the_file_the_tensor_and_both_shapes() {
        let sched = models::generate(&TINY, 8, None);
        let name = "encoder.layer.0.intermediate.dense.weight";
        let dir = write_tiny("shape", "", &tiny_tensors(Some((name, vec![8, 16]))));
        let ck = Checkpoint::load(&dir).unwrap();
        let e = ModelParams::new(&ck, &sched, 0).unwrap_err().to_string();
        assert!(e.contains("model.safetensors") && e.contains(name), "{e}");
        assert!(e.contains("[16, 8]") && e.contains("[8, 16]"), "{e}");
        // a missing tensor
        let mut t = tiny_tensors(None);
        t.retain(|(n, _)| n != "encoder.layer.0.output.LayerNorm.bias");
        let dir2 = write_tiny("missing", "", &t);
        let e = ModelParams::new(&Checkpoint::load(&dir2).unwrap(), &sched, 0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no tensor encoder.layer.0.output.LayerNorm.bias"),
            "{e}"
        );
        // the schedule's activation against config.json's
        let mut ck = Checkpoint::load(&dir2).unwrap();
        ck.config.hidden_act = "gelu_new".into();
        let e = ModelParams::new(&ck, &sched, 0).unwrap_err().to_string();
        assert!(e.contains("config.json") && e.contains("gelu_new"), "{e}");
        // a schedule with more layers than the checkpoint
        let two = models::generate(&ModelDims { layers: 2, ..TINY }, 8, None);
        let e = ModelParams::new(&ck, &two, 0).unwrap_err().to_string();
        assert!(e.contains("num_hidden_layers 1"), "{e}");
        // not a safetensors file
        std::fs::write(dir.join(checkpoint::WEIGHTS_FILE), b"not one").unwrap();
        let e = Checkpoint::load(&dir).unwrap_err().to_string();
        assert!(
            e.contains("model.safetensors: not a safetensors file"),
            "{e}"
        );
        for d in [dir, dir2] {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    #[test]
    fn padding_tokens_do_not_change_a_sentence_embedding() {
        // The same 4 tokens padded to 4 (none) and to 8: with the keys masked, the unpadded
        // rows and the pooled embedding are the same; attending to the padding (no mask)
        // changes them.
        let dir = write_tiny("pad", "", &tiny_tensors(None));
        let ck = Checkpoint::load(&dir).unwrap();
        let ids = [1u32, 5, 7, 2];
        let pooled = |seq: usize| {
            let sched = models::generate(&TINY, seq, None);
            let p = ModelParams::new(&ck, &sched, 0).unwrap();
            let outs = reference(&sched, &p, &ids).unwrap();
            sentence_vector(&sched, outs.last().unwrap(), ids.len())
        };
        let (short, long) = (pooled(4), pooled(8));
        assert!(rel(&long, &short) < 1e-6, "{}", rel(&long, &short));
        let unmasked = {
            let sched = models::generate(&TINY, 8, None);
            let p = ModelParams::new(&ck, &sched, 0).unwrap();
            let padded: Vec<u32> = ids.iter().copied().chain([0; 4]).collect();
            let outs = reference(&sched, &p, &padded).unwrap();
            sentence_vector(&sched, outs.last().unwrap(), ids.len())
        };
        assert!(rel(&unmasked, &short) > 1e-3);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn time_labels() {
        let l: Vec<String> = [
            0.0,
            90.0,
            3600.0,
            86400.0,
            31_536_000.0,
            315_360_000.0,
            5400.0,
        ]
        .map(time_label)
        .to_vec();
        assert_eq!(l, ["0 s", "1.5 min", "1 h", "1 d", "1 y", "10 y", "1.5 h"]);
    }

    #[test]
    fn ideal_tiles_give_the_reference() {
        // Exact tiles (no noise, no converters) and the analytic cluster: the hybrid is the
        // reference up to f32 summation order, with and without a (B = 0) LoRA.
        let dir = write_tiny("ideal", "", &tiny_tensors(None));
        let ck = Checkpoint::load(&dir).unwrap();
        let mut tile = hetsim_models::aimc::TileConfig::ideal();
        tile.rows = 8;
        tile.cols = 8;
        let sents = vec![
            Sentence {
                text: "a".into(),
                ids: vec![1, 4, 9, 2],
            },
            Sentence {
                text: "b".into(),
                ids: vec![1, 3, 3, 6, 11, 2],
            },
        ];
        for lora in [
            None,
            Some(Lora {
                rank: 2,
                alpha: 4.0,
            }),
        ] {
            let sched = models::generate(&TINY, 8, lora);
            let p = ModelParams::new(&ck, &sched, 3).unwrap();
            let refs: Vec<Vec<Matrix>> = sents
                .iter()
                .map(|s| reference(&sched, &p, &s.ids).unwrap())
                .collect();
            let pooled: Vec<Vec<f64>> = refs
                .iter()
                .zip(&sents)
                .map(|(r, s)| sentence_vector(&sched, r.last().unwrap(), s.ids.len()))
                .collect();
            let mut tiles = BTreeMap::new();
            for (ii, ops) in p.ops.iter().enumerate() {
                for (oi, op) in ops.iter().enumerate() {
                    if let OpParams::Linear { w, .. } = op {
                        let first = (ii * 100 + oi * 4) as u64;
                        tiles.insert(
                            ii << 16 | oi,
                            AnalogMatrix::program_at(&tile, w, first).unwrap(),
                        );
                    }
                }
            }
            let mut be = crate::backend::AnalyticCluster::new(Default::default()).unwrap();
            let pt = hybrid_point(
                &sched,
                &p,
                &sents,
                &refs,
                &pooled,
                &mut tiles,
                &mut be,
                RowBlocks::ReduceXA,
                0.0,
                DriftCompensation::Off,
            )
            .unwrap();
            // embeddings, the layer, the pooling
            assert_eq!(pt.layer_err.len(), 3);
            assert!(
                pt.layer_err.iter().all(|&e| e < 1e-5),
                "{lora:?}: {:?}",
                pt.layer_err
            );
            assert!(pt.cosine_min > 0.999_999, "{lora:?}: {}", pt.cosine_min);
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn minilm_on_pcm_tiles_degrades_with_time_and_compensation_helps() {
        // The shipped scenario on 2 sentences at 0 s and 1 y, without and with global drift
        // compensation. Without compensation the conductances drift down (about (1 y / 20 s)
        // ^ -0.05 = 0.5 at the kit's mean exponent), so every layer's output shrinks and the
        // error grows; global compensation rescales the outputs by a measured factor and
        // recovers most of it. Each point's numbers do not depend on the thread count.
        let Some(_) = minilm_cache() else { return };
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/minilm.ron");
        let mut loaded = crate::scenario::load(&path).unwrap();
        if let Some(a) = &mut loaded.scenario.accuracy {
            a.max_sentences = Some(2);
            a.t_inf_s = vec![0.0, 31_536_000.0];
        }
        let map = Mapping::new(&loaded.schedule, &loaded.scenario, 1).unwrap();
        let res = evaluate(&loaded, &map).unwrap().unwrap();
        // embeddings, 6 layers, the pooling
        assert_eq!((res.sentences, res.seq_len, res.layers.len()), (2, 16, 8));
        assert_eq!(res.tokens, 12 + 8);
        let [off0, off1, glob0, glob1] = &res.points[..] else {
            panic!("{:?}", res.points)
        };
        assert_eq!(
            (off1.t_inf_s, glob1.drift_compensation.as_str()),
            (31_536_000.0, "Global")
        );
        let last = |p: &AccuracyPoint| *p.layer_err.last().unwrap();
        assert!(off0.cosine_min > 0.8, "{off0:?}");
        assert!(last(off1) > 1.5 * last(off0), "{off0:?} {off1:?}");
        assert!(last(glob1) < 0.8 * last(off1), "{glob1:?} {off1:?}");
        assert!(glob1.cosine_mean > off1.cosine_mean);
        // at 0 s there is no drift to compensate: the two settings are close
        assert!((glob0.cosine_mean - off0.cosine_mean).abs() < 0.02);
        // the embeddings block has no linear operation: only its LayerNorm's binary16
        // rounding (the scenario's `dynamic_elf`: about 2^-11 relative, plus the binary16
        // gain and bias)
        assert!(
            off1.layer_err[0] > 0.0 && off1.layer_err[0] < 1e-3,
            "{}",
            off1.layer_err[0]
        );
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let again = one.install(|| evaluate(&loaded, &map).unwrap().unwrap());
        assert_eq!(again, res);
        // The scenario's numerics find the checkpoint's W for every instance (a wrong one is
        // refused: next test); exact tiles and the f32 analytic cluster give op errors at f32
        // rounding only.
        loaded.scenario.hardware.cluster_backend = crate::backend::BackendConfig::default();
        loaded.scenario.numerics = Some(crate::scenario::Numerics {
            sample_tokens: 4,
            t_inf_s: 0.0,
            max_instances: Some(2),
        });
        loaded.scenario.hardware.tile = hetsim_models::aimc::TileConfig {
            rows: 512,
            cols: 512,
            ..hetsim_models::aimc::TileConfig::ideal()
        };
        let num = crate::run::evaluate_numerics(&loaded).unwrap().unwrap();
        assert_eq!(num.instances, 2);
        // every operation of the two instances (the embeddings' LayerNorm and encoder layer
        // 0's 14), dynamic ones included, of which 6 are linear
        assert_eq!(num.op_err.len(), 15, "{:?}", num.op_err);
        assert!(num.op_err.values().all(|&e| e < 1e-5), "{:?}", num.op_err);
    }

    #[test]
    fn numerics_take_w_from_the_checkpoint() {
        // A checkpoint of another model is refused by the numerics, naming the tensor.
        let dir = write_tiny("num", "", &tiny_tensors(None));
        let text = format!(
            r#"(name: "n", workload: (schedule: Model("all-minilm-l6-v2"), seq_len: Some(16),
                weights: Checkpoint("{}")), numerics: Some((sample_tokens: 2, max_instances: Some(2))))"#,
            dir.display()
        );
        let loaded = crate::scenario::load_str(Path::new("/tmp/n.ron"), &text).unwrap();
        let e = crate::run::evaluate_numerics(&loaded)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("model.safetensors")
                && e.contains("encoder.layer.0.attention.self.query.weight"),
            "{e}"
        );
        assert!(e.contains("[384, 384]") && e.contains("[8, 8]"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Writes a PEFT adapter (rank 2, alpha 4, `targets`) for the tiny model's query and value
    /// with seeded A and B (`b_shape` replaces B's shape); returns its directory and the
    /// tensors as PyTorch stores them, by module.
    #[allow(clippy::type_complexity)]
    fn write_adapter(
        tag: &str,
        targets: &[&str],
        b_shape: [usize; 2],
    ) -> (PathBuf, Vec<(String, Vec<f32>, Vec<f32>)>) {
        let dir = std::env::temp_dir().join(format!("hetsim-adapter-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut raw = Vec::new();
        let mut mods = Vec::new();
        for (k, module) in ["attention.self.query", "attention.self.value"]
            .iter()
            .enumerate()
        {
            let a = Matrix::random_normal(1, 16, 0.5, 200 + k as u64).into_vec();
            let b = Matrix::random_normal(1, 16, 0.5, 300 + k as u64).into_vec();
            let bytes = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
            let stem = format!("base_model.model.encoder.layer.0.{module}");
            raw.push((format!("{stem}.lora_A.weight"), vec![2, 8], bytes(&a)));
            raw.push((format!("{stem}.lora_B.weight"), b_shape.to_vec(), bytes(&b)));
            mods.push((module.to_string(), a, b));
        }
        let views: Vec<(String, TensorView)> = raw
            .iter()
            .map(|(n, s, b)| {
                (
                    n.clone(),
                    TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
                )
            })
            .collect();
        let file = safetensors::serialize(views, None).unwrap();
        std::fs::write(dir.join(checkpoint::ADAPTER_FILE), file).unwrap();
        let cfg = serde_json::json!({"r": 2, "lora_alpha": 4.0, "target_modules": targets,
            "peft_type": "LORA"});
        std::fs::write(dir.join(checkpoint::ADAPTER_CONFIG_FILE), cfg.to_string()).unwrap();
        (dir, mods)
    }

    #[test]
    fn a_peft_adapter_computes_its_merged_model() {
        // y = x W + b + (alpha / r) (x A) B with the adapter's A and B equals the checkpoint
        // whose W (out x in) is merged: W + (alpha / r) B A, as PEFT's merge does.
        let base = tiny_tensors(None);
        let dir = write_tiny("peft", "", &base);
        let (ad_dir, mods) = write_adapter("merge", &["query", "value"], [8, 2]);
        let ck = Checkpoint::load(&dir).unwrap();
        let adapter = checkpoint::Adapter::load(&ad_dir).unwrap();
        let lora = Lora {
            rank: 2,
            alpha: 4.0,
        };
        let mut sched = models::generate(&TINY, 8, None);
        for op in &mut sched.blocks[1].ops {
            if let OpKind::Linear { lora: l, .. } = &mut op.kind {
                *l = adapter.config.targets(&op.name).then_some(lora);
            }
        }
        let p = ModelParams::with_adapter(&ck, Some(&adapter), &sched, 0).unwrap();
        let mut merged = ck.clone();
        for (module, a, b) in &mods {
            let w = merged
                .tensors
                .get_mut(&format!("encoder.layer.0.{module}.weight"))
                .unwrap();
            for o in 0..8 {
                for i in 0..8 {
                    let ba: f32 = (0..2).map(|k| b[o * 2 + k] * a[k * 8 + i]).sum();
                    w.data[o * 8 + i] += 2.0 * ba;
                }
            }
        }
        let plain = models::generate(&TINY, 8, None);
        let pm = ModelParams::new(&merged, &plain, 0).unwrap();
        for ids in [vec![1u32, 4, 9, 2], vec![1, 3, 3, 6, 11, 10, 5, 2]] {
            let with = reference(&sched, &p, &ids).unwrap();
            let want = reference(&plain, &pm, &ids).unwrap();
            let unadapted =
                reference(&plain, &ModelParams::new(&ck, &plain, 0).unwrap(), &ids).unwrap();
            let (x, y, z) = (
                with.last().unwrap(),
                want.last().unwrap(),
                unadapted.last().unwrap(),
            );
            assert!(host::rel_l2(x, y) < 1e-5, "{}", host::rel_l2(x, y));
            assert!(host::rel_l2(z, y) > 1e-2, "the adapter changes the model");
        }
        // a B of the wrong shape names the file, the tensor and both shapes
        let (bad, _) = write_adapter("shape", &["query", "value"], [2, 8]);
        let e = ModelParams::with_adapter(
            &ck,
            Some(&checkpoint::Adapter::load(&bad).unwrap()),
            &sched,
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("adapter_model.safetensors") && e.contains("query.lora_B.weight"),
            "{e}"
        );
        assert!(e.contains("[8, 2]") && e.contains("[2, 8]"), "{e}");
        for d in [dir, ad_dir, bad] {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    #[test]
    fn a_scenario_adapter_sets_the_schedules_lora() {
        // The adapter's rank, alpha and targets replace the scenario's LoRA; conflicts are
        // errors naming the field. (The checkpoint directory only has to exist at load time.)
        let dir = write_tiny("scn", "", &tiny_tensors(None));
        let (ad, _) = write_adapter("scn", &["query", "value"], [8, 2]);
        let (none, _) = write_adapter("none", &["nothing"], [8, 2]);
        let scen = |extra: &str, adapter: &Path| {
            let text = format!(
                r#"(name: "a", workload: (schedule: Model("all-minilm-l6-v2"), seq_len: Some(16),
                    weights: Checkpoint("{}"), adapter: Some("{}"){extra}), numerics: None)"#,
                dir.display(),
                adapter.display()
            );
            crate::scenario::load_str(Path::new("/tmp/a.ron"), &text)
        };
        let loaded = scen("", &ad).unwrap();
        let loras: Vec<(String, Option<Lora>)> = loaded.schedule.blocks[1]
            .ops
            .iter()
            .filter_map(|o| match o.kind {
                OpKind::Linear { lora, .. } => Some((o.name.clone(), lora)),
                _ => None,
            })
            .collect();
        let two = Some(Lora {
            rank: 2,
            alpha: 4.0,
        });
        assert_eq!(
            loras.iter().filter(|(_, l)| *l == two).count(),
            2,
            "{loras:?}"
        );
        assert_eq!(
            loras.iter().filter(|(_, l)| l.is_none()).count(),
            4,
            "{loras:?}"
        );
        assert_eq!(loaded.adapter.as_deref(), Some(ad.as_path()));
        let err = |extra: &str, adapter: &Path| scen(extra, adapter).unwrap_err().to_string();
        let e = err(", lora: Rank((rank: 4, alpha: 8.0))", &ad);
        assert!(e.contains("workload.lora") && e.contains("rank 2"), "{e}");
        let e = err(", lora_targets: Some([\"attention.self.query\"])", &ad);
        assert!(e.contains("workload.lora_targets"), "{e}");
        let e = err("", &none);
        assert!(
            e.contains("workload.adapter") && e.contains("nothing"),
            "{e}"
        );
        let e = err("", &dir);
        assert!(e.contains("adapter_config.json"), "{e}");
        for d in [dir, ad, none] {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
