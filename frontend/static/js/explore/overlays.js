// Orientation markers and a scale bar on every cell of the Explore grid.
//
// Orientation: slices are shown in the radiological convention the training data used: the phantom
// (data/phantom.py) paints the patient's left on the image's right and posterior down the image, and DICOM/NIfTI
// ingest (data/ingest.py) reorders rows anterior -> posterior and columns patient right -> left. So the top is A,
// the bottom P, the viewer's left the patient's right (R), the viewer's right L.
// Scale: mm per pixel from the model (`pixel_spacing_mm` of GET /models: the phantom's 3.38 mm at 128 px, or what a
// real-data model's card records); a model without it gets no bar and a note saying why.

import { el } from "../ui.js";

const MARKERS = [
  ["top", "A", "anterior"], ["bottom", "P", "posterior"], ["left", "R", "patient's right"], ["right", "L", "patient's left"],
];
const BAR_LENGTHS_MM = [5, 10, 20, 50, 100, 200];
const BAR_MAX_FRACTION = 0.3; // of the cell's width

function decorate(figure) {
  if (figure.querySelector(".orient-marker")) return;
  for (const [side, letter, words] of MARKERS) {
    figure.append(el("span", { class: "orient-marker", dataset: { side }, title: words, "aria-hidden": "true" }, letter));
  }
  const line = el("div", { class: "scale-bar-line" });
  figure.append(el("div", { class: "scale-bar", "aria-hidden": "true" }, line, el("span", { class: "scale-bar-label" }, "")));
}

/** The longest round bar (mm) no wider than BAR_MAX_FRACTION of the cell, and its width in CSS px. */
export function scaleBar(mmPerPixel, imageSize, cellWidthPx, zoom) {
  const pxPerMm = (cellWidthPx / imageSize / mmPerPixel) * zoom;
  const fitting = BAR_LENGTHS_MM.filter((mm) => mm * pxPerMm <= cellWidthPx * BAR_MAX_FRACTION);
  const mm = fitting.length ? fitting[fitting.length - 1] : BAR_LENGTHS_MM[0];
  return { mm, widthPx: mm * pxPerMm };
}

/** Keeps markers and scale bars on the cells of `grid`; `note` says why a bar is missing. Returns {update(model, zoom)}. */
export function createOverlays(grid, note) {
  let last = { model: null, zoom: 1 };

  function update(model = last.model, zoom = last.zoom) {
    last = { model, zoom };
    grid.querySelectorAll("figure.cell").forEach(decorate);
    const spacing = model?.pixel_spacing_mm ?? null;
    note.textContent = model && !spacing
      ? `No scale bar: the card of ${model.id} records no pixel spacing.`
      : "";
    for (const figure of grid.querySelectorAll("figure.cell")) {
      const bar = figure.querySelector(".scale-bar");
      bar.hidden = !spacing;
      if (!spacing) continue;
      const { mm, widthPx } = scaleBar(spacing, model.image_size, figure.clientWidth, zoom);
      bar.querySelector(".scale-bar-line").style.width = `${widthPx.toFixed(1)}px`;
      bar.querySelector(".scale-bar-label").textContent = `${mm} mm`;
      bar.dataset.mm = String(mm);
      bar.dataset.widthPx = widthPx.toFixed(2);
    }
  }

  new MutationObserver(() => update()).observe(grid, { childList: true });
  new ResizeObserver(() => update()).observe(grid);
  return { update };
}
