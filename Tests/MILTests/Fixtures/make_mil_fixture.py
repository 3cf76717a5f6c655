#!/usr/bin/env python3
"""Makes mil_adam_steps.json: PyTorch's loss, autograd gradients and torch.optim.Adam updates
for a few training steps of tiny CLAM-SB and ABMIL models, one bag per step (CLAM's batch 1).

The model is written here from CLAM_SB's described behaviour (gated attention, gate=True,
state_dict names as CLAM's, instance CE on the top/bottom-k attended patches of the in-class
classifier, total = 0.7·bag CE + 0.3·instance CE; ABMIL = bag CE only). Dropout is 0 so the
steps are deterministic. k = min(k_sample, N) (CLAM's topk would fail for N < k_sample).

    /work/main/.venv/bin/python Tests/MILTests/Fixtures/make_mil_fixture.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

D, H, A, C, K = 5, 12, 10, 3, 3
LR, WD = 1e-3, 1e-2
SIZES, LABELS = [9, 4, 7, 2, 12], [2, 0, 2, 1, 0]
GRAD_STEPS = 2   # gradients recorded for the first steps; parameters after those and the last


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention_a = nn.Sequential(nn.Linear(H, A), nn.Tanh(), nn.Dropout(0.0))
        self.attention_b = nn.Sequential(nn.Linear(H, A), nn.Sigmoid(), nn.Dropout(0.0))
        self.attention_c = nn.Linear(A, 1)

    def forward(self, h):
        return self.attention_c(self.attention_a(h) * self.attention_b(h))


class Net(nn.Module):
    def __init__(self, instance):
        super().__init__()
        self.attention_net = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Dropout(0.0), Gate())
        self.classifiers = nn.Linear(H, C)
        self.instance = instance
        if instance:
            self.instance_classifiers = nn.ModuleList([nn.Linear(H, 2) for _ in range(C)])

    def loss(self, x, y):
        h = self.attention_net[:3](x)
        raw = self.attention_net[3](h).T                 # 1 × N
        att = F.softmax(raw, dim=1)
        logits = self.classifiers(att @ h)
        bag = F.cross_entropy(logits, torch.tensor([y]))
        if not self.instance:
            return bag, bag, torch.tensor(0.0)
        k = min(K, x.shape[0])
        top = torch.topk(att, k)[1][-1]
        bottom = torch.topk(-att, k, dim=1)[1][-1]
        z = self.instance_classifiers[y](torch.cat([h[top], h[bottom]]))
        inst = F.cross_entropy(z, torch.cat([torch.ones(k), torch.zeros(k)]).long())
        return 0.7 * bag + 0.3 * inst, bag, inst


def floats(t):
    # 9 significant digits recover a float32 exactly.
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def run(instance, seed):
    torch.manual_seed(seed)
    net = Net(instance)
    with torch.no_grad():
        for p in net.parameters():          # random biases too, so every path is exercised
            p.normal_(0, 0.4)
    bags = [torch.randn(n, D) for n in SIZES]
    record = {"initial": {k: floats(v) for k, v in net.state_dict().items()},
              "shapes": {k: list(v.shape) for k, v in net.state_dict().items()},
              "bags": [floats(b) for b in bags], "steps": []}
    opt = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WD)
    names = {id(p): n for n, p in net.named_parameters()}
    for i, (x, y) in enumerate(zip(bags, LABELS)):
        total, bag, inst = net.loss(x, y)
        total.backward()
        step = {"loss": total.item(), "bag_loss": bag.item(), "instance_loss": inst.item()}
        if i < GRAD_STEPS:
            step["grad"] = {names[id(p)]: floats(p.grad) for p in net.parameters() if p.grad is not None}
        opt.step()
        opt.zero_grad()
        if i == GRAD_STEPS - 1 or i == len(SIZES) - 1:
            step["params"] = {k: floats(v) for k, v in net.state_dict().items()}
        record["steps"].append(step)
    return record


if __name__ == "__main__":
    out = {"torch": torch.__version__, "D": D, "H": H, "A": A, "C": C, "k_sample": K, "lr": LR, "weight_decay": WD,
           "labels": LABELS, "clam_sb": run(True, 3), "abmil": run(False, 4)}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mil_adam_steps.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", path, os.path.getsize(path), "bytes")
