// What identifies a frame, a strip and a grid in Explore: cache keys, traversal parameters and slider steps (pure).

import { shiftParams } from "../api.js";

export const STRIP_STEPS = 33; // frames per strip: a slider step is exactly one frame

export const round4 = (v) => Math.round(v * 1e4) / 1e4;

/** Slider step for a range of ±extent: one strip frame. */
export const shiftStep = (extent) => (2 * extent) / (STRIP_STEPS - 1);

export function withoutDirection(shifts, index) {
  const rest = { ...shifts };
  delete rest[index];
  return rest;
}

/** The shifts moved onto the slider steps of a new range ±extent (and into it). */
export function snapShifts(shifts, extent) {
  const step = shiftStep(extent);
  const snapped = {};
  for (const [k, v] of Object.entries(shifts)) {
    snapped[k] = round4(Math.max(-extent, Math.min(extent, Math.round(v / step) * step)));
  }
  return snapped;
}

/** A short fingerprint of a latent for cache keys (the full vector is in the address already). */
export function latentTag(latent) {
  let hash = 0;
  for (const v of latent) hash = (Math.imul(hash, 31) + Math.round(v * 1e5)) | 0;
  return `L${latent.length}:${hash >>> 0}`;
}

/** What one cell shows: model, set, seed (or encoded latent), window and shifts. */
export const renderKey = (state, seed, shifts = state.shifts) =>
  [state.model, state.set, state.latent ? latentTag(state.latent) : seed, state.window, shiftParams(shifts).join(",")].join("|");

/** traversal.png parameters of the focused direction on one seed (the other shifts held fixed). */
export const stripParams = (state, seed) => ({
  seed, set: state.set, direction: state.focus, extent: state.extent, steps: STRIP_STEPS,
  shifts: withoutDirection(state.shifts, state.focus), window: state.window,
});

export function stripKey(state, seed) {
  const p = stripParams(state, seed);
  return [state.model, p.set, seed, p.direction, p.extent, p.steps, p.window, shiftParams(p.shifts).join(",")].join("|");
}

/** What the cells of the grid are (rebuilt when it changes): model and seeds, or the encoded latent. */
export const gridKey = (state) => `${state.model}|${state.latent ? latentTag(state.latent) : `${state.seed}|${state.samples}`}`;

/** The body of POST render for the encoded latent of `state` with `shifts`. */
export const renderBody = (state, shifts = state.shifts) =>
  ({ latent: Array.from(state.latent), set: state.set, shifts, window: state.window });
