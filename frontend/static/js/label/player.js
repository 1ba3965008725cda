// The Label view's player: the direction on several seeds, played in step (label/playback.js: forth and back, a
// scrubber and a shift readout). Strips come from the shared strip cache (traversal.png, one per seed).

import { MAX_SEED } from "../state.js";
import { drawStripFrame } from "../strip.js";
import { el, showError } from "../ui.js";
import { createPlayback } from "./playback.js";

export const LABEL_SEEDS = 4;
export const LABEL_STEPS = 17;

/** The seeds the player shows for a first seed (consecutive, wrapping at the contract's maximum). */
export const labelSeeds = (seed) => Array.from({ length: LABEL_SEEDS }, (_, i) => (seed + i) % (MAX_SEED + 1));

function buildCells(state, model) {
  return labelSeeds(state.seed).map((seed) => {
    const canvas = el("canvas", { class: "slice", width: 1, height: 1, role: "img", "aria-label": `Direction ${state.dir} on seed ${seed}` });
    if (!model || model.image_size < 128) canvas.classList.add("pixelated");
    return { seed, canvas, figure: el("figure", { class: "cell" }, canvas, el("figcaption", {}, `Seed ${seed}`)) };
  });
}

function loadStrip(app, state, seed) {
  const params = { seed, set: state.set, direction: state.dir, extent: state.extent, steps: LABEL_STEPS, window: state.window };
  const key = ["label", state.model, state.set, seed, state.dir, state.extent, LABEL_STEPS, state.window].join("|");
  return app.strips.load(key, state.model, params);
}

/** els: {grid, play, scrubber, readout}. Returns {show(state), toggle(), hide()}. */
export function createPlayer(app, els) {
  let cells = [];
  let strips = null; // one Strip per cell once all arrived
  let shownKey = "";
  let extent = 6;
  const paint = (i, source) => {
    if (strips) cells.forEach((cell, k) => drawStripFrame(cell.canvas, strips[k], Math.min(i, strips[k].count - 1), source));
  };
  const valueOf = (i) => strips?.[0]?.values?.[i] ?? -extent + (2 * extent * i) / (LABEL_STEPS - 1);
  const playback = createPlayback(els, LABEL_STEPS, paint, valueOf);

  /** Load and show the strips of `state` (direction, seeds, window, extent) unless they are shown already. */
  function show(state) {
    const key = [state.model, state.set, state.dir, state.seed, state.window, state.extent].join("|");
    if (key === shownKey) return playback.resume(); // e.g. back from another view
    shownKey = key;
    strips = null;
    extent = state.extent;
    playback.setReady(false);
    delete els.grid.dataset.ready;
    cells = buildCells(state, app.catalog.model(state.model));
    els.grid.style.setProperty("--cols", "2");
    els.grid.style.setProperty("--rows", "2");
    els.grid.replaceChildren(...cells.map((c) => c.figure));
    return Promise.all(cells.map((cell) => loadStrip(app, state, cell.seed))).then((loaded) => {
      if (shownKey !== key) return;
      strips = loaded;
      playback.setReady(true);
      els.grid.dataset.ready = "true";
    }, (error) => showError(error, `Direction ${state.dir}`));
  }

  return { show, toggle: playback.toggle, hide: playback.stop };
}
