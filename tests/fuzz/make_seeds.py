"""Seeds that need byte-level construction (tests/fuzz/make_seeds.sh calls this):
a byte-level BPE vocabulary GGUF, a micro llama2.c checkpoint, .npy files of
every dtype and header version, and tokenizer texts."""
import struct
import sys

corpus = sys.argv[1]


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_kv_string(key, value):
    return gguf_string(key) + struct.pack("<I", 8) + gguf_string(value)


def gguf_kv_strings(key, values):
    out = gguf_string(key) + struct.pack("<IIQ", 9, 8, len(values))
    return out + b"".join(gguf_string(v) for v in values)


def gguf_kv_u32(key, v):
    return gguf_string(key) + struct.pack("<II", 4, v)


# Byte-level BPE (GPT-2 alphabet: printable bytes as themselves, the rest shifted to U+0100...).
alphabet = [chr(c) for c in range(33, 127)] + [chr(0x100 + i) for i in range(40)]
tokens = alphabet + ["\u0120t", "he", "\u0120the", "in", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
merges = ["\u0120 t", "h e", "\u0120t he", "i n"]
kv = [gguf_kv_string("general.architecture", "qwen2"),
      gguf_kv_string("tokenizer.ggml.model", "gpt2"),
      gguf_kv_string("tokenizer.ggml.pre", "qwen2"),
      gguf_kv_strings("tokenizer.ggml.tokens", tokens),
      gguf_kv_strings("tokenizer.ggml.merges", merges),
      gguf_string("tokenizer.ggml.token_type") + struct.pack("<IIQ", 9, 5, len(tokens)) +
      b"".join(struct.pack("<i", 3 if t.startswith("<|") else 1) for t in tokens),
      gguf_kv_u32("tokenizer.ggml.eos_token_id", len(tokens) - 3),
      gguf_kv_string("tokenizer.chat_template", "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>{% endfor %}")]
with open(f"{corpus}/gguf/bpe-vocab.gguf", "wb") as f:
    f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv)) + b"".join(kv))

# llama2.c: dim 8, hidden 16, 1 layer, 2 heads, 2 kv heads, vocab 32 (shared classifier), seq_len 8.
dim, hidden, layers, heads, kv_heads, vocab, seq = 8, 16, 1, 2, 2, 32, 8
head = dim // heads
counts = [vocab * dim, layers * dim, layers * dim * dim, layers * dim * kv_heads * head, layers * dim * kv_heads * head,
          layers * dim * dim, layers * dim, layers * dim * hidden, layers * hidden * dim, layers * dim * hidden, dim,
          seq * head]
floats = [((i * 37) % 17 - 8) / 64.0 for i in range(sum(counts))]
with open(f"{corpus}/llama2c/micro-shared.bin", "wb") as f:
    f.write(struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq) + struct.pack(f"<{len(floats)}f", *floats))
with open(f"{corpus}/llama2c/micro-unshared.bin", "wb") as f:
    extra = [0.01] * (vocab * dim)
    f.write(struct.pack("<7i", dim, hidden, layers, heads, kv_heads, -vocab, seq) +
            struct.pack(f"<{len(floats) + len(extra)}f", *(floats + extra)))


def npy(name, descr, shape, payload, version=1):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join(f"{d}, " for d in shape) if len(shape) == 1 else ", ".join(str(d) for d in shape))
    lenfmt, prefix = ("<H", 10) if version == 1 else ("<I", 12)
    pad = (64 - (prefix + len(header) + 1) % 64) % 64
    header += " " * pad + "\n"
    with open(f"{corpus}/npy/{name}.npy", "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]) + struct.pack(lenfmt, len(header)) + header.encode() + payload)


npy("f32", "<f4", [2, 3], struct.pack("<6f", *range(6)))
npy("f64-v2", "<f8", [3], struct.pack("<3d", 1, 2, 3), version=2)
npy("i64", "<i8", [2, 2], struct.pack("<4q", 1, -2, 3, -4))
npy("i32-v3", "<i4", [4], struct.pack("<4i", 1, 2, 3, 4), version=3)
npy("u8", "|u1", [5], bytes(range(5)))
npy("bool", "|b1", [3], bytes([1, 0, 1]))
npy("f16", "<f2", [2], struct.pack("<2e", 1.5, -2.0))
npy("scalar", "<f4", [], struct.pack("<f", 7.0))

for i, text in enumerate(["Hello world", "  leading spaces\n\ttabs", "caf\u00e9 \u4f60\u597d \U0001f600",
                          "<|im_start|>user\nhi<|im_end|>", "<s> </s> <unk> 12345 3.14", "don't I'll we've"]):
    with open(f"{corpus}/tokenizer_text/seed{i}", "wb") as f:
        f.write(bytes([i]) + text.encode())
