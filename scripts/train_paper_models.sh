#!/usr/bin/env bash
# The paper's pipeline at full size on the phantom, for a GPU: train the DCGAN ngf=ndf=128 (45.6 M generator
# parameters) and the ResNet VAE base 64 (encoder 9.1 M, decoder 20.9 M) with the paper's optimiser settings, batch 128,
# 50 epochs; then discover directions on both (Voynov & Babenko with the paper's settings: orthonormal K = 32, LeNet
# reconstructor, batch 128, lr 1e-4, 3000 steps; SeFa; GANSpace) and score every set against random ones.
# Minutes on one H200; days on a CPU. Nothing is published into models/: the run folders in $WORK are complete model
# folders (`latentct serve --models-dir "$WORK"` serves them).
#
#   bash scripts/train_paper_models.sh
#
# Environment knobs: DATA, WORK, KINDS ('gan vae'), EPOCHS (50), BATCH (128), DEVICE (cuda), GAN_WIDTH (128), VAE_WIDTH (64),
# VOYNOV_STEPS (3000), VOYNOV_MINUTES (30), SKIP_DATA=1 to reuse an existing dataset, SKIP_TRAIN=1 to reuse trained
# models, SKIP_DISCOVER=1 to stop after training.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
latentct() { "$PY" -m latentct.cli "$@"; }
DATA=${DATA:-data/phantom-paper}
WORK=${WORK:-runs/paper}
EPOCHS=${EPOCHS:-50}
BATCH=${BATCH:-128}
DEVICE=${DEVICE:-cuda}
GAN_WIDTH=${GAN_WIDTH:-128}
VAE_WIDTH=${VAE_WIDTH:-64}
VOYNOV_STEPS=${VOYNOV_STEPS:-3000}
VOYNOV_MINUTES=${VOYNOV_MINUTES:-30}
KINDS=${KINDS:-gan vae}

# the demo models' data, in its own folder: 200 random phantom patients x 16 slices at 128 px, seed 0
if [[ "${SKIP_DATA:-0}" != 1 ]]; then
  latentct data phantom --out "$DATA" --patients 200 --slices-per-patient 16 --size 128 --seed 0 --overwrite
fi

train() {
  case "$1" in
    gan) latentct train gan --data "$DATA" --out "$WORK/paper-dcgan" --ngf "$GAN_WIDTH" --ndf "$GAN_WIDTH" --epochs "$EPOCHS" \
           --batch-size "$BATCH" --device "$DEVICE" --seed 0 --no-progress ;;
    vae) latentct train vae --data "$DATA" --out "$WORK/paper-vae" --base-channels "$VAE_WIDTH" --epochs "$EPOCHS" \
           --batch-size "$BATCH" --device "$DEVICE" --seed 0 --no-progress ;;
    *) echo "KINDS: unknown kind '$1' (gan, vae)" >&2; exit 2 ;;
  esac
}

discover() {
  local model=$WORK/$1
  latentct discover --model "$model" --method voynov --direction-model ortho --reconstructor lenet --batch-size 128 \
    --lr 1e-4 --steps "$VOYNOV_STEPS" --max-minutes "$VOYNOV_MINUTES" --set-id voynov-ortho --device "$DEVICE"
  latentct discover --model "$model" --method sefa --device "$DEVICE"
  latentct discover --model "$model" --method ganspace --device "$DEVICE"
  latentct evaluate --model "$model" --set voynov-ortho --set sefa --set ganspace --random-sets 4 --device "$DEVICE"
}

mkdir -p "$WORK"
for kind in $KINDS; do
  [[ "${SKIP_TRAIN:-0}" == 1 ]] || { rm -rf "$WORK/paper-${kind/gan/dcgan}"; train "$kind"; }
done
latentct models list --models-dir "$WORK"
[[ "${SKIP_DISCOVER:-0}" == 1 ]] && exit 0
for kind in $KINDS; do
  discover "paper-${kind/gan/dcgan}"
done
