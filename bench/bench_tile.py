#!/usr/bin/env python3
"""Benchmark: tissue mask + patch coordinates per slide, RadioPath vs a CLAM-style Python
reference (clam_reference.py), side by side in one run. Reports seconds (best of N), peak
memory (max RSS of the process) and the speed ratio. Not a timed test: numbers are printed
and written to bench-out/tile_bench.{json,md}; absolute times vary between machines.

usage: bench_tile.py --bin .build/release/radiopath [--repeats 3] [--big 100000x80000]
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import h5py

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import measure, write_report  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run(cmd):
    """Runs a command; returns (seconds, peak RSS in MiB)."""
    seconds, peak, _ = measure(cmd)
    return seconds, peak


def tissue_iou(mask_png, bag, truth_dir):
    """IoU of RadioPath's tissue mask against the synthetic ground truth, the truth mask
    (at its own downsample) sampled at the centres of RadioPath's mask pixels."""
    from PIL import Image
    import numpy as np
    mine = np.asarray(Image.open(mask_png)) > 0
    truth = np.asarray(Image.open(truth_dir / "tissue_mask.png")) > 0
    tds = json.loads((truth_dir / "truth.json").read_text())["tissueMask"]["downsample"]
    with h5py.File(bag, "r") as f:
        dx, dy = f.attrs["segmentation_downsample"]
    ys = ((np.arange(mine.shape[0]) + 0.5) * dy / tds).astype(int).clip(0, truth.shape[0] - 1)
    xs = ((np.arange(mine.shape[1]) + 0.5) * dx / tds).astype(int).clip(0, truth.shape[1] - 1)
    t = truth[np.ix_(ys, xs)]
    return float((mine & t).sum() / (mine | t).sum())


