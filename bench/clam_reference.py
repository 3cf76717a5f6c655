#!/usr/bin/env python3
"""CLAM's tissue segmentation and patch grid, as create_patches_fp.py does them, for
side-by-side benchmarks and agreement checks. Written from CLAM's documented behaviour
(segmentTissue + process_contour with the four_pt check), using the same libraries CLAM
uses: openslide-python, OpenCV, NumPy, h5py.

usage: clam_reference.py SLIDE [SLIDE ...] --out-dir DIR [--patch-size 256 --target-mpp 0.5]
                         [--sthresh 8] [--mthresh 7] [--close 4] [--a-t-mm2 0.1] [--a-h-mm2 0.02]
                         [--max-n-holes 8] [--mpp MPP]

Slides are processed one after another in one process, as create_patches_fp.py does a folder.

Areas are given in mm² (as RadioPath's presets) and converted with the slide's mpp, so both
tools apply the same physical filter; CLAM itself counts areas in 512² level-0 px.
"""
import argparse
import multiprocessing as mp
import os
import time

import cv2
import h5py
import numpy as np
import openslide


def segment(wsi, sthresh, mthresh, close, a_t_px, a_h_px, max_n_holes):
    seg_level = wsi.get_best_level_for_downsample(64)
    dims = wsi.level_dimensions[seg_level]
    img = np.array(wsi.read_region((0, 0), seg_level, dims).convert("RGB"))
    sat = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)[:, :, 1]
    med = cv2.medianBlur(sat, mthresh)
    _, binary = cv2.threshold(med, sthresh, 255, cv2.THRESH_BINARY)
    if close > 0:
        binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, np.ones((close, close), np.uint8))
    ds = wsi.level_downsamples[seg_level]
    scale = ds * ds
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hierarchy is None:
        return [], [], seg_level
    hierarchy = np.squeeze(hierarchy, axis=(0,))[:, 2:]
    tissue, holes_out = [], []
    for idx in np.flatnonzero(hierarchy[:, 1] == -1):
        holes = [i for i in np.flatnonzero(hierarchy[:, 1] == idx)]
        a = cv2.contourArea(contours[idx]) - sum(cv2.contourArea(contours[h]) for h in holes)
        if a == 0 or a * scale <= a_t_px:
            continue
        kept = sorted(holes, key=lambda h: cv2.contourArea(contours[h]), reverse=True)[:max_n_holes]
        kept = [contours[h] for h in kept if cv2.contourArea(contours[h]) * scale > a_h_px]
        tissue.append((contours[idx] * ds).astype(np.int32))
        holes_out.append([(h * ds).astype(np.int32) for h in kept])
    return tissue, holes_out, seg_level


def _check(args):
    cont, holes, x, y, size = args
    cx, cy = x + size // 2, y + size // 2
    shift = int(size // 2 * 0.5)
    pts = [(cx - shift, cy - shift), (cx + shift, cy + shift), (cx + shift, cy - shift), (cx - shift, cy + shift)]
    if not any(cv2.pointPolygonTest(cont, (float(px), float(py)), False) >= 0 for px, py in pts):
        return None
    for h in holes:
        if cv2.pointPolygonTest(h, (float(cx), float(cy)), False) > 0:
            return None
    return (x, y)


def grid(wsi, tissue, holes, size, workers):
    w0, h0 = wsi.level_dimensions[0]
    coords = []
    with mp.Pool(workers) as pool:
        for cont, hs in zip(tissue, holes):
            x0, y0, w, h = cv2.boundingRect(cont)
            xs = np.arange(x0, min(x0 + w, w0), size)
            ys = np.arange(y0, min(y0 + h, h0), size)
            xx, yy = np.meshgrid(xs, ys)
            tasks = [(cont, hs, int(x), int(y), size) for x, y in zip(xx.ravel(), yy.ravel())]
            coords += [c for c in pool.map(_check, tasks, chunksize=256) if c is not None]
    return np.array(coords, dtype=np.int64).reshape(-1, 2)


def tile_one(path, out_dir, a):
    t = time.perf_counter()
    wsi = openslide.OpenSlide(path)
    mpp = a.mpp or float(wsi.properties.get(openslide.PROPERTY_NAME_MPP_X, 0.25))
    size0 = int(round(a.patch_size * a.target_mpp / mpp))
    px_per_mm2 = 1e6 / (mpp * mpp)
    tissue, holes, seg_level = segment(wsi, a.sthresh, a.mthresh, a.close, a.a_t_mm2 * px_per_mm2,
                                       a.a_h_mm2 * px_per_mm2, a.max_n_holes)
    coords = grid(wsi, tissue, holes, size0, a.workers)
    name = os.path.splitext(os.path.basename(path))[0]
    with h5py.File(os.path.join(out_dir, name + ".h5"), "w") as f:
        d = f.create_dataset("coords", data=coords)
        d.attrs["patch_size"] = size0
        d.attrs["patch_level"] = 0
    print(f"{name}: {len(coords)} patches, {len(tissue)} contours, seg level {seg_level}, {time.perf_counter() - t:.3f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("slides", nargs="+")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--patch-size", type=int, default=256)
    ap.add_argument("--target-mpp", type=float, default=0.5)
    ap.add_argument("--sthresh", type=int, default=8)
    ap.add_argument("--mthresh", type=int, default=7)
    ap.add_argument("--close", type=int, default=4)
    ap.add_argument("--a-t-mm2", type=float, default=0.1)
    ap.add_argument("--a-h-mm2", type=float, default=0.02)
    ap.add_argument("--max-n-holes", type=int, default=8)
    ap.add_argument("--mpp", type=float, default=None)
    ap.add_argument("--workers", type=int, default=mp.cpu_count())
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    for path in a.slides:
        tile_one(path, a.out_dir, a)


if __name__ == "__main__":
    main()
