"""Checks the synthetic MIL run: mean cross-validated test AUC, and for every positive slide the
share of its 20 highest-attention patches whose centre lies inside a true tumour polygon
(the slide's truth/tumour.geojson). A slide with fewer than 20 tumour patches cannot reach
20/20, so the share of min(20, tumour patches) is reported too. Exit status 1 if the mean AUC
< 0.95 or any slide's attainable share < 0.8. Pure Python + h5py."""
import csv
import json
import sys
from pathlib import Path

import h5py


def inside(poly, x, y):
    hit = False
    for (x1, y1), (x2, y2) in zip(poly, poly[1:] + poly[:1]):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            hit = not hit
    return hit


def main(out):
    out = Path(out)
    folds = [r for r in csv.DictReader(open(out / "model/summary.csv")) if r["fold"].isdigit()]
    aucs = [float(r["auc"]) for r in folds if r["auc"]]
    mean_auc = sum(aucs) / len(aucs)
    shares, attainable = [], []
    for h5 in sorted((out / "scores/attention").glob("pos-*.h5")):
        polys = [f["geometry"]["coordinates"][0] for f in json.load(open(out / "truth" / h5.stem / "tumour.geojson"))["features"]]
        with h5py.File(h5, "r") as f:
            coords, att = f["coords"][:], f["attention"][:]
            size = int(f["coords"].attrs.get("patch_size_level0", f["coords"].attrs["patch_size"]))
        tumour = [any(inside(p, x + size / 2, y + size / 2) for p in polys) for x, y in coords]
        top = att.argsort()[::-1][:20]
        hits = sum(tumour[i] for i in top)
        best = min(len(top), sum(tumour))
        shares.append(hits / len(top))
        attainable.append(hits / best if best else 1.0)
        print(f"{h5.stem}: {hits}/{len(top)} of the top-attention patches inside tumour ({sum(tumour)} tumour patches)")
    mean_share = sum(shares) / len(shares)
    print(f"cross-validated test AUC: {', '.join(f'{a:.3f}' for a in aucs)} (mean {mean_auc:.3f})")
    print(f"top-20 attention inside tumour: mean {mean_share:.2f} over {len(shares)} positive slides (min {min(shares):.2f}); "
          f"of min(20, tumour patches): mean {sum(attainable) / len(attainable):.2f} (min {min(attainable):.2f})")
    ok = mean_auc >= 0.95 and min(attainable) >= 0.8
    print("PASS" if ok else "FAIL: needs mean AUC >= 0.95 and every slide's attainable share >= 0.8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "demo-out/synthetic-mil"))
