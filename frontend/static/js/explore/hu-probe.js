// HU of the images Explore shows, read back from the server's full-range image: `image.png` (or `POST render` for an
// encoded latent) with `window=full` maps the model's hu_range [lo, hi] linearly onto 8-bit grey, so a grey value g
// is lo + g (hi - lo) / 255 HU, within half a grey level: ±(hi - lo) / 510 HU (±5.9 HU for -1000..2000).

import * as api from "../api.js";
import { fullRangeResolution, greyToHu } from "./hu-maps.js";
import { renderBody, renderKey } from "./keys.js";

const MAX_IMAGES = 24;

async function greyOf(blob) {
  const bitmap = await createImageBitmap(blob);
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const grey = new Uint8Array(bitmap.width * bitmap.height);
  for (let i = 0; i < grey.length; i += 1) grey[i] = rgba[i * 4];
  return { width: bitmap.width, height: bitmap.height, grey };
}

/** `modelOf(id)` gives a model's catalog entry (its hu_range). */
export function createHuProbe(modelOf) {
  const images = new Map(); // key -> Promise of {width, height, grey}

  /** The full-range grey image of seed `seed` (or the encoded latent) of `state` with `shifts`, fetched once. */
  function fullRange(state, seed, shifts = state.shifts) {
    const full = { ...state, window: "full" };
    const key = renderKey(full, seed, shifts);
    if (!images.has(key)) {
      const blob = state.latent
        ? api.renderLatent(state.model, renderBody(full, shifts))
        : api.fetchImage(state.model, { seed, set: state.set, shifts, window: "full" }, undefined, "low");
      const promise = blob.then(greyOf);
      promise.catch(() => images.delete(key)); // a failure is not kept: the next hover asks again
      images.set(key, promise);
      while (images.size > MAX_IMAGES) images.delete(images.keys().next().value);
    }
    return images.get(key);
  }

  /** HU images (Float32Array, row by row) of `state` with `shifts`: {width, height, hu}. */
  async function huImage(state, seed, shifts = state.shifts) {
    const { width, height, grey } = await fullRange(state, seed, shifts);
    const range = modelOf(state.model)?.hu_range || [-1000, 2000];
    return { width, height, hu: Float32Array.from(grey, (g) => greyToHu(g, range)) };
  }

  /** {hu, resolution} at pixel (x, y) of what a cell shows for `state` (resolution: ± HU of the readout). */
  async function huAt(state, seed, x, y) {
    const { width, grey } = await fullRange(state, seed);
    const range = modelOf(state.model)?.hu_range || [-1000, 2000];
    return { hu: greyToHu(grey[y * width + x], range), resolution: fullRangeResolution(range) };
  }

  return { huAt, huImage };
}
