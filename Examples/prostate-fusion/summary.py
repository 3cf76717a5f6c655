"""Summary of an Examples/prostate-fusion run: per-section Dice/TRE, supported regions, pictures.

    python summary.py OUT SLICES
"""
import csv
import glob
import json
import os
import sys

out, slices = sys.argv[1], sys.argv[2].split(",")

print("registration (final stage; TRE over the generator's 60 interior gland points, MRI mm):")
for k in slices:
    rep = json.load(open(os.path.join(out, "register", f"s{k}", "report.json")))
    r = rep["result"]
    print(f"  section s{k} → slice {k}: Dice {r['dice']:.4f}  HD95 {r['hausdorff95Mm']:.2f} mm  "
          f"TRE mean {r.get('treMeanMm', float('nan')):.3f} / max {r.get('treMaxMm', float('nan')):.3f} mm")

rows = list(csv.DictReader(open(os.path.join(out, "fused", "region_table.csv"))))
print(f"region table: {len(rows)} rows ({out}/fused/region_table.csv, dictionary region_dictionary.md)")
for fam in sorted({r["family"] for r in rows}):
    fr = [r for r in rows if r["family"] == fam]
    sup = [r for r in fr if r["supported"] == "1"]
    print(f"  {fam}: {len(sup)} of {len(fr)} regions supported (coverage ≥ 0.5)")
    for r in sup:
        dens = r.get("path_nuclei_density_per_mm2_tissue", "")
        dens = f"{float(dens):5.0f}/mm²" if dens else "    —"
        print(f"    {r['region']:<14} patches {int(r['patch_count']):5d}  coverage {float(r['coverage_fraction']):.2f}  "
              f"nuclei {dens} tissue  H {float(r.get('path_stain_hematoxylin_mean') or 'nan'):.3f}")

print("pictures:")
pics = [("register QC (final stage: MRI mask green, section magenta)", f"{out}/register/s*/qc/*bspline_contours.png"),
        ("MRI regions (sectors, rings, habitats)", f"{out}/regions/*[!e].png"),
        ("MRI regions on the slide (+ QuPath GeoJSON)", f"{out}/regions/*_slide.png"),
        ("fused maps: pathology evidence on the MRI (+ NIfTI scores/labels)", f"{out}/regions/maps/*.png")]
for what, pattern in pics:
    files = sorted(f for f in glob.glob(pattern) if not f.endswith("_slide.png") or "slide" in what)
    print(f"  {what}:")
    for f in files:
        print(f"    {f}")
