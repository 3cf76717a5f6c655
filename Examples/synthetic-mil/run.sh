#!/usr/bin/env bash
# A slide-label task with a known answer, end to end: synthetic slides where positives hold
# tumour and negatives do not → embed (pathomic-v1, built in) → train CLAM-SB with 5-fold
# cross-validation → score → heatmaps; then check the test AUC and whether the highest-
# attention patches of each positive slide lie inside its true tumour polygons.
#   Examples/synthetic-mil/run.sh [OUT] [SLIDES_PER_CLASS]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release/radiopath}
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${1:-demo-out/synthetic-mil}
N=${2:-20}
mkdir -p "$OUT/slides" "$OUT/truth"

echo "== 1. $N tumour and $N tumour-free synthetic slides (12,000 × 9,600 px at 0.5 µm/px)"
for i in $(seq 1 "$N"); do
  for kind in pos neg; do
    id="$kind-$i"; seed=$((i * 2)); [ "$kind" = neg ] && seed=$((seed + 1))
    [ -f "$OUT/slides/$id.tiff" ] && continue
    extra=(); [ "$kind" = neg ] && extra=(--no-tumour)
    "$BIN" synth slide --width 12000 --height 9600 --mpp 0.5 --magnification 20 --seed "$seed" \
      --tissue-regions 2 --no-nuclei-truth "${extra[@]}" --out "$OUT/slides/$id.tiff" --truth "$OUT/truth/$id" > /dev/null
  done
done
{ echo "slide_id,label"; for i in $(seq 1 "$N"); do echo "neg-$i,normal"; echo "pos-$i,tumour"; done; } > "$OUT/labels.csv"

echo "== 2. embed every slide (tiled at 224 px, 0.5 µm/px)"
"$BIN" embed "$OUT/slides" --out "$OUT/run"

echo "== 3. train CLAM-SB, 5-fold cross-validation"
"$BIN" train "$OUT/run/features_pathomic-v1" --labels "$OUT/labels.csv" --classes normal,tumour \
  --out "$OUT/model" --folds 5 --epochs 60 --stop-epoch 20 --patience 10

echo "== 4. score every slide with fold 0's model; heatmaps of two positives"
"$BIN" score "$OUT/run/features_pathomic-v1" --model "$OUT/model/fold_0/model.safetensors" \
  --labels "$OUT/labels.csv" --classes normal,tumour --out "$OUT/scores" || true
for id in pos-1 pos-2; do
  "$BIN" heatmap "$OUT/scores/attention/$id.h5" --out "$OUT/heatmaps" --top-k 8 --geojson --full-res
done

echo "== 4b. CLAM-style 50%-overlap heatmap of pos-1 (re-tiled, embedded and scored at half-patch steps)"
"$BIN" heatmap "$OUT/scores/attention/pos-1.h5" --out "$OUT/heatmaps-overlap" --overlap 0.5 --blur-um 20

echo "== 5. check: cross-validated test AUC and attention inside the true tumour"
"$PYTHON" Examples/synthetic-mil/check.py "$OUT"