def best(cmd, repeats):
    runs = [run(cmd) for _ in range(repeats)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / ".build/release/radiopath"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--big", default="100000x80000")
    ap.add_argument("--out", default=str(ROOT / "bench-out"))
    a = ap.parse_args()
    out = Path(a.out)
    (out / "slides").mkdir(parents=True, exist_ok=True)

    slides = []
    testdata = Path(os.environ.get("RADIOPATH_TESTDATA", ROOT.parent / "shared/testdata"))
    real = testdata / "slides/CMU-1-Small-Region.svs"
    if real.exists():
        slides.append(("CMU-1-Small-Region.svs (real, 20x)", real))
    else:
        print(f"note: {real} not found; real-slide row skipped", file=sys.stderr)
    bw, bh = (int(v) for v in a.big.split("x"))
    for (w, h) in [(bw // 4, bh // 4), (bw, bh)]:
        p = out / "slides" / f"synthetic-{w}x{h}.tiff"
        if not p.exists():
            print(f"generating {p.name} ...", file=sys.stderr)
            seconds, peak, _ = measure([a.bin, "synth", "slide", "--width", w, "--height", h, "--seed", 3,
                                        "--no-nuclei-truth", "--out", p])
            line = f"synth slide {w}x{h}: {seconds:.1f} s, peak {peak:.0f} MiB, {p.stat().st_size / 2**30:.2f} GiB"
            print("  " + line, file=sys.stderr)
            (out / "synth_bench.txt").open("a").write(line + "\n")
        slides.append((f"synthetic {w}x{h} (40x)", p))

    for (w, h, seed) in [(bw // 2, bh // 2, 4), (bw // 2, bh // 2, 5)]:
        p = out / "slides" / f"synthetic-{w}x{h}-s{seed}.tiff"
        if not p.exists():
            print(f"generating {p.name} ...", file=sys.stderr)
            subprocess.run([a.bin, "synth", "slide", "--width", str(w), "--height", str(h), "--seed", str(seed),
                            "--no-nuclei-truth", "--out", str(p)], check=True, stdout=subprocess.DEVNULL)

    rows = []
    for label, path in slides:
        rp_out = out / "rp-tiles"
        cmd = [a.bin, "tile", str(path), "--out", str(rp_out), "--force", "--jobs", "1"]
        rp_s, rp_mb = best(cmd, a.repeats)
        bag = rp_out / "patches" / (path.stem + ".h5")
        with h5py.File(bag, "r") as f:
            n_rp = f["coords"].shape[0]
            size0 = int(f["coords"].attrs["patch_size_level0"])
            mpp = float(f.attrs["slide_mpp"][0])
        ref_cmd = [sys.executable, str(HERE / "clam_reference.py"), str(path), "--out-dir", str(out / "ref-tiles"),
                   "--mpp", str(mpp)]
        ref_s, ref_mb = best(ref_cmd, a.repeats)
        with h5py.File(out / "ref-tiles" / (path.stem + ".h5"), "r") as f:
            n_ref = f["coords"].shape[0]
            assert int(f["coords"].attrs["patch_size"]) == size0, "both tools use the same patch footprint"
        truth = path.with_suffix(".truth")
        iou = tissue_iou(rp_out / "masks" / (path.stem + ".png"), bag, truth) if truth.exists() else None
        rows.append(dict(slide=label, radiopath_s=rp_s, reference_s=ref_s, speedup=ref_s / rp_s,
                         radiopath_peak_mib=rp_mb, reference_peak_mib=ref_mb, radiopath_patches=n_rp,
                         reference_patches=n_ref, tissue_iou=iou))
        print(f"{label}: radiopath {rp_s:.3f} s ({rp_mb:.0f} MiB, {n_rp} patches) | "
              f"CLAM-style reference {ref_s:.3f} s ({ref_mb:.0f} MiB, {n_ref} patches) | {ref_s / rp_s:.1f}x", file=sys.stderr)

    # A folder of slides in one process each, as users run them: RadioPath on both cores
    # (--jobs 2), the reference one slide after another as create_patches_fp.py does.
    batch = out / "batch"
    batch.mkdir(exist_ok=True)
    for f in batch.iterdir():
        f.unlink()
    batch_slides = sorted((out / "slides").glob("*.tiff"))
    if real.exists():
        batch_slides.append(real)
    for p in batch_slides:
        (batch / p.name).symlink_to(p)
    n = len(batch_slides)
    rp_s, rp_mb = best([a.bin, "tile", str(batch), "--out", str(out / "rp-batch"), "--force", "--jobs", "2"], a.repeats)
    ref_s, ref_mb = best([sys.executable, str(HERE / "clam_reference.py"), *map(str, sorted(batch.iterdir())),
                          "--out-dir", str(out / "ref-batch")], a.repeats)
    rows.append(dict(slide=f"batch: folder of {n} slides, per slide", radiopath_s=rp_s / n, reference_s=ref_s / n,
                     speedup=ref_s / rp_s, radiopath_peak_mib=rp_mb, reference_peak_mib=ref_mb,
                     radiopath_patches="", reference_patches="", tissue_iou=None))
    print(f"batch of {n}: radiopath {rp_s:.3f} s ({rp_mb:.0f} MiB) | reference {ref_s:.3f} s ({ref_mb:.0f} MiB) | {ref_s / rp_s:.1f}x",
          file=sys.stderr)

    md = ["| slide | RadioPath s | reference s | speed-up | RadioPath peak MiB | reference peak MiB | patches (RP / ref) | tissue IoU vs truth |",
          "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        patches = f"{r['radiopath_patches']} / {r['reference_patches']}" if r["radiopath_patches"] != "" else ""
        md.append(f"| {r['slide']} | {r['radiopath_s']:.3f} | {r['reference_s']:.3f} | {r['speedup']:.1f}x | "
                  f"{r['radiopath_peak_mib']:.0f} | {r['reference_peak_mib']:.0f} | {patches} | "
                  f"{'' if r['tissue_iou'] is None else format(r['tissue_iou'], '.3f')} |")
    write_report(out, "tile_bench", md, rows)


if __name__ == "__main__":
    main()
