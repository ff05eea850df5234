#!/usr/bin/env python3
"""BERT uncased WordPiece tokeniser reading a Hugging Face tokenizer.json (standard library only).

Usage: tokenize.py TOKENIZER_JSON SENTENCES_TXT OUT_JSON

Writes OUT_JSON: {"tokenizer_sha256": ..., "sentences": [{"text": ..., "ids": [101, ..., 102]}]}
for every non-empty line of SENTENCES_TXT, as the `tokenizers` library's BertNormalizer
(clean text, CJK characters split, lower-casing with accent stripping), BertPreTokenizer
(whitespace and punctuation split) and WordPiece model (greedy longest match, `##`
continuations, [UNK] for a word that does not split or is longer than
max_input_chars_per_word) do, then [CLS] ... [SEP] (the TemplateProcessing of a single
sentence). Truncation to the tokenizer's max_length is applied to the pieces.
"""

import hashlib
import json
import sys
import unicodedata


def is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def is_whitespace(ch):
    if ch in " \t\n\r":
        return True
    return unicodedata.category(ch) == "Zs"


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def normalize(text, norm):
    out = []
    for ch in text:
        cp = ord(ch)
        if norm.get("clean_text", True):
            if cp == 0 or cp == 0xFFFD or is_control(ch):
                continue
            if is_whitespace(ch):
                out.append(" ")
                continue
        if norm.get("handle_chinese_chars", True) and is_cjk(cp):
            out.append(" " + ch + " ")
            continue
        out.append(ch)
    text = "".join(out)
    lower = norm.get("lowercase", True)
    strip = norm.get("strip_accents")
    if strip is None:
        strip = lower
    if strip:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    if lower:
        text = text.lower()
    return text


def pre_tokenize(text):
    words = []
    for chunk in text.split():
        cur = ""
        for ch in chunk:
            if is_punctuation(ch):
                if cur:
                    words.append(cur)
                    cur = ""
                words.append(ch)
            else:
                cur += ch
        if cur:
            words.append(cur)
    return words


def wordpiece(word, vocab, model):
    unk = model["unk_token"]
    prefix = model.get("continuing_subword_prefix", "##")
    if len(word) > model.get("max_input_chars_per_word", 100):
        return [vocab[unk]]
    ids = []
    start = 0
    while start < len(word):
        end = len(word)
        found = None
        while start < end:
            piece = word[start:end]
            if start > 0:
                piece = prefix + piece
            if piece in vocab:
                found = vocab[piece]
                break
            end -= 1
        if found is None:
            return [vocab[unk]]
        ids.append(found)
        start = end
    return ids


def encode(text, tok):
    vocab = tok["model"]["vocab"]
    words = pre_tokenize(normalize(text, tok.get("normalizer") or {}))
    ids = [i for w in words for i in wordpiece(w, vocab, tok["model"])]
    limit = (tok.get("truncation") or {}).get("max_length")
    if limit:
        ids = ids[: limit - 2]
    return [vocab["[CLS]"]] + ids + [vocab["[SEP]"]]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    tok_path, sentences, out = sys.argv[1:]
    raw = open(tok_path, "rb").read()
    tok = json.loads(raw)
    if tok["model"]["type"] != "WordPiece":
        sys.exit(f"{tok_path}: model type {tok['model']['type']}, expected WordPiece")
    lines = [l.strip() for l in open(sentences, encoding="utf-8") if l.strip()]
    doc = {
        "tokenizer_sha256": hashlib.sha256(raw).hexdigest(),
        "sentences": [{"text": l, "ids": encode(l, tok)} for l in lines],
    }
    # One sentence a line, so a diff shows which sentence's ids changed.
    with open(out, "w", encoding="utf-8") as f:
        f.write('{"tokenizer_sha256": %s,\n "sentences": [\n' % json.dumps(doc["tokenizer_sha256"]))
        f.write(",\n".join("  " + json.dumps(s, ensure_ascii=False) for s in doc["sentences"]))
        f.write("\n ]}\n")


if __name__ == "__main__":
    main()
