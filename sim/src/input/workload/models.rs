//! Model dimensions (typed once, from `workloads.md` / the Hugging Face configurations) and the
//! schedule generator behind `hetsim trace gen`.

use super::{Activation, Block, Lora, NormKind, Op, OpKind, Schedule, BLOCK_INPUT};

/// Architecture family, which decides the layer's operation graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// MobileBERT: bottlenecks, shared query/key bottleneck, stacked FFNs, `NoNorm`, ReLU.
    MobileBert {
        /// Intra-bottleneck size (128).
        bottleneck: usize,
        /// Feed-forward networks per layer (4).
        ffns: usize,
        /// Embedding input features (3 x 128 trigram = 384).
        embedding_in: usize,
    },
    /// BERT encoder: post-norm, LayerNorm, GELU.
    Bert {
        /// The FFN's activation: `Gelu` (tanh approximation) or `GeluErf` (Hugging Face
        /// `gelu`, the exact form).
        act: Activation,
        /// Ends with the SQuAD question-answering head (`qa_outputs`, hidden -> 2); without it
        /// the model is a sentence encoder and the schedule ends with its mean pooling over the
        /// tokens (block `pooling`, op `pooling.mean`, output 1 x hidden).
        qa_head: bool,
    },
    /// LLaMA decoder: pre-norm RMSNorm, grouped-query attention, RoPE, SiLU-gated FFN.
    Llama,
}

/// A model's dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelDims {
    /// Name used on the command line and in file names.
    pub name: &'static str,
    /// Transformer layers.
    pub layers: usize,
    /// Hidden size.
    pub hidden: usize,
    /// Attention heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Intermediate (FFN) size.
    pub ffn: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// Default sequence length.
    pub default_seq_len: usize,
    /// Family.
    pub family: Family,
}

/// MobileBERT (HF `google/mobilebert-uncased`): 24 layers, hidden 512, 4 heads over the
/// 128-wide bottleneck, FFN 512 x 4; SL 320 as in the AHWA-LoRA study.
pub const MOBILEBERT: ModelDims = ModelDims {
    name: "mobilebert",
    layers: 24,
    hidden: 512,
    heads: 4,
    kv_heads: 4,
    ffn: 512,
    vocab: 30522,
    default_seq_len: 320,
    family: Family::MobileBert {
        bottleneck: 128,
        ffns: 4,
        embedding_in: 384,
    },
};

/// BERT-base: 12 layers, hidden 768, 12 heads, FFN 3072; SL 384 (the usual SQuAD setting).
pub const BERT_BASE: ModelDims = ModelDims {
    name: "bert-base",
    layers: 12,
    hidden: 768,
    heads: 12,
    kv_heads: 12,
    ffn: 3072,
    vocab: 30522,
    default_seq_len: 384,
    family: Family::Bert {
        act: Activation::Gelu,
        qa_head: true,
    },
};

/// BERT-large: 24 layers, hidden 1024, 16 heads, FFN 4096; SL 384.
pub const BERT_LARGE: ModelDims = ModelDims {
    name: "bert-large",
    layers: 24,
    hidden: 1024,
    heads: 16,
    kv_heads: 16,
    ffn: 4096,
    vocab: 30522,
    default_seq_len: 384,
    family: Family::Bert {
        act: Activation::Gelu,
        qa_head: true,
    },
};

/// all-MiniLM-L6-v2 (sentence-transformers, `BertModel` of `nreimers/MiniLM-L6-H384-uncased`
/// fine-tuned for sentence embeddings): 6 layers, hidden 384, 12 heads, FFN 1536, exact GELU,
/// mean pooling (no head); SL 128 (its tokenizer's truncation).
pub const ALL_MINILM_L6_V2: ModelDims = ModelDims {
    name: "all-minilm-l6-v2",
    layers: 6,
    hidden: 384,
    heads: 12,
    kv_heads: 12,
    ffn: 1536,
    vocab: 30522,
    default_seq_len: 128,
    family: Family::Bert {
        act: Activation::GeluErf,
        qa_head: false,
    },
};

