// The Explore grid: one canvas per sample (consecutive seeds, or the encoded slice), each drawn from the best
// source at hand: a cached strip frame, a pre-rendered frame of the encoding, else a latest-wins image request
// (high priority: the frame of the current move goes before any prefetch, which waits for `whenIdle`).

import * as api from "../api.js";
import { MAX_SEED } from "../state.js";
import { drawBitmap, drawStripFrame, LatestLoader } from "../strip.js";
import { el, showError } from "../ui.js";
import { renderBody, renderKey, stripKey } from "./keys.js";

function gridShape(samples) {
  const cols = samples <= 1 ? 1 : samples === 4 ? 2 : 3;
  return { cols, rows: Math.ceil(samples / cols) };
}

/** One cell {seed, canvas, figure, loader, shownKey}; `pixelated` for models smaller than the canvas. */
function buildCell(state, seed, pixelated) {
  const label = state.latent ? "Encoded slice" : `Seed ${seed}`;
  const canvas = el("canvas", {
    class: `slice${pixelated ? " pixelated" : ""}`, width: 1, height: 1, role: "img", "aria-label": `${label}, generated slice`,
    dataset: { seed: String(seed) },
  });
  const cell = { seed, canvas, shownKey: null, figure: el("figure", { class: "cell" }, canvas, el("figcaption", {}, label)) };
  const source = state.latent ? "render" : "image";
  cell.loader = new LatestLoader(
    (bitmap, key) => {
      canvas.dataset.key = key; // what the canvas shows (for tests and the benchmark)
      drawBitmap(canvas, bitmap, source);
      cell.shownKey = key;
    },
    (error) => showError(error, label),
  );
  return cell;
}

/** Draw a frame already at hand (a strip frame, or a frame of the encoding rendered ahead); false when none is. */
function drawLocal(app, latentFrames, cell, state, key) {
  if (state.latent) {
    const frame = latentFrames.get(key);
    if (frame) {
      cell.canvas.dataset.key = key;
      drawBitmap(cell.canvas, frame, "render");
    }
    return Boolean(frame);
  }
  if (state.focus === null) return false;
  const strip = app.strips.peek(stripKey(state, cell.seed));
  const index = strip ? strip.frameFor(state.shifts[state.focus] || 0, state.extent) : -1;
  if (index >= 0) {
    cell.canvas.dataset.key = key;
    drawStripFrame(cell.canvas, strip, index);
  }
  return index >= 0;
}

/** Ask the server for the cell's frame (latest wins): POST render for an encoding, else image.png; `settled()` after. */
function request(cell, state, key, settled) {
  if (state.latent) {
    cell.loader.request(key, () => api.renderLatent(state.model, renderBody(state)).then((blob) => createImageBitmap(blob)).finally(settled));
    return;
  }
  const params = { seed: cell.seed, set: state.set, shifts: state.shifts, window: state.window };
  cell.loader.request(key, () => api.fetchImage(state.model, params, undefined, "high")
    .then((blob) => createImageBitmap(blob)).finally(settled));
}

/** True while a cell waits for the server (a request in flight or queued behind one). */
const cellBusy = (cell) => Boolean(cell.loader.inFlight || cell.loader.waiting);

/** The grid in `container`; `latentFrames` (LatentFrames) holds frames rendered ahead for an encoded slice. */
export function createGrid(app, container, latentFrames) {
  let cells = [];
  let idleWaiters = [];

  /** A request ended: once no cell waits any more (the loader has moved on), call whoever waits for idle. */
  function settled() {
    window.setTimeout(() => {
      if (cells.some(cellBusy) || !idleWaiters.length) return;
      const waiters = idleWaiters;
      idleWaiters = [];
      waiters.forEach((fn) => fn());
    }, 0);
  }

  /** Call `fn` once no cell waits for an image (at once when none does). */
  function whenIdle(fn) {
    if (!cells.some(cellBusy)) fn();
    else idleWaiters.push(fn);
  }

  function rebuild(state) {
    const count = state.latent ? 1 : state.samples;
    const { cols, rows } = gridShape(count);
    container.style.setProperty("--cols", String(cols));
    container.style.setProperty("--rows", String(rows));
    const model = app.catalog.model(state.model);
    const pixelated = Boolean(model && model.image_size < 128);
    cells = Array.from({ length: count }, (_, i) => buildCell(state, (state.seed + i) % (MAX_SEED + 1), pixelated));
    container.replaceChildren(...cells.map((c) => c.figure));
  }

  function showCell(cell, state) {
    const key = renderKey(state, cell.seed);
    if (cell.shownKey === key) return;
    if (drawLocal(app, latentFrames, cell, state, key)) {
      cell.loader.cancel();
      cell.shownKey = key;
      return;
    }
    request(cell, state, key, settled);
  }

  /** Show `state` in every cell; `force` redraws cells that already show it (e.g. after playing). */
  function show(state, force = false) {
    for (const cell of cells) {
      if (force) cell.shownKey = null;
      showCell(cell, state);
    }
  }

  /** Redraw one cell if it is still in the grid (its strip just arrived). */
  function redrawCell(cell, state) {
    if (!cells.includes(cell)) return;
    cell.shownKey = null;
    showCell(cell, state);
  }

  function showEmpty(text) {
    cells = [];
    container.replaceChildren(el("p", { class: "empty" }, text));
  }

  return { rebuild, show, redrawCell, showEmpty, whenIdle, busy: () => cells.some(cellBusy), get cells() { return cells; } };
}
