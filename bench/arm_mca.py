#!/usr/bin/env python3
"""Static cycle estimates for pareto's AArch64 hot loops (issue 20).

Compiles each kernel file with the cross compiler and the flags the build
uses, finds the kernel's innermost loop in the assembly (the backward branch
whose body holds the multiply-accumulate instructions), and runs llvm-mca on
the loop body for several CPU models: once for the whole body and once for
its loads alone (the loads' lower bound). The work per iteration is counted
from the instructions themselves (SDOT = 16 int8 products, SMULL/SMULL2 = 8,
USMMLA = 32, BFDOT = 8, FMLA .4s = 4, FMLA .8h = 8), so cycles per 256 weights (decode) and per
64x64x256 tile (prefill) are computed, not annotated. Emulation says nothing
of speed; this says what the instruction mix allows on each core model.

Kinds: decode / prefill (the innermost loop with multiply-adds), *-main (the
loop with the most of them), *-fn (a straight-line function's whole body).

usage: arm_mca.py SRC_ROOT [--cxx aarch64-linux-gnu-g++] [--mca llvm-mca-16] [--markdown]
"""
import argparse
import re
import subprocess
import sys
import tempfile

# (label, source, -march [and the part's other flags], mangled-name fragment, kind);
# the flags are CMakeLists.txt's for that part (the build adds -ffp-contract=off first).
KERNELS = [
    ("q4_0 decode, plain NEON", "src/kernels/arm/quant_dot_neon.cpp", "armv8-a", "4neon12q8a_q4_0_dot", "decode"),
    ("q4_0 decode, SDOT", "src/kernels/arm/quant_dot_dotprod.cpp", "armv8.2-a+dotprod", "7dotprod12q8a_q4_0_dot", "decode"),
    ("q8_0 decode, plain NEON", "src/kernels/arm/quant_dot_neon.cpp", "armv8-a", "4neon12q8a_q8_0_dot", "decode"),
    ("q8_0 decode, SDOT", "src/kernels/arm/quant_dot_dotprod.cpp", "armv8.2-a+dotprod", "7dotprod12q8a_q8_0_dot", "decode"),
    ("q4_K decode, SDOT", "src/kernels/arm/quant_dot_dotprod.cpp", "armv8.2-a+dotprod", "7dotprod12q8a_q4_k_dot", "decode"),
    ("q6_K decode, SDOT", "src/kernels/arm/quant_dot_dotprod.cpp", "armv8.2-a+dotprod", "7dotprod12q8a_q6_k_dot", "decode"),
    ("W8A8 rows, SDOT", "src/kernels/arm/quant_dot_dotprod.cpp", "armv8.2-a+dotprod", "7dotprod11q8_row_gemm", "prefill"),
    ("W8A8 rows, USMMLA (i8mm)", "src/kernels/arm/quant_dot_i8mm.cpp", "armv8.2-a+dotprod+i8mm", "4i8mm11q8_row_gemm", "prefill"),
    ("f32 GEMM 8x8, NEON FMLA", "src/kernels/arm/gemm_neon.cpp", "armv8-a -ffp-contract=fast", "12gemm_columns", "prefill"),
    # Repacked weights (packed_gemm_arm.inc): one call of chunk_tile<kind, rows, tokens, whole> is a
    # 512-weight chunk of R rows against T tokens, straight-line code: its whole body is the "loop".
    # Kinds: 0 = Q4_0, 2 = Q4_K, 4 = Q6_K. Decode: 4 rows x 1 token; prefill: 2 rows x 2 tokens.
    ("q4_0 packed decode, plain NEON", "src/kernels/arm/packed_gemm_neon.cpp", "armv8-a", "4neon12_GLOBAL__N_110chunk_tileILNS0_10PackedKindE0ELi4ELi1ELb0E", "decode-fn"),
    ("q4_0 packed decode, SDOT", "src/kernels/arm/packed_gemm_dotprod.cpp", "armv8.2-a+dotprod", "7dotprod12_GLOBAL__N_110chunk_tileILNS0_10PackedKindE0ELi4ELi1ELb0E", "decode-fn"),
    ("q4_K packed decode, SDOT", "src/kernels/arm/packed_gemm_dotprod.cpp", "armv8.2-a+dotprod", "7dotprod12_GLOBAL__N_110chunk_tileILNS0_10PackedKindE2ELi4ELi1ELb0E", "decode-fn"),
    ("q6_K packed decode, SDOT", "src/kernels/arm/packed_gemm_dotprod.cpp", "armv8.2-a+dotprod", "7dotprod12_GLOBAL__N_110chunk_tileILNS0_10PackedKindE4ELi4ELi1ELb0E", "decode-fn"),
    ("q4_K packed prefill 2x2, SDOT", "src/kernels/arm/packed_gemm_dotprod.cpp", "armv8.2-a+dotprod", "7dotprod12_GLOBAL__N_110chunk_tileILNS0_10PackedKindE2ELi2ELi2ELb0E", "prefill-fn"),
    ("q4_K packed prefill 2x2, plain NEON", "src/kernels/arm/packed_gemm_neon.cpp", "armv8-a", "4neon12_GLOBAL__N_110chunk_tileILNS0_10PackedKindE2ELi2ELi2ELb0E", "prefill-fn"),
    # pareto's group formats (one 32-code block per iteration pair), the F16 batch and the conv GEMMs.
    ("group codes dot, plain NEON", "src/kernels/arm/pareto_formats_neon.cpp", "armv8-a", "4neon13q8a_codes_dot", "decode-main"),
    ("group codes dot, SDOT", "src/kernels/arm/pareto_formats_dotprod.cpp", "armv8.2-a+dotprod", "7dotprod13q8a_codes_dot", "decode-main"),
    ("F16 batch GEMM 4x6, NEON FMLA", "src/kernels/arm/half_gemm_neon.cpp", "armv8-a", "4neon12_GLOBAL__N_14tileILb0ELi4ELi6E", "prefill"),
    ("int8 conv GEMM 4x16, SDOT", "src/kernels/arm/int8_gemm_dotprod.cpp", "armv8.2-a+dotprod", "7dotprod12_GLOBAL__N_14tileILi4ENS2_9PanelRowsE", "prefill"),
    ("int8 shifted conv GEMM 4x16, SDOT", "src/kernels/arm/int8_gemm_dotprod.cpp", "armv8.2-a+dotprod", "7dotprod12_GLOBAL__N_14tileILi4ENS2_10OffsetRowsE", "prefill"),
    ("int8 conv GEMM 4x8, USMMLA (i8mm)", "src/kernels/arm/int8_gemm_i8mm.cpp", "armv8.2-a+dotprod+i8mm", "4i8mm12_GLOBAL__N_14tileILi2E", "prefill"),
    ("bf16 conv GEMM 4x16, BFDOT", "src/kernels/arm/bf16_gemm_armbf16.cpp", "armv8.2-a+bf16", "7armbf1612_GLOBAL__N_14tileILi4E", "prefill"),
    ("f16 conv GEMM 4x16, FMLA .8h (FP16)", "src/kernels/arm/f16_gemm_fp16.cpp", "armv8.2-a+fp16", "7armfp1612_GLOBAL__N_14tileILi4E", "prefill"),
    ("f32 small-k GEMM 8x8, NEON FMLA", "src/kernels/arm/pointwise_neon.cpp", "armv8-a", "4neon12_GLOBAL__N_14tileILi8ELi2E", "prefill-main"),
]
CPUS = [("cortex-a55", "Cortex-A55 (little)"), ("cortex-a76", "Cortex-A76 (LLVM: A57 model)"), ("neoverse-n2", "Neoverse-N2 / Cortex-A710 class")]

