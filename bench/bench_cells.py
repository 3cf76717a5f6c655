#!/usr/bin/env python3
"""Benchmark: nuclei segmentation + per-nucleus features, RadioPath `cells` vs a scikit-image
reference pipeline doing the same steps on the same pixels, side by side in one run:

  rgb2hed → haematoxylin OD → gaussian → background (grey opening) subtracted → threshold
  (fixed OD and half the local maximum) → fill holes → distance transform →
  peak_local_max (min distance) → watershed → area limits → regionprops (area, perimeter,
  axes, eccentricity, orientation, solidity, extent, H/E intensity) + graycoprops per nucleus.

Both see the whole image (RadioPath with --whole, so no tissue detection), analysed at 0.5 µm/px.
The reference reads the slide with openslide-python (the synthetic 0.25 µm/px slide is block-
averaged 2×2 to 0.5 µm/px, as RadioPath area-averages it). Reported: wall seconds (best of N;
reading included on both sides), nuclei, nuclei/s, µs per megapixel, peak RSS, and the speed
ratio. RadioPath uses all cores (its tiles run in parallel); scikit-image runs on one.

Not a timed test: numbers go to stdout and bench-out/cells_bench.{md,json}.

usage: bench_cells.py --bin .build/release/radiopath [--repeats 3] [--synthetic 16000x12000]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import measure, write_report  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

REFERENCE = r'''
import sys, time, json
import numpy as np, openslide
from scipy import ndimage as ndi
from skimage.color import rgb2hed
from skimage.filters import gaussian
from skimage.feature import peak_local_max, graycomatrix, graycoprops
from skimage.segmentation import watershed
from skimage.measure import regionprops, label

path, mpp_target = sys.argv[1], float(sys.argv[2])
t0 = time.perf_counter()
s = openslide.OpenSlide(path)
mpp = float(s.properties.get("openslide.mpp-x", mpp_target))
f = max(1, int(round(mpp_target / mpp)))
w, h = s.dimensions
strip = 2048 // f * f
rows = []
for y in range(0, h - h % f, strip):                     # read in strips, block-average to the target
    hh = min(strip, h - h % f - y)
    a = np.asarray(s.read_region((0, y), 0, (w - w % f, hh)).convert("RGB"), dtype=np.float32)
    if f > 1:
        a = a.reshape(hh // f, f, (w - w % f) // f, f, 3).mean(axis=(1, 3))
    rows.append(np.floor(a + 0.5).astype(np.uint8))
rgb = np.concatenate(rows, axis=0)
px = mpp * f
t_read = time.perf_counter() - t0

hed = 6 * rgb2hed(rgb)                                  # decadic OD, as RadioPath's planes
H, E = hed[..., 0], hed[..., 1]
sm = gaussian(H, sigma=1.5 / px, truncate=4.0)
k = 2 * int(round(8 / px)) + 1                          # background: grey opening, 8 µm half side
d = np.maximum(sm - ndi.grey_opening(sm, size=(k, k)), 0)
lm = ndi.maximum_filter(d, size=2 * int(round(3 / px)) + 1)   # local contrast: half the local max within 3 µm
mask = ndi.binary_fill_holes((d > 0.1) & (d >= 0.5 * lm))
dist = ndi.distance_transform_edt(mask)
lab0 = label(mask)
peaks = peak_local_max(dist, min_distance=max(1, int(round(2 / px))), labels=lab0, exclude_border=False)
markers = np.zeros(mask.shape, np.int32)
markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
lab = watershed(-dist, markers, mask=mask)
area = np.bincount(lab.ravel())
keep = (area * px * px >= 10) & (area * px * px <= 400)
keep[0] = False
lab[~keep[lab]] = 0
q = np.minimum(31, np.floor(H * (32 / 1.5))).clip(0).astype(np.uint8)
feats = []
for r in regionprops(lab, intensity_image=np.dstack([H, E])):
    r0, c0, r1, c1 = r.bbox
    g = graycomatrix(q[r0:r1, c0:c1], [1], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=32, symmetric=True, normed=True)
    feats.append([r.area, r.perimeter, r.axis_major_length, r.axis_minor_length, r.eccentricity, r.orientation,
                  r.solidity, r.extent, *r.intensity_mean, *r.intensity_std] +
                 [graycoprops(g, p).mean() for p in ("contrast", "dissimilarity", "homogeneity", "energy", "ASM", "correlation")])
t_all = time.perf_counter() - t0
print(json.dumps(dict(nuclei=len(feats), megapixels=rgb.shape[0] * rgb.shape[1] / 1e6, read_seconds=t_read, seconds=t_all)))
'''


def radiopath(bin_, slide, out):
    cmd = [bin_, "cells", slide, "--out", out, "--whole", "--force", "--json"]
    seconds, peak, stdout = measure(cmd)
    r = json.loads(stdout)[0]
    if r["status"] != "done":
        raise SystemExit(f"radiopath cells failed on {slide}: {r.get('error')}")
    return seconds, peak, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / ".build/release/radiopath"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--synthetic", default="16000x12000", help="size of the synthetic 0.25 µm/px slide (0 to skip)")
    ap.add_argument("--out", default=str(ROOT / "bench-out"))
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    slides = []
    testdata = Path(os.environ.get("RADIOPATH_TESTDATA", ROOT.parent / "shared/testdata"))
    real = testdata / "slides/CMU-1-Small-Region.svs"
    if real.exists():
        slides.append(("CMU-1-Small-Region (real H&E, 0.499 µm/px)", real))
    else:
        print(f"note: {real} not found; real-slide row skipped", file=sys.stderr)
    if a.synthetic != "0":
        w, h = (int(v) for v in a.synthetic.split("x"))
        p = out / "slides" / f"synthetic-nuclei-{w}x{h}.tiff"
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            print(f"generating {p.name} ...", file=sys.stderr)
            measure([a.bin, "synth", "slide", "--width", w, "--height", h, "--seed", 4, "--no-nuclei-truth", "--out", p])
        slides.append((f"synthetic {w}x{h} (0.25 µm/px)", p))

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in slides:
            rp = [radiopath(a.bin, str(path), tmp) for _ in range(a.repeats)]
            rp_s = min(r[0] for r in rp)
            rp_peak = max(r[1] for r in rp)
            rp_n = rp[0][2]["nuclei"]
            refs = []
            for _ in range(a.repeats):
                seconds, peak, stdout = measure([a.python, "-c", REFERENCE, path, "0.5"])
                refs.append((seconds, peak, json.loads(stdout.strip().splitlines()[-1])))
            sk_s = min(r[0] for r in refs)
            sk_peak = max(r[1] for r in refs)
            info = refs[0][2]
            mp = info["megapixels"]
            rows.append(dict(slide=name, megapixels=mp,
                             radiopath=dict(seconds=rp_s, nuclei=rp_n, peak_mib=rp_peak),
                             skimage=dict(seconds=sk_s, nuclei=info["nuclei"], peak_mib=sk_peak, read_seconds=info["read_seconds"]),
                             speedup=sk_s / rp_s))
    lines = ["| slide (analysed at 0.5 µm/px) | MP | RadioPath s | nuclei | nuclei/s | µs/MP | peak MiB | scikit-image s | nuclei | nuclei/s | peak MiB | speed-up |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        R, S = r["radiopath"], r["skimage"]
        lines.append(f"| {r['slide']} | {r['megapixels']:.1f} | {R['seconds']:.2f} | {R['nuclei']} | {R['nuclei'] / R['seconds']:.0f} | "
                     f"{R['seconds'] / r['megapixels'] * 1e6:.0f} | {R['peak_mib']:.0f} | {S['seconds']:.2f} | {S['nuclei']} | "
                     f"{S['nuclei'] / S['seconds']:.0f} | {S['peak_mib']:.0f} | {r['speedup']:.1f}× |")
    lines.append("")
    lines.append(f"RadioPath on {os.cpu_count()} cores (tiles in parallel); scikit-image single-threaded; both include reading the slide.")
    write_report(out, "cells_bench", lines, rows)


if __name__ == "__main__":
    main()
