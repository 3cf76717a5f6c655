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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import measure, write_report  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def stream_rate(binary, bag, n_patches, workers, repeats):
    """Best patches/s of `radiopath stream` over `repeats` runs (a small bag is listed several
    times so each run streams at least ~2,000 patches), whether the direct path served it,
    and the peak RSS (MiB) of the stream process."""
    copies = max(1, 2000 // max(1, n_patches))
    best, peak, fast = 0.0, 0.0, False
    for _ in range(repeats):
        _, mib, out = measure([binary, "stream", *([bag] * copies), "--workers", workers, "--json"])
        recs = json.loads(out)
        best = max(best, sum(r["patches"] for r in recs) / sum(r["seconds"] for r in recs))
        peak = max(peak, mib)
        fast = all(r["report"]["fastPath"] for r in recs)
    return best, fast, peak


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


def patches_per_tile(slide, size):
    """Patches delivered per tile decoded: 1 when patches and tiles share a size; otherwise
    the ratio of their areas (the tile cache decodes each tile once)."""
    import tifffile
    page = tifffile.TiffFile(str(slide)).pages[0]
    return (page.tilewidth * page.tilelength) / (size * size)


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


_TILES = []


def _decode_range(bounds):
    """Decodes _TILES[lo:hi] (inherited by fork) and times only the decoding."""
    from turbojpeg import TurboJPEG, TJPF_RGB
    lo, hi = bounds
    j = TurboJPEG()
    for data in _TILES[lo:lo + 8]:  # warm-up
        j.decode(data, pixel_format=TJPF_RGB)
    t = time.perf_counter()
    for data in _TILES[lo:hi]:
        j.decode(data, pixel_format=TJPF_RGB)
    return hi - lo, time.perf_counter() - t


def memory_decode_limit(tiles, cores):
    """Tiles/s when the system's libturbojpeg decodes these raw tiles from memory on `cores`
    processes at once: the decode limit for this slide's real tile mix (tjbench repeats one
    tile with hot caches, an upper bound no reader of varied tiles reaches)."""
    import multiprocessing as mp
    global _TILES
    _TILES = tiles
    step = (len(tiles) + cores - 1) // cores
    bounds = [(i, min(len(tiles), i + step)) for i in range(0, len(tiles), step)]
    with mp.get_context("fork").Pool(cores) as pool:
        results = pool.map(_decode_range, bounds)
    return sum(n for n, _ in results) / max(t for _, t in results)


def hot_loop_factor(tiles):
    """Rate of one core decoding the slide's varied tiles over the rate of decoding one of them
    again and again (as tjbench does), same library and process: how much tjbench's hot loop
    overstates what any reader of real tiles can reach."""
    from turbojpeg import TurboJPEG, TJPF_RGB
    j = TurboJPEG()
    for data in tiles[:50]:
        j.decode(data, pixel_format=TJPF_RGB)
    t = time.perf_counter()
    for data in tiles:
        j.decode(data, pixel_format=TJPF_RGB)
    varied = len(tiles) / (time.perf_counter() - t)
    one = tiles[len(tiles) // 2]
    t = time.perf_counter()
    for _ in range(len(tiles)):
        j.decode(one, pixel_format=TJPF_RGB)
    return varied / (len(tiles) / (time.perf_counter() - t))


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
    for x, y in coords:  # vips fetches only inside the image: crop edge patches
        x, y = int(x), int(y)
        region.fetch(x, y, min(size, im.width - x), min(size, im.height - y))
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
    # (label, slide, its mpp, minimum tissue fraction). CMU-1-Small-Region holds ~100 patches,
    # too few to time: every patch touching tissue is kept and the bag is streamed repeatedly.
    slides = [("synthetic 100000x80000 (40x)", out / "slides/synthetic-100000x80000.tiff", 0.25, 0.5),
              ("synthetic 25000x20000 (40x)", out / "slides/synthetic-25000x20000.tiff", 0.25, 0.5)]
    real = testdata / "slides/CMU-1-Small-Region.svs"
    if real.exists():
        slides.append(("CMU-1-Small-Region.svs (real, 240-px tiles)", real, 0.499, 0))
    rows = []
    for label, slide, mpp, min_fraction in slides:
        if not slide.exists():
            print(f"note: {slide} missing (run bench_tile.py first); row skipped", file=sys.stderr)
            continue
        tiles_out = out / "stream-tiles"
        # Level-0 256-px tissue patches: target scale = the slide's own.
        measure([a.bin, "tile", slide, "--out", tiles_out, "--target-mpp", mpp, "--patch-size", 256,
                 "--min-tissue-fraction", min_fraction, "--force", "--jobs", 1])
        bag = tiles_out / "patches" / (slide.stem + ".h5")
        with h5py.File(bag, "r") as f:
            coords = f["coords"][:]
            assert int(f["coords"].attrs["patch_level"]) == 0 and int(f["coords"].attrs["patch_size"]) == 256
        rp2, fast, mem = stream_rate(a.bin, bag, len(coords), cores, a.repeats)
        rp1, _, _ = stream_rate(a.bin, bag, len(coords), 1, a.repeats)
        limit_mp = decode_limit(tissue_tiles(slide, coords)) * cores
        limit = limit_mp * 1e6 / (256 * 256)
        sample = tissue_tiles(slide, coords, n=min(len(coords), 3000))
        mem_limit = memory_decode_limit(sample, cores) * patches_per_tile(slide, 256)
        hot = hot_loop_factor(sample)
        sub = coords[: a.loop_patches]
        osl = max(openslide_loop(slide, sub, 256) for _ in range(2))
        try:
            vips = max(pyvips_loop(slide, sub, 256) for _ in range(2))
        except Exception as e:  # libvips missing: say so, keep the row
            print(f"pyvips unavailable: {e}", file=sys.stderr)
            vips = float("nan")
        rows.append(dict(slide=label, patches=len(coords), radiopath_1=rp1, radiopath=rp2, fast_path=fast,
                         tjbench_limit=limit, pct_of_tjbench=100 * rp2 / limit, memory_limit=mem_limit,
                         pct_of_memory_limit=100 * rp2 / mem_limit, hot_loop_factor=hot, openslide=osl, pyvips=vips,
                         vs_openslide=rp2 / osl, peak_mib=mem))
        print(f"{label}: {len(coords)} patches; RadioPath {rp2:.0f}/s on {cores} cores ({rp1:.0f}/s on 1), "
              f"decode limit: tjbench {limit:.0f}/s ({100 * rp2 / limit:.0f} %), the slide's tiles from memory "
              f"{mem_limit:.0f}/s ({100 * rp2 / mem_limit:.0f} %), varied/repeated-tile decode rate {hot:.2f}; openslide-python {osl:.0f}/s, "
              f"pyvips {vips:.0f}/s, peak {mem:.0f} MiB", file=sys.stderr)

    md = [f"| slide | patches | RadioPath patches/s ({cores} cores) | 1 core | decode limit, tjbench ({cores} cores) | "
          f"decode limit, slide's tiles ({cores} cores) | varied/repeated tile | openslide-python loop | pyvips | vs openslide | peak MiB |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['slide']} | {r['patches']} | {r['radiopath']:.0f} | {r['radiopath_1']:.0f} | "
                  f"{r['tjbench_limit']:.0f} ({r['pct_of_tjbench']:.0f} %) | {r['memory_limit']:.0f} ({r['pct_of_memory_limit']:.0f} %) | "
                  f"{r['hot_loop_factor']:.2f} | "
                  f"{r['openslide']:.0f} | {r['pyvips']:.0f} | {r['vs_openslide']:.1f}x | {r['peak_mib']:.0f} |")
    write_report(out, "stream_bench", md, rows)


if __name__ == "__main__":
    main()
