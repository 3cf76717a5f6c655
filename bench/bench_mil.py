#!/usr/bin/env python3
"""Benchmark: attention MIL (ABMIL, CLAM-SB) training, scoring and heatmaps, RadioPath vs the
PyTorch CPU reference trainer (mil_reference.py), side by side in one run, same threads.

1. Digits MIL: bags of scikit-learn's bundled 8x8 digits (64 features per instance, pixels
   / 16), positive when the bag holds a 9; train and test bags drawn from disjoint digit
   images. Both tools get the same CLAM split (val empty, so no validation pass is timed),
   raw features (`--no-standardize`), the same epochs and no early stopping: test AUC and
   seconds per epoch.
2. CLAM scale: 100 bags x 2000 patches x 1024-d (seeded normal features, a few planted
   patches in positive bags): seconds per epoch and the ratio.
3. `radiopath score` on those 100 bags: seconds per slide and peak MiB (PyTorch's
   per-slide inference time beside it).
4. `radiopath heatmap` of a synthetic attention column on the 100k x 80k synthetic slide
   tiled with 50% overlap: all outputs (PNG, full-resolution TIFF overlay, GeoJSON, top/bottom
   galleries) and PNG only; seconds and peak MiB.

Both tools read each bag from its HDF5 file inside the timed epoch (RadioPath always does;
the reference is given lazily loading bags). Data is generated once into bench-out/mil/ and
kept out of the timings. Numbers are printed and written to bench-out/mil.{md,json}.

usage: bench_mil.py --bin .build/release/radiopath [--threads 2] [--digits-epochs 20]
                    [--clam-epochs 3] [--slide bench-out/slides/synthetic-100000x80000.tiff]
"""
import argparse
import csv
import json
import os
import shutil
import sys
import time
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import measure, write_report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["abmil", "clam_sb"]


class LazyBags:
    """Bags read from their HDF5 files on each access, as RadioPath reads them."""

    def __init__(self, paths):
        self.paths = list(paths)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with h5py.File(self.paths[i], "r") as f:
            return f["features"][()]


