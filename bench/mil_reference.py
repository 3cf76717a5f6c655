#!/usr/bin/env python3
"""PyTorch reference trainer for the MIL benchmark: ABMIL (gated attention) and CLAM-SB,
trained as CLAM trains them (one bag per step, Adam, CE bag loss, CE instance loss on the
top/bottom-k attended patches of the in-class classifier, total 0.7·bag + 0.3·instance),
written from CLAM's documented behaviour. Independent of the Swift code; it only shares
RadioPath's published recipe for initial weights and bag order (SplitMix64 streams, see
`init_radiopath` and `epoch_order`), so both sides can start from the same weights and see
the bags in the same order. Dropout masks come from torch and differ.

    from mil_reference import train
    r = train(bags, labels, test_bags, test_labels, kind="clam_sb", epochs=20, threads=2)
    r["epoch_seconds"], r["test_auc"]

`bags` is any sequence of N×D float32 arrays (indexing may load from disk lazily).
Run directly for a quick self-check on random bags.
"""
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SIZES = {"small": (512, 256), "big": (512, 384)}
MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


class GatedAttention(nn.Module):
    """tanh branch ⊙ sigmoid branch → one score per patch (CLAM's Attn_Net_Gated layout)."""

    def __init__(self, hidden, attention, dropout):
        super().__init__()
        self.attention_a = nn.Sequential(nn.Linear(hidden, attention), nn.Tanh(), nn.Dropout(dropout))
        self.attention_b = nn.Sequential(nn.Linear(hidden, attention), nn.Sigmoid(), nn.Dropout(dropout))
        self.attention_c = nn.Linear(attention, 1)

    def forward(self, h):
        return self.attention_c(self.attention_a(h) * self.attention_b(h))


class AttentionMIL(nn.Module):
    """state_dict names as CLAM_SB with gate=True and dropout on; ABMIL has no instance
    classifiers."""

    def __init__(self, kind, dim, n_classes, size="small", dropout=0.25, k_sample=8):
        super().__init__()
        hidden, attention = SIZES[size]
        self.attention_net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                                           GatedAttention(hidden, attention, dropout))
        self.classifiers = nn.Linear(hidden, n_classes)
        self.clam = kind == "clam_sb"
        if self.clam:
            self.instance_classifiers = nn.ModuleList([nn.Linear(hidden, 2) for _ in range(n_classes)])
        self.k_sample = k_sample

    def forward(self, x):
        h = self.attention_net[:3](x)
        raw = self.attention_net[3](h)[:, 0]
        att = F.softmax(raw, dim=0)
        return self.classifiers(att @ h)[None], raw, att, h

    def loss(self, x, y, bag_weight=0.7):
        logits, raw, att, h = self(x)
        bag = F.cross_entropy(logits, torch.tensor([y]))
        if not self.clam:
            return bag, bag
        k = min(self.k_sample, x.shape[0])          # CLAM's topk would fail below k_sample
        top = torch.topk(att, k).indices
        bottom = torch.topk(-att, k).indices
        z = self.instance_classifiers[y](torch.cat([h[top], h[bottom]]))
        inst = F.cross_entropy(z, torch.cat([torch.ones(k), torch.zeros(k)]).long())
        return bag_weight * bag + (1 - bag_weight) * inst, bag


def _mix(z):
    """SplitMix64's output function on Python ints or uint64 arrays."""
    if isinstance(z, int):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _stream_key(seed, tag, index=0):
    return _mix((_mix(seed ^ tag) + index) & MASK64)