BRANCH = re.compile(r"^\s*(b\.?(?:eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?|cbn?z|tbn?z)\s+(?:.*,\s*)?(\.L\w+)\s*$")
LOAD = re.compile(r"^\s*(ld[1-4]r?|ldr\w*|ldp\w*|ldur\w*)\b")


def work(body):
    """Multiply-accumulates (int8 products or f32 lanes) per loop iteration."""
    macs = 0
    # Loops of int8 products count those only (their float multiply-adds apply the scales).
    int8 = any(line.split() and line.split()[0] in ("sdot", "udot", "smull", "smull2", "usmmla", "smmla", "ummla", "bfdot") for line in body)
    half = any(line.split() and line.split()[0] == "fmla" and ".8h" in line for line in body)
    for line in body:
        op = line.split()[0] if line.split() else ""
        if op == "sdot" or op == "udot":
            macs += 16
        elif op == "bfdot":  # 4 lanes x 2 bf16 products
            macs += 8
        elif op in ("smull", "smull2"):
            macs += 8
        elif op in ("usmmla", "smmla", "ummla"):
            macs += 32
        elif op == "fmla" and ".8h" in line and not int8:  # FEAT_FP16: 8 f16 lanes
            macs += 8
        elif op == "fmla" and ".4s" in line and not int8 and not half:
            macs += 4
    return macs


