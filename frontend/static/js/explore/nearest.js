// The "Nearest training slice" toggle of Explore: beside each sample, the training slice the model's index finds
// nearest in the probe's feature space (GET nearest.png, same window) and a caption saying how near that is compared
// with real held-out slices, so that a user sees at once whether the model invents or copies. Requests wait until the
// view has been still for a moment (a slider drag asks once, at its end) and a newer state cancels older ones.

import * as api from "../api.js";
import { setState } from "../state.js";
import { el } from "../ui.js";
import { renderKey } from "./keys.js";

const SETTLE_MS = 250;

/** "patient P, level L, distance d (closer than X % of real held-out slices)" from GET nearest's answer. */
export function nearestCaption(found) {
  const closer = Math.round(found.closer_than_held_out_percent);
  return `patient ${found.patient}, level ${Number(found.level).toFixed(2)}, distance ${Number(found.distance).toFixed(2)} ` +
    `(closer than ${closer} % of real held-out slices)`;
}

const imageQuery = (state, seed) => ({ seed, set: state.set, shift: api.shiftParams(state.shifts) });

/** One panel per grid cell: the training slice and its caption, appended to the cell's figure. */
function buildPanel(cell) {
  const image = el("img", { class: "nearest-image", alt: `Nearest training slice to seed ${cell.seed}` });
  const caption = el("p", { class: "nearest-caption", role: "status" }, "Looking for the nearest training slice…");
  const panel = el("div", { class: "nearest-panel", title: "Nearest training slice", dataset: { seed: String(cell.seed) } },
    image, caption);
  cell.figure.classList.add("has-nearest");
  cell.figure.append(panel);
  return { panel, image, caption, key: null };
}

/** Fill one panel for `state` (skipped when it shows it already). */
async function load(state, cell, entry, signal) {
  const key = renderKey(state, cell.seed);
  if (entry.key === key) return;
  if (state.latent) {
    entry.image.hidden = true;
    entry.caption.textContent = "The nearest training slice is shown for seeds, not for an encoded slice.";
    entry.key = key;
    return;
  }
  const path = `/models/${encodeURIComponent(state.model)}/nearest`;
  try {
    const found = await api.request(path, { query: imageQuery(state, cell.seed), signal, what: "Finding the nearest training slice" });
    entry.image.hidden = false;
    entry.image.src = api.apiUrl(`${path}.png`, { ...imageQuery(state, cell.seed), window: state.window });
    entry.caption.textContent = nearestCaption(found);
    entry.panel.dataset.percentile = String(found.percentile);
  } catch (error) {
    if (api.isAbort(error)) return;
    entry.image.hidden = true;
    entry.caption.textContent = error.message; // e.g. no index for this model: the 404 says how to build one
  }
  entry.key = key;
}

/** checkbox: the toggle. Returns {sync(state), show(state, cells)}. */
export function createNearest(checkbox) {
  const panels = new WeakMap(); // cell figure -> panel entry
  let timer = 0;
  let controller = null;

  checkbox.addEventListener("change", () => setState({ nearest: checkbox.checked }));

  function clear(cells) {
    window.clearTimeout(timer);
    controller?.abort();
    for (const cell of cells) {
      panels.get(cell.figure)?.panel.remove();
      panels.delete(cell.figure);
      cell.figure.classList.remove("has-nearest");
    }
  }

  function entryOf(cell) {
    if (!panels.has(cell.figure)) panels.set(cell.figure, buildPanel(cell));
    return panels.get(cell.figure);
  }

  /** Add (or drop) the panels of the grid's cells and, once the view is still, fill those that show another state. */
  function show(state, cells) {
    if (!state.nearest) {
      clear(cells);
      return;
    }
    const entries = cells.map((cell) => [cell, entryOf(cell)]);
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      controller?.abort();
      controller = new AbortController();
      for (const [cell, entry] of entries) load(state, cell, entry, controller.signal);
    }, SETTLE_MS);
  }

  return { sync: (state) => { checkbox.checked = Boolean(state.nearest); }, show };
}
