//! Checkpoints: transformer weights from a Hugging Face model directory (`model.safetensors`
//! and `config.json`), mapped onto a layer schedule's operations.
//!
//! This module owns reading the safetensors file (F32, F16, BF16 and F64 tensors, converted to
//! f32; integer tensors such as `embeddings.position_ids` are skipped), the few `config.json`
//! fields the forward pass needs, and the name mapping of the BERT family: the weight of the
//! schedule's operation `<op>` in repetition `<rep>` of block `<block>` is the tensor
//! `<prefix><block>.<rep>.<op>.weight` (or `<prefix><op>.weight` when the operation's name
//! already starts with its block's name, as `embeddings.LayerNorm` does), where `<prefix>` is empty for
//! a `BertModel` file and `bert.` for a task model (`BertForMaskedLM`, ...). Linear weights are
//! stored `out x in` (PyTorch) and returned `in x out` (the schedule's `x W`). Every error names
//! the file, the tensor and the expected and found shapes.

use crate::error::Error;
use hetsim_models::aimc::Matrix;
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The checkpoint file in a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The model configuration in a model directory.
pub const CONFIG_FILE: &str = "config.json";
/// Largest checkpoint read, in bytes (a 100 M-parameter f32 model is 400 MB).
pub const MAX_BYTES: u64 = 2_000_000_000;

/// One tensor, in f32, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

/// The fields of a BERT `config.json` the forward pass uses.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct BertConfig {
    /// Hidden size.
    pub hidden_size: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// FFN size.
    pub intermediate_size: usize,
    /// `gelu` (erf), `gelu_new` / `gelu_pytorch_tanh` (tanh approximation) or `relu`.
    pub hidden_act: String,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f32,
    /// Rows of the position-embedding table (the longest sequence).
    pub max_position_embeddings: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
}

impl BertConfig {
    /// The `config.json` of the tests' one-layer BERT
    /// ([`TINY_BERT`](crate::workload::models::TINY_BERT)): its dimensions, exact GELU,
    /// `max_position_embeddings` = its default sequence length, epsilon 1e-12.
    pub fn tiny_bert() -> Self {
        let d = crate::workload::models::TINY_BERT;
        Self {
            hidden_size: d.hidden,
            num_attention_heads: d.heads,
            num_hidden_layers: d.layers,
            intermediate_size: d.ffn,
            hidden_act: "gelu".into(),
            layer_norm_eps: 1e-12,
            max_position_embeddings: d.default_seq_len,
            vocab_size: d.vocab,
        }
    }

    /// Parses a `config.json` text.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("not a BERT configuration: {e}"))
    }
}

/// A loaded model directory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The directory.
    pub dir: PathBuf,
    /// Its configuration.
    pub config: BertConfig,
    /// Floating-point tensors by name (the prefix removed).
    pub tensors: BTreeMap<String, Tensor>,
    /// The prefix removed from every tensor name (`""` or e.g. `"bert."`).
    pub prefix: String,
}

fn data_err(path: &Path, message: String) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message,
    }
}

/// The values of a floating-point tensor of `shape`, in f32; `None` for other dtypes or when
/// the bytes do not hold exactly the shape's values (the safetensors crate checks this already;
/// kept as the guard of every index into the data).
fn tensor_f32(dtype: Dtype, shape: &[usize], bytes: &[u8]) -> Option<Vec<f32>> {
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
    to_f32(dtype, bytes)
        .filter(|v| v.len() == n && Some(bytes.len()) == n.checked_mul(dtype.bitsize() / 8))
}

fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|b| hetsim_isa::fp16::to_f32_value(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
            .collect(),
        _ => return None,
    })
}

