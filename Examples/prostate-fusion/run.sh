#!/usr/bin/env bash
# Region-level radiology–pathology fusion on the real prostate MRI, end to end:
# whole-mount sections generated from the aaa0060 T2 slices (known truth) → register each to
# its slice (Dice, TRE) → tile + pathomics on each section → MRI regions (PI-RADS-like
# sectors, rings around the gland boundary, T2 habitats) drawn on one slide → region table
# (one case, its sections ;-separated) → region-level pathology evidence painted on the MRI.
#   Examples/prostate-fusion/run.sh [OUT]
# Environment: BIN (radiopath), PYTHON (for the summary), RADIOPATH_TESTDATA (shared data),
#   SLICES (13,14,15), MPP (section µm/px, 10), SIZE (section px, 6000), PATCH (patch px, 100).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release/radiopath}
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${1:-demo-out/prostate-fusion}
SLICES=${SLICES:-13,14,15}
MPP=${MPP:-10}
SIZE=${SIZE:-6000}
PATCH=${PATCH:-100}
DATA=${RADIOPATH_TESTDATA:-../shared/testdata}
T2=$DATA/radiology/prostate/aaa0060_T2_axial.nii.gz
GLAND=$DATA/radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz
for f in "$T2" "$GLAND"; do
  [ -f "$f" ] || { echo "prostate-fusion: $f not found — set RADIOPATH_TESTDATA to the shared test data folder (radiology/prostate/aaa0060_*)" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "prostate-fusion: $BIN not found — build it (swift build -c release --product radiopath) or set BIN" >&2; exit 2; }
"$PYTHON" -c "import json, csv" 2>/dev/null || { echo "prostate-fusion: no Python at $PYTHON (it prints the summary) — make venv, or set PYTHON" >&2; exit 2; }
IFS=, read -r -a KS <<< "$SLICES"
mkdir -p "$OUT/slides"
mkdir -p "$OUT/logs"
secs() { local IFS=';'; echo "$*"; }
# Runs a step with its output in $OUT/logs/<name>.log; on failure shows the log and stops.
step() { local name=$1; shift; "$@" > "$OUT/logs/$name.log" 2>&1 || { cat "$OUT/logs/$name.log" >&2; echo "prostate-fusion: step $name failed (log: $OUT/logs/$name.log)" >&2; exit 1; }; }

echo "== 1. whole-mount sections of slices $SLICES ($SIZE px at $MPP µm/px, known mirror/rotation/shrinkage/warp)"
# --working-mpp only sets the elastix MetaImage copies: the multiple of MPP nearest 250 µm.
WORKING=$(awk -v m="$MPP" 'BEGIN { f = int(250 / m + 0.5); if (f < 1) f = 1; print f * m }')
# --stain he: H&E-like colour of the same optical density, so tissue detection and colour
# deconvolution apply as on a real slide.
step synth "$BIN" synth section --mri "$T2" --label "$GLAND" --slices "$SLICES" --cases "${#KS[@]}" \
  --mpp "$MPP" --size "$SIZE" --working-mpp "$WORKING" --stain he --out "$OUT/synth"
for n in "${!KS[@]}"; do
  k=${KS[$n]}
  cp "$OUT/synth/case$n/section.png" "$OUT/slides/s$k.png"   # the slide id is the file name
done

echo "== 2. register each section to its MRI slice (landmarks from the generator → TRE)"
for n in "${!KS[@]}"; do
  k=${KS[$n]}
  # No --moving-mask: the tissue detector finds the section (see README: the mask flag and synthetic sections).
  step "register-s$k" "$BIN" register --fixed "$T2" --fixed-mask "$GLAND" --slice "$k" --moving "$OUT/slides/s$k.png" --moving-mpp "$MPP" \
    --landmarks "$OUT/synth/case$n/landmarks.csv" --out "$OUT/register/s$k"
done

slides=(); bags=(); for k in "${KS[@]}"; do slides+=("$OUT/slides/s$k.png"); bags+=("$OUT/tiles/patches/s$k.h5"); done
echo "== 3. tile + pathomics (nuclei, cell graph, stain, texture) on each section, $PATCH px patches at $MPP µm/px"
step tile "$BIN" tile "${slides[@]}" --out "$OUT/tiles" --preset prostate-wholemount --slide-mpp "$MPP" \
  --target-mpp "$MPP" --patch-size "$PATCH"
step pathomics "$BIN" pathomics "${bags[@]}" --out "$OUT/pathomics" --slide-mpp "$MPP" --pixel-size "$MPP"

echo "== 4. MRI regions: prostate sectors, rings around the gland boundary, 3 T2 habitats; drawn on section s${KS[0]}"
step regions "$BIN" regions --image "$T2" --mask "$GLAND" --sectors prostate --rings=-6,-3,0,3,6 --habitats 3 \
  --transform "$OUT/register/s${KS[0]}" --out "$OUT/regions"

echo "== 5. region table: one case, ${#KS[@]} section(s)"
reg=(); pat=(); pth=(); tis=()
for n in "${!KS[@]}"; do
  k=${KS[$n]}
  reg+=("register/s$k"); pat+=("tiles/patches/s$k.h5"); pth+=("pathomics/patches/s$k.csv"); tis+=("synth/case$n/section_mask.png")
done
{ echo "id,image,regions,register,patches,pathomics,tissue"
  echo "aaa0060,$(cd "$(dirname "$T2")" && pwd)/$(basename "$T2"),regions,$(secs "${reg[@]}"),$(secs "${pat[@]}"),$(secs "${pth[@]}"),$(secs "${tis[@]}")"
} > "$OUT/cases.csv"
step fuse "$BIN" fuse --cases "$OUT/cases.csv" --out "$OUT/fused"
grep "supported = 0" "$OUT/logs/fuse.log" || true

echo "== 6. fused map: region-level pathology evidence painted on the MRI"
COLS=${PAINT_COLUMNS:-patch_count,coverage_fraction,path_nuclei_density_per_mm2_tissue,path_stain_hematoxylin_mean}
step paint "$BIN" regions --image "$T2" --mask "$GLAND" --paint "$OUT/fused/region_table.csv" --paint-case aaa0060 \
  --paint-columns "$COLS" --out "$OUT/regions"

echo "== 7. summary"
"$PYTHON" Examples/prostate-fusion/summary.py "$OUT" "$SLICES"
echo "done in ${SECONDS} s"
