#!/usr/bin/env python3
"""Benchmark: patch-embedding throughput, RadioPath's CPU encoders vs PyTorch on the same
seeded weights, the same thread count, batch size and number of patches, side by side in
one run. Also FLOPs per patch counted here independently of both (2 x the multiply-adds of
convolutions, linear layers and the two attention matmuls; norms, activations, pooling and
softmax not counted) beside RadioPath's own figure, and RadioPath's GFLOP/s as a share of
the machine's sgemm peak. Numbers are printed and written to bench-out/embed.{md,json}.

usage: bench_embed.py --bin .build/release/radiopath [--threads 2] [--batch-size 32]
                      [--patches 256] [--models resnet50-trunc vit-b16]
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import measure, write_report  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "scripts"))
from embed_weights import VIT_SIZES  # noqa: E402

WEIGHT_ARGS = {"resnet50-trunc": ["--full-resnet"], "vit-b16": [], "vit-s16": [], "vit-l16": []}


def gflop_per_patch(arch):
    """2 x multiply-adds of one 224-px patch, from the architecture's shapes alone."""
    macs = 0
    if arch == "resnet50-trunc":
        side = 112
        macs += 64 * 3 * 7 * 7 * side * side  # stem conv, stride 2
        side //= 2  # max pool
        inplanes = 64
        for width, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2)]:
            for b in range(blocks):
                s = stride if b == 0 else 1
                out = side // s
                macs += width * inplanes * side * side  # 1x1 at the input resolution
                macs += width * width * 9 * out * out  # 3x3 carries the stride
                macs += 4 * width * width * out * out  # 1x1 expand
                if b == 0:
                    macs += 4 * width * inplanes * out * out  # projection shortcut
                inplanes, side = 4 * width, out
    else:
        dim, depth, _ = VIT_SIZES[arch]
        n = 197
        macs += 196 * dim * 3 * 16 * 16  # patch embedding
        per_block = n * dim * 3 * dim + 2 * n * n * dim + n * dim * dim + 2 * n * dim * 4 * dim
        macs += depth * per_block
    return 2 * macs / 1e9


def radiopath_rate(binary, arch, weights, a, unset_coretype=False):
    """RadioPath's `embed bench` JSON plus its peak RSS, or None with the reason printed.
    `unset_coretype` runs it without OPENBLAS_CORETYPE, letting radiopath pick the kernels."""
    cmd = [binary, "embed", "bench", "--encoder", arch, "--weights", weights, "--batch-size", a.batch_size,
           "--patches", a.patches, "--threads", a.threads, "--json"]
    if unset_coretype:
        cmd = ["env", "-u", "OPENBLAS_CORETYPE", *cmd]
    if not Path(binary).exists():
        print(f"note: {binary} not found (make build); RadioPath column left empty", file=sys.stderr)
        return None
    try:
        _, peak, out = measure(cmd)
    except SystemExit as e:
        print(f"note: `radiopath embed bench --encoder {arch}` failed or does not exist yet; RadioPath column "
              f"left empty.\n{str(e).strip()}", file=sys.stderr)
        return None
    line = [ln for ln in out.splitlines() if ln.strip().startswith("{")]
    if not line:
        print(f"note: `radiopath embed bench` printed no JSON object:\n{out}", file=sys.stderr)
        return None
    r = json.loads(line[-1])
    r["peak_mib"] = peak
    return r


