// Viewer tools on the Explore grid, as radiology viewers have them: right-drag (or Shift+drag) sets the window
// (horizontal: width, vertical: level; live, into the W/L fields and the address), the wheel zooms about the
// pointer and a drag pans (all cells together, "Reset view" or a double click undoes both), hovering reads the HU
// under the pointer, and markers, a scale bar and "Compare with unshifted" (compare-unshifted.js) sit on top.

import { getState, setState } from "../state.js";
import { el, showError, windowWidthLevel } from "../ui.js";
import { createCompareUnshifted } from "./compare-unshifted.js";
import { createHuProbe } from "./hu-probe.js";
import { createOverlays } from "./overlays.js";

const MAX_ZOOM = 8;
const WHEEL_ZOOM_RATE = 1 / 500; // zoom factor e^(-deltaY * rate)
const HU_PER_PX_AT_W200 = 1; // a window drag moves W and L by 1 HU per px at W 200, proportionally more when wider

function buildToolbar(onReset, onCompare) {
  const readout = el("p", { class: "hu-readout", id: "explore-hu-readout", "aria-live": "off" }, "Hover a slice for HU");
  const compare = el("input", { type: "checkbox", id: "explore-compare-toggle", onchange: (e) => onCompare(e.target.checked) });
  const note = el("span", { class: "hint", id: "explore-scale-note" });
  const element = el("div", { class: "viewer-tools", id: "explore-viewer-tools" },
    el("button", { type: "button", class: "btn btn-small", id: "explore-reset-view", onclick: onReset,
      title: "Zoom 1x, no pan (double click on a slice does the same)" }, "Reset view"),
    el("label", { class: "check" }, compare, " Compare with unshifted"),
    readout, note,
    el("span", { class: "hint" }, "Right-drag: W/L · wheel: zoom · drag: pan"));
  return { element, readout, compare, note };
}

/** Zoom and pan shared by all cells, applied through CSS custom properties of the grid (they survive rebuilds). */
function createZoom(grid, onChange) {
  const view = { zoom: 1, x: 0, y: 0 };
  function apply() {
    grid.style.setProperty("--vt-zoom", String(view.zoom));
    grid.style.setProperty("--vt-x", `${view.x}px`);
    grid.style.setProperty("--vt-y", `${view.y}px`);
    grid.dataset.zoom = view.zoom.toFixed(3);
    onChange(view.zoom);
  }
  /** Keep the image over its whole cell (no empty border when zoomed in). */
  function clampPan(size) {
    view.x = Math.min(0, Math.max(size * (1 - view.zoom), view.x));
    view.y = Math.min(0, Math.max(size * (1 - view.zoom), view.y));
  }
  return {
    view,
    zoomAt(factor, px, py, size) {
      const zoom = Math.min(MAX_ZOOM, Math.max(1, view.zoom * factor));
      view.x = px - ((px - view.x) * zoom) / view.zoom;
      view.y = py - ((py - view.y) * zoom) / view.zoom;
      view.zoom = zoom;
      clampPan(size);
      apply();
    },
    panBy(dx, dy, size) {
      view.x += dx;
      view.y += dy;
      clampPan(size);
      apply();
    },
    reset() {
      Object.assign(view, { zoom: 1, x: 0, y: 0 });
      apply();
    },
  };
}

/** The image pixel under a pointer event on a cell's canvas, or null outside it. */
function pixelUnder(canvas, event) {
  const rect = canvas.getBoundingClientRect(); // includes the zoom and pan transform
  const x = Math.floor(((event.clientX - rect.left) / rect.width) * canvas.width);
  const y = Math.floor(((event.clientY - rect.top) / rect.height) * canvas.height);
  return x >= 0 && y >= 0 && x < canvas.width && y < canvas.height ? { x, y } : null;
}

/** els: {viewer, grid}; `modelOf(id)` gives a model's catalog entry. Returns {sync(state)}. */
export function createViewerTools(els, modelOf) {
  const probe = createHuProbe(modelOf);
  const comparison = createCompareUnshifted(els.viewer, probe);
  const toolbar = buildToolbar(() => zoom.reset(), (on) => comparison.toggle(on, getState()));
  els.viewer.after(toolbar.element);
  const overlays = createOverlays(els.grid, toolbar.note);
  const zoom = createZoom(els.grid, (value) => overlays.update(undefined, value));
  let drag = null; // {mode: "window" | "pan", x, y, width, level}
  let hoverSeq = 0;

  function startDrag(event) {
    const canvas = event.target.closest("canvas.slice");
    if (!canvas) return;
    const state = getState();
    const windowDrag = event.button === 2 || (event.button === 0 && event.shiftKey);
    if (!windowDrag && event.button !== 0) return;
    const [width, level] = windowWidthLevel(state.window, modelOf(state.model)?.hu_range);
    drag = { mode: windowDrag ? "window" : "pan", x: event.clientX, y: event.clientY, width, level, size: canvas.parentElement.clientWidth };
    canvas.setPointerCapture(event.pointerId);
    event.preventDefault();
  }

  function moveDrag(event) {
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (drag.mode === "pan") {
      zoom.panBy(dx, dy, drag.size);
      drag.x = event.clientX;
      drag.y = event.clientY;
      return;
    }
    const rate = HU_PER_PX_AT_W200 * Math.max(1, drag.width / 200);
    const width = Math.max(1, Math.round(drag.width + dx * rate));
    const level = Math.round(drag.level + dy * rate);
    if (getState().window !== `${width},${level}`) setState({ window: `${width},${level}` });
  }

  async function readHu(event) {
    const canvas = event.target.closest("canvas.slice");
    const at = canvas && !canvas.dataset.playFrame ? pixelUnder(canvas, event) : null;
    if (!at) return;
    const seq = ++hoverSeq;
    const state = getState();
    const seed = Number(canvas.dataset.seed);
    try {
      const { hu, resolution } = await probe.huAt(state, seed, at.x, at.y);
      if (seq !== hoverSeq) return;
      const who = state.latent ? "Encoded slice" : `Seed ${seed}`;
      toolbar.readout.textContent = `${who} · x ${at.x}, y ${at.y} · ${Math.round(hu)} HU (±${resolution.toFixed(1)})`;
      Object.assign(toolbar.readout.dataset, { hu: hu.toFixed(2), resolution: resolution.toFixed(3), x: at.x, y: at.y, seed });
    } catch (error) {
      showError(error, "HU readout");
    }
  }

  const grid = els.grid;
  grid.addEventListener("contextmenu", (event) => { if (event.target.closest("canvas.slice")) event.preventDefault(); });
  grid.addEventListener("pointerdown", startDrag);
  grid.addEventListener("pointermove", (event) => (drag ? moveDrag(event) : readHu(event)));
  grid.addEventListener("pointerup", () => { drag = null; });
  grid.addEventListener("pointercancel", () => { drag = null; });
  grid.addEventListener("dblclick", () => zoom.reset());
  grid.addEventListener("wheel", (event) => {
    const canvas = event.target.closest("canvas.slice");
    if (!canvas) return;
    event.preventDefault();
    const cell = canvas.parentElement.getBoundingClientRect();
    zoom.zoomAt(Math.exp(-event.deltaY * WHEEL_ZOOM_RATE), event.clientX - cell.left, event.clientY - cell.top, cell.width);
  }, { passive: false });

  /** Follow the state: the scale bar's model, the comparison's shifts. */
  function sync(state) {
    overlays.update(modelOf(state.model), zoom.view.zoom);
    comparison.sync(state);
  }

  return { sync };
}
