//! Workloads: transformer layer schedules (the RON files in `traces/`) and their generator.
//!
//! This module owns the schedule format ([`Schedule`]: blocks of operations with inputs, kinds
//! and output shapes), its validation, and the generator that writes schedules from model
//! dimensions ([`models`], each model's dimensions typed once). It does not place operations on
//! hardware or time them: that is `crate::mapping` and `crate::replay`.
//!
//! Placement follows from the kind: [`OpKind::Linear`] is a static weight matrix on AIMC tiles
//! (its LoRA branch, when present, runs on clusters); every other kind is a dynamic operation on
//! a cluster.

pub mod models;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Error;

/// Name that refers to a block's input in [`Op::inputs`].
pub const BLOCK_INPUT: &str = "input";

/// A model's schedule for one sequence length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Model name, e.g. `mobilebert`.
    pub model: String,
    /// Tokens in the sequence (rows of every activation tensor).
    pub seq_len: usize,
    /// Features of the model input (columns of the first block's input).
    pub input_features: usize,
    /// Blocks in execution order; the output of a block (its last operation) is the input of
    /// the next.
    pub blocks: Vec<Block>,
}

/// A block of operations, repeated `repeat` times (e.g. 24 identical encoder layers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// Block name, e.g. `encoder.layer` (repetitions are numbered `encoder.layer.0` ...).
    pub name: String,
    /// How many times the block runs in sequence, each with its own weights (>= 1).
    pub repeat: usize,
    /// Operations in a valid execution order (every input defined earlier).
    pub ops: Vec<Op>,
}

/// One operation of a block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Op {
    /// Name, unique in the block (Hugging Face module path where there is one).
    pub name: String,
    /// What it computes.
    pub kind: OpKind,
    /// Operands: names of earlier operations of the block or [`BLOCK_INPUT`]. These are also the
    /// dependencies.
    pub inputs: Vec<String>,
    /// Output tensor shape (tokens, features).
    pub out: (usize, usize),
}

/// Normalisation variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NormKind {
    /// Mean/variance normalisation with gain and bias (BERT).
    LayerNorm,
    /// Elementwise gain and bias only (MobileBERT `NoNorm`).
    NoNorm,
    /// Root-mean-square normalisation with gain (LLaMA).
    RmsNorm,
}

/// Elementwise activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// max(x, 0) (MobileBERT).
    Relu,
    /// Gaussian error linear unit, tanh approximation (BERT).
    Gelu,
    /// Gaussian error linear unit, exact: `x Phi(x) = x (1 + erf(x / sqrt 2)) / 2` (Hugging
    /// Face `gelu`; all-MiniLM-L6-v2). Costs as much as `Gelu`.
    GeluErf,
    /// x * sigmoid(x) (LLaMA's gate).
    Silu,
}

/// Rank and scaling of a LoRA branch `y += (alpha / rank) (x A) B`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lora {
    /// Rank r (columns of A, rows of B).
    pub rank: usize,
    /// Scaling numerator alpha.
    pub alpha: f32,
}

/// The computation of an operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OpKind {
    /// Static linear layer `y = x W` (W is `in_features x out_features`, on AIMC tiles), with an
    /// optional LoRA branch on clusters.
    Linear {
        /// Rows of W.
        in_features: usize,
        /// Columns of W.
        out_features: usize,
        /// The LoRA branch, if adapted.
        lora: Option<Lora>,
    },
    /// Attention scores `Q_h K_h^T / sqrt(head_dim)` per head; inputs `[q, k]`; output
    /// `seq x (heads * seq)`.
    Scores {
        /// Query heads.
        heads: usize,
        /// Key/value heads (grouped-query attention when fewer than `heads`).
        kv_heads: usize,
        /// Features per head.
        head_dim: usize,
        /// Causal mask (decoder prefill).
        causal: bool,
    },
    /// Row-wise softmax within each head's `seq` columns; input `[scores]`.
    Softmax {
        /// Heads (segments per row).
        heads: usize,
    },
    /// Attention context `P_h V_h` per head; inputs `[probs, v]`; output `seq x (heads * head_dim)`.
    Context {
        /// Query heads.
        heads: usize,
        /// Key/value heads.
        kv_heads: usize,
        /// Features per head.
        head_dim: usize,
    },
    /// Rotary position embedding applied per head; input `[x]`.
    Rope {
        /// Features per head.
        head_dim: usize,
    },
    /// Normalisation over features; input `[x]`.
    Norm(NormKind),
    /// Elementwise activation; input `[x]`.
    Activation(Activation),
    /// Elementwise sum (residual); inputs `[a, b]`.
    Add,
    /// Elementwise product (gated FFN); inputs `[a, b]`.
    Mul,
    /// Mean over the tokens per feature (a sentence encoder's pooling); input `[x]`; output
    /// `1 x features`. Only the schedule's last operation may pool (its output is no longer a
    /// sequence). In the accuracy pass it averages the sentence's tokens, not the padding.
    MeanPool,
}

