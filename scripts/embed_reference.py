"""PyTorch reference encoders for RadioPath's embedding tests and benchmark, written in plain
torch (torchvision and timm are not installable here) with module names chosen so that
state_dict() keys are exactly those of torchvision's resnet50 and timm's VisionTransformer;
weights load with load_state_dict(strict=True), so a missing, extra or misshapen tensor fails.

  resnet50-trunc  torchvision ResNet-50 (v1.5) through layer3, global average pool -> 1024-d
                  (CLAM's default encoder); layer4/fc exist when the file has them, unused.
  vit-*16         timm VisionTransformer, patch 16, 224 px, class token, pre-norm blocks,
                  optional LayerScale; pool 'token' (norm, CLS row) or 'avg' (mean of patch
                  tokens, fc_norm); optional head, unused.
"""
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_weights import VIT_SIZES, read_safetensors  # noqa: E402

BN_EPS = 1e-5
LN_EPS = 1e-6


class Bottleneck(nn.Module):
    """torchvision Bottleneck: 1x1 -> 3x3 (carries the stride, v1.5) -> 1x1 (x4), + shortcut."""

    def __init__(self, inplanes, width, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, eps=BN_EPS)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width, eps=BN_EPS)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4, eps=BN_EPS)
        self.downsample = None
        if downsample:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, width * 4, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(width * 4, eps=BN_EPS))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet50Trunc(nn.Module):
    LAYERS = [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]  # (width, blocks, stride)

    def __init__(self, full=False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=BN_EPS)
        inplanes = 64
        for i, (width, blocks, stride) in enumerate(self.LAYERS if full else self.LAYERS[:3], start=1):
            layer = []
            for b in range(blocks):
                layer.append(Bottleneck(inplanes, width, stride if b == 0 else 1, downsample=b == 0))
                inplanes = width * 4
            setattr(self, f"layer{i}", nn.Sequential(*layer))
        if full:
            self.fc = nn.Linear(2048, 1000)  # loaded, never used: the trunc model stops at layer3

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, stride=2, padding=1)
        x = self.layer3(self.layer2(self.layer1(x)))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class PatchEmbed(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, 16, stride=16)

    def forward(self, x):  # [B, 3, 224, 224] -> [B, 196, D], patches row-major (y, then x)
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """timm Attention, softmax written out: qkv rows are [q; k; v], each head-major."""

    use_sdpa = False  # the fixture script flips it to cross-check the written-out path

    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # [B, heads, N, hd]
        if self.use_sdpa:
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
            x = attn @ v
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="none"))  # exact erf GELU, as nn.GELU()


class LayerScale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Block(nn.Module):
    def __init__(self, dim, heads, layerscale):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim) if layerscale else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim)
        self.ls2 = LayerScale(dim) if layerscale else nn.Identity()

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    def __init__(self, dim, depth, heads, pool="token", layerscale=False, head=False):
        super().__init__()
        self.pool = pool
        self.patch_embed = PatchEmbed(dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 197, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, layerscale) for _ in range(depth)])
        if pool == "avg":
            self.fc_norm = nn.LayerNorm(dim, eps=LN_EPS)
        else:
            self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        if head:
            self.head = nn.Linear(dim, 1000)  # loaded, never used: features are pre-logits

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.blocks(x)
        if self.pool == "avg":
            return self.fc_norm(x[:, 1:].mean(dim=1))
        return self.norm(x)[:, 0]


def model_for(config):
    """An un-loaded reference model for an embed_weights config dict (see build())."""
    if config["arch"] == "resnet50-trunc":
        return ResNet50Trunc(full=config.get("full_resnet", False))
    dim, _, heads = VIT_SIZES[config["arch"]]
    return VisionTransformer(dim, config["depth"], heads, config["pool"], config["layerscale"], config["head"])


def load_model(path):
    """The reference model for a weights file made by embed_weights.py (its metadata names the
    architecture), weights loaded strictly as float32, in eval mode."""
    tensors, meta = read_safetensors(path, float32=True)
    config = {"arch": meta["arch"], "full_resnet": meta.get("full_resnet") == "true",
              "depth": int(meta.get("depth", 0)), "pool": meta.get("pool", "token"),
              "layerscale": meta.get("layerscale") == "true", "head": meta.get("head") == "true"}
    model = model_for(config)
    state = {k: torch.from_numpy(v) if v.dtype.kind == "i" else torch.from_numpy(v.astype("float32", copy=False))
             for k, v in tensors.items()}
    model.load_state_dict(state, strict=True)
    return model.float().eval(), tensors
