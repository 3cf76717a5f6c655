"""Checks the synthetic MIL run: mean cross-validated test AUC, and for every positive slide the
share of its 20 highest-attention patches whose centre lies inside a true tumour polygon
(the slide's truth/tumour.geojson). Prints a table; exit status 1 if AUC < 0.95 or the mean
share < 0.8. Pure Python + h5py."""
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
    shares = []
    for h5 in sorted((out / "scores/attention").glob("pos-*.h5")):
        polys = [f["geometry"]["coordinates"][0] for f in json.load(open(out / "truth" / h5.stem / "tumour.geojson"))["features"]]
        with h5py.File(h5, "r") as f:
            coords, att = f["coords"][:], f["attention"][:]
            size = int(f["coords"].attrs.get("patch_size_level0", f["coords"].attrs["patch_size"]))
        top = att.argsort()[::-1][:20]
        hits = sum(any(inside(p, coords[i][0] + size / 2, coords[i][1] + size / 2) for p in polys) for i in top)
        shares.append(hits / len(top))
        print(f"{h5.stem}: {hits}/{len(top)} of the top-attention patches inside tumour")
    mean_share = sum(shares) / len(shares)
    print(f"cross-validated test AUC: {', '.join(f'{a:.3f}' for a in aucs)} (mean {mean_auc:.3f})")
    print(f"top-20 attention inside tumour: mean {mean_share:.2f} over {len(shares)} positive slides (min {min(shares):.2f})")
    ok = mean_auc >= 0.95 and mean_share >= 0.8
    print("PASS" if ok else "FAIL: needs mean AUC >= 0.95 and mean share >= 0.8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "demo-out/synthetic-mil"))
