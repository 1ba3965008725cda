// The Explore view, wired from its parts (explore/): a grid of samples, one captioned slider per direction
// (combined additively; filtered and sorted; blinded per user), latest-wins image requests for the current move first
// and strips prefetched behind them for scrubbing, a notice far outside the prior, HU windows, playing a direction
// on every seed, exploring around an uploaded slice, and viewer tools (W/L drag, zoom and pan, HU on hover,
// orientation markers, a scale bar, the unshifted image and the difference beside the grid).

import { createEncodePanel } from "./explore/encode-panel.js";
import { createTraversalExports } from "./explore/exports.js";
import { focusLineText } from "./explore/focus-line.js";
import { createGrid } from "./explore/grid.js";
import { gridKey } from "./explore/keys.js";
import { LatentFrames } from "./explore/latent-frames.js";
import { createNearest } from "./explore/nearest.js";
import { createPlayback } from "./explore/playback.js";
import { createPriorNotice } from "./explore/prior-notice.js";
import { createSampleControls } from "./explore/sample-controls.js";
import { createSetInfo } from "./explore/set-info.js";
import { createSliders } from "./explore/sliders.js";
import { createStripLoader } from "./explore/strips.js";
import { createViewerTools } from "./explore/viewer-tools.js";
import { createWindowControls } from "./explore/window-controls.js";
import { createPicker } from "./picker.js";
import { getState, setState } from "./state.js";
import { $ } from "./ui.js";

/** The parts of the view, bound to the template's elements; `updateFocusLine(state, loaded)` hears strip progress. */
function createParts(app, updateFocusLine) {
  const gridElement = $("explore-grid");
  const latentFrames = new LatentFrames();
  const grid = createGrid(app, gridElement, latentFrames);
  const strips = createStripLoader(app, grid, gridElement, (state, loaded) => updateFocusLine(state, loaded));
  const setInfo = createSetInfo(app);
  return {
    picker: createPicker(app, { model: $("explore-model"), sets: [{ select: $("explore-set") }], facts: $("explore-model-facts") }),
    controls: createSampleControls({ seed: $("explore-seed"), random: $("explore-random"), samples: $("explore-samples"),
      extent: $("explore-extent"), reset: $("explore-reset"), copyLink: $("explore-copy-link") }),
    windows: createWindowControls({ presets: $("explore-windows"), form: $("explore-window-custom"),
      width: $("explore-window-w"), level: $("explore-window-l") }),
    encode: createEncodePanel({ panel: $("explore-encode-panel"), upload: $("explore-upload"), box: $("explore-encoded"),
      text: $("explore-encoded-text"), clear: $("explore-encoded-clear"), result: $("explore-encode-result") },
    (id) => app.catalog.model(id)),
    sliders: createSliders({ list: $("explore-sliders"), hint: $("explore-sliders-hint"),
      filter: $("explore-slider-filter"), sort: $("explore-slider-sort") }),
    prior: createPriorNotice($("explore-prior-notice"), () => setInfo.vectors),
    playback: createPlayback($("explore-play"), grid, strips, () => setInfo.info?.directions[0]?.index ?? null, latentFrames),
    exports: createTraversalExports($("explore-copy-link"), "explore-download"),
    tools: createViewerTools({ viewer: $("explore-viewer"), grid: gridElement }, (id) => app.catalog.model(id)),
    nearest: createNearest($("explore-nearest")),
    grid, strips, setInfo, latentFrames,
  };
}

/** Controls that follow the state (skipped on a slider move, the hot path from input to frame). */
function syncControls(app, parts, state) {
  parts.picker.sync(state);
  parts.controls.sync(state);
  parts.windows.sync(state, app.catalog.model(state.model));
  parts.playback.sync(state);
  parts.encode.sync(state);
  parts.nearest.sync(state);
}

/** Shifts and focus of `state` that the set `info` has, or null when all of them are. */
function fitToSet(state, info) {
  const shifts = Object.fromEntries(Object.entries(state.shifts).filter(([k]) => Number(k) < info.count));
  const focus = state.focus !== null && state.focus < info.count ? state.focus : null;
  const fits = Object.keys(shifts).length === Object.keys(state.shifts).length && focus === state.focus;
  return fits ? null : { shifts, focus };
}

export function createExplore(app) {
  const focusLine = $("explore-focus-line");
  const shown = { sliders: "", grid: "" }; // what the sliders and the grid were built for
  const parts = createParts(app, (state, loaded) => updateFocusLine(state, loaded));
  const { encode, sliders, playback, grid, strips, setInfo, latentFrames, prior } = parts;

  function updateFocusLine(state, loaded = null) {
    focusLine.textContent = focusLineText(state, {
      encoded: encode.describe(), setInfo: setInfo.info, terms: setInfo.terms,
      loaded: loaded ?? strips.loadedCount(state), total: grid.cells.length,
    });
    focusLine.title = focusLine.textContent; // one line that may be shortened: the whole text on hover
  }

  /** The set arrived: drop shifts and focus it lacks, else draw (if Explore is still shown). */
  function setLoaded(info) {
    shown.sliders = "";
    const now = getState();
    const fitted = fitToSet(now, info);
    if (fitted) setState(fitted);
    else if (app.view() === "explore") sync(now, null);
  }

  function draw(state) {
    const slidersKey = `${state.model}/${state.set}|${state.extent}`;
    if (shown.sliders !== slidersKey) {
      sliders.build(state, setInfo.info, setInfo.terms, setInfo.who);
      shown.sliders = slidersKey;
    }
    sliders.sync(state);
    prior.sync(state);
    parts.exports.sync(state, state.focus);
    if (shown.grid !== gridKey(state)) {
      playback.stop(false);
      grid.rebuild(state);
      shown.grid = gridKey(state);
    }
    grid.show(state);
    parts.nearest.show(state, grid.cells);
    strips.load(state);
    latentFrames.prefetch(state);
    parts.tools.sync(state);
    updateFocusLine(state);
  }

  function sync(state, changed) {
    if (changed && [...changed].some((k) => k !== "view") && playback.running) playback.stop(false);
    const onlyShifts = changed && [...changed].every((k) => k === "shifts" || k === "focus");
    if (!onlyShifts) syncControls(app, parts, state);
    if (!state.model || !state.set) {
      grid.showEmpty("No model or direction set is available.");
      shown.grid = "";
      return;
    }
    if (!setInfo.isLoaded(state)) setInfo.load(state, setLoaded);
    else draw(state);
  }

  return {
    sync,
    onKey: (event) => parts.windows.onKey(event),
    hide: () => playback.stop(false),
    onLabelsChanged: () => setInfo.invalidate(), // the consensus texts are rebuilt next time
    onSignOut: () => { // what may be seen changed: load the set again, blinded as for anyone signed out
      setInfo.invalidate();
      if (app.view() === "explore") sync(getState(), null);
    },
  };
}
