#!/usr/bin/env python3
"""Benchmark: level-0 256-px patches streamed per second, RadioPath's PatchStream vs
(a) the JPEG decode limit on the same cores — tjbench (libjpeg-turbo-progs) on the slide's
own tissue tiles, × the number of cores; (b) an openslide-python read_region loop; (c) pyvips
region fetches — side by side in one run. Also peak memory of the stream (flat in slide size).

usage: bench_stream.py --bin .build/release/radiopath [--repeats 3] [--loop-patches 3000]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run(cmd):
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{err.decode()}")
    return out.decode(), dt


def stream_rate(binary, bag, workers, repeats):
    """Best patches/s of `radiopath stream` over `repeats` runs, and whether the direct path served it."""
    best, peak = 0.0, 0.0
    for _ in range(repeats):
        p = subprocess.Popen([binary, "stream", str(bag), "--workers", str(workers), "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"radiopath stream failed: {err.decode()}")
        rec = json.loads(out)[0]
        best = max(best, rec["patchesPerSecond"])
        fast = rec["report"]["fastPath"]
    return best, fast


def peak_rss(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(p.pid, 0)
    return usage.ru_maxrss / 1024


def tissue_tiles(slide, coords, n=16):
    """Raw JPEG bytes of up to n level-0 tiles under tissue patches (JPEGTables spliced in)."""
    import tifffile
    t = tifffile.TiffFile(str(slide))
    page = t.pages[0]
    tw, th = page.tilewidth, page.tilelength
    across = (page.imagewidth + tw - 1) // tw
    picks = np.linspace(0, len(coords) - 1, n).astype(int)
    out = []
    for i in picks:
        x, y = coords[i]
        idx = (int(y) // th) * across + int(x) // tw
        t.filehandle.seek(page.dataoffsets[idx])
        data = t.filehandle.read(page.databytecounts[idx])
        if page.jpegtables is not None:  # abbreviated stream: SOI + tables + tile body
            data = page.jpegtables[:-2] + data[2:]
        out.append(data)
    return out


def decode_limit(tiles):
    """Megapixels/s of one core decoding these tiles with tjbench (mean over tiles)."""
    rates = []
    with tempfile.TemporaryDirectory() as d:
        for k, data in enumerate(tiles):
            f = Path(d) / f"tile{k}.jpg"
            f.write_bytes(data)
            out = subprocess.run(["tjbench", str(f), "-benchtime", "0.5", "-warmup", "0.2"],
                                 capture_output=True, text=True).stdout
            m = re.findall(r"Decompress.*?Throughput:\s+([\d.]+) Megapixels/sec", out, re.S)
            if m:
                rates.append(float(m[-1]))
    return float(np.mean(rates))


def openslide_loop(slide, coords, size):
    import openslide
    s = openslide.OpenSlide(str(slide))
    t = time.perf_counter()
    for x, y in coords:
        np.asarray(s.read_region((int(x), int(y)), 0, (size, size)).convert("RGB"))
    return len(coords) / (time.perf_counter() - t)


def pyvips_loop(slide, coords, size):
    import pyvips
    im = pyvips.Image.openslideload(str(slide), level=0)
    region = pyvips.Region.new(im)
    t = time.perf_counter()
    for x, y in coords:
        region.fetch(int(x), int(y), size, size)
    return len(coords) / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / ".build/release/radiopath"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--loop-patches", type=int, default=3000)
    ap.add_argument("--out", default=str(ROOT / "bench-out"))
    a = ap.parse_args()
    out = Path(a.out)
    cores = os.cpu_count()
    testdata = Path(os.environ.get("RADIOPATH_TESTDATA", ROOT.parent / "shared/testdata"))
    slides = [("synthetic 100000x80000 (40x)", out / "slides/synthetic-100000x80000.tiff", 0.25),
              ("synthetic 25000x20000 (40x)", out / "slides/synthetic-25000x20000.tiff", 0.25)]
    real = testdata / "slides/CMU-1-Small-Region.svs"
    if real.exists():
        slides.append(("CMU-1-Small-Region.svs (real)", real, 0.499))
    rows = []
    for label, slide, mpp in slides:
        if not slide.exists():
            print(f"note: {slide} missing (run bench_tile.py first); row skipped", file=sys.stderr)
            continue
        tiles_out = out / "stream-tiles"
        # Level-0 256-px tissue patches: target scale = the slide's own.
        run([a.bin, "tile", str(slide), "--out", str(tiles_out), "--target-mpp", str(mpp), "--patch-size", "256",
             "--force", "--jobs", "1"])
        bag = tiles_out / "patches" / (slide.stem + ".h5")
        with h5py.File(bag, "r") as f:
            coords = f["coords"][:]
            assert int(f["coords"].attrs["patch_level"]) == 0 and int(f["coords"].attrs["patch_size"]) == 256
        rp2, fast = stream_rate(a.bin, bag, cores, a.repeats)
        rp1, _ = stream_rate(a.bin, bag, 1, a.repeats)
        mem = peak_rss([a.bin, "stream", str(bag), "--workers", str(cores)])
        limit_mp = decode_limit(tissue_tiles(slide, coords)) * cores
        limit = limit_mp * 1e6 / (256 * 256)
        sub = coords[: a.loop_patches]
        osl = max(openslide_loop(slide, sub, 256) for _ in range(2))
        try:
            vips = max(pyvips_loop(slide, sub, 256) for _ in range(2))
        except Exception as e:  # libvips missing: say so, keep the row
            print(f"pyvips unavailable: {e}", file=sys.stderr)
            vips = float("nan")
        rows.append(dict(slide=label, patches=len(coords), radiopath_1=rp1, radiopath=rp2, fast_path=fast,
                         decode_limit=limit, pct_of_limit=100 * rp2 / limit, openslide=osl, pyvips=vips,
                         vs_openslide=rp2 / osl, peak_mib=mem))
        print(f"{label}: {len(coords)} patches; RadioPath {rp2:.0f}/s on {cores} cores ({rp1:.0f}/s on 1), "
              f"decode limit {limit:.0f}/s ({100 * rp2 / limit:.0f} %), openslide-python {osl:.0f}/s, "
              f"pyvips {vips:.0f}/s, peak {mem:.0f} MiB", file=sys.stderr)

    md = [f"| slide | patches | RadioPath patches/s ({cores} cores) | 1 core | decode limit ({cores} cores) | % of limit | "
          "openslide-python loop | pyvips | vs openslide | peak MiB |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['slide']} | {r['patches']} | {r['radiopath']:.0f} | {r['radiopath_1']:.0f} | {r['decode_limit']:.0f} | "
                  f"{r['pct_of_limit']:.0f} % | {r['openslide']:.0f} | {r['pyvips']:.0f} | {r['vs_openslide']:.1f}x | {r['peak_mib']:.0f} |")
    (out / "stream_bench.md").write_text("\n".join(md) + "\n")
    (out / "stream_bench.json").write_text(json.dumps(rows, indent=2))
    print("\n".join(md))


if __name__ == "__main__":
    main()
