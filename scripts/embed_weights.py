#!/usr/bin/env python3
"""Seeded, deterministic weights for RadioPath's patch encoders, written as safetensors with
the tensor names of the real checkpoints (torchvision ResNet-50, timm VisionTransformer), so
the Swift loader and the PyTorch reference read the same file. numpy only: CI has no torch and
no safetensors package, so the writer and reader of the format live here.

usage: embed_weights.py ARCH OUT.safetensors [--seed N] [--depth D] [--layerscale]
                        [--pool token|avg] [--head] [--dtype F32|F16|BF16] [--full-resnet]
ARCH: resnet50-trunc, vit-s16, vit-b16, vit-l16

Every tensor draws from its own generator, np.random.default_rng([seed, crc32(name)]), so a
tensor's values depend only on the seed and its name (not on which other tensors exist):
the 2-block ViT-L holds exactly the first two blocks of the full one. Values are
centre + half_width * (2 * rng.random(shape) - 1) in float64, rounded once to the file dtype.
Weight matrices use half_width = gain * sqrt(3 / fan_in) (variance gain² / fan_in); the gains
below keep activations O(1) through the full depth on ImageNet-normalised patches, with the
BatchNorm statistics of a trained net deliberately NOT matching the activations (eval-mode BN
is a fixed affine map here, as in a real checkpoint).
"""
import argparse
import json
import os
import struct
import zlib

import numpy as np

VIT_SIZES = {"vit-s16": (384, 12, 6), "vit-b16": (768, 12, 12), "vit-l16": (1024, 24, 16)}
RESNET_LAYERS = [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]  # (width, blocks, stride)
ARCHS = ["resnet50-trunc", *VIT_SIZES]

# Gains of the weight matrices, by role (see the module note). ResNet: ReLU-followed convs use
# He's sqrt(2); the last conv of a bottleneck branch is damped so 13-16 residual additions that
# eval-mode BN does not renormalise cannot compound. ViT (pre-norm: every branch reads a
# LayerNorm'd stream, so only the residual sum grows): qkv a little above 1 so attention is
# neither uniform nor one-hot.
GAIN = {"stem": 2 ** 0.5, "conv1": 2 ** 0.5, "conv2": 2 ** 0.5, "conv3": 0.35, "downsample": 1.0, "fc": 1.0,
        "patch": 1.0, "qkv": 1.5, "proj": 0.7, "fc1": 2 ** 0.5, "fc2": 0.7, "head": 1.0}


# ---------------------------------------------------------------- tensor specs

def resnet_specs(full):
    """(name, shape, kind) of a torchvision resnet50 state_dict, in its own order; layer4 and fc
    only when `full` (the trunc model stops after layer3)."""
    out = []

    def bn(prefix, c):
        out.extend([(f"{prefix}.weight", (c,), "bn_weight"), (f"{prefix}.bias", (c,), "bn_bias"),
                    (f"{prefix}.running_mean", (c,), "bn_mean"), (f"{prefix}.running_var", (c,), "bn_var"),
                    (f"{prefix}.num_batches_tracked", (), "bn_count")])

    out.append(("conv1.weight", (64, 3, 7, 7), "w:stem"))
    bn("bn1", 64)
    inplanes = 64
    for li, (width, blocks, _stride) in enumerate(RESNET_LAYERS if full else RESNET_LAYERS[:3], start=1):
        for b in range(blocks):
            p = f"layer{li}.{b}"
            out.append((f"{p}.conv1.weight", (width, inplanes, 1, 1), "w:conv1"))
            bn(f"{p}.bn1", width)
            out.append((f"{p}.conv2.weight", (width, width, 3, 3), "w:conv2"))
            bn(f"{p}.bn2", width)
            out.append((f"{p}.conv3.weight", (width * 4, width, 1, 1), "w:conv3"))
            bn(f"{p}.bn3", width * 4)
            if b == 0:
                out.append((f"{p}.downsample.0.weight", (width * 4, inplanes, 1, 1), "w:downsample"))
                bn(f"{p}.downsample.1", width * 4)
            inplanes = width * 4
    if full:
        out.extend([("fc.weight", (1000, 2048), "w:fc"), ("fc.bias", (1000,), "bias")])
    return out