impl OpKind {
    /// Short name of the kind for reports.
    pub fn label(&self) -> &'static str {
        match self {
            OpKind::Linear { .. } => "linear",
            OpKind::Scores { .. } => "scores",
            OpKind::Softmax { .. } => "softmax",
            OpKind::Context { .. } => "context",
            OpKind::Rope { .. } => "rope",
            OpKind::Norm(_) => "norm",
            OpKind::Activation(_) => "activation",
            OpKind::Add => "add",
            OpKind::Mul => "mul",
            OpKind::MeanPool => "mean_pool",
        }
    }
}

fn bad(block: &str, op: &str, reason: String) -> Error {
    Error::Schedule {
        location: format!("block `{block}`, op `{op}`"),
        reason,
    }
}

impl Schedule {
    /// Reads and validates a RON schedule file.
    pub fn from_ron_file(path: &Path) -> Result<Self, Error> {
        let text =
            hetsim_models::diag::read_text(path, "a schedule").map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let s: Schedule = ron::from_str(&text).map_err(|e| Error::ron(path, &text, e))?;
        s.validate().map_err(|e| match e {
            Error::Schedule { location, reason } => Error::Schedule {
                location: format!("{}: {location}", path.display()),
                reason,
            },
            e => e,
        })?;
        Ok(s)
    }

    /// Renders the schedule as pretty RON.
    pub fn to_ron_string(&self) -> Result<String, Error> {
        let cfg = ron::ser::PrettyConfig::default()
            .depth_limit(4)
            .struct_names(false);
        ron::ser::to_string_pretty(self, cfg).map_err(|e| Error::Serialise(e.to_string()))
    }

    /// Whether the schedule ends with a mean pooling (a sentence encoder's embedding).
    pub fn pooled(&self) -> bool {
        self.blocks
            .last()
            .and_then(|b| b.ops.last())
            .is_some_and(|o| o.kind == OpKind::MeanPool)
    }

    /// Total number of layer instances (blocks times repetitions).
    pub fn instances(&self) -> usize {
        self.blocks.iter().map(|b| b.repeat).sum()
    }

    /// Checks names, operand references, operand counts and shapes; the error names the block
    /// and operation.
    pub fn validate(&self) -> Result<(), Error> {
        if self.seq_len == 0 || self.input_features == 0 {
            return Err(Error::Schedule {
                location: "schedule".into(),
                reason: "seq_len and input_features must be at least 1".into(),
            });
        }
        if self.blocks.is_empty() {
            return Err(Error::Schedule {
                location: "schedule".into(),
                reason: "no blocks".into(),
            });
        }
        let mut in_features = self.input_features;
        let last_block = self.blocks.len() - 1;
        for (bi, b) in self.blocks.iter().enumerate() {
            if b.repeat == 0 {
                return Err(bad(&b.name, "-", "repeat must be at least 1".into()));
            }
            let mut shapes: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            shapes.insert(BLOCK_INPUT, (self.seq_len, in_features));
            let mut last = None;
            for (oi, op) in b.ops.iter().enumerate() {
                if op.kind == OpKind::MeanPool
                    && (bi != last_block || oi + 1 != b.ops.len() || b.repeat != 1)
                {
                    return Err(bad(
                        &b.name,
                        &op.name,
                        "mean pooling must be the last operation of the last block, which runs \
                         once (its output is one row, no longer a sequence)"
                            .into(),
                    ));
                }
                if shapes.contains_key(op.name.as_str()) {
                    return Err(bad(&b.name, &op.name, "duplicate name".into()));
                }
                let mut ins = Vec::new();
                for i in &op.inputs {
                    let s = shapes.get(i.as_str()).ok_or_else(|| {
                        bad(
                            &b.name,
                            &op.name,
                            format!("input `{i}` is not an earlier operation or `{BLOCK_INPUT}`"),
                        )
                    })?;
                    ins.push(*s);
                }
                let expect = expected_out(&op.kind, &ins, self.seq_len)
                    .map_err(|r| bad(&b.name, &op.name, r))?;
                if expect != op.out {
                    return Err(bad(
                        &b.name,
                        &op.name,
                        format!(
                            "output shape {:?} does not match the operands: expected {:?}",
                            op.out, expect
                        ),
                    ));
                }
                shapes.insert(&op.name, op.out);
                last = Some(op.out);
            }
            let out = last.ok_or_else(|| bad(&b.name, "-", "block has no operations".into()))?;
            if b.repeat > 1 && out.1 != in_features {
                return Err(bad(
                    &b.name,
                    "-",
                    format!(
                        "a repeated block must keep the feature count: input {in_features}, output {}",
                        out.1
                    ),
                ));
            }
            in_features = out.1;
        }
        Ok(())
    }
}

