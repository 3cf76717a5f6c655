#!/usr/bin/env python3
"""Benchmark: histology -> MRI registration with known truth, RadioPath vs elastix on the same
pairs, side by side in one run (issue 8, item 6).

Pairs: `radiopath synth section` renders mid-gland slices of the real prostate T2 MRI (shared
test data) as histology-like sections with a known flip, rotation, 5-15 % shrinkage and smooth
warp, and writes each case (MRI slice + gland as NIfTI, section + mask as PNG, MetaImage copies,
true displacement, landmarks, case.json).

RadioPath: `radiopath register` on the case (NIfTI + PNG in, transform + report + QC PNGs out);
its time is the wall time of that process. elastix (Debian 5.0.1) runs the RAPSODI-like
parameter files in scripts/elastix/ on the same images (the same 8-bit section values), masks
and objective (Mattes MI on the images + mean squares on the masks, bending energy for the
B-spline), started from RadioPath's moment/rotation-search initial transform
(stages/initial.tfm; elastix has no flip or coarse-rotation search of its own, RAPSODI takes
them from its JSON). elastix's time is the wall time of its two processes (linear stages, then
B-spline: a penalty term needs its own image pair), image reading included; the initial search
is not counted for elastix.

Accuracy for both, computed the same way here: Dice of the gland mask and the section mask
pulled onto the MRI slice (both at 0.5), and mean/max TRE (MRI mm) over 60 interior gland points:
where the predicted histology point truly lies in the MRI against where it should. RadioPath's
transform is read back through SimpleITK (affine .tfm after the displacement field).

usage: bench_register.py [--bin .build/release/radiopath] [--cases 6] [--out bench-out/register-pairs]
Numbers are printed and written to bench-out/register.{md,json}.
"""
import argparse
import json
import os
import re
import shutil
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
DATA = Path(os.environ.get("RADIOPATH_TESTDATA", ROOT.parent / "shared" / "testdata")) / "radiology" / "prostate"


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


def timed(cmd, cwd):
    t = time.perf_counter()
    run(cmd, cwd)
    return time.perf_counter() - t


def radiopath_case(binary, d, case):
    seconds = timed([binary, "register", "--fixed", "fixed.nii", "--fixed-mask", "fixed_mask.nii", "--slice", "0",
                     "--moving", "section.png", "--moving-mpp", case["moving_mpp"], "--moving-mask", "section_mask.png",
                     "--working-mpp", case["working_mpp"],
                     "--landmarks", "landmarks.csv", "--out", "radiopath"], d)
    return seconds


def radiopath_accuracy(d, case):
    """Dice from register's report (same definition as below); TRE through SimpleITK."""
    report = json.loads((d / "radiopath" / "report.json").read_text())
    affine = sitk.ReadTransform(str(d / "radiopath" / "mri_to_slide_affine.tfm"))
    field = d / "radiopath" / "mri_displacement.nii"
    t = sitk.CompositeTransform([affine, sitk.DisplacementFieldTransform(sitk.ReadImage(str(field), sitk.sitkVectorFloat64))]) \
        if field.exists() else affine
    pts = np.array(case["points"])
    px = np.array([t.TransformPoint((float(x), float(y))) for x, y in pts])
    err = np.linalg.norm(truth_map(case["truth"], px * case["moving_mpp"] / 1000) - pts, axis=1)
    return float(report["result"]["dice"]), float(err.mean()), float(err.max())


def elastix_initial(d, mpp):
    """RadioPath's initial stage (MRI mm -> slide px) as an elastix affine in slide mm."""
    t = sitk.AffineTransform(sitk.ReadTransform(str(d / "radiopath" / "stages" / "initial.tfm")))
    s = mpp / 1000
    a = (np.array(t.GetMatrix()).reshape(2, 2) * s).tolist()
    c = np.array(t.GetCenter())
    tr = (s * (c + np.array(t.GetTranslation())) - c).tolist()
    c = c.tolist()
    fixed = sitk.ReadImage(str(d / "fixed.mha"))
    (d / "initial.txt").write_text(f"""(Transform "AffineTransform")
(NumberOfParameters 6)
(TransformParameters {a[0][0]!r} {a[0][1]!r} {a[1][0]!r} {a[1][1]!r} {tr[0]!r} {tr[1]!r})
(InitialTransformParametersFileName "NoInitialTransform")
(HowToCombineTransforms "Compose")
(FixedImageDimension 2)
(MovingImageDimension 2)
(FixedInternalImagePixelType "float")
(MovingInternalImagePixelType "float")
(Size {fixed.GetSize()[0]} {fixed.GetSize()[1]})
(Index 0 0)
(Spacing {fixed.GetSpacing()[0]!r} {fixed.GetSpacing()[1]!r})
(Origin {fixed.GetOrigin()[0]!r} {fixed.GetOrigin()[1]!r})
(Direction 1 0 0 1)
(UseDirectionCosines "true")
(CenterOfRotationPoint {c[0]!r} {c[1]!r})
""")


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
    ap.add_argument("--bin", default=str(ROOT / ".build" / "release" / "radiopath"))
    ap.add_argument("--cases", type=int, default=6)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out" / "register-pairs")
    a = ap.parse_args()
    a.out = a.out.resolve()
    binary = str(Path(a.bin).resolve())
    mri, label = DATA / "aaa0060_T2_axial.nii.gz", DATA / "aaa0060_T2_axial_prostate_label.nii.gz"
    if not mri.exists():
        print(f"SKIPPED: {mri} not found (set RADIOPATH_TESTDATA)")
        return
    if shutil.which("elastix") is None or shutil.which("transformix") is None:
        raise SystemExit("elastix/transformix not on PATH: run scripts/install-bench-deps (Debian package elastix)")
    run([binary, "synth", "section", "--mri", mri, "--label", label, "--slices", "13,14,15", "--cases", a.cases,
         "--seed", 100, "--out", a.out], ROOT)
    rows = []
    for n in range(a.cases):
        d = a.out / f"case{n}"
        case = json.loads((d / "case.json").read_text())
        mpp = case["moving_mpp"]
        rp_seconds = radiopath_case(binary, d, case)
        rp_dice, rp_tre, rp_tre_max = radiopath_accuracy(d, case)
        elastix_initial(d, mpp)
        tp, seconds, linear = elastix_case(d)
        dice, tre, tre_max = elastix_accuracy(d, tp, case)
        rows.append(dict(case=case["case"], radiopath_dice=rp_dice, radiopath_tre=rp_tre, radiopath_tre_max=rp_tre_max,
                         radiopath_s=rp_seconds, elastix_dice=dice, elastix_tre=tre, elastix_tre_max=tre_max,
                         elastix_s=seconds, elastix_linear_s=linear))
        print(f"  case{n}: RadioPath Dice {rp_dice:.4f} TRE {rp_tre:.3f} mm {rp_seconds:.2f} s | elastix Dice {dice:.4f} TRE {tre:.3f} mm {seconds:.2f} s", flush=True)
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