impl Checkpoint {
    /// Reads `dir/model.safetensors` and `dir/config.json`.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let cfg_path = dir.join(CONFIG_FILE);
        let text =
            hetsim_models::diag::read_text(&cfg_path, "a model configuration").map_err(|e| {
                data_err(
                    &cfg_path,
                    format!("{e} (a checkpoint directory holds {WEIGHTS_FILE} and {CONFIG_FILE})"),
                )
            })?;
        let config = BertConfig::parse(&text).map_err(|e| data_err(&cfg_path, e))?;
        let path = dir.join(WEIGHTS_FILE);
        let bytes = hetsim_isa::input::read_limited(&path, MAX_BYTES, "a safetensors checkpoint")
            .map_err(|e| data_err(&path, e.to_string()))?;
        let mut ck = Self::from_bytes(&path, &bytes, config)?;
        ck.dir = dir.to_path_buf();
        Ok(ck)
    }

    /// Parses safetensors `bytes` (`path` names them in errors) with configuration `config`.
    pub fn from_bytes(path: &Path, bytes: &[u8], config: BertConfig) -> Result<Self, Error> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| data_err(path, format!("not a safetensors file: {e}")))?;
        let anchor = "embeddings.word_embeddings.weight";
        let prefix = st
            .names()
            .into_iter()
            .filter_map(|n| n.strip_suffix(anchor))
            .min()
            .ok_or_else(|| {
                data_err(
                    path,
                    format!("no tensor {anchor}: not a BERT checkpoint (or an unknown naming)"),
                )
            })?
            .to_string();
        let mut tensors = BTreeMap::new();
        for (name, view) in st.iter() {
            let Some(short) = name.strip_prefix(prefix.as_str()) else {
                continue;
            };
            let Some(data) = tensor_f32(view.dtype(), view.shape(), view.data()) else {
                continue;
            };
            tensors.insert(
                short.to_string(),
                Tensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        Ok(Self {
            dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            config,
            tensors,
            prefix,
        })
    }

    fn file(&self) -> PathBuf {
        self.dir.join(WEIGHTS_FILE)
    }

    /// The tensor `name` (without the prefix) with exactly `shape`.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<&Tensor, Error> {
        let t = self.tensors.get(name).ok_or_else(|| {
            data_err(
                &self.file(),
                format!("no tensor {}{name} (expected shape {shape:?})", self.prefix),
            )
        })?;
        if t.shape != shape {
            return Err(data_err(
                &self.file(),
                format!(
                    "tensor {}{name}: expected shape {shape:?}, the file holds {:?}",
                    self.prefix, t.shape
                ),
            ));
        }
        Ok(t)
    }

    /// A vector tensor of `n` values.
    pub fn vector(&self, name: &str, n: usize) -> Result<Vec<f32>, Error> {
        Ok(self.tensor(name, &[n])?.data.clone())
    }

    /// The weight of a linear layer `in_features -> out_features`, stored `out x in`, returned
    /// `in x out`.
    pub fn linear(
        &self,
        name: &str,
        in_features: usize,
        out_features: usize,
    ) -> Result<Matrix, Error> {
        let t = self.tensor(name, &[out_features, in_features])?;
        let d = &t.data;
        Ok(Matrix::from_fn(in_features, out_features, |i, o| {
            d[o * in_features + i]
        }))
    }

    /// A table of `rows x cols` (an embedding).
    pub fn table(&self, name: &str, rows: usize, cols: usize) -> Result<Matrix, Error> {
        let t = self.tensor(name, &[rows, cols])?;
        Matrix::new(rows, cols, t.data.clone()).map_err(|e| data_err(&self.file(), e.to_string()))
    }
}

/// The tensor-name stem of operation `op` of repetition `rep` of block `block` (module docs):
/// `op` when it already starts with the block's name, else `<block>.<rep>.<op>` (a Hugging Face
/// layer list is numbered even when it has one layer).
pub fn stem(block: &str, rep: usize, op: &str) -> String {
    if op.starts_with(&format!("{block}.")) {
        op.to_string()
    } else {
        format!("{block}.{rep}.{op}")
    }
}

/// The adapter file in a PEFT adapter directory.
pub const ADAPTER_FILE: &str = "adapter_model.safetensors";
/// The adapter configuration in a PEFT adapter directory.
pub const ADAPTER_CONFIG_FILE: &str = "adapter_config.json";

/// The fields of a PEFT `adapter_config.json` hetsim uses.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct AdapterConfig {
    /// LoRA rank.
    pub r: usize,
    /// LoRA alpha (the branch is scaled by `lora_alpha / r`).
    pub lora_alpha: f32,
    /// Module names adapted: a module whose name is one of them or ends with `.` and one of
    /// them (PEFT's rule).
    pub target_modules: Vec<String>,
}