def _draws(key, start, count):
    """Outputs start..start+count-1 of the SplitMix64 stream with this key."""
    i = np.arange(start + 1, start + count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _mix(np.uint64(key) + i * np.uint64(GAMMA))


def init_radiopath(model, seed):
    """RadioPath's initial weights, value for value: Xavier-normal weights (Box–Muller,
    cosine branch, two draws each from stream (seed, tag 1)) in state_dict order, zero biases."""
    key, used = _stream_key(seed, 1), 0
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if p.dim() != 2:
                p.zero_()
                continue
            d = _draws(key, used, 2 * p.numel())
            used += 2 * p.numel()
            u1 = ((d[0::2] >> np.uint64(11)) + np.uint64(1)).astype(np.float64) * 2.0 ** -53
            u2 = (d[1::2] >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
            z = np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)
            std = math.sqrt(2.0 / (p.shape[0] + p.shape[1]))
            p.copy_(torch.from_numpy((z * std).astype(np.float32).reshape(p.shape)))


def init_xavier(model, seed):
    """CLAM's initialize_weights with torch's RNG: xavier_normal_ weights, zero biases."""
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_normal_(m.weight)
            m.bias.data.zero_()


def epoch_order(seed, epoch, n):
    """RadioPath's bag order for an epoch: Fisher–Yates on stream (seed, tag 2, epoch)."""
    key = _stream_key(seed, 2, epoch)
    order, state = list(range(n)), key
    for i in range(n - 1, 0, -1):
        state = (state + GAMMA) & MASK64
        j = _mix(state) % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def auc(scores, positive):
    """Mann–Whitney AUC, ties counted half; None when one class is absent."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    pos, neg = positive.sum(), (~positive).sum()
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def mean_auc(labels, probs, n_classes):
    """Binary: AUC of p(class 1); else the mean one-vs-rest AUC over the classes present."""
    labels, probs = np.asarray(labels), np.asarray(probs)
    if n_classes == 2:
        return auc(probs[:, 1], labels == 1)
    aucs = [a for c in range(n_classes) if (a := auc(probs[:, c], labels == c)) is not None]
    return float(np.mean(aucs)) if aucs else None


def predict(model, bags):
    model.eval()
    with torch.inference_mode():
        return np.stack([F.softmax(model(torch.as_tensor(np.asarray(b, dtype=np.float32)))[0], dim=1)[0].numpy() for b in bags])


def train(bags, labels, test_bags=None, test_labels=None, kind="clam_sb", epochs=20, lr=2e-4, weight_decay=1e-5,
          dropout=0.25, k_sample=8, bag_weight=0.7, size="small", n_classes=None, seed=1, threads=None,
          init="radiopath", shuffle="radiopath"):
    """Trains one model; returns {"epoch_seconds", "train_loss", "test_auc", "model"}.

    init: "radiopath" (RadioPath's exact initial values) or "torch" (xavier_normal_ with
    torch's RNG). shuffle: "radiopath" (RadioPath's order) or "torch" (torch.randperm)."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    n_classes = n_classes or int(max(labels)) + 1
    dim = np.asarray(bags[0]).shape[1]
    model = AttentionMIL(kind, dim, n_classes, size, dropout, k_sample)
    (init_radiopath if init == "radiopath" else init_xavier)(model, seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    seconds, losses = [], []
    for epoch in range(epochs):
        model.train()
        order = epoch_order(seed, epoch, len(bags)) if shuffle == "radiopath" else torch.randperm(len(bags)).tolist()
        t0, total = time.perf_counter(), 0.0
        for i in order:
            x = torch.as_tensor(np.asarray(bags[i], dtype=np.float32))
            loss, bag = model.loss(x, int(labels[i]), bag_weight)
            loss.backward()
            opt.step()
            opt.zero_grad()
            total += bag.item()
        seconds.append(time.perf_counter() - t0)
        losses.append(total / len(bags))
    result = {"epoch_seconds": seconds, "train_loss": losses, "test_auc": None, "model": model}
    if test_bags is not None:
        result["test_auc"] = mean_auc(test_labels, predict(model, test_bags), n_classes)
    return result


if __name__ == "__main__":
    rng = np.random.default_rng(0)

    def make(n):
        bags, labels = [], []
        for b in range(n):
            x = rng.normal(size=(int(rng.integers(30, 80)), 32)).astype(np.float32)
            if b % 2:
                x[rng.choice(len(x), 3, replace=False), :8] += 2
            bags.append(x)
            labels.append(b % 2)
        return bags, labels

    tr, te = make(60), make(60)
    for kind in ("abmil", "clam_sb"):
        r = train(*tr, *te, kind=kind, epochs=10, threads=2)
        print(f"{kind}: {np.mean(r['epoch_seconds']):.3f} s/epoch, last loss {r['train_loss'][-1]:.4f}, test AUC {r['test_auc']:.3f}")
