// Frames of an encoded slice (which has no traversal strips): rendered ahead along the focused direction, nearest
// values first, and kept by render key so that scrubbing around an encoding needs no request per step; and the same
// frames joined into one strip for playing the direction around the encoding.

import * as api from "../api.js";
import { Strip } from "../strip.js";
import { showError } from "../ui.js";
import { renderBody, renderKey, round4, shiftStep, STRIP_STEPS, withoutDirection } from "./keys.js";

const MAX_LATENT_FRAMES = 200;

/** The slider values of the focused direction, nearest to the current one first. */
function valuesNearFirst(state) {
  const step = shiftStep(state.extent);
  const current = state.shifts[state.focus] || 0;
  return Array.from({ length: STRIP_STEPS }, (_, i) => round4(-state.extent + i * step)).sort(
    (a, b) => Math.abs(a - current) - Math.abs(b - current),
  );
}

export class LatentFrames {
  constructor() {
    this.frames = new Map(); // renderKey -> ImageBitmap
    this.prefetchKey = null;
    this.controller = null;
  }

  get(key) {
    return this.frames.get(key) || null;
  }

  /** Render every slider value of the focused direction around the encoded latent (once per direction and range). */
  prefetch(state) {
    if (!state.latent || state.focus === null) return;
    const base = `${renderKey(state, null, withoutDirection(state.shifts, state.focus))}|${state.focus}|${state.extent}`;
    if (this.prefetchKey === base) return;
    this.controller?.abort();
    this.controller = new AbortController();
    this.prefetchKey = base;
    this.renderAll(state, valuesNearFirst(state), this.controller.signal);
  }

  /** The frame of `shifts` around the encoding: from the cache, else rendered (POST render) and kept. */
  async frame(state, shifts, signal) {
    const key = renderKey(state, null, shifts);
    const cached = this.frames.get(key);
    if (cached) return cached;
    const bitmap = await createImageBitmap(await api.renderLatent(state.model, renderBody(state, shifts), signal));
    if (this.frames.size >= MAX_LATENT_FRAMES) this.frames.delete(this.frames.keys().next().value);
    this.frames.set(key, bitmap);
    return bitmap;
  }

  /** Every slider value of the focused direction around the encoding, -extent to +extent, as one Strip (for Play). */
  async strip(state, signal) {
    const step = shiftStep(state.extent);
    const values = Array.from({ length: STRIP_STEPS }, (_, i) => round4(-state.extent + i * step));
    const frames = [];
    for (const value of values) {
      const shifts = { ...state.shifts, [state.focus]: value };
      if (value === 0) delete shifts[state.focus];
      frames.push(await this.frame(state, shifts, signal));
    }
    const size = frames[0].height;
    const canvas = document.createElement("canvas");
    canvas.width = size * frames.length;
    canvas.height = size;
    const ctx = canvas.getContext("2d");
    frames.forEach((frame, i) => ctx.drawImage(frame, i * size, 0));
    return new Strip(await createImageBitmap(canvas), values);
  }

  async renderAll(state, values, signal) {
    for (const value of values) {
      const shifts = { ...state.shifts, [state.focus]: value };
      if (value === 0) delete shifts[state.focus];
      const key = renderKey(state, null, shifts);
      if (this.frames.has(key)) continue;
      try {
        const bitmap = await createImageBitmap(await api.renderLatent(state.model, renderBody(state, shifts), signal));
        if (this.frames.size >= MAX_LATENT_FRAMES) this.frames.delete(this.frames.keys().next().value);
        this.frames.set(key, bitmap);
      } catch (error) {
        showError(error, "Encoded slice");
        return;
      }
    }
  }
}