impl AdapterConfig {
    /// Reads `dir/adapter_config.json`.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(ADAPTER_CONFIG_FILE);
        let text = hetsim_models::diag::read_text(&path, "an adapter configuration")
            .map_err(|e| data_err(&path, e.to_string()))?;
        Self::parse(&path, &text)
    }

    /// Parses an `adapter_config.json` text (`path` names it in errors) and checks it.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let c: Self = serde_json::from_str(text)
            .map_err(|e| data_err(path, format!("not a PEFT LoRA configuration: {e}")))?;
        if c.r == 0 || !c.lora_alpha.is_finite() || c.target_modules.is_empty() {
            return Err(data_err(
                path,
                format!(
                    "r {} lora_alpha {} with {} target module(s): need r >= 1, a finite alpha \
                     and at least one target (a list of module names)",
                    c.r,
                    c.lora_alpha,
                    c.target_modules.len()
                ),
            ));
        }
        Ok(c)
    }

    /// Whether the operation (module) `name` is adapted.
    pub fn targets(&self, name: &str) -> bool {
        self.target_modules
            .iter()
            .any(|t| name == t || name.ends_with(&format!(".{t}")))
    }
}

/// A loaded PEFT LoRA adapter: its configuration and tensors.
#[derive(Debug, Clone)]
pub struct Adapter {
    /// The directory.
    pub dir: PathBuf,
    /// Its configuration.
    pub config: AdapterConfig,
    /// Floating-point tensors by full name (e.g.
    /// `base_model.model.encoder.layer.0.attention.self.query.lora_A.weight`).
    pub tensors: BTreeMap<String, Tensor>,
}

fn read_tensors(path: &Path, bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, Error> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| data_err(path, format!("not a safetensors file: {e}")))?;
    Ok(st
        .iter()
        .filter_map(|(name, view)| {
            tensor_f32(view.dtype(), view.shape(), view.data()).map(|data| {
                (
                    name.to_string(),
                    Tensor {
                        shape: view.shape().to_vec(),
                        data,
                    },
                )
            })
        })
        .collect())
}

impl Adapter {
    /// Reads `dir/adapter_model.safetensors` and `dir/adapter_config.json`.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let config = AdapterConfig::load(dir)?;
        let path = dir.join(ADAPTER_FILE);
        let bytes = hetsim_isa::input::read_limited(&path, MAX_BYTES, "a safetensors adapter")
            .map_err(|e| data_err(&path, e.to_string()))?;
        Self::from_bytes(dir, &bytes, config)
    }

    /// Parses the safetensors `bytes` of the adapter in `dir` with configuration `config`.
    pub fn from_bytes(dir: &Path, bytes: &[u8], config: AdapterConfig) -> Result<Self, Error> {
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            tensors: read_tensors(&dir.join(ADAPTER_FILE), bytes)?,
        })
    }

    /// A and B of the module with tensor-name stem `stem` (`in x rank`, `rank x out`, from
    /// PEFT's `lora_A.weight` (`rank x in`) and `lora_B.weight` (`out x rank`)), found as the
    /// one tensor pair whose name ends with `<stem>.lora_A.weight` / `.lora_B.weight`.
    pub fn lora(&self, stem: &str, n: usize, m: usize) -> Result<(Matrix, Matrix), Error> {
        let path = self.dir.join(ADAPTER_FILE);
        let r = self.config.r;
        let get = |part: &str, shape: [usize; 2]| -> Result<Matrix, Error> {
            let suffix = format!("{stem}.{part}.weight");
            let found: Vec<(&String, &Tensor)> = self
                .tensors
                .iter()
                .filter(|(k, _)| *k == &suffix || k.ends_with(&format!(".{suffix}")))
                .collect();
            let [(name, t)] = found[..] else {
                return Err(data_err(
                    &path,
                    format!(
                        "{} tensors named ...{suffix} (expected one, shape {shape:?})",
                        found.len()
                    ),
                ));
            };
            if t.shape != shape {
                return Err(data_err(
                    &path,
                    format!(
                        "tensor {name}: expected shape {shape:?}, the file holds {:?}",
                        t.shape
                    ),
                ));
            }
            // stored [rows x cols], returned transposed
            let (rows, cols) = (shape[0], shape[1]);
            Ok(Matrix::from_fn(cols, rows, |i, o| t.data[o * cols + i]))
        };
        Ok((get("lora_A", [r, n])?, get("lora_B", [m, r])?))
    }
}