def write_bag(path, features):
    n = len(features)
    side = int(np.ceil(np.sqrt(n)))
    coords = np.stack([np.arange(n) % side, np.arange(n) // side], axis=1).astype(np.int64) * 256
    with h5py.File(path, "w") as f:
        f.create_dataset("features", data=features.astype(np.float32))
        f.create_dataset("coords", data=coords)


def write_cohort(d, ids, labels, train, test):
    """labels.csv (slide_id,label) and splits/splits_0.csv in CLAM's layout, val empty."""
    with open(d / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["slide_id", "label"])
        w.writerows([i, l] for i, l in zip(ids, labels))
    (d / "splits").mkdir(exist_ok=True)
    with open(d / "splits" / "splits_0.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["", "train", "val", "test"])
        for r in range(max(len(train), len(test))):
            w.writerow([r, train[r] if r < len(train) else "", "", test[r] if r < len(test) else ""])


def digits_data(d, n_train=200, n_test=100, seed=0):
    """Balanced bags of 10-50 digits; positives hold 1-3 nines. Test bags use other images."""
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype(np.float32)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    pools = {"train": perm[: len(y) // 2], "test": perm[len(y) // 2:]}
    (d / "bags").mkdir(parents=True, exist_ok=True)
    ids, labels, split = [], [], {"train": [], "test": []}
    for part, count in [("train", n_train), ("test", n_test)]:
        pool = pools[part]
        nines, others = pool[y[pool] == 9], pool[y[pool] != 9]
        for b in range(count):
            n, label = int(rng.integers(10, 51)), b % 2
            idx = rng.choice(others, n, replace=False)
            if label:
                k = int(rng.integers(1, 4))
                idx[rng.choice(n, k, replace=False)] = rng.choice(nines, k, replace=False)
            sid = f"{part}_{b:03d}"
            write_bag(d / "bags" / f"{sid}.h5", x[idx])
            ids.append(sid)
            labels.append(label)
            split[part].append(sid)
    write_cohort(d, ids, labels, split["train"], split["test"])
    return ids, labels, split


def clam_data(d, bags=100, test=20, patches=2000, dim=1024, seed=0):
    """Seeded N(0,1) features; positive bags get 20 patches shifted along 32 features. The
    `test` extra bags are held out (radiopath train needs a test set to write its metrics)."""
    marker = d / "done.json"
    spec = dict(bags=bags, test=test, patches=patches, dim=dim, seed=seed)
    ids = [f"slide_{b:03d}" for b in range(bags + test)]
    labels = [b % 2 for b in range(bags + test)]
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return ids, labels
    shutil.rmtree(d, ignore_errors=True)
    (d / "bags").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for sid, label in zip(ids, labels):
        x = rng.standard_normal((patches, dim), dtype=np.float32)
        if label:
            x[rng.choice(patches, 20, replace=False), :32] += 1.5
        write_bag(d / "bags" / f"{sid}.h5", x)
    write_cohort(d, ids, labels, ids[:bags], ids[bags:])
    marker.write_text(json.dumps(spec))
    return ids, labels


def radiopath_train(binary, d, kind, epochs, out):
    """Returns (mean seconds/epoch, per-epoch seconds, test AUC or None, model path)."""
    shutil.rmtree(out, ignore_errors=True)
    measure([binary, "train", d / "bags", "--labels", d / "labels.csv", "--splits", d / "splits", "--out", out,
             "--model", kind, "--epochs", epochs, "--patience", 0, "--no-standardize", "--seed", 1])
    with open(out / "fold_0" / "history.csv") as f:
        seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    with open(out / "summary.csv") as f:
        row = next(csv.DictReader(f))
    auc = float(row["auc"]) if row.get("auc") else None
    return float(np.mean(seconds)), seconds, auc, out / "fold_0" / "model.safetensors"


def torch_train(d, ids, labels, split, kind, epochs, threads):
    from mil_reference import train
    lab = dict(zip(ids, labels))
    tr, te = split["train"], split["test"]
    path = lambda s: d / "bags" / f"{s}.h5"  # noqa: E731
    r = train(LazyBags(map(path, tr)), [lab[s] for s in tr], LazyBags(map(path, te)) if te else None,
              [lab[s] for s in te] if te else None, kind=kind, epochs=epochs, threads=threads)
    return float(np.mean(r["epoch_seconds"])), r["epoch_seconds"], r["test_auc"], r["model"]


def heatmap(binary, slide, work, threads):
    """Tiles the slide with 50% overlap, writes a smooth synthetic attention column, times
    `radiopath heatmap` with all outputs and PNG only."""
    tile_dir = work / "tile"
    t_tile, _, _ = measure([binary, "tile", slide, "--out", tile_dir, "--overlap", 128, "--patch-size", 256,
                            "--target-mpp", 0.5, "--force"])
    bag = next((tile_dir / "patches").glob("*.h5"))
    score = work / "scores" / bag.name
    score.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(bag, "r") as src, h5py.File(score, "w") as dst:
        src.copy("coords", dst)
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        dst.attrs["slide_path"] = str(Path(slide).resolve())
        c = src["coords"][()].astype(np.float64)
        span = c.max(axis=0) + 1
        u, v = c[:, 0] / span[0], c[:, 1] / span[1]
        att = np.exp(-((u - 0.3) ** 2 + (v - 0.6) ** 2) / 0.02) + 0.5 * np.sin(6 * u) * np.cos(4 * v) ** 2
        dst.create_dataset("attention", data=(att - att.min()).astype(np.float32))
    patches = len(c)
    rows = []
    for label, extra in [("PNG + full-res TIFF + GeoJSON + top/bottom 8", ["--full-res", "--geojson", "--top-k", 8]),
                         ("PNG only", [])]:
        dest = work / ("all" if extra else "png")
        shutil.rmtree(dest, ignore_errors=True)
        seconds, peak, _ = measure([binary, "heatmap", score, "--out", dest, *extra])
        rows.append(dict(outputs=label, patches=patches, seconds=seconds, peak_mib=peak))
        print(f"  heatmap {label}: {seconds:.1f} s, peak {peak:.0f} MiB", file=sys.stderr)
    return dict(tile_seconds=t_tile, patches=patches, runs=rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / ".build/release/radiopath"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--digits-epochs", type=int, default=20)
    ap.add_argument("--clam-epochs", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench-out"))
    ap.add_argument("--slide", help="100k x 80k slide for the heatmap (default: made as bench_tile.py makes it)")
    a = ap.parse_args()
    out = Path(a.out)
    work = out / "mil"
    work.mkdir(parents=True, exist_ok=True)
    binary = a.bin
    if not Path(binary).exists():
        raise SystemExit(f"{binary} not found: build it with `swift build -c release --product radiopath`")
    cores = os.cpu_count()
    if cores != a.threads:
        print(f"note: radiopath train/score use every core ({cores}); PyTorch is set to {a.threads} threads",
              file=sys.stderr)

    train_rows = []
    # 1. Digits MIL
    dd = work / "digits"
    shutil.rmtree(dd, ignore_errors=True)
    ids, labels, split = digits_data(dd)
    for kind in MODELS:
        rp = radiopath_train(binary, dd, kind, a.digits_epochs, work / f"digits-{kind}")
        pt = torch_train(dd, ids, labels, split, kind, a.digits_epochs, a.threads)
        train_rows.append(dict(task="digits (200 train / 100 test bags, 10-50 x 64-d)", model=kind, epochs=a.digits_epochs,
                               radiopath_s_per_epoch=rp[0], pytorch_s_per_epoch=pt[0], speedup=pt[0] / rp[0],
                               radiopath_test_auc=rp[2], pytorch_test_auc=pt[2]))
        print(f"  digits {kind}: RadioPath {rp[0]:.3f} s/epoch AUC {rp[2]}, PyTorch {pt[0]:.3f} s/epoch AUC {pt[2]}",
              file=sys.stderr)

    # 2. CLAM scale
    cd = work / "clam"
    t = time.perf_counter()
    cids, clabels = clam_data(cd)
    print(f"  CLAM-scale bags ready ({time.perf_counter() - t:.1f} s, not timed)", file=sys.stderr)
    csplit = {"train": cids[:100], "test": cids[100:]}
    model = None
    for kind in MODELS:
        rp = radiopath_train(binary, cd, kind, a.clam_epochs, work / f"clam-{kind}")
        pt = torch_train(cd, cids, clabels, csplit, kind, a.clam_epochs, a.threads)
        if kind == "clam_sb":
            model, torch_model = rp[3], pt[3]
        train_rows.append(dict(task="CLAM scale (100 train / 20 test bags x 2000 x 1024-d)", model=kind, epochs=a.clam_epochs,
                               radiopath_s_per_epoch=rp[0], pytorch_s_per_epoch=pt[0], speedup=pt[0] / rp[0],
                               radiopath_test_auc=rp[2], pytorch_test_auc=pt[2]))
        print(f"  CLAM scale {kind}: RadioPath {rp[0]:.2f} s/epoch {rp[1]}, PyTorch {pt[0]:.2f} s/epoch {pt[1]}",
              file=sys.stderr)

    # 3. Scoring
    dest = work / "score"
    shutil.rmtree(dest, ignore_errors=True)
    scored = csplit["train"]
    seconds, peak, _ = measure([binary, "score", *(cd / "bags" / f"{s}.h5" for s in scored), "--model", model, "--out", dest])
    import torch
    from mil_reference import predict
    torch.set_num_threads(a.threads)
    t = time.perf_counter()
    predict(torch_model, LazyBags(cd / "bags" / f"{s}.h5" for s in scored))
    torch_per_slide = (time.perf_counter() - t) / len(scored)
    scoring = dict(slides=len(scored), radiopath_s_per_slide=seconds / len(scored), radiopath_peak_mib=peak,
                   pytorch_s_per_slide_inference=torch_per_slide)
    print(f"  score: {seconds / len(scored):.3f} s/slide, peak {peak:.0f} MiB; PyTorch inference {torch_per_slide:.3f} s/slide",
          file=sys.stderr)

    # 4. Heatmap
    slide = Path(a.slide) if a.slide else out / "slides" / "synthetic-100000x80000.tiff"
    if not slide.exists():
        slide.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {slide.name} ...", file=sys.stderr)
        measure([binary, "synth", "slide", "--width", 100000, "--height", 80000, "--seed", 3, "--no-nuclei-truth",
                 "--out", slide])
    hm = heatmap(binary, slide, work / "heatmap", a.threads)

    def f(v, spec):
        return "—" if v is None else format(v, spec)

    md = ["| task | model | epochs | RadioPath s/epoch | PyTorch s/epoch | PyTorch / RadioPath | RadioPath test AUC | PyTorch test AUC |",
          "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in train_rows:
        md.append(f"| {r['task']} | {r['model']} | {r['epochs']} | {r['radiopath_s_per_epoch']:.3f} | {r['pytorch_s_per_epoch']:.3f} | "
                  f"{r['speedup']:.2f}x | {f(r['radiopath_test_auc'], '.3f')} | {f(r['pytorch_test_auc'], '.3f')} |")
    md += ["", f"{a.threads} threads (radiopath: every core, {cores}); PyTorch {torch.__version__} CPU "
           "(bench/mil_reference.py, same initial weights and bag order). One bag per step, Adam, dropout 0.25, no early "
           "stopping, no validation set, raw features (--no-standardize); each bag read from HDF5 inside the timed epoch "
           "by both. PyTorch / RadioPath > 1 means RadioPath is faster.",
           "", "| `radiopath score` (clam_sb, 100 bags x 2000 x 1024-d) | s/slide | peak MiB | PyTorch inference s/slide |",
           "|---|---:|---:|---:|",
           f"| end to end (read, score, write attention files) | {scoring['radiopath_s_per_slide']:.3f} | "
           f"{scoring['radiopath_peak_mib']:.0f} | {scoring['pytorch_s_per_slide_inference']:.3f} |",
           "", f"| `radiopath heatmap`, {slide.name}, {hm['patches']} patches (256 px at 0.5 µm/px, 50% overlap) | "
           "seconds | peak MiB |", "|---|---:|---:|"]
    md += [f"| {r['outputs']} | {r['seconds']:.1f} | {r['peak_mib']:.0f} |" for r in hm["runs"]]
    md += ["", f"Tiling the slide with 50% overlap (not in the heatmap time): {hm['tile_seconds']:.1f} s. Goal: heatmap "
           "with all outputs < 30 s on 2 cores, memory bounded."]
    write_report(out, "mil", md, {"training": train_rows, "scoring": scoring, "heatmap": hm})


if __name__ == "__main__":
    main()
