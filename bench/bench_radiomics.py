#!/usr/bin/env python3
"""Benchmark: radiomic feature extraction, RadioPath vs PyRadiomics 3.0.1, same cases, same
settings, side by side. Not a timed test: numbers go to bench-out/radiomics_bench.{md,json}.

Cases: the real soft-tissue-sarcoma CT (sts_001, 117k-voxel GTV) and PyRadiomics' brain1 MR.
Configurations (both tools read the same YAML):
  original  - shape, firstorder, glcm, glrlm, glszm, gldm, ngtdm; bin width 25
  filtered  - the same plus LoG (sigma 1, 2, 3 mm) and a level-1 coif1 wavelet (8 sub-bands)
RadioPath runs `radiopath radiomics --mode pyradiomics` (process start, reading the volumes
and writing the tables included); PyRadiomics runs RadiomicsFeatureExtractor.execute on the
file paths in a fresh interpreter (imports excluded from its time: it is timed inside).
Each side: best of --repeats; both use the machine's cores as they do by default.

usage: bench_radiomics.py --bin .build/release/radiopath [--repeats 3]
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

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("RADIOPATH_TESTDATA", ROOT.parent / "shared" / "testdata"))

CONFIGS = {
    "original": "imageType: {Original: {}}\n",
    "filtered": "imageType:\n  Original: {}\n  LoG: {sigma: [1.0, 2.0, 3.0]}\n  Wavelet: {wavelet: coif1}\n",
}
COMMON = ("featureClass: {shape: , firstorder: , glcm: , glrlm: , glszm: , gldm: , ngtdm: }\n"
          "setting: {binWidth: 25, label: 1}\n")

PYRADIOMICS = r"""
import sys, time, logging
import radiomics
from radiomics import featureextractor
radiomics.setVerbosity(logging.ERROR)
image, mask, params, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
best = float('inf'); n = 0
for _ in range(repeats):
    t = time.perf_counter()
    ex = featureextractor.RadiomicsFeatureExtractor(params)
    r = ex.execute(image, mask)
    best = min(best, time.perf_counter() - t)
    n = sum(1 for k in r if not k.startswith('diagnostics'))
print(best, n)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench-out"))
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        import radiomics  # noqa: F401
    except ImportError:
        print("pyradiomics is not installed in this venv: skipping the radiomics benchmark")
        return
    cases = {
        "sts_001 CT (117k voxels)": (DATA / "radiology/sts_001/CT_image.nii.gz", DATA / "radiology/sts_001/CT_mask.nii.gz"),
        "brain1 MR": (DATA / "radiology/pyradiomics/brain1_image.nrrd", DATA / "radiology/pyradiomics/brain1_label.nrrd"),
    }
    lines = ["radiomics: RadioPath `--mode pyradiomics` vs PyRadiomics 3.0.1 (same YAML, best of "
             f"{a.repeats}; 2 cores)", "",
             "| case | configuration | features (RadioPath / PyRadiomics) | RadioPath s | PyRadiomics s | speed-up |",
             "|---|---|---:|---:|---:|---:|"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case, (image, mask) in cases.items():
            for name, types in CONFIGS.items():
                params = Path(tmp) / f"{name}.yaml"
                params.write_text(types + COMMON)
                ours = float("inf")
                for r in range(a.repeats):
                    o = Path(tmp) / f"out-{name}-{r}"
                    s, _, _ = measure([a.bin, "radiomics", "--image", image, "--mask", mask, "--params", params,
                                       "--mode", "pyradiomics", "--out", o, "--force"])
                    ours = min(ours, s)
                header = (o / "radiomics.csv").read_text().splitlines()[0].split(",")
                n_ours = sum(1 for h in header if "_" in h and h.split("_")[0] not in ("id", "image", "mask", "label", "radiopath", "parameters"))
                p = subprocess.run([a.python, "-c", PYRADIOMICS, str(image), str(mask), str(params), str(a.repeats)],
                                   capture_output=True, text=True, check=True)
                theirs, n_theirs = p.stdout.split()
                theirs = float(theirs)
                lines.append(f"| {case} | {name} | {n_ours} / {n_theirs} | {ours:.2f} | {theirs:.2f} | {theirs / ours:.1f}× |")
                rows.append({"case": case, "configuration": name, "radiopath_s": ours, "pyradiomics_s": theirs,
                             "features_radiopath": n_ours, "features_pyradiomics": int(n_theirs)})
    write_report(out, "radiomics_bench", lines, rows)


if __name__ == "__main__":
    main()