/// LLaMA-3.1-8B: 32 layers, hidden 4096, 32 heads (8 KV heads, head dim 128), FFN 14336;
/// prefill of 2048 tokens by default.
pub const LLAMA_3_1_8B: ModelDims = ModelDims {
    name: "llama-3.1-8b",
    layers: 32,
    hidden: 4096,
    heads: 32,
    kv_heads: 8,
    ffn: 14336,
    vocab: 128256,
    default_seq_len: 2048,
    family: Family::Llama,
};

/// A one-layer BERT (hidden 8, 2 heads, FFN 16, vocabulary 12, 8 positions, exact GELU, no
/// head): not a model anyone deploys (not in [`MODELS`]), the smallest checkpoint the tests
/// and fuzzing harnesses write and load.
pub const TINY_BERT: ModelDims = ModelDims {
    name: "tiny-bert",
    layers: 1,
    hidden: 8,
    heads: 2,
    kv_heads: 2,
    ffn: 16,
    vocab: 12,
    default_seq_len: 8,
    family: Family::Bert {
        act: Activation::GeluErf,
        qa_head: false,
    },
};

/// Every model the generator knows.
pub const MODELS: [ModelDims; 5] = [
    MOBILEBERT,
    BERT_BASE,
    BERT_LARGE,
    LLAMA_3_1_8B,
    ALL_MINILM_L6_V2,
];

/// The model called `name`, if known.
pub fn find(name: &str) -> Option<ModelDims> {
    MODELS.iter().copied().find(|m| m.name == name)
}

/// Default LoRA of the study: rank 8, alpha 32.
pub const DEFAULT_LORA: Lora = Lora {
    rank: 8,
    alpha: 32.0,
};

struct B<'a> {
    ops: Vec<Op>,
    seq: usize,
    lora: Option<Lora>,
    _m: &'a ModelDims,
}

impl B<'_> {
    fn push(&mut self, name: &str, kind: OpKind, inputs: &[&str], features: usize) -> String {
        self.ops.push(Op {
            name: name.to_string(),
            kind,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            out: (self.seq, features),
        });
        name.to_string()
    }
    fn linear(&mut self, name: &str, input: &str, fin: usize, fout: usize) -> String {
        let lora = self.lora;
        self.push(
            name,
            OpKind::Linear {
                in_features: fin,
                out_features: fout,
                lora,
            },
            &[input],
            fout,
        )
    }
    fn unary(&mut self, name: &str, kind: OpKind, input: &str, f: usize) -> String {
        self.push(name, kind, &[input], f)
    }
    fn binary(&mut self, name: &str, kind: OpKind, a: &str, b: &str, f: usize) -> String {
        self.push(name, kind, &[a, b], f)
    }
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &mut self,
        prefix: &str,
        q: &str,
        k: &str,
        v: &str,
        heads: usize,
        kv_heads: usize,
        head_dim: usize,
        causal: bool,
    ) -> String {
        let seq = self.seq;
        let s = self.binary(
            &format!("{prefix}.scores"),
            OpKind::Scores {
                heads,
                kv_heads,
                head_dim,
                causal,
            },
            q,
            k,
            heads * seq,
        );
        let p = self.unary(
            &format!("{prefix}.softmax"),
            OpKind::Softmax { heads },
            &s,
            heads * seq,
        );
        self.binary(
            &format!("{prefix}.context"),
            OpKind::Context {
                heads,
                kv_heads,
                head_dim,
            },
            &p,
            v,
            heads * head_dim,
        )
    }
}

