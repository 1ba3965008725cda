// One row of the Volume view: axial, coronal and sagittal reformats of one volume side by side, with orientation
// labels; clicking or dragging in a plane moves the crosshair (onCursor), hovering reports the voxel (onHover).

import { el } from "../ui.js";
import { drawPlane, ORIENTATION, PLANES, voxelOfEvent } from "./planes.js";

const PLANE_NAMES = { axial: "Axial", coronal: "Coronal", sagittal: "Sagittal" };

/** rowId: "generated" | "reference". Returns {element, setTitle, setStatus, show, clear, volume}. */
export function createRow(rowId, title, { onCursor, onHover }) {
  let volume = null;
  let cursor = null;
  const heading = el("h2", { class: "panel-title" }, title);
  const status = el("p", { class: "hint volume-row-status", role: "status" });
  const canvases = {};

  function bindPointer(canvas, plane) {
    const voxel = (event) => voxelOfEvent(event, canvas, volume, plane, cursor);
    canvas.addEventListener("pointerdown", (event) => {
      if (!volume || event.button !== 0) return;
      canvas.setPointerCapture(event.pointerId);
      onCursor(voxel(event));
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!volume) return;
      if (event.buttons & 1 && canvas.hasPointerCapture(event.pointerId)) onCursor(voxel(event));
      onHover(rowId, voxel(event));
    });
    canvas.addEventListener("pointerleave", () => onHover(rowId, null));
  }

  const figures = PLANES.map((plane) => {
    const canvas = el("canvas", {
      class: "volume-plane", role: "img", width: 1, height: 1, dataset: { plane, row: rowId },
      "aria-label": `${title}: ${plane} reformat; click or drag to move the crosshair`,
    });
    canvases[plane] = canvas;
    bindPointer(canvas, plane);
    const labels = Object.entries(ORIENTATION[plane]).map(([edge, text]) =>
      el("span", { class: `orient orient-${edge}`, "aria-hidden": "true", dataset: { edge } }, text));
    return el("figure", { class: "volume-figure" }, el("div", { class: "plane-frame" }, canvas, ...labels),
      el("figcaption", {}, PLANE_NAMES[plane]));
  });
  const element = el("section", { class: "panel volume-row", dataset: { row: rowId } },
    heading, status, el("div", { class: "volume-planes" }, ...figures));

  return {
    element,
    get volume() { return volume; },
    setTitle(text) { heading.textContent = text; },
    /** Keep `vol` as this row's volume; draw() shows it. */
    setVolume(vol) { volume = vol; },
    setStatus(text) { status.textContent = text; },
    /** Draw the three planes of `vol` at `at` ({s, r, c}) through `win` ([W, L]) at `scale` px per mm. */
    show(vol, at, win, scale) {
      volume = vol;
      cursor = at;
      for (const plane of PLANES) drawPlane(canvases[plane], vol, plane, at, win, scale);
      element.dataset.drawn = String(Number(element.dataset.drawn || 0) + 1);
    },
    clear(text = "") {
      volume = null;
      status.textContent = text;
      for (const canvas of Object.values(canvases)) {
        canvas.width = 1;
        canvas.height = 1;
      }
    },
  };
}
