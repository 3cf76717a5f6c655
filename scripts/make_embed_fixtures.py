#!/usr/bin/env python3
"""Writes the PyTorch reference features that RadioPath's encoder tests compare against:
one JSON per case in Tests/EmbedderTests/Fixtures/. Each case generates its seeded weights
with scripts/embed_weights.py, loads them strictly into the plain-torch reference model
(scripts/embed_reference.py), and encodes six real 224-px level-0 patches (four from
CMU-1-Small-Region.svs, two from kidney-48-5.tif) in float32.

Before anything is written the reference is checked against a second, independent forward
pass in float64 numpy (im2col convolutions, written-out BN/LN/attention/GELU) and, for ViTs,
against torch's fused scaled_dot_product_attention; the agreement is recorded in the fixture.

usage: make_embed_fixtures.py [--testdata ../shared/testdata] [--out Tests/EmbedderTests/Fixtures]
                              [--only CASE ...]
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import openslide
import torch
from PIL import Image
from scipy.special import erf

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from embed_reference import Attention, load_model  # noqa: E402
from embed_weights import VIT_SIZES  # noqa: E402

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
THREADS = 2

# (case, architecture, embed_weights args after OUT, note)
CASES = [
    ("resnet50-trunc", "resnet50-trunc", ["--seed", "0", "--full-resnet"],
     "torchvision ResNet-50 file (layer4 and fc present, unused); features after layer3 + global average pool"),
    ("vit-s16-avg", "vit-s16", ["--seed", "1", "--pool", "avg", "--head"],
     "timm global_pool='avg': mean of the 196 patch tokens (class token excluded), then fc_norm; head present, unused"),
    ("vit-b16", "vit-b16", ["--seed", "2"],
     "timm global_pool='token': final norm, class-token row"),
    ("vit-l16-depth2-layerscale", "vit-l16", ["--seed", "3", "--depth", "2", "--layerscale"],
     "ViT-L/16 at its real width (1024) and heads (16) but only 2 of its 24 blocks (full weights are 1.2 GB), "
     "with LayerScale ls1/ls2.gamma as in UNI; class-token output"),
]

CMU = "slides/CMU-1-Small-Region.svs"
KIDNEY = "slides/kidney-48-5.tif"
# Tissue-rich level-0 windows (tissue fraction 0.87-1.0 on CMU: keratinised epidermis, squamous
# epithelium, dermal collagen, inflamed stroma). kidney-48-5.tif holds one ~170x60-px tissue
# fragment on glass, so its two windows (different offsets) are necessarily mostly glass.
PATCHES = [(CMU, 1200, 928), (CMU, 1088, 1776), (CMU, 800, 2300), (CMU, 1000, 800),
           (KIDNEY, 258, 423), (KIDNEY, 300, 460)]
SIZE = 224


def read_patches(testdata):
    """RGB uint8 [N, 224, 224, 3] and the patch records. CMU through OpenSlide (RGBA, opaque);
    kidney-48-5.tif through Pillow, because OpenSlide refuses plain stripped TIFFs (it is
    uncompressed, so every decoder yields the same bytes; RadioPath reads it with libtiff)."""
    images, records = [], []
    for rel, x, y in PATCHES:
        path = Path(testdata) / rel
        if rel.endswith(".svs"):
            rgba = np.asarray(openslide.OpenSlide(str(path)).read_region((x, y), 0, (SIZE, SIZE)))
            assert (rgba[..., 3] == 255).all(), f"{rel} ({x},{y}) is not opaque"
            rgb, reader = rgba[..., :3], "openslide"
        else:
            whole = np.asarray(Image.open(path).convert("RGB"))
            rgb, reader = whole[y:y + SIZE, x:x + SIZE], "pillow (OpenSlide cannot open this plain TIFF)"
        assert rgb.shape == (SIZE, SIZE, 3)
        rgb = np.ascontiguousarray(rgb)
        images.append(rgb)
        records.append({"slide": rel, "level": 0, "x": x, "y": y, "size": SIZE, "reader": reader,
                        "rgb_sha256": hashlib.sha256(rgb.tobytes()).hexdigest()})
    return np.stack(images), records


def normalise(rgb):
    """float32 NCHW: (pixel / 255 - mean) / std, each step in float32 as torchvision does."""
    x = rgb.astype(np.float32) / np.float32(255)
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


# ---------------------------------------------------------------- float64 numpy forward

def np_conv(x, w, stride=1, pad=0, bias=None):
    """Cross-correlation as torch.nn.Conv2d, by im2col + BLAS: x [B,C,H,W], w [O,C,kh,kw]."""
    O, C, kh, kw = w.shape
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # [B, Ho, Wo, O]
    if bias is not None:
        out = out + bias
    return out.transpose(0, 3, 1, 2)


def np_bn(x, t, p, eps=1e-5):
    scale = t[p + ".weight"] / np.sqrt(t[p + ".running_var"] + eps)
    return x * scale[:, None, None] + (t[p + ".bias"] - t[p + ".running_mean"] * scale)[:, None, None]


def np_resnet(x, t):
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    x = relu(np_bn(np_conv(x, t["conv1.weight"], 2, 3), t, "bn1"))
    x = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    x = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))[:, :, ::2, ::2].max(axis=(4, 5))
    for li, (blocks, stride) in enumerate([(3, 1), (4, 2), (6, 2)], start=1):
        for b in range(blocks):
            p, s = f"layer{li}.{b}", (stride if b == 0 else 1)
            out = relu(np_bn(np_conv(x, t[p + ".conv1.weight"]), t, p + ".bn1"))
            out = relu(np_bn(np_conv(out, t[p + ".conv2.weight"], s, 1), t, p + ".bn2"))
            out = np_bn(np_conv(out, t[p + ".conv3.weight"]), t, p + ".bn3")
            short = np_bn(np_conv(x, t[p + ".downsample.0.weight"], s), t, p + ".downsample.1") if b == 0 else x
            x = relu(out + short)
    return x.mean(axis=(2, 3))


def np_ln(x, t, p, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * t[p + ".weight"] + t[p + ".bias"]


def np_vit(x, t, arch, depth, pool, layerscale):
    dim, _, heads = VIT_SIZES[arch]
    hd = dim // heads
    lin = lambda v, p: v @ t[p + ".weight"].T + t[p + ".bias"]  # noqa: E731
    B = x.shape[0]
    tok = np_conv(x, t["patch_embed.proj.weight"], 16, bias=t["patch_embed.proj.bias"]).reshape(B, dim, 196)
    x = np.concatenate([np.broadcast_to(t["cls_token"], (B, 1, dim)), tok.transpose(0, 2, 1)], 1) + t["pos_embed"]
    for i in range(depth):
        p = f"blocks.{i}"
        qkv = lin(np_ln(x, t, p + ".norm1"), p + ".attn.qkv")  # [B, N, 3D]
        q, k, v = (qkv[..., j * dim:(j + 1) * dim].reshape(B, 197, heads, hd).transpose(0, 2, 1, 3) for j in range(3))
        logits = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd)
        w = np.exp(logits - logits.max(-1, keepdims=True))
        a = (w / w.sum(-1, keepdims=True)) @ v  # [B, heads, N, hd]
        y = lin(a.transpose(0, 2, 1, 3).reshape(B, 197, dim), p + ".attn.proj")
        x = x + (y * t[p + ".ls1.gamma"] if layerscale else y)
        h = lin(np_ln(x, t, p + ".norm2"), p + ".mlp.fc1")
        y = lin(0.5 * h * (1 + erf(h / np.sqrt(2))), p + ".mlp.fc2")
        x = x + (y * t[p + ".ls2.gamma"] if layerscale else y)
    if pool == "avg":
        return np_ln(x[:, 1:].mean(1), t, "fc_norm")
    return np_ln(x[:, 0], t, "norm")


# ---------------------------------------------------------------- cases

def to_json(doc, feats):
    """The fixture text: top-level keys one per line, each value (and each patch, each feature
    row) on one line; features as float32 with 9 significant digits, which round-trip exactly."""
    def one(v):
        return json.dumps(v, separators=(", ", ": "))
    lines = []
    for k, v in doc.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            lines.append(f' "{k}": [\n  ' + ",\n  ".join(one(e) for e in v) + "\n ]")
        else:
            lines.append(f' "{k}": {one(v)}')
    rows = ",\n  ".join("[" + ", ".join("%.9g" % x for x in row) + "]" for row in feats)
    lines.append(' "features": [\n  ' + rows + "\n ]")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def run_case(case, arch, args, note, x, records, out_dir, work):
    weights = Path(work) / f"{case}.safetensors"
    subprocess.run([sys.executable, str(HERE / "embed_weights.py"), arch, str(weights), *args], check=True)
    model, tensors = load_model(weights)
    meta_keys = {"resnet50-trunc": 320}  # torchvision resnet50 state_dict size, buffers included
    if arch in meta_keys:
        assert len(model.state_dict()) == meta_keys[arch], len(model.state_dict())
    t64 = {k: v.astype(np.float64) for k, v in tensors.items() if v.dtype.kind == "f"}
    with torch.inference_mode():
        feats = model(torch.from_numpy(x)).numpy()
        check = {}
        if arch != "resnet50-trunc":
            Attention.use_sdpa = True
            fused = model(torch.from_numpy(x)).numpy()
            Attention.use_sdpa = False
            check["max_abs_diff_vs_torch_sdpa"] = float(np.abs(fused - feats).max())
    if arch == "resnet50-trunc":
        ref = np_resnet(x.astype(np.float64), t64)
        config = {"feature_dim": 1024, "layers": [3, 4, 6], "stride_on": "conv2 (v1.5)", "bn_eps": 1e-5,
                  "pool": "global average of layer3 output", "full_resnet_file": True}
    else:
        dim, full_depth, heads = VIT_SIZES[arch]
        depth = model.blocks.__len__()
        pool = model.pool
        layerscale = "--layerscale" in args
        ref = np_vit(x.astype(np.float64), t64, arch, depth, pool, layerscale)
        config = {"feature_dim": dim, "dim": dim, "depth": depth, "full_depth": full_depth, "heads": heads,
                  "head_dim": dim // heads, "patch": 16, "img_size": 224, "class_token": True, "pool": pool,
                  "final_norm": "fc_norm" if pool == "avg" else "norm", "layerscale": layerscale,
                  "head_in_file": "--head" in args, "ln_eps": 1e-6, "gelu": "exact (erf)"}
    diff = np.abs(feats.astype(np.float64) - ref)
    check["max_abs_diff_vs_float64_numpy"] = float(diff.max())
    check["rms_of_features"] = float(np.sqrt((ref ** 2).mean()))
    scale = float(np.abs(ref).max())
    assert diff.max() < 1e-4 * max(1.0, scale), f"{case}: torch reference disagrees with numpy float64 by {diff.max()}"
    if "max_abs_diff_vs_torch_sdpa" in check:
        assert check["max_abs_diff_vs_torch_sdpa"] < 1e-4, f"{case}: written-out attention disagrees with SDPA"
    norms = np.linalg.norm(feats, axis=1)
    check["feature_norms"] = [round(float(n), 4) for n in norms]
    check["feature_max_abs"] = float(np.abs(feats).max())
    # how far apart two patches' features are: a mix-up of patches, channels or tokens shows
    # up far above any rounding difference
    pair = np.linalg.norm(feats[:, None] - feats[None], axis=2)[np.triu_indices(len(feats), 1)]
    check["min_pairwise_feature_distance"] = round(float(pair.min()), 4)
    config["note"] = note

    doc = {"case": case, "architecture": arch, "config": config,
           "weights": {"script": "scripts/embed_weights.py", "arch": arch, "args": args,
                       "command": f"python scripts/embed_weights.py {arch} OUT.safetensors {' '.join(args)}",
                       "bytes": weights.stat().st_size, "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()},
           "patches": records, "mean": MEAN, "std": STD,
           "input": "float32 NCHW, (pixel / 255 - mean) / std per RGB channel",
           "torch": torch.__version__, "threads": THREADS, "dtype": "float32", "reference_check": check}
    text = to_json(doc, feats.astype(np.float32))
    json.loads(text)  # well-formed
    path = out_dir / f"{case}.json"
    path.write_text(text)
    print(f"{case}: {path.stat().st_size / 1024:.0f} KB, feature norms {check['feature_norms']}, "
          f"max |f| {check['feature_max_abs']:.2f}, closest pair {check['min_pairwise_feature_distance']}, "
          f"vs float64 numpy {check['max_abs_diff_vs_float64_numpy']:.2e}"
          + (f", vs SDPA {check['max_abs_diff_vs_torch_sdpa']:.2e}" if "max_abs_diff_vs_torch_sdpa" in check else ""))
    weights.unlink()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdata", default=os.environ.get("RADIOPATH_TESTDATA", str(ROOT.parent / "shared/testdata")))
    ap.add_argument("--out", default=str(ROOT / "Tests/EmbedderTests/Fixtures"))
    ap.add_argument("--only", nargs="*", help="case names to (re)write")
    a = ap.parse_args()
    torch.set_num_threads(THREADS)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rgb, records = read_patches(a.testdata)
    x = normalise(rgb)
    with tempfile.TemporaryDirectory() as work:
        for case, arch, args, note in CASES:
            if a.only and case not in a.only:
                continue
            run_case(case, arch, args, note, x, records, out, work)


if __name__ == "__main__":
    main()
