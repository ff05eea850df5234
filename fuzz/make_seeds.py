#!/usr/bin/env python3
"""Writes the small seed corpora in fuzz/corpus/ (run from the repository root).

ELF seeds are committed ISA-test ELFs from kernels/build/ with the alignment padding removed:
the ELF header, the program headers, each PT_LOAD segment's file bytes packed back to back,
and a section table holding only .symtab, .strtab and .shstrtab (so `tohost` is still found).
The other seeds are written out literally.
"""
import os
import struct
import sys


def compact_elf(src):
    b = open(src, "rb").read()
    (e_ident, e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize,
     e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx) = struct.unpack_from(
        "<16sHHIIIIIHHHHHH", b, 0)
    phdrs = [list(struct.unpack_from("<8I", b, e_phoff + i * e_phentsize)) for i in range(e_phnum)]
    shdrs = [list(struct.unpack_from("<10I", b, e_shoff + i * e_shentsize)) for i in range(e_shnum)]
    out = bytearray(52 + 32 * e_phnum)
    for ph in phdrs:
        data = b[ph[1]:ph[1] + ph[4]]
        while len(out) % 4:
            out.append(0)
        ph[1] = len(out)
        ph[7] = 4  # p_align: nothing checks it, and 4 keeps the file small
        out += data
    # Keep the symbol table, its string table and the section-name table.
    keep = [0] + [i for i, sh in enumerate(shdrs) if sh[1] == 2]  # SHT_SYMTAB
    keep += [shdrs[i][6] for i in keep[1:]] + [e_shstrndx]
    remap = {old: new for new, old in enumerate(keep)}
    new_sh = []
    for i in keep:
        sh = list(shdrs[i])
        if i != 0:
            data = b[sh[4]:sh[4] + sh[5]]
            while len(out) % 4:
                out.append(0)
            sh[4] = len(out)
            out += data
            sh[6] = remap.get(sh[6], 0)
        new_sh.append(sh)
    while len(out) % 4:
        out.append(0)
    shoff = len(out)
    for sh in new_sh:
        out += struct.pack("<10I", *sh)
    struct.pack_into("<16sHHIIIIIHHHHHH", out, 0, e_ident, e_type, e_machine, e_version, e_entry,
                     52, shoff, e_flags, 52, 32, e_phnum, 40, len(new_sh), remap[e_shstrndx])
    for i, ph in enumerate(phdrs):
        struct.pack_into("<8I", out, 52 + 32 * i, *ph)
    return bytes(out)


def npy(version, descr, fortran, shape, data):
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }\n" % (
        descr, "True" if fortran else "False", shape)
    hl = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + hl + h.encode() + data


def rsp(body):
    """One GDB remote-protocol packet: $body#checksum."""
    return b"$" + body + b"#" + b"%02x" % (sum(body) & 0xff)


def gdb_session(cmds):
    """Packets, each followed by the client's acknowledgement of the reply."""
    return b"".join(rsp(c) + b"+" for c in cmds)


def htif_seed(off, words, extra=b"", extra_at=0x200):
    """The htif harness's input: the block's offset in RAM, then a 1 KiB RAM image with the
    block (eight 64-bit words) at that offset and `extra` at `extra_at`."""
    img = bytearray(0x400)
    blk = b"".join(struct.pack("<Q", w) for w in words + [0] * (8 - len(words)))
    img[off:off + 64] = blk
    img[extra_at:extra_at + len(extra)] = extra
    return struct.pack("<I", off) + bytes(img)