/// Generates the schedule of `m` for `seq_len` tokens with LoRA `lora` on every static linear
/// layer (or none).
pub fn generate(m: &ModelDims, seq_len: usize, lora: Option<Lora>) -> Schedule {
    let mut blocks = Vec::new();
    let h = m.hidden;
    let new = |m| B {
        ops: Vec::new(),
        seq: seq_len,
        lora,
        _m: m,
    };
    let input_features;
    match m.family {
        Family::MobileBert {
            bottleneck: bn,
            ffns,
            embedding_in,
        } => {
            input_features = embedding_in;
            // Embeddings: the trigram-concatenated word embeddings (384) are transformed to the
            // hidden size; position and token-type embeddings are added inside the NoNorm's bias.
            let mut e = new(m);
            let t = e.linear(
                "embeddings.embedding_transformation",
                BLOCK_INPUT,
                embedding_in,
                h,
            );
            e.unary(
                "embeddings.LayerNorm",
                OpKind::Norm(NormKind::NoNorm),
                &t,
                h,
            );
            blocks.push(Block {
                name: "embeddings".into(),
                repeat: 1,
                ops: e.ops,
            });
            let mut l = new(m);
            let nn = OpKind::Norm(NormKind::NoNorm);
            let relu = OpKind::Activation(Activation::Relu);
            let x = BLOCK_INPUT;
            let bi = l.linear("bottleneck.input.dense", x, h, bn);
            let bi = l.unary("bottleneck.input.LayerNorm", nn.clone(), &bi, bn);
            let ba = l.linear("bottleneck.attention.dense", x, h, bn);
            let ba = l.unary("bottleneck.attention.LayerNorm", nn.clone(), &ba, bn);
            let q = l.linear("attention.self.query", &ba, bn, bn);
            let k = l.linear("attention.self.key", &ba, bn, bn);
            let v = l.linear("attention.self.value", x, h, bn);
            let hd = bn / m.heads;
            let c = l.attention("attention.self", &q, &k, &v, m.heads, m.kv_heads, hd, false);
            let o = l.linear("attention.output.dense", &c, bn, bn);
            let o = l.binary("attention.output.add", OpKind::Add, &o, &bi, bn);
            let mut cur = l.unary("attention.output.LayerNorm", nn.clone(), &o, bn);
            for i in 0..ffns {
                let p = if i + 1 < ffns {
                    format!("ffn.{i}")
                } else {
                    "ffn.final".to_string()
                };
                let a = l.linear(&format!("{p}.intermediate.dense"), &cur, bn, m.ffn);
                let a = l.unary(&format!("{p}.intermediate.act"), relu.clone(), &a, m.ffn);
                let d = l.linear(&format!("{p}.output.dense"), &a, m.ffn, bn);
                let d = l.binary(&format!("{p}.output.add"), OpKind::Add, &d, &cur, bn);
                cur = l.unary(&format!("{p}.output.LayerNorm"), nn.clone(), &d, bn);
            }
            let ob = l.linear("output.bottleneck.dense", &cur, bn, h);
            let ob = l.binary("output.bottleneck.add", OpKind::Add, &ob, x, h);
            l.unary("output.bottleneck.LayerNorm", nn, &ob, h);
            blocks.push(Block {
                name: "encoder.layer".into(),
                repeat: m.layers,
                ops: l.ops,
            });
            let mut q = new(m);
            q.linear("qa_outputs", BLOCK_INPUT, h, 2);
            blocks.push(Block {
                name: "qa_head".into(),
                repeat: 1,
                ops: q.ops,
            });
        }
        Family::Bert { act, qa_head } => {
            input_features = h;
            // Embeddings: lookup plus position/type embeddings happen in memory; their
            // LayerNorm runs on a cluster.
            let mut e = new(m);
            e.unary(
                "embeddings.LayerNorm",
                OpKind::Norm(NormKind::LayerNorm),
                BLOCK_INPUT,
                h,
            );
            blocks.push(Block {
                name: "embeddings".into(),
                repeat: 1,
                ops: e.ops,
            });
            let mut l = new(m);
            let ln = OpKind::Norm(NormKind::LayerNorm);
            let x = BLOCK_INPUT;
            let q = l.linear("attention.self.query", x, h, h);
            let k = l.linear("attention.self.key", x, h, h);
            let v = l.linear("attention.self.value", x, h, h);
            let c = l.attention(
                "attention.self",
                &q,
                &k,
                &v,
                m.heads,
                m.kv_heads,
                h / m.heads,
                false,
            );
            let o = l.linear("attention.output.dense", &c, h, h);
            let o = l.binary("attention.output.add", OpKind::Add, &o, x, h);
            let a = l.unary("attention.output.LayerNorm", ln.clone(), &o, h);
            let i = l.linear("intermediate.dense", &a, h, m.ffn);
            let i = l.unary("intermediate.act", OpKind::Activation(act), &i, m.ffn);
            let d = l.linear("output.dense", &i, m.ffn, h);
            let d = l.binary("output.add", OpKind::Add, &d, &a, h);
            l.unary("output.LayerNorm", ln, &d, h);
            blocks.push(Block {
                name: "encoder.layer".into(),
                repeat: m.layers,
                ops: l.ops,
            });
            let mut q = new(m);
            let name = if qa_head {
                q.linear("qa_outputs", BLOCK_INPUT, h, 2);
                "qa_head"
            } else {
                q.ops.push(Op {
                    name: "pooling.mean".into(),
                    kind: OpKind::MeanPool,
                    inputs: vec![BLOCK_INPUT.into()],
                    out: (1, h),
                });
                "pooling"
            };
            blocks.push(Block {
                name: name.into(),
                repeat: 1,
                ops: q.ops,
            });
        }
        Family::Llama => {
            input_features = h;
            let hd = h / m.heads;
            let kv = m.kv_heads * hd;
            let rms = OpKind::Norm(NormKind::RmsNorm);
            let mut l = new(m);
            let x = BLOCK_INPUT;
            let n = l.unary("input_layernorm", rms.clone(), x, h);
            let q = l.linear("self_attn.q_proj", &n, h, h);
            let k = l.linear("self_attn.k_proj", &n, h, kv);
            let v = l.linear("self_attn.v_proj", &n, h, kv);
            let q = l.unary("self_attn.rope_q", OpKind::Rope { head_dim: hd }, &q, h);
            let k = l.unary("self_attn.rope_k", OpKind::Rope { head_dim: hd }, &k, kv);
            let c = l.attention("self_attn", &q, &k, &v, m.heads, m.kv_heads, hd, true);
            let o = l.linear("self_attn.o_proj", &c, h, h);
            let r = l.binary("self_attn.residual", OpKind::Add, &o, x, h);
            let n2 = l.unary("post_attention_layernorm", rms.clone(), &r, h);
            let g = l.linear("mlp.gate_proj", &n2, h, m.ffn);
            let u = l.linear("mlp.up_proj", &n2, h, m.ffn);
            let g = l.unary("mlp.act", OpKind::Activation(Activation::Silu), &g, m.ffn);
            let gu = l.binary("mlp.gate_mul", OpKind::Mul, &g, &u, m.ffn);
            let d = l.linear("mlp.down_proj", &gu, m.ffn, h);
            l.binary("mlp.residual", OpKind::Add, &d, &r, h);
            blocks.push(Block {
                name: "model.layers".into(),
                repeat: m.layers,
                ops: l.ops,
            });
            let mut f = new(m);
            let n = f.unary("model.norm", rms, BLOCK_INPUT, h);
            f.linear("lm_head", &n, h, m.vocab);
            blocks.push(Block {
                name: "head".into(),
                repeat: 1,
                ops: f.ops,
            });
        }
    }
    Schedule {
        model: m.name.to_string(),
        seq_len,
        input_features,
        blocks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear_params(s: &Schedule) -> (usize, usize) {
        // (static weights, LoRA parameters) over all block instances.
        let mut w = 0;
        let mut l = 0;
        for b in &s.blocks {
            for op in &b.ops {
                if let OpKind::Linear {
                    in_features,
                    out_features,
                    lora,
                } = op.kind
                {
                    w += b.repeat * in_features * out_features;
                    if let Some(lo) = lora {
                        l += b.repeat * lo.rank * (in_features + out_features);
                    }
                }
            }
        }
        (w, l)
    }

    #[test]
    fn every_model_generates_a_valid_schedule() {
        for m in MODELS {
            let s = generate(&m, m.default_seq_len, Some(DEFAULT_LORA));
            s.validate().unwrap_or_else(|e| panic!("{}: {e}", m.name));
            let text = s.to_ron_string().unwrap();
            let back: Schedule = ron::from_str(&text).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn mobilebert_matches_the_study_parameter_counts() {
        // workloads.md: 20.4 M static linear parameters (with biases and the embedding tables
        // left out we count weights only), 1.63 M LoRA parameters at r = 8.
        // Per layer: 3 x 512x128 + 3 x 128x128 + 4 x (128x512 + 512x128) + 128x512
        //          = 196 608 + 49 152 + 524 288 + 65 536 = 835 584; x 24 = 20 054 016;
        // + embedding 384x512 = 196 608 + QA 512x2 = 1 024 -> 20 251 648 (20.25 M).
        // LoRA per layer: 8 x (3 x 640 + 3 x 256 + 8 x 640 + 640) = 8 x 8 448 = 67 584;
        // x 24 = 1 622 016; + 8 x (384 + 512) + 8 x (512 + 2) = 7 168 + 4 112 -> 1 633 296.
        let s = generate(&MOBILEBERT, 320, Some(DEFAULT_LORA));
        assert_eq!(linear_params(&s), (20_251_648, 1_633_296));
    }

    #[test]
    fn llama_kv_projection_is_4096_to_1024() {
        let s = generate(&LLAMA_3_1_8B, 16, Some(DEFAULT_LORA));
        let k = s.blocks[0]
            .ops
            .iter()
            .find(|o| o.name == "self_attn.k_proj")
            .unwrap();
        assert_eq!(k.out, (16, 1024));
    }

    #[test]
    fn bad_schedules_are_named() {
        let mut s = generate(&MOBILEBERT, 8, None);
        s.blocks[1].ops[2].inputs = vec!["nope".into()];
        let e = s.validate().unwrap_err().to_string();
        assert!(
            e.contains("bottleneck.attention.dense") && e.contains("nope"),
            "{e}"
        );
        let mut s = generate(&MOBILEBERT, 8, None);
        s.blocks[1].ops[0].out = (8, 7);
        assert!(s.validate().is_err());
        // mean pooling anywhere but at the very end is refused, naming the op
        let mut s = generate(&MOBILEBERT, 8, None);
        s.blocks[1].ops[0].kind = OpKind::MeanPool;
        s.blocks[1].ops[0].out = (1, 512);
        let e = s.validate().unwrap_err().to_string();
        assert!(
            e.contains("bottleneck.input.dense") && e.contains("last operation"),
            "{e}"
        );
        let mut s = generate(&ALL_MINILM_L6_V2, 8, None);
        s.blocks[2].ops[0].out = (8, 384);
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("pooling.mean") && e.contains("(1, 384)"), "{e}");
    }

    #[test]
    fn a_schedule_file_that_fails_validation_is_named() {
        let mut s = generate(&ALL_MINILM_L6_V2, 8, None);
        s.blocks[2].ops[0].out = (8, 384);
        let path =
            std::env::temp_dir().join(format!("hetsim-bad-pooling-{}.ron", std::process::id()));
        std::fs::write(&path, s.to_ron_string().unwrap()).unwrap();
        let e = Schedule::from_ron_file(&path).unwrap_err().to_string();
        let _ = std::fs::remove_file(&path);
        assert!(
            e.contains(&path.display().to_string()) && e.contains("pooling.mean"),
            "{e}"
        );
    }

    #[test]
    fn a_sentence_encoder_ends_with_its_mean_pooling() {
        let s = generate(&ALL_MINILM_L6_V2, 16, None);
        let last = s.blocks.last().unwrap();
        assert_eq!((last.name.as_str(), last.repeat), ("pooling", 1));
        assert_eq!(last.ops.len(), 1);
        assert_eq!(last.ops[0].kind, OpKind::MeanPool);
        assert_eq!(last.ops[0].out, (1, 384));
        // a question-answering model has its head instead
        let b = generate(&BERT_BASE, 16, None);
        assert_eq!(b.blocks.last().unwrap().name, "qa_head");
    }
}

#[cfg(test)]
mod committed {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn committed_traces_match_the_generator() {
        // traces/<model>.ron are generated at default settings; regenerate with
        // `hetsim trace gen --model <m> --out traces/<m>.ron` if this fails.
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../traces");
        for m in MODELS {
            let path = root.join(format!("{}.ron", m.name));
            let s = Schedule::from_ron_file(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                s,
                generate(&m, m.default_seq_len, Some(DEFAULT_LORA)),
                "{}",
                m.name
            );
        }
    }
}
