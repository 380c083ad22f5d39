#!/usr/bin/env bash
# The cpu sweep of nbs/experiments/exp_kdd_image.ipynb, one papermill call per (setting, seed) so that every run is
# its own job (resumable: a finished run is skipped, a killed one resumes from its checkpoint), then one call that
# only summarises, and the copies into paper_figures/. Run from the repository root:
#   paper_figures/kdd_image_sweep.sh [OUT_DIR]            (default runs/kdd_image)
# PREFIX is put in front of every papermill call, e.g. PREFIX="nice -n 10" on a shared machine;
# EXTRA holds more papermill arguments for every call (e.g. EXTRA="-p steps 1000").
set -euo pipefail
OUT=$(realpath -m "${1:-runs/kdd_image}")
PM=${PAPERMILL:-.venv/bin/papermill}
SETTINGS=${SETTINGS:-hinge kdd joint kdd_da1 kdd_da3 kdd_jac}
SEEDS=${SEEDS:-0 1 2}
mkdir -p "$OUT/logs"
for s in $SEEDS; do
  for k in $SETTINGS; do
    if [ -f "$OUT/runs/${k}_s$s/result.json" ]; then echo "done: $k seed $s"; continue; fi
    echo "$(date +%H:%M:%S) run: $k seed $s"
    ${PREFIX:-} $PM nbs/experiments/exp_kdd_image.ipynb "$OUT/logs/${k}_s$s.ipynb" -p preset cpu -p settings "$k" \
      -p seeds 1 -p seed "$s" -p out_dir "$OUT" ${EXTRA:-} --cwd nbs/experiments > "$OUT/logs/${k}_s$s.log" 2>&1
  done
done
n=$(echo $SEEDS | wc -w); first=$(echo $SEEDS | cut -d' ' -f1)
${PREFIX:-} $PM nbs/experiments/exp_kdd_image.ipynb "$OUT/summary.ipynb" -p preset cpu -p settings "$(echo $SETTINGS | tr ' ' ,)" \
  -p seeds "$n" -p seed "$first" -p out_dir "$OUT" -p only_finished True ${EXTRA:-} --cwd nbs/experiments > "$OUT/logs/summary.log" 2>&1
cp "$OUT/samples_grid.png" paper_figures/kdd_image_toyscenes32.png
cp "$OUT/fid_per_seed.png" paper_figures/kdd_image_toyscenes32_fid.png
cp "$OUT/table.md" paper_figures/kdd_image_toyscenes32.md
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); json.dump({'config': d['config'], 'seeds': d['seeds'], 'summary': d['summary']}, open(sys.argv[2],'w'), indent=1)" \
  "$OUT/results.json" paper_figures/kdd_image_toyscenes32.json
echo "summary: $OUT/table.md"
