// The Explore view: a grid of samples, one slider per direction (combined additively), instant scrubbing of the
// focused direction from pre-fetched traversal strips, latest-wins image requests for everything else, HU windows,
// and exploring around an uploaded slice's encoding.

import * as api from "./api.js";
import { Catalog } from "./catalog.js";
import { flushUrl, getState, MAX_SEED, randomSeed, setState, WINDOW_PRESETS } from "./state.js";
import { Animator, drawBitmap, drawStripFrame, LatestLoader } from "./strip.js";
import {
  $, buildWindowButtons, clearNotice, copyText, el, fillSelect, formatShift, markWindowButtons, notify, showError, windowLabel,
  windowWidthLevel,
} from "./ui.js";

export const STRIP_STEPS = 33; // frames per strip: a slider step is exactly one frame
const MAX_LATENT_FRAMES = 200;
const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;

const round4 = (v) => Math.round(v * 1e4) / 1e4;

/** Slider step for a range of ±extent: one strip frame. */
export const shiftStep = (extent) => (2 * extent) / (STRIP_STEPS - 1);

function withoutDirection(shifts, index) {
  const rest = { ...shifts };
  delete rest[index];
  return rest;
}

function gridShape(samples) {
  const cols = samples <= 1 ? 1 : samples === 4 ? 2 : 3;
  return { cols, rows: Math.ceil(samples / cols) };
}

function latentTag(latent) {
  // a short fingerprint of the latent for cache keys (the full vector is in the address already)
  let hash = 0;
  for (const v of latent) hash = (Math.imul(hash, 31) + Math.round(v * 1e5)) | 0;
  return `L${latent.length}:${hash >>> 0}`;
}

