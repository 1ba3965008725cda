// Strips of the focused direction for every cell of the grid, prefetched so that scrubbing runs on the client. The
// prefetch never delays the frame of the current move: it starts only once the grid has no image request pending
// (or after a short idle), fetches one strip at a time at low priority, waits again whenever a move is pending, and
// is aborted when the focus, seeds, window or other shifts change. Each arrival redraws its cell; when all have
// arrived the grid says so (data-strips-ready, the latentct:strips-ready event with the time taken).
// `?debug=eager-strips` restores the old ordering (every strip at once, on focus) for the benchmark.

import { getState } from "../state.js";
import { showError } from "../ui.js";
import { stripKey, stripParams } from "./keys.js";

const EAGER = new URLSearchParams(window.location.search).get("debug") === "eager-strips"; // read before the address is rewritten
const SETTLE_MS = 60; // after a focus or move, wait this long (and for the grid's images) before prefetching
const CONCURRENT = 1; // strips in flight at once: each one is a batch of 33 frames on the server

/** `grid` from createGrid; `onProgress(state, loaded)` hears how many cells have their strip. */
export function createStripLoader(app, grid, gridElement, onProgress) {
  const pending = new Map(); // strip key -> AbortController of its fetch: one request and one handler per strip
  let focusStarted = { key: "", t: 0, reported: false };
  let wanted = null; // the state whose strips are wanted
  let timer = null;

  const loadedCount = (state) => grid.cells.filter((c) => app.strips.peek(stripKey(state, c.seed))).length;

  function arrived(cell, key) {
    const now = getState();
    if (stripKey(now, cell.seed) === key) grid.redrawCell(cell, now); // exactly the same pixels as image.png
    report(now);
  }

  /** Start fetching the strip of `cell` (low priority, cancellable). */
  function fetchStrip(state, cell, key, options = {}) {
    const controller = new AbortController();
    pending.set(key, controller);
    app.strips.load(key, state.model, stripParams(state, cell.seed), { signal: controller.signal, ...options })
      .finally(() => {
        pending.delete(key);
        if (!EAGER) schedule(0);
      })
      .then(() => arrived(cell, key), (error) => showError(error, `Seed ${cell.seed}`));
  }

  /** Abort the prefetches that `state` no longer wants (another direction, seed, window or base shift). */
  function abortUnwanted(state) {
    const keep = new Set(grid.cells.map((c) => stripKey(state, c.seed)));
    for (const [key, controller] of pending) {
      if (!keep.has(key)) {
        controller.abort();
        pending.delete(key);
      }
    }
  }

  /** The next cells whose strips are missing, up to the free slots. */
  function nextCells(state) {
    const missing = grid.cells.filter((c) => !pending.has(stripKey(state, c.seed)) && !app.strips.peek(stripKey(state, c.seed)));
    return missing.slice(0, Math.max(0, CONCURRENT - pending.size));
  }

  /** Prefetch now if the grid has no image pending, else once it has none. */
  function pump() {
    timer = null;
    const state = getState();
    if (!wanted || state !== wanted || state.latent || state.focus === null) return;
    if (grid.busy()) {
      grid.whenIdle(() => schedule(0));
      return;
    }
    for (const cell of nextCells(state)) fetchStrip(state, cell, stripKey(state, cell.seed), { priority: "low" });
  }

  function schedule(ms) {
    if (timer !== null) window.clearTimeout(timer);
    timer = window.setTimeout(pump, ms);
  }

  /** The old ordering: every missing strip at once, at normal priority. */
  function loadEager(state) {
    for (const cell of grid.cells) {
      const key = stripKey(state, cell.seed);
      if (!pending.has(key) && !app.strips.peek(key)) fetchStrip(state, cell, key);
    }
  }

  function load(state) {
    if (state.latent || state.focus === null) {
      wanted = null;
      abortUnwanted({ ...state, focus: -1 });
      return;
    }
    const focusKey = stripKey(state, state.seed);
    if (focusStarted.key !== focusKey) focusStarted = { key: focusKey, t: performance.now(), reported: false };
    wanted = state;
    if (EAGER) loadEager(state);
    else {
      abortUnwanted(state);
      schedule(SETTLE_MS);
    }
    report(state);
  }

  function report(state) {
    if (state.latent || state.focus === null) return;
    const loaded = loadedCount(state);
    onProgress(state, loaded);
    if (loaded === grid.cells.length && focusStarted.key === stripKey(state, state.seed) && !focusStarted.reported) {
      focusStarted.reported = true;
      const ms = performance.now() - focusStarted.t;
      gridElement.dataset.stripsReady = `${state.focus}`;
      document.dispatchEvent(new CustomEvent("latentct:strips-ready", { detail: { direction: state.focus, ms } }));
    }
  }

  /** Resolve to the strips of every cell (for playing), fetching what is missing. */
  const loadAll = (state) =>
    Promise.all(grid.cells.map((c) => app.strips.load(stripKey(state, c.seed), state.model, stripParams(state, c.seed))));

  return { load, loadAll, loadedCount };
}