def functions(asm):
    """name -> list of lines (labels and instructions) of each function."""
    out, name, lines = {}, None, []
    for line in asm.splitlines():
        m = re.match(r"^([\w.$]+):", line)
        if m and not m.group(1).startswith(".L"):
            if name:
                out[name] = lines
            name, lines = m.group(1), []
            continue
        if name is not None:
            lines.append(line)
    if name:
        out[name] = lines
    return out


def innermost_work_loop(lines, widest=False):
    """The smallest loop holding multiply-adds, or with widest the one holding the most
    (a kernel whose main loop takes several blocks and whose tail loop takes one)."""
    labels = {}
    for i, line in enumerate(lines):
        m = re.match(r"^(\.L\w+):", line)
        if m:
            labels[m.group(1)] = i
    best = None
    for i, line in enumerate(lines):
        m = BRANCH.match(line)
        if not m or m.group(2) not in labels or labels[m.group(2)] >= i:
            continue
        body = [l.split("//")[0].rstrip() for l in lines[labels[m.group(2)] + 1 : i + 1]]
        body = [l for l in body if l.strip() and not l.strip().startswith(".") and not re.match(r"^\.?L\w+:", l.strip())]
        if not work(body):
            continue
        if best is None or (work(body) > work(best) if widest else len(body) < len(best)):
            best = body
    return best


def whole_function(lines):
    """A straight-line function's instructions (labels, directives and its return left out).
    Refuses a function with a branch: its body would not be what one call runs."""
    body = [l.split("//")[0].rstrip() for l in lines]
    body = [l for l in body if l.strip() and not l.strip().startswith(".") and not re.match(r"^\.?L\w+:", l.strip())
            and l.split()[0] != "ret"]
    branches = [l.strip() for l in body if BRANCH.match(l) or re.match(r"^\s*b\s", l)]
    if branches:
        raise RuntimeError(f"not straight-line code (branches: {branches[:3]})")
    return body


def mca_cycles(body, cpu, mca):
    with tempfile.NamedTemporaryFile("w", suffix=".s") as f:
        f.write("\n".join(body) + "\n")
        f.flush()
        out = subprocess.run([mca, "-mtriple=aarch64", f"-mcpu={cpu}", "-iterations=200", f.name], capture_output=True, text=True)
    m = re.search(r"Total Cycles:\s+(\d+)", out.stdout)
    if not m:
        raise RuntimeError(f"llvm-mca failed for {cpu}: {out.stderr[:400]}")
    return int(m.group(1)) / 200.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--cxx", default="aarch64-linux-gnu-g++")
    ap.add_argument("--mca", default="llvm-mca-16")
    args = ap.parse_args()
    rows = []
    cache = {}
    for label, src, march, frag, kind in KERNELS:
        key = (src, march)
        if key not in cache:
            asm = subprocess.run([args.cxx, "-std=c++20", "-O3", "-ffp-contract=off", *f"-march={march}".split(), "-S", "-o", "-",
                                  f"-I{args.root}/src", f"-I{args.root}/include", f"{args.root}/{src}"],
                                 capture_output=True, text=True, check=True).stdout
            cache[key] = functions(asm)
        names = [n for n in cache[key] if frag in n]
        if not names:
            sys.exit(f"arm_mca: no function matching {frag} in {src}")
        if kind.endswith("-fn"):
            body = whole_function(cache[key][names[0]])
        else:
            body = innermost_work_loop(cache[key][names[0]], widest=kind.endswith("-main"))
        if not body:
            sys.exit(f"arm_mca: no multiply loop found in {names[0]}")
        macs = work(body)
        loads = [l for l in body if LOAD.match(l)]
        # decode: cycles per 256 weights; prefill: per 64x64x256 tile (1,048,576 multiply-adds)
        scale = 256.0 / macs if kind.startswith("decode") else 64 * 64 * 256 / macs
        cells = []
        for cpu, _ in CPUS:
            c = mca_cycles(body, cpu, args.mca)
            lb = mca_cycles(loads, cpu, args.mca) if loads else 0.0
            cells.append((c * scale, lb * scale))
        rows.append((label, kind, len(body), macs, len(loads), cells))
    print("| kernel | unit | loop: instrs / MACs / loads | " + " | ".join(f"{name}: cycles (loads' bound)" for _, name in CPUS) + " |")
    print("|---|---|---|" + "---|" * len(CPUS))
    for label, kind, n, macs, nl, cells in rows:
        unit = "per 256 weights" if kind.startswith("decode") else "per 64x64x256"
        print(f"| {label} | {unit} | {n} / {macs} / {nl} | " + " | ".join(f"{c:,.0f} ({lb:,.0f})" for c, lb in cells) + " |")


if __name__ == "__main__":
    main()
