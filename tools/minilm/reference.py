#!/usr/bin/env python3
"""Independent NumPy forward pass of a BERT sentence encoder (all-MiniLM-L6-v2), the check of
hetsim's f32 reference (sim/src/simulate/accuracy.rs, test `numpy_reference_agrees`).

Usage: reference.py MODEL_DIR TOKENS_JSON OUT_JSON

MODEL_DIR holds model.safetensors and config.json (Hugging Face BertModel names without a
prefix); TOKENS_JSON is tools/minilm/tokenize.py's output. The sentences are padded to the
longest one and run as one batch with the attention mask (as sentence-transformers does), in
float64: embeddings (word + position + token type 0), LayerNorm, per layer self-attention with
biases and the additive padding mask, GELU (erf, or tanh for gelu_new), residuals and
LayerNorms, then mean pooling over the unpadded tokens. OUT_JSON holds each sentence's pooled
embedding and, for sentence 0, every block's output (the embeddings' LayerNorm and each layer).
"""

import json
import math
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
        out[name] = arr.astype(np.float64) if arr.dtype.kind == "f" else arr
    return out


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu(x, act):
    if act == "gelu":
        erf = np.vectorize(math.erf)
        return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    model_dir, tokens, out = sys.argv[1:]
    cfg = json.load(open(f"{model_dir}/config.json"))
    w = load_safetensors(f"{model_dir}/model.safetensors")
    sents = json.load(open(tokens, encoding="utf-8"))["sentences"]
    ids = [s["ids"] for s in sents]
    n, length = len(ids), max(len(i) for i in ids)
    tok = np.zeros((n, length), dtype=np.int64)
    mask = np.zeros((n, length))
    for i, s in enumerate(ids):
        tok[i, : len(s)] = s
        mask[i, : len(s)] = 1.0
    eps, heads = cfg["layer_norm_eps"], cfg["num_attention_heads"]
    h = cfg["hidden_size"]
    d = h // heads
    x = (
        w["embeddings.word_embeddings.weight"][tok]
        + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
        + w["embeddings.token_type_embeddings.weight"][0][None, None]
    )
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    blocks = [x[0, : len(ids[0])]]
    additive = (1.0 - mask)[:, None, None, :] * np.finfo(np.float64).min

    def lin(name, v):
        return v @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    for layer in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{layer}"
        split = lambda t: t.reshape(n, length, heads, d).transpose(0, 2, 1, 3)
        q = split(lin(f"{p}.attention.self.query", x))
        k = split(lin(f"{p}.attention.self.key", x))
        v = split(lin(f"{p}.attention.self.value", x))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + additive
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        c = (s @ v).transpose(0, 2, 1, 3).reshape(n, length, h)
        a = lin(f"{p}.attention.output.dense", c) + x
        a = layer_norm(a, w[f"{p}.attention.output.LayerNorm.weight"], w[f"{p}.attention.output.LayerNorm.bias"], eps)
        i = gelu(lin(f"{p}.intermediate.dense", a), cfg["hidden_act"])
        o = lin(f"{p}.output.dense", i) + a
        x = layer_norm(o, w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"], eps)
        blocks.append(x[0, : len(ids[0])])
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    doc = {
        "model_dir": model_dir,
        "embeddings": pooled.tolist(),
        "sentence0_blocks": [b.tolist() for b in blocks],
    }
    with open(out, "w") as f:
        json.dump(doc, f)
    print(f"{out}: {n} sentence embeddings of {h} values (NumPy {np.__version__}, float64)")


if __name__ == "__main__":
    main()