def vit_specs(dim, depth, layerscale, pool, head):
    """(name, shape, kind) of a timm VisionTransformer (patch 16, 224 px, class token)."""
    out = [("cls_token", (1, 1, dim), "embed"), ("pos_embed", (1, 197, dim), "embed"),
           ("patch_embed.proj.weight", (dim, 3, 16, 16), "w:patch"), ("patch_embed.proj.bias", (dim,), "bias")]
    for i in range(depth):
        p = f"blocks.{i}"
        out += [(f"{p}.norm1.weight", (dim,), "ln_weight"), (f"{p}.norm1.bias", (dim,), "ln_bias"),
                (f"{p}.attn.qkv.weight", (3 * dim, dim), "w:qkv"), (f"{p}.attn.qkv.bias", (3 * dim,), "bias"),
                (f"{p}.attn.proj.weight", (dim, dim), "w:proj"), (f"{p}.attn.proj.bias", (dim,), "bias")]
        if layerscale:
            out.append((f"{p}.ls1.gamma", (dim,), "ls"))
        out += [(f"{p}.norm2.weight", (dim,), "ln_weight"), (f"{p}.norm2.bias", (dim,), "ln_bias"),
                (f"{p}.mlp.fc1.weight", (4 * dim, dim), "w:fc1"), (f"{p}.mlp.fc1.bias", (4 * dim,), "bias"),
                (f"{p}.mlp.fc2.weight", (dim, 4 * dim), "w:fc2"), (f"{p}.mlp.fc2.bias", (dim,), "bias")]
        if layerscale:
            out.append((f"{p}.ls2.gamma", (dim,), "ls"))
    norm = "fc_norm" if pool == "avg" else "norm"
    out += [(f"{norm}.weight", (dim,), "ln_weight"), (f"{norm}.bias", (dim,), "ln_bias")]
    if head:
        out += [("head.weight", (1000, dim), "w:head"), ("head.bias", (1000,), "bias")]
    return out


# (centre, half width) of the uniform draw per kind of tensor
RANGES = {"bn_weight": (1.0, 0.1), "bn_bias": (0.0, 0.1), "bn_mean": (0.0, 0.1), "bn_var": (1.0, 0.25),
          "ln_weight": (1.0, 0.1), "ln_bias": (0.0, 0.05), "bias": (0.0, 0.05), "embed": (0.0, 0.5),
          "ls": (0.75, 0.25)}