def safetensors(tensors):
    """A safetensors file of (name, shape, f32 values) plus an I64 position_ids tensor."""
    import json
    header, data = {}, b""
    for name, shape, values in tensors:
        blob = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def tiny_bert():
    """The tiny BERT of hetsim_tests::fuzzing (hidden 8, FFN 16, vocabulary 12, 8 positions)."""
    shapes = [("embeddings.word_embeddings.weight", [12, 8]),
              ("embeddings.position_embeddings.weight", [8, 8]),
              ("embeddings.token_type_embeddings.weight", [2, 8]),
              ("embeddings.LayerNorm.weight", [8]), ("embeddings.LayerNorm.bias", [8])]
    for mod, shape in [("attention.self.query", [8, 8]), ("attention.self.key", [8, 8]),
                       ("attention.self.value", [8, 8]), ("attention.output.dense", [8, 8]),
                       ("attention.output.LayerNorm", [8]), ("intermediate.dense", [16, 8]),
                       ("output.dense", [8, 16]), ("output.LayerNorm", [8])]:
        shapes.append((f"encoder.layer.0.{mod}.weight", shape))
        shapes.append((f"encoder.layer.0.{mod}.bias", [shape[0]]))
    out = []
    for k, (name, shape) in enumerate(shapes):
        n = 1
        for d in shape:
            n *= d
        gain = name.endswith("LayerNorm.weight")
        out.append((name, shape, [1.0 if gain else ((i * 7 + k) % 13 - 6) / 12 for i in range(n)]))
    return out