/// Output shape of `kind` applied to operands of shapes `ins`, or why the operands do not fit.
pub fn expected_out(
    kind: &OpKind,
    ins: &[(usize, usize)],
    seq: usize,
) -> Result<(usize, usize), String> {
    let arity = |n: usize| {
        if ins.len() == n {
            Ok(())
        } else {
            Err(format!("expects {n} input(s), has {}", ins.len()))
        }
    };
    let div = |a: usize, b: usize, what: &str| {
        if b > 0 && a % b == 0 {
            Ok(())
        } else {
            Err(format!("{what}: {a} is not a multiple of {b}"))
        }
    };
    match *kind {
        OpKind::Linear {
            in_features,
            out_features,
            lora,
        } => {
            arity(1)?;
            if in_features == 0 || out_features == 0 {
                return Err("in_features and out_features must be at least 1".into());
            }
            if ins[0].1 != in_features {
                return Err(format!(
                    "input has {} features, W has {in_features} rows",
                    ins[0].1
                ));
            }
            if let Some(l) = lora {
                if l.rank == 0 || !(l.alpha.is_finite()) {
                    return Err("LoRA rank must be at least 1 and alpha finite".into());
                }
            }
            Ok((ins[0].0, out_features))
        }
        OpKind::Scores {
            heads,
            kv_heads,
            head_dim,
            ..
        } => {
            arity(2)?;
            div(heads, kv_heads, "heads per kv head")?;
            if ins[0].1 != heads * head_dim || ins[1].1 != kv_heads * head_dim {
                return Err(format!(
                    "q has {} features, k {}; expected {} and {}",
                    ins[0].1,
                    ins[1].1,
                    heads * head_dim,
                    kv_heads * head_dim
                ));
            }
            Ok((ins[0].0, heads * ins[1].0))
        }
        OpKind::Softmax { heads } => {
            arity(1)?;
            div(ins[0].1, heads, "softmax columns per head")?;
            Ok(ins[0])
        }
        OpKind::Context {
            heads,
            kv_heads,
            head_dim,
        } => {
            arity(2)?;
            div(heads, kv_heads, "heads per kv head")?;
            if ins[0].1 != heads * ins[1].0 || ins[1].1 != kv_heads * head_dim {
                return Err(format!(
                    "probabilities have {} columns, v {} features; expected {} and {}",
                    ins[0].1,
                    ins[1].1,
                    heads * ins[1].0,
                    kv_heads * head_dim
                ));
            }
            Ok((ins[0].0, heads * head_dim))
        }
        OpKind::Rope { head_dim } => {
            arity(1)?;
            if head_dim % 2 != 0 {
                return Err("rope head_dim must be even".into());
            }
            div(ins[0].1, head_dim, "rope features per head")?;
            Ok(ins[0])
        }
        OpKind::Norm(_) | OpKind::Activation(_) => {
            arity(1)?;
            Ok(ins[0])
        }
        OpKind::Add | OpKind::Mul => {
            arity(2)?;
            if ins[0] != ins[1] {
                return Err(format!(
                    "operand shapes differ: {:?} and {:?}",
                    ins[0], ins[1]
                ));
            }
            Ok(ins[0])
        }
        OpKind::MeanPool => {
            arity(1)?;
            if ins[0].0 != seq {
                return Err(format!("pools {} tokens, the sequence has {seq}", ins[0].0));
            }
            return Ok((1, ins[0].1));
        }
    }
    .and_then(|s: (usize, usize)| {
        if s.0 == seq {
            Ok(s)
        } else {
            Err(format!(
                "operates on {} tokens, the sequence has {seq}",
                s.0
            ))
        }
    })
}
