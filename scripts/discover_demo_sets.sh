#!/usr/bin/env bash
# Every shipped direction set of both demo models, then their scorecards (models/<id>/scorecard.{json,md,png}).
#
#   bash scripts/discover_demo_sets.sh       # about 2.5 hours on a 2-core CPU, most of it the four Voynov runs
#                                            (with native bf16; on an fp32-only CPU raise VOYNOV_MINUTES)
#
# VOYNOV_MINUTES caps each `voynov-paper` run (the paper's 3000 x 128 steps: 24 min (GAN) and 25 min (VAE) on two
# threads of a CPU with native bf16, about 2 and 3 hours on two fp32 AVX2 cores; bench/results/discovery_cpu.md).
# ORIGINAL_MINUTES caps each `voynov-original` run (GANLatentDiscovery's 1e5 x 32 steps are sized to a GPU; on a CPU
# the set is what that budget trained, its steps_done on the set). On a GPU both run to their full schedules.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
latentct() { "$PY" -m latentct.cli "$@"; }
VOYNOV_MINUTES=${VOYNOV_MINUTES:-75}
ORIGINAL_MINUTES=${ORIGINAL_MINUTES:-40}
mkdir -p runs

for model in models/phantom-dcgan models/phantom-vae; do
  for method in sefa ganspace ica random axes jacobian supervised; do
    latentct discover --model "$model" --method "$method" --threads 1
  done
  # GANSpace of the generated image (pooled to 32 px) beside block 2's
  latentct discover --model "$model" --method ganspace --ganspace-block 0 --set-id ganspace-image --threads 1
done
# the paper's method, as its code ran it, on both models side by side (one thread each)
latentct discover --model models/phantom-dcgan --method voynov --preset paper --amp --max-minutes "$VOYNOV_MINUTES" \
  --threads 1 > runs/voynov-paper-dcgan.log 2>&1 &
gan=$!
latentct discover --model models/phantom-vae --method voynov --preset paper --amp --max-minutes "$VOYNOV_MINUTES" \
  --threads 1 > runs/voynov-paper-vae.log 2>&1 &
vae=$!
wait "$gan"
wait "$vae"
# GANLatentDiscovery's defaults (ortho, ResNet-18, 1e5 x 32), within a time budget on a CPU
latentct discover --model models/phantom-dcgan --method voynov --preset original --amp \
  --max-minutes "$ORIGINAL_MINUTES" --threads 1 > runs/voynov-original-dcgan.log 2>&1 &
gan=$!
latentct discover --model models/phantom-vae --method voynov --preset original --amp \
  --max-minutes "$ORIGINAL_MINUTES" --threads 1 > runs/voynov-original-vae.log 2>&1 &
vae=$!
wait "$gan"
wait "$vae"
latentct scorecard --model models/phantom-dcgan --threads 1 > runs/scorecard-dcgan.md 2> runs/scorecard-dcgan.log &
gan=$!
latentct scorecard --model models/phantom-vae --threads 1 > runs/scorecard-vae.md 2> runs/scorecard-vae.log &
vae=$!
wait "$gan"
wait "$vae"