def torch_rate(arch, weights, a):
    """PyTorch patches/s (and the layout that gave it) on seeded random patches, warm-up batch
    excluded; for the ResNet the better of the default (NCHW) and channels_last layouts."""
    import torch
    from embed_reference import load_model
    torch.set_num_threads(a.threads)
    model, _ = load_model(weights)
    g = torch.Generator().manual_seed(1234)
    batches, left = [], a.patches
    while left > 0:
        b = min(a.batch_size, left)
        pixels = torch.randint(0, 256, (b, 3, 224, 224), generator=g, dtype=torch.uint8).float() / 255
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        batches.append((pixels - mean) / std)
        left -= b
    layouts = ["default (NCHW)"] + (["channels_last"] if arch == "resnet50-trunc" else [])
    best = (0.0, layouts[0])
    for layout in layouts:
        m, xs = model, batches
        if layout == "channels_last":
            m = model.to(memory_format=torch.channels_last)
            xs = [x.contiguous(memory_format=torch.channels_last) for x in batches]
        with torch.inference_mode():
            m(xs[0])  # warm-up: allocator, weight packing
            t = time.perf_counter()
            for x in xs:
                m(x)
            rate = a.patches / (time.perf_counter() - t)
        print(f"  PyTorch {arch} {layout}: {rate:.2f} patches/s", file=sys.stderr)
        best = max(best, (rate, layout))
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / ".build/release/radiopath"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--patches", type=int, default=256)
    ap.add_argument("--models", nargs="+", default=["resnet50-trunc", "vit-b16"], choices=list(WEIGHT_ARGS))
    ap.add_argument("--out", default=str(ROOT / "bench-out"))
    a = ap.parse_args()
    out = Path(a.out)
    (out / "weights").mkdir(parents=True, exist_ok=True)
    nan = float("nan")
    rows = []
    for arch in a.models:
        weights = out / "weights" / f"{arch}.safetensors"
        subprocess.run([sys.executable, str(ROOT / "scripts/embed_weights.py"), arch, str(weights), "--seed", "0",
                        *WEIGHT_ARGS[arch]], check=True)
        flops = gflop_per_patch(arch)
        pt, layout = torch_rate(arch, weights, a)
        # The environment may pin OpenBLAS's kernels (OPENBLAS_CORETYPE); on an AVX-512 CPU
        # also run without the pin, as radiopath then picks the AVX-512 kernels itself.
        variants = [False] + ([True] if os.environ.get("OPENBLAS_CORETYPE") and _has_avx512() else [])
        for unset in variants:
            rp = radiopath_rate(a.bin, arch, weights, a, unset_coretype=unset) or {}
            rp_rate = rp.get("patches_per_second", nan)
            rows.append(dict(model=arch, blas_core=rp.get("blas_core", "?"), threads=a.threads, batch_size=a.batch_size, patches=a.patches,
                             radiopath=rp_rate, pytorch=pt, pytorch_layout=layout, ratio=rp_rate / pt,
                             gflop_per_patch_radiopath=rp.get("gflop_per_patch", nan), gflop_per_patch_counted=flops,
                             radiopath_gflops=rp.get("achieved_gflops", nan), pytorch_gflops=pt * flops,
                             sgemm_peak_gflops=rp.get("sgemm_peak_gflops", nan),
                             pct_of_peak=100 * rp.get("achieved_gflops", nan) / rp.get("sgemm_peak_gflops", nan),
                             radiopath_peak_mib=rp.get("peak_mib", nan)))
            r = rows[-1]
            said = "did not run" if rp_rate != rp_rate else f"{rp_rate:.2f}/s"
            print(f"{arch}: RadioPath {said}, PyTorch {pt:.2f}/s ({layout}), "
                  f"{flops:.3f} GFLOP/patch counted here vs {r['gflop_per_patch_radiopath']:.3f} RadioPath's", file=sys.stderr)

    md = [f"| model | OpenBLAS kernels | RadioPath patches/s | PyTorch {_torch_version()} patches/s | RadioPath / PyTorch | "
          f"GFLOP/patch (RadioPath / counted here) | RadioPath GFLOP/s | PyTorch GFLOP/s | sgemm peak GFLOP/s | "
          f"RadioPath % of peak | RadioPath peak MiB |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    def f(v, spec, suffix=""):
        return "—" if v != v else format(v, spec) + suffix  # NaN: RadioPath did not run

    for r in rows:
        md.append(f"| {r['model']} | {r['blas_core']} | {f(r['radiopath'], '.2f')} | {r['pytorch']:.2f} ({r['pytorch_layout']}) | "
                  f"{f(r['ratio'], '.2f', 'x')} | {f(r['gflop_per_patch_radiopath'], '.3f')} / {r['gflop_per_patch_counted']:.3f} | "
                  f"{f(r['radiopath_gflops'], '.1f')} | {r['pytorch_gflops']:.1f} | {f(r['sgemm_peak_gflops'], '.1f')} | "
                  f"{f(r['pct_of_peak'], '.0f', ' %')} | {f(r['radiopath_peak_mib'], '.0f')} |")
    md.append("")
    md.append(f"{a.threads} threads, batch {a.batch_size}, {a.patches} patches of 224 px per model; seeded weights "
              f"from scripts/embed_weights.py (same file for both); PyTorch timed after one warm-up batch.")
    pipe = pipeline_memory(a.bin, out) if Path(a.bin).exists() else []
    if pipe:
        md += ["", "| `radiopath embed` (pathomic-v1, tiling included) | patches | seconds | patches/s | peak MiB |",
               "|---|---:|---:|---:|---:|"]
        md += [f"| {p['slide']} | {p['patches']} | {p['seconds']:.1f} | {p['patches_per_second']:.0f} | {p['peak_mib']:.0f} |"
               for p in pipe]
    clean = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in rows]  # NaN -> null
    write_report(out, "embed", md, {"encoders": clean, "pipeline": pipe})


def pipeline_memory(binary, out):
    """`radiopath embed` end to end (tile at the contract, read, encode, write) with the
    built-in pathomic-v1 on a small and a 16x larger synthetic 0.5 um/px slide: patches/s and
    peak memory, which must not grow with the slide."""
    rows = []
    for w, h in [(10000, 8000), (40000, 32000)]:
        slide = out / "slides" / f"synthetic-{w}x{h}-05mpp.tiff"
        if not slide.exists():
            subprocess.run([binary, "synth", "slide", "--width", str(w), "--height", str(h), "--mpp", "0.5",
                            "--magnification", "20", "--seed", "11", "--no-nuclei-truth", "--out", str(slide),
                            "--truth", str(out / "slides" / f"synthetic-{w}x{h}-05mpp.truth")], check=True)
        dest = out / "embed-pipeline"
        seconds, peak, _ = measure([binary, "embed", slide, "--out", dest, "--force"])
        run = json.loads((dest / "features_pathomic-v1" / "embed_run.json").read_text())
        patches = sum(s["patches"] for s in run["slides"])
        rows.append(dict(slide=f"{w}x{h} @ 0.5 um/px", patches=patches, seconds=seconds,
                         patches_per_second=patches / seconds, peak_mib=peak))
        print(f"  embed pipeline {w}x{h}: {patches} patches in {seconds:.1f} s, peak {peak:.0f} MiB", file=sys.stderr)
    return rows


def _has_avx512():
    flags = next((ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")), "").split()
    return all(f in flags for f in ("avx512f", "avx512bw", "avx512dq", "avx512vl"))


def _torch_version():
    import torch
    return torch.__version__


if __name__ == "__main__":
    main()
