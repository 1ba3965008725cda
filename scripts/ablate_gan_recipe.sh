#!/usr/bin/env bash
# The recipe ablation of docs/training.md: the paper recipe and the improved recipe without augmented fakes, each for
# 15 minutes on one core, on the same data, batch and seed as the demo GAN (whose run is the third arm, compared at
# equal steps from its metrics.jsonl). Quality records every 125 steps.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
latentct() { "$PY" -m latentct.cli "$@"; }
DATA=${DATA:-data/phantom-50k}
OUT=${OUT:-runs/ablation}
mkdir -p "$OUT"
printf 'augment_fakes = false\naug_translate_px = 0.0\n' > "$OUT/real-aug.toml"
common=(--data "$DATA" --ngf 32 --ndf 32 --batch-size 64 --epochs 100 --max-minutes 15 --threads 1 --quality-every 125
        --no-progress)
latentct train gan --out "$OUT/paper" "${common[@]}" --recipe paper > "$OUT/paper.log" 2>&1
latentct train gan --out "$OUT/improved-real-aug" "${common[@]}" --recipe improved --config "$OUT/real-aug.toml" \
  > "$OUT/improved-real-aug.log" 2>&1