export function createExplore(app) {
  const els = {
    model: $("explore-model"),
    facts: $("explore-model-facts"),
    set: $("explore-set"),
    seed: $("explore-seed"),
    random: $("explore-random"),
    samples: $("explore-samples"),
    extent: $("explore-extent"),
    windows: $("explore-windows"),
    customForm: $("explore-window-custom"),
    windowW: $("explore-window-w"),
    windowL: $("explore-window-l"),
    upload: $("explore-upload"),
    encoded: $("explore-encoded"),
    encodedText: $("explore-encoded-text"),
    encodedClear: $("explore-encoded-clear"),
    focusLine: $("explore-focus-line"),
    play: $("explore-play"),
    reset: $("explore-reset"),
    copyLink: $("explore-copy-link"),
    grid: $("explore-grid"),
    sliders: $("explore-sliders"),
    slidersHint: $("explore-sliders-hint"),
  };
  let setInfo = null; // DirectionSetInfo of the current model/set
  let setInfoKey = "";
  let terms = [];
  let cells = []; // {seed, canvas, caption, loader, shownKey}
  let gridKey = "";
  let sliderKey = "";
  let latentInfo = null; // what the encode endpoint said about the current latent
  const latentFrames = new Map(); // renderKey -> ImageBitmap (encoded slices have no strips)
  let latentPrefetch = { key: null, controller: null };
  let focusStarted = { key: "", t: 0, reported: false };
  const pendingStrips = new Set();
  const animator = new Animator(12);

  // ---- keys of what a cell shows ------------------------------------------------------------------------------

  const renderKey = (state, cell, shifts = state.shifts) =>
    [state.model, state.set, state.latent ? latentTag(state.latent) : cell.seed, state.window, api.shiftParams(shifts).join(",")].join("|");

  const stripParams = (state, seed) => ({
    seed, set: state.set, direction: state.focus, extent: state.extent, steps: STRIP_STEPS,
    shifts: withoutDirection(state.shifts, state.focus), window: state.window,
  });

  const stripKey = (state, seed) => {
    const p = stripParams(state, seed);
    return [state.model, p.set, seed, p.direction, p.extent, p.steps, p.window, api.shiftParams(p.shifts).join(",")].join("|");
  };

  // ---- controls -----------------------------------------------------------------------------------------------

  els.model.addEventListener("change", () => {
    const model = els.model.value;
    setState({ model, set: app.catalog.setIds(model)[0] || "", shifts: {}, focus: null, latent: null, dir: 0 });
  });
  els.set.addEventListener("change", () => setState({ set: els.set.value, shifts: {}, focus: null, dir: 0 }));
  els.seed.addEventListener("change", () => {
    const text = els.seed.value.trim();
    const seed = Number(text);
    if (!/^\d+$/.test(text) || seed > MAX_SEED) {
      showError(new Error(`seed ${JSON.stringify(text)} is not allowed; use a whole number from 0 to ${MAX_SEED}`), "Seed");
      els.seed.value = String(getState().seed);
      return;
    }
    setState({ seed });
  });
  els.random.addEventListener("click", () => setState({ seed: randomSeed() }));
  els.samples.addEventListener("change", () => setState({ samples: Number(els.samples.value) }));
  els.extent.addEventListener("change", () => {
    const extent = Number(els.extent.value);
    const step = shiftStep(extent);
    const shifts = {};
    for (const [k, v] of Object.entries(getState().shifts)) {
      shifts[k] = round4(Math.max(-extent, Math.min(extent, Math.round(v / step) * step)));
    }
    setState({ extent, shifts });
  });
  buildWindowButtons(els.windows, (name) => setState({ window: name }));
  els.customForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const w = Number(els.windowW.value);
    const l = Number(els.windowL.value);
    if (!Number.isFinite(w) || w <= 0 || !Number.isFinite(l) || els.windowW.value === "" || els.windowL.value === "") {
      showError(new Error("a custom window needs a width W > 0 and a level L, both in HU"), "Window");
      return;
    }
    setState({ window: `${round4(w)},${round4(l)}` });
  });
  els.upload.addEventListener("change", () => encodeUpload());
  els.encodedClear.addEventListener("click", () => setState({ latent: null, shifts: {}, focus: null }));
  els.play.addEventListener("click", () => (animator.running ? stopPlaying(true) : startPlaying()));
  els.reset.addEventListener("click", () => setState({ shifts: {} }));
  els.copyLink.addEventListener("click", () => {
    flushUrl();
    return copyText(window.location.href).then(() => notify("Link copied: it reproduces this view"), (e) => showError(e, "Copy link"));
  });

  // ---- the grid -------------------------------------------------------------------------------------------------

  function buildGrid(state) {
    stopPlaying(false);
    const count = state.latent ? 1 : state.samples;
    const { cols, rows } = gridShape(count);
    els.grid.style.setProperty("--cols", String(cols));
    els.grid.style.setProperty("--rows", String(rows));
    const model = app.catalog.model(state.model);
    const pixelated = model && model.image_size < 128;
    cells = Array.from({ length: count }, (_, i) => {
      const seed = (state.seed + i) % (MAX_SEED + 1);
      const label = state.latent ? "Encoded slice" : `Seed ${seed}`;
      const canvas = el("canvas", {
        class: `slice${pixelated ? " pixelated" : ""}`, width: 1, height: 1, role: "img", "aria-label": `${label}, generated slice`,
        dataset: { seed: String(seed) },
      });
      const caption = el("figcaption", {}, label);
      const cell = { seed, canvas, caption, shownKey: null };
      cell.loader = new LatestLoader(
        (bitmap, key) => {
          drawBitmap(canvas, bitmap, state.latent ? "render" : "image");
          cell.shownKey = key;
        },
        (error) => showError(error, label),
      );
      cell.figure = el("figure", { class: "cell" }, canvas, caption);
      return cell;
    });
    els.grid.replaceChildren(...cells.map((c) => c.figure));
  }

  function showCell(cell, state) {
    const key = renderKey(state, cell);
    if (cell.shownKey === key) return;
    if (state.latent) {
      const frame = latentFrames.get(key);
      if (frame) {
        cell.loader.cancel();
        drawBitmap(cell.canvas, frame, "render");
        cell.shownKey = key;
        return;
      }
      const body = { latent: Array.from(state.latent), set: state.set, shifts: state.shifts, window: state.window };
      cell.loader.request(key, () => api.renderLatent(state.model, body).then((blob) => createImageBitmap(blob)));
      return;
    }
    if (state.focus !== null) {
      const strip = app.strips.peek(stripKey(state, cell.seed));
      const index = strip ? strip.frameFor(state.shifts[state.focus] || 0, state.extent) : -1;
      if (index >= 0) {
        cell.loader.cancel();
        drawStripFrame(cell.canvas, strip, index);
        cell.shownKey = key;
        return;
      }
    }
    const params = { seed: cell.seed, set: state.set, shifts: state.shifts, window: state.window };
    cell.loader.request(key, () => api.fetchImage(state.model, params).then((blob) => createImageBitmap(blob)));
  }

  /** Fetch the focused direction's strip for every seed once; each arrival redraws its cell from the strip. */
  function ensureStrips(state) {
    if (state.latent || state.focus === null) return;
    const focusKey = stripKey(state, state.seed);
    if (focusStarted.key !== focusKey) focusStarted = { key: focusKey, t: performance.now(), reported: false };
    for (const cell of cells) {
      const key = stripKey(state, cell.seed);
      if (pendingStrips.has(key) || app.strips.peek(key)) continue; // one request and one handler per strip
      pendingStrips.add(key);
      app.strips.load(key, state.model, stripParams(state, cell.seed)).finally(() => pendingStrips.delete(key)).then(
        () => {
          const now = getState();
          if (stripKey(now, cell.seed) === key && cells.includes(cell)) {
            cell.shownKey = null; // redraw from the strip (exactly the same pixels as image.png)
            showCell(cell, now);
          }
          reportStrips(now);
        },
        (error) => showError(error, `Seed ${cell.seed}`),
      );
    }
    reportStrips(state);
  }

  function reportStrips(state) {
    if (state.latent || state.focus === null) return;
    const loaded = cells.filter((c) => app.strips.peek(stripKey(state, c.seed))).length;
    updateFocusLine(state, loaded);
    if (loaded === cells.length && focusStarted.key === stripKey(state, state.seed) && !focusStarted.reported) {
      focusStarted.reported = true;
      const ms = performance.now() - focusStarted.t;
      els.grid.dataset.stripsReady = `${state.focus}`;
      document.dispatchEvent(new CustomEvent("latentct:strips-ready", { detail: { direction: state.focus, ms } }));
    }
  }

  function prefetchLatentFrames(state) {
    if (!state.latent || state.focus === null) return;
    const cell = cells[0];
    const base = `${renderKey(state, cell, withoutDirection(state.shifts, state.focus))}|${state.focus}|${state.extent}`;
    if (latentPrefetch.key === base) return;
    latentPrefetch.controller?.abort();
    const controller = new AbortController();
    latentPrefetch = { key: base, controller };
    const step = shiftStep(state.extent);
    const current = state.shifts[state.focus] || 0;
    const values = Array.from({ length: STRIP_STEPS }, (_, i) => round4(-state.extent + i * step)).sort(
      (a, b) => Math.abs(a - current) - Math.abs(b - current),
    );
    (async () => {
      for (const value of values) {
        const shifts = { ...state.shifts, [state.focus]: value };
        if (value === 0) delete shifts[state.focus];
        const key = renderKey(state, cell, shifts);
        if (latentFrames.has(key)) continue;
        const body = { latent: Array.from(state.latent), set: state.set, shifts, window: state.window };
        try {
          const bitmap = await createImageBitmap(await api.renderLatent(state.model, body, controller.signal));
          if (latentFrames.size >= MAX_LATENT_FRAMES) latentFrames.delete(latentFrames.keys().next().value);
          latentFrames.set(key, bitmap);
        } catch (error) {
          showError(error, "Encoded slice");
          return;
        }
      }
    })();
  }

  // ---- sliders ------------------------------------------------------------------------------------------------

  function consensusText(direction) {
    const c = direction.consensus;
    if (!c || !c.term) return "";
    const name = terms.find((t) => t.id === c.term)?.name || c.term;
    return `${name} · ${Math.round(c.share * 100)}% of ${c.n_labels}`;
  }

  function buildSliders(state) {
    const step = shiftStep(state.extent);
    const rows = setInfo.directions.map((direction) => {
      const k = direction.index;
      const id = `explore-slider-${k}`;
      const consensus = consensusText(direction);
      const input = el("input", {
        id, type: "range", min: String(-state.extent), max: String(state.extent), step: String(step), value: "0",
        "aria-label": `Direction ${k} shift${consensus ? ` (${consensus})` : ""}`, dataset: { direction: String(k) },
      });
      const output = el("output", { for: id, class: "slider-value" }, formatShift(0));
      const reset = el("button", {
        type: "button", class: "btn btn-small btn-icon", "aria-label": `Reset direction ${k}`, title: "Reset to 0",
        onclick: () => setState({ shifts: withoutDirection(getState().shifts, k), focus: k }),
      }, "↺");
      const takeFocus = () => {
        if (getState().focus !== k) setState({ focus: k });
      };
      input.addEventListener("focus", takeFocus);
      input.addEventListener("pointerdown", takeFocus);
      input.addEventListener("input", () => {
        const value = round4(Number(input.value));
        const shifts = { ...getState().shifts, [k]: value };
        setState({ shifts, focus: k });
      });
      const metrics = Object.entries(direction.metrics || {})
        .slice(0, 3)
        .map(([name, v]) => `${name} ${typeof v === "number" ? Number(v.toPrecision(3)) : v}`)
        .join(", ");
      return el(
        "div",
        { class: "slider-row", dataset: { direction: String(k) } },
        el("label", { for: id, class: "slider-label" },
          el("span", { class: "dir-name" }, `d${k}`),
          el("span", { class: consensus ? "consensus" : "consensus none" }, consensus || "no consensus yet"),
          metrics ? el("span", { class: "metrics", title: metrics }, metrics) : null),
        el("div", { class: "slider-line" }, input, output, reset),
      );
    });
    els.sliders.replaceChildren(...rows);
    els.slidersHint.textContent = `${setInfo.count} in ${setInfo.id} (${setInfo.method}); several combine`;
  }

  function syncSliders(state) {
    for (const row of els.sliders.querySelectorAll(".slider-row")) {
      const k = Number(row.dataset.direction);
      const value = state.shifts[k] || 0;
      const focused = state.focus === k;
      if (row.dataset.value === String(value) && row.classList.contains("is-focus") === focused) continue; // nothing to redo
      row.dataset.value = String(value);
      const input = row.querySelector("input");
      if (Number(input.value) !== value) input.value = String(value);
      const consensus = row.querySelector(".consensus:not(.none)")?.textContent;
      input.setAttribute("aria-valuetext", `${formatShift(value)}${consensus ? `, ${consensus}` : ""}`);
      row.querySelector("output").textContent = formatShift(value);
      row.classList.toggle("is-focus", focused);
      row.classList.toggle("is-shifted", value !== 0);
    }
  }

  function updateFocusLine(state, loaded = null) {
    if (state.latent) {
      const what = latentInfo ? `Encoded ${latentInfo.name} (${latentInfo.method})` : "Encoded slice";
      els.focusLine.textContent = state.focus === null ? `${what}: move a slider to explore around it` : `${what} · direction d${state.focus}`;
      return;
    }
    if (state.focus === null || !setInfo) {
      els.focusLine.textContent = "Move or focus a slider: its direction is scrubbed on every sample";
      return;
    }
    const direction = setInfo.directions.find((d) => d.index === state.focus);
    const consensus = direction ? consensusText(direction) : "";
    const count = loaded ?? cells.filter((c) => app.strips.peek(stripKey(state, c.seed))).length;
    const status = count === cells.length ? "scrubbing on the client" : `loading strips ${count}/${cells.length}`;
    els.focusLine.textContent = `d${state.focus}${consensus ? ` (${consensus})` : ""} · ${windowLabel(state.window)} · ${status}`;
  }

  // ---- playing one direction on every seed -------------------------------------------------------------------

  async function startPlaying() {
    let state = getState();
    if (state.latent) {
      showError(new Error("playing needs traversal strips, which exist for seeds only; go back to seeds first"), "Play");
      return;
    }
    if (state.focus === null) {
      if (!setInfo || !setInfo.directions.length) return;
      setState({ focus: setInfo.directions[0].index });
      state = getState();
    }
    els.play.setAttribute("aria-pressed", "true");
    els.play.textContent = "Stop";
    try {
      const strips = await Promise.all(cells.map((c) => app.strips.load(stripKey(state, c.seed), state.model, stripParams(state, c.seed))));
      if (els.play.getAttribute("aria-pressed") !== "true" || getState() !== state) return;
      animator.setItems(cells.map((c, i) => ({ canvas: c.canvas, strip: strips[i] })));
      animator.start();
    } catch (error) {
      showError(error, "Play");
      stopPlaying(true);
    }
  }

  function stopPlaying(redraw) {
    animator.stop();
    els.play.setAttribute("aria-pressed", "false");
    els.play.textContent = "Play on all seeds";
    if (redraw) {
      for (const cell of cells) cell.shownKey = null;
      const state = getState();
      for (const cell of cells) showCell(cell, state);
    }
  }

  // ---- upload ---------------------------------------------------------------------------------------------------

  async function encodeUpload() {
    const file = els.upload.files && els.upload.files[0];
    if (!file) return;
    const state = getState();
    if (file.size > MAX_UPLOAD_BYTES) {
      showError(new Error(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MiB; at most 16 MiB can be encoded`), "Upload");
      els.upload.value = "";
      return;
    }
    els.upload.disabled = true;
    notify(`Encoding ${file.name} with ${state.model}…`);
    try {
      const result = await api.encodeSlice(state.model, file);
      latentInfo = { ...result, name: file.name };
      setState({ latent: Float32Array.from(result.latent), shifts: {}, focus: null });
      notify(`Encoded ${file.name}`);
    } catch (error) {
      clearNotice(); // the "Encoding…" note is over
      showError(error, "Upload");
    } finally {
      els.upload.disabled = false;
      els.upload.value = "";
    }
  }

  function syncEncoded(state) {
    els.encoded.hidden = !state.latent;
    if (state.latent) $("explore-encode-panel").open = true; // a link with a latent shows where it came from
    if (!state.latent) {
      latentInfo = null;
      return;
    }
    els.encodedText.textContent = latentInfo
      ? `${latentInfo.name}: encoded by ${latentInfo.method}, reconstruction error ${Number(latentInfo.reconstruction_mae_hu).toFixed(1)} HU (mean absolute).`
      : `An encoded slice (${state.latent.length} latent values, from the link).`;
  }

  // ---- state -> page --------------------------------------------------------------------------------------------

  function syncControls(state) {
    const models = app.catalog.models || [];
    fillSelect(els.model, models.map((m) => ({ value: m.id, label: `${m.id} (${m.kind.toUpperCase()})` })), state.model);
    const model = app.catalog.model(state.model);
    fillSelect(els.set, (model?.direction_sets || []).map((s) => ({ value: s.id, label: Catalog.setLabel(s) })), state.set);
    els.facts.textContent = model
      ? `${model.kind.toUpperCase()} · latent ${model.latent_dim} · ${model.image_size} px · HU ${model.hu_range[0]}..${model.hu_range[1]}` +
        (model.description ? ` · ${model.description}` : "")
      : "";
    if (document.activeElement !== els.seed) els.seed.value = String(state.seed);
    els.samples.value = String(state.samples);
    if (![...els.extent.options].some((o) => Number(o.value) === state.extent)) {
      els.extent.append(el("option", { value: String(state.extent) }, String(state.extent)));
    }
    els.extent.value = String(state.extent);
    markWindowButtons(els.windows, state.window);
    const [w, l] = windowWidthLevel(state.window, model?.hu_range);
    if (document.activeElement !== els.windowW && document.activeElement !== els.windowL) {
      els.windowW.value = String(w);
      els.windowL.value = String(l);
    }
    els.samples.disabled = Boolean(state.latent);
    els.seed.disabled = Boolean(state.latent);
    els.random.disabled = Boolean(state.latent);
    els.play.disabled = Boolean(state.latent);
  }

  let loadingSet = "";

  function sync(state, changed) {
    if (changed && [...changed].some((k) => k !== "view") && animator.running) stopPlaying(false);
    const onlyShifts = changed && [...changed].every((k) => k === "shifts" || k === "focus");
    if (!onlyShifts) {
      // a slider move skips the controls: the hot path from input to frame stays short
      syncControls(state);
      syncEncoded(state);
    }
    if (!state.model || !state.set) {
      els.grid.replaceChildren(el("p", { class: "empty" }, "No model or direction set is available."));
      return;
    }
    const wantedSet = `${state.model}/${state.set}`;
    if (setInfoKey !== wantedSet) {
      if (loadingSet === wantedSet) return;
      loadingSet = wantedSet;
      const vocabulary = app.catalog.vocabulary().catch((error) => {
        showError(error, "Consensus names"); // the sliders still work; terms then show as ids
        return [];
      });
      Promise.all([app.catalog.directionSet(state.model, state.set), vocabulary]).then(
        ([info, vocabulary]) => {
          loadingSet = "";
          terms = vocabulary;
          const now = getState();
          if (`${now.model}/${now.set}` !== wantedSet) return;
          setInfo = info;
          setInfoKey = wantedSet;
          sliderKey = "";
          const valid = Object.fromEntries(Object.entries(now.shifts).filter(([k]) => Number(k) < info.count));
          const focus = now.focus !== null && now.focus < info.count ? now.focus : null;
          if (Object.keys(valid).length !== Object.keys(now.shifts).length || focus !== now.focus) {
            setState({ shifts: valid, focus });
          } else if (app.view() === "explore") {
            sync(now, null);
          }
        },
        (error) => {
          loadingSet = "";
          showError(error);
        },
      );
      return;
    }
    const newSliderKey = `${wantedSet}|${state.extent}`;
    if (sliderKey !== newSliderKey) {
      buildSliders(state);
      sliderKey = newSliderKey;
    }
    syncSliders(state);
    const newGridKey = `${state.model}|${state.latent ? latentTag(state.latent) : `${state.seed}|${state.samples}`}`;
    if (newGridKey !== gridKey) {
      buildGrid(state);
      gridKey = newGridKey;
    }
    for (const cell of cells) showCell(cell, state);
    ensureStrips(state);
    prefetchLatentFrames(state);
    updateFocusLine(state);
  }

  function onKey(event) {
    const index = ["1", "2", "3", "4"].indexOf(event.key);
    if (index >= 0 && !event.ctrlKey && !event.metaKey && !event.altKey) {
      setState({ window: WINDOW_PRESETS[index] });
      return true;
    }
    return false;
  }

  function hide() {
    stopPlaying(false);
  }

  /** Set info changed elsewhere (a label was saved): rebuild the consensus texts next time. */
  function invalidate() {
    setInfoKey = "";
  }

  return { sync, onKey, hide, invalidate };
}