def draw(name, shape, kind, seed):
    """The float64 values of one tensor (see the module note)."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    u = 2.0 * rng.random(shape) - 1.0
    if kind in RANGES:
        centre, half = RANGES[kind]
        return centre + half * u
    fan_in = int(np.prod(shape[1:]))  # conv [out, in, kh, kw] and linear [out, in] alike
    return GAIN[kind[2:]] * np.sqrt(3.0 / fan_in) * u


# ---------------------------------------------------------------- safetensors

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U8": "u1", "BOOL": "?", "BF16": "<u2"}


def to_bf16_bits(a):
    """float32 → bfloat16 bit patterns (uint16), rounding to nearest even; NaN stays NaN."""
    bits = np.ascontiguousarray(a, dtype="<f4").view("<u4")
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")
    nan = np.isnan(a)
    if nan.any():
        rounded[nan] = 0x7FC0
    return rounded


def from_bf16_bits(u16):
    return (np.asarray(u16, dtype="<u4") << 16).view("<f4")


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: (dtype, ndarray)} as safetensors: u64 little-endian header length, JSON
    header (dtype, shape, data_offsets; `__metadata__` of strings) padded with spaces to a
    multiple of 8, then the tensors back to back. Tensors are laid out by decreasing element
    size, then name (as the safetensors library does), so every tensor is naturally aligned.
    For BF16 the array holds the uint16 bit patterns."""
    order = sorted(tensors, key=lambda n: (-np.dtype(_DTYPES[tensors[n][0]]).itemsize, n))
    header, offset, blobs = {}, 0, []
    for name in order:
        dtype, arr = tensors[name]
        data = np.ascontiguousarray(arr, dtype=_DTYPES[dtype])
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + data.nbytes]}
        offset += data.nbytes
        blobs.append(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            data.tofile(f) if data.nbytes else None


def read_safetensors(path, float32=False):
    """Reads a safetensors file → (dict name → ndarray, metadata dict). BF16 tensors come back
    as float32; with float32=True, F16 ones too. Checks the header against the file size."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: too short for a safetensors file")
        (n,) = struct.unpack("<Q", raw)
        header = json.loads(f.read(n))
        buf = bytearray(os.fstat(f.fileno()).st_size - 8 - n)  # one copy, writable (torch.from_numpy)
        f.readinto(buf)
    metadata = header.pop("__metadata__", {}) or {}
    out, end = {}, 0
    for name, info in header.items():
        lo, hi = info["data_offsets"]
        if hi > len(buf) or lo > hi:
            raise ValueError(f"{path}: tensor {name} lies outside the file ({lo}..{hi} of {len(buf)} bytes)")
        a = np.frombuffer(buf, dtype=_DTYPES[info["dtype"]], count=(hi - lo) // np.dtype(_DTYPES[info["dtype"]]).itemsize,
                          offset=lo).reshape(info["shape"])
        if info["dtype"] == "BF16":
            a = from_bf16_bits(a)
        elif float32 and info["dtype"] == "F16":
            a = a.astype(np.float32)
        out[name] = a
        end = max(end, hi)
    if end != len(buf):
        raise ValueError(f"{path}: {len(buf) - end} bytes after the last tensor")
    return out, metadata


# ---------------------------------------------------------------- CLI

def build(arch, seed=0, depth=None, layerscale=False, pool="token", head=False, dtype="F32", full_resnet=False):
    """(tensors for write_safetensors, config dict)."""
    if arch == "resnet50-trunc":
        if depth is not None or layerscale or pool != "token" or head:
            raise SystemExit("embed_weights: --depth, --layerscale, --pool and --head are ViT options")
        specs = resnet_specs(full_resnet)
        config = {"arch": arch, "feature_dim": 1024, "full_resnet": full_resnet}
    else:
        if full_resnet:
            raise SystemExit("embed_weights: --full-resnet is a resnet50-trunc option")
        dim, full_depth, heads = VIT_SIZES[arch]
        depth = full_depth if depth is None else depth
        if depth < 1:
            raise SystemExit("embed_weights: --depth must be at least 1")
        specs = vit_specs(dim, depth, layerscale, pool, head)
        config = {"arch": arch, "dim": dim, "depth": depth, "full_depth": full_depth, "heads": heads,
                  "patch": 16, "img_size": 224, "pool": pool, "layerscale": layerscale, "head": head}
    tensors = {}
    for name, shape, kind in specs:
        if kind == "bn_count":
            tensors[name] = ("I64", np.zeros((), dtype=np.int64))
            continue
        v = draw(name, shape, kind, seed).astype(np.float32)
        if dtype == "BF16":
            tensors[name] = ("BF16", to_bf16_bits(v))
        else:
            tensors[name] = (dtype, v)
    config.update(seed=seed, dtype=dtype)
    return tensors, config


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("arch", choices=ARCHS)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--depth", type=int, help="ViT blocks (default: the model's own depth)")
    ap.add_argument("--layerscale", action="store_true", help="ViT: add ls1/ls2.gamma (as UNI)")
    ap.add_argument("--pool", choices=["token", "avg"], default="token",
                    help="ViT: class token + norm, or patch-token mean + fc_norm")
    ap.add_argument("--head", action="store_true", help="ViT: add a 1000-class head (unused by embedding)")
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    ap.add_argument("--full-resnet", action="store_true", help="resnet50-trunc: add layer4 and fc like torchvision's file")
    a = ap.parse_args(argv)
    tensors, config = build(a.arch, a.seed, a.depth, a.layerscale, a.pool, a.head, a.dtype, a.full_resnet)
    metadata = {"format": "pt", "generator": "scripts/embed_weights.py",
                **{k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}}
    write_safetensors(a.out, tensors, metadata)


if __name__ == "__main__":
    main()