def main():
    root = "fuzz/corpus"
    seeds = {}
    for name in ["rv32ui-upper", "rv32mi-csr", "rv32uf-fcsr"]:
        e = compact_elf(f"kernels/build/{name}.elf")
        seeds[f"elf/seed-{name}"] = e
        seeds[f"machine/seed-{name}"] = e
    seeds["npy/seed-f4-2x2"] = npy(1, "<f4", False, "(2, 2)", struct.pack("<4f", 1, 2, 3, 4))
    seeds["npy/seed-f8-fortran"] = npy(2, "<f8", True, "(2, 3)", struct.pack("<6d", *range(6)))
    seeds["npy/seed-f4-be-1d"] = npy(3, ">f4", False, "(3,)", struct.pack(">3f", 1, -2, 0.5))
    for f in os.listdir("models/presets"):
        text = open(f"models/presets/{f}", "rb").read()
        kind = "ron_cluster" if f.startswith("cluster") else "ron_tile"
        seeds[f"{kind}/seed-{f}"] = text
    seeds["ron_tile/seed-small"] = b"(rows: 16, cols: 8, adc: (enabled: false))"
    seeds["ron_cluster/seed-small"] = (
        b"(cores: 2, icache: Cache(size: 1024, ways: 2, line: 32, miss_latency: 3), "
        b"traps: Architectural, max_cycles: 100)")
    # exec: registers then a few instructions (addi, lw, fadd.s, csrrw, ecall, mret).
    regs = struct.pack("<31I", *range(1, 32)) + struct.pack("<32I", *[0x3f800000] * 32)
    misc = struct.pack("<3I", 0x20, 0x6000, 0x40)  # misc (frm = 1), mstatus (FS), mtvec
    insts = struct.pack("<6I", 0x00150513, 0x00052583, 0x00208053, 0x30529073, 0x73, 0x30200073)
    seeds["exec/seed-mixed"] = regs + misc + insts
    # cluster: 2 cores, architectural traps; registers -> periph/TCDM/DMA; code: store to
    # TCDM, read NUM_CORES, barrier load, write EXIT.
    head = bytes([0x11, 0, 3, 2, 0, 3, 5, 6, 0])
    code = struct.pack("<4I", 0x0062a023, 0x0003a503, 0x0083a583, 0x0003ae23)
    seeds["cluster/seed-exit"] = head + code
    # gdb_packets: GDB sessions against the harness's program (code at 0x80000000, data at
    # 0x80000800; register 0x20 is pc, 0x42 fflags, 0x341 mstatus, 0xf55 mhartid).
    seeds["gdb_packets/seed-handshake"] = gdb_session([
        b"qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;"
        b"exec-events+;vContSupported+;QThreadEvents+;no-resumed+;xmlRegisters=i386",
        b"vMustReplyEmpty", b"QStartNoAckMode", b"Hgp0.0",
        b"qXfer:features:read:target.xml:0,ffb", b"qXfer:features:read:target.xml:ffb,ffb",
        b"qTStatus", b"?", b"qfThreadInfo", b"qsThreadInfo", b"qAttached", b"Hc-1", b"qC", b"g",
        b"qOffsets", b"qSymbol::", b"D"])
    seeds["gdb_packets/seed-break-step"] = gdb_session([
        b"?", b"Z0,80000014,4", b"vCont?", b"vCont;c", b"g", b"p20", b"p42", b"p341", b"pf55",
        b"P5=78563412", b"m80000800,10", b"M80000800,4:01020304", b"vCont;s:1",
        b"z0,80000014,4", b"vCont;s:1;c", b"k"])
    seeds["gdb_packets/seed-watch"] = gdb_session([
        b"?", b"Z2,80000800,4", b"vCont;c", b"z2,80000800,4", b"Z3,80000804,4", b"c",
        b"z3,80000804,4", b"Z4,80000808,4", b"vCont;c:1", b"z4,80000808,4", b"c"])
    seeds["gdb_packets/seed-threads"] = gdb_session([
        b"qfThreadInfo", b"qThreadExtraInfo,1", b"T1", b"Hg1", b"Hc1", b"G" + b"00" * 328, b"s",
        b"vCont;s:p1.1", b"X80000900,4:abcd", b"qRcmd,68656c70", b"vKill;1"])
    seeds["gdb_packets/seed-interrupt"] = (
        rsp(b"QStartNoAckMode") + b"+" + rsp(b"vCont;c") + b"\x03" + rsp(b"g") + rsp(b"D"))
    # htif: blocks for every outcome of htif::serve.
    ram = 0x80000000
    seeds["htif/seed-write"] = htif_seed(0x40, [64, 1, ram + 0x200, 13], b"hello, world\n")
    seeds["htif/seed-write-stderr"] = htif_seed(0x40, [64, 2, ram + 0x200, 5], b"oops\n")
    seeds["htif/seed-exit"] = htif_seed(0x80, [93, 3])
    seeds["htif/seed-unknown"] = htif_seed(0x80, [1234, 0, 0, 0])
    seeds["htif/seed-bad-fd"] = htif_seed(0x80, [64, 7, ram + 0x200, 4], b"abcd")
    seeds["htif/seed-buffer-outside"] = htif_seed(0x80, [64, 1, ram + 0xff0, 0x100])
    seeds["htif/seed-block-outside"] = struct.pack("<I", 0xffc) + bytes(64)


    # checkpoint, adapter, tokens: the accuracy evaluation's inputs (hetsim_tests::fuzzing).
    seeds["checkpoint/seed-tiny-bert"] = safetensors(tiny_bert())
    seeds["checkpoint/seed-prefixed"] = safetensors(
        [(f"bert.{n}", s, v) for n, s, v in tiny_bert()][:5])
    lora = []
    for mod in ("query", "value"):
        stem = f"base_model.model.encoder.layer.0.attention.self.{mod}"
        lora.append((f"{stem}.lora_A.weight", [2, 8], [i / 16 for i in range(16)]))
        lora.append((f"{stem}.lora_B.weight", [8, 2], [-i / 16 for i in range(16)]))
    seeds["adapter/seed-query-value"] = safetensors(lora)
    seeds["tokens/seed-sentences"] = (
        b'{"tokenizer_sha256": "0", "sentences": [\n {"text": "a b", "ids": [101, 1037, 102]},\n'
        b' {"text": "caf\xc3\xa9", "ids": [101, 7668, 102]}\n]}\n')
    seeds["tokens/seed-config"] = (
        b'{"hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, '
        b'"intermediate_size": 16, "hidden_act": "gelu", "layer_norm_eps": 1e-12, '
        b'"max_position_embeddings": 8, "vocab_size": 12}')
    seeds["tokens/seed-adapter-config"] = (
        b'{"r": 2, "lora_alpha": 4.0, "target_modules": ["query", "value"], "peft_type": "LORA"}')
    for path, data in seeds.items():
        os.makedirs(os.path.dirname(f"{root}/{path}"), exist_ok=True)
        open(f"{root}/{path}", "wb").write(data)
        print(f"{root}/{path}: {len(data)} bytes")


if __name__ == "__main__":
    sys.exit(main())
