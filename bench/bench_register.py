#!/usr/bin/env python3
"""Benchmark: histology -> MRI registration with known truth, RadioPath vs elastix on the same
pairs, side by side in one run (issue 8, item 6).

Pairs: mid-gland slices of the real prostate T2 MRI (shared test data) rendered as
histology-like sections with a known flip, rotation, 5-15 % shrinkage and smooth warp. The
Swift test BenchExportTests writes them (2D MetaImage, LPS) with the truth and RadioPath's own
result and time (its `register` call only; images already in memory). elastix (Debian 5.0.1)
then runs the RAPSODI-like parameter files in scripts/elastix/ on the same images, masks and
objective (Mattes MI on the images + mean squares on the masks, bending energy for the
B-spline), started from RadioPath's moment/rotation-search initial transform (elastix has no
flip or coarse-rotation search of its own; RAPSODI takes them from its JSON). elastix's time
is the wall time of its two processes (linear stages, then B-spline: a penalty term needs its
own image pair), image reading included.

Accuracy for both: Dice of the gland mask and the moving mask pulled into the MRI (both at
0.5), and mean/max TRE (MRI mm) over 60 interior gland points: where the predicted histology
point truly lies in the MRI against where it should.

usage: bench_register.py [--cases 6] [--out bench-out/register-pairs] [--skip-export]
Numbers are printed and written to bench-out/register.{md,json}.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_report  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PARAMS = ROOT / "scripts" / "elastix"


def truth_map(t, pts):
    """Known histology mm -> MRI mm (SyntheticSection.Truth.map)."""
    v = pts - np.array(t["movingCenter"])
    if t["flipped"]:
        v[:, 0] = -v[:, 0]
    c, s = np.cos(t["angle"]), np.sin(t["angle"])
    z = np.array(t["fixedCenter"]) + t["scale"] * np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1]], 1)
    d = np.zeros_like(z)
    for b in t["bumps"]:
        r = z - np.array(b["center"])
        d += np.outer(np.exp(-0.5 * (r * r).sum(1) / b["sigma"] ** 2), b["amplitude"])
    return z + d


def run(cmd, cwd):
    p = subprocess.run(list(map(str, cmd)), cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"failed in {cwd}: {' '.join(map(str, cmd))}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")


def elastix_case(d):
    ex1, ex2, tx = d / "elastix-linear", d / "elastix-bspline", d / "transformix"
    for e in (ex1, ex2, tx):
        e.mkdir(exist_ok=True)
    t = time.perf_counter()
    run(["elastix", "-f0", "fixed.mha", "-m0", "moving.mha", "-f1", "fixed_mask.mha", "-m1", "moving_mask.mha",
         "-fMask", "region.mha", "-t0", "initial.txt", "-p", PARAMS / "rigid.txt", "-p", PARAMS / "affine.txt",
         "-out", ex1.name], d)
    linear = time.perf_counter() - t
    run(["elastix", "-f0", "fixed.mha", "-m0", "moving.mha", "-f1", "fixed_mask.mha", "-m1", "moving_mask.mha",
         "-f2", "fixed.mha", "-m2", "moving.mha", "-fMask", "region.mha", "-t0", f"{ex1.name}/TransformParameters.1.txt",
         "-p", PARAMS / "bspline.txt", "-out", ex2.name], d)
    seconds = time.perf_counter() - t
    return ex2 / "TransformParameters.0.txt", seconds, linear


def elastix_accuracy(d, tp, case):
    tx = d / "transformix"
    pts = np.array(case["points"])
    (tx / "points.txt").write_text("point\n%d\n" % len(pts) + "".join(f"{float(x)!r} {float(y)!r}\n" for x, y in pts))
    run(["transformix", "-def", "transformix/points.txt", "-tp", tp.relative_to(d), "-out", "transformix"], d)
    out = (tx / "outputpoints.txt").read_text()
    mapped = np.array([[float(v) for v in m.split()] for m in re.findall(r"OutputPoint = \[([^\]]*)\]", out)])
    err = np.linalg.norm(truth_map(case["truth"], mapped) - pts, axis=1)
    run(["transformix", "-in", "moving_mask.mha", "-tp", tp.relative_to(d), "-out", "transformix"], d)
    warped = sitk.GetArrayFromImage(sitk.ReadImage(str(tx / "result.mha"))) >= 0.5
    fixed = sitk.GetArrayFromImage(sitk.ReadImage(str(d / "fixed_mask.mha"))) > 0.5
    dice = 2 * (warped & fixed).sum() / (warped.sum() + fixed.sum())
    return float(dice), float(err.mean()), float(err.max())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=6)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out" / "register-pairs")
    ap.add_argument("--skip-export", action="store_true", help="reuse pairs already in --out")
    a = ap.parse_args()
    a.out = a.out.resolve()
    if not a.skip_export:
        env = dict(os.environ, RADIOPATH_REG_BENCH=str(a.out), RADIOPATH_REG_BENCH_CASES=str(a.cases))
        p = subprocess.run(["swift", "test", "--filter", "BenchExportTests"], cwd=ROOT, env=env, capture_output=True, text=True)
        if p.returncode != 0 or "BENCH case" not in p.stdout:
            raise SystemExit(f"exporting pairs failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    rows = []
    for n in range(a.cases):
        d = a.out / f"case{n}"
        case = json.loads((d / "case.json").read_text())
        tp, seconds, linear = elastix_case(d)
        dice, tre, tre_max = elastix_accuracy(d, tp, case)
        r = case["radiopath"]
        rows.append(dict(case=case["case"], radiopath_dice=r["dice"], radiopath_tre=r["tre_mean"], radiopath_tre_max=r["tre_max"],
                         radiopath_s=r["seconds"], elastix_dice=dice, elastix_tre=tre, elastix_tre_max=tre_max,
                         elastix_s=seconds, elastix_linear_s=linear))
    lines = ["| case | RadioPath Dice | TRE mean / max (mm) | time (s) | elastix Dice | TRE mean / max (mm) | time (s) | speed-up |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['radiopath_dice']:.4f} | {r['radiopath_tre']:.3f} / {r['radiopath_tre_max']:.3f} | {r['radiopath_s']:.2f} "
                     f"| {r['elastix_dice']:.4f} | {r['elastix_tre']:.3f} / {r['elastix_tre_max']:.3f} | {r['elastix_s']:.2f} "
                     f"| {r['elastix_s'] / r['radiopath_s']:.1f}x |")
    mean = lambda k: np.mean([r[k] for r in rows])
    lines.append(f"| **mean** | {mean('radiopath_dice'):.4f} | {mean('radiopath_tre'):.3f} | {mean('radiopath_s'):.2f} "
                 f"| {mean('elastix_dice'):.4f} | {mean('elastix_tre'):.3f} | {mean('elastix_s'):.2f} | {mean('elastix_s') / mean('radiopath_s'):.1f}x |")
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    write_report(out, "register", lines, rows)


if __name__ == "__main__":
    main()
