// Traversal strips large enough to judge, for Review and Compare: each frame shown at the chosen size (128, 192 or
// 256 CSS px, the `frame` state key) with its shift value under it (−6, −3, 0, +3, +6), optionally in reverse order
// (a matched direction that runs the other way). Plus the frame-size control both views put in their head.

import * as api from "../api.js";
import { FRAME_SIZES, setState } from "../state.js";
import { el, showError } from "../ui.js";

export const STRIP_STEPS = 5;

/** A shift as a caption: "−3", "0", "+1.5" (a real minus sign, at most two decimals). */
export function formatShift(value) {
  const rounded = Math.round(value * 100) / 100;
  if (rounded === 0) return "0";
  const text = String(Math.abs(rounded));
  return rounded > 0 ? `+${text}` : `−${text}`;
}

/** The frame values of a strip of `steps` frames over ±extent, when the server sent none. */
const evenValues = (extent, steps) => Array.from({ length: steps }, (_, i) => -extent + (2 * extent * i) / (steps - 1));

function fillCaptions(captions, values, reversed) {
  const shown = reversed ? [...values].reverse() : values;
  captions.replaceChildren(...shown.map((v) => el("span", { class: "frame-caption" }, formatShift(v))));
  captions.dataset.values = shown.map(formatShift).join(" ");
}

/** Draw the strip's frames onto `canvas`, last frame first when `reversed`. */
async function drawReversed(canvas, blob) {
  const bitmap = await createImageBitmap(blob);
  const size = bitmap.height;
  const count = Math.round(bitmap.width / size);
  canvas.width = bitmap.width;
  canvas.height = size;
  const ctx = canvas.getContext("2d");
  for (let f = 0; f < count; f += 1) ctx.drawImage(bitmap, (count - 1 - f) * size, 0, size, size, f * size, 0, size, size);
  bitmap.close();
}

function showBlob(image, blob) {
  const url = URL.createObjectURL(blob);
  image.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
  image.src = url;
}

/**
 * A strip of `params` (seed, set, direction, extent, window) as a figure: the frames at `frameSize` CSS px each, a
 * shift caption under every frame. `reversed` draws it last frame first (on a canvas). Returns the figure; its
 * dataset.ready is set once the frames are shown.
 */
export function framedStrip(model, params, { frameSize, label, signal, reversed = false }) {
  const steps = params.steps || STRIP_STEPS;
  const image = reversed
    ? el("canvas", { class: "strip", role: "img", "aria-label": label, width: 1, height: 1 })
    : el("img", { class: "strip", alt: label });
  const captions = el("div", { class: "frame-captions", "aria-label": `Shift of each frame of ${label}` });
  fillCaptions(captions, evenValues(params.extent, steps), reversed);
  const figure = el("figure", { class: "framed-strip", dataset: { steps: String(steps) } }, image, captions);
  figure.style.setProperty("--frame", `${frameSize}px`);
  figure.style.setProperty("--steps", String(steps));
  api.fetchTraversal(model, { ...params, steps }, signal).then(
    async ({ blob, values }) => {
      if (values.length === steps) fillCaptions(captions, values, reversed);
      if (reversed) await drawReversed(image, blob);
      else showBlob(image, blob);
      figure.dataset.ready = "true";
    },
    (error) => {
      image.replaceWith(el("span", { class: "strip-error" }, "strip unavailable"));
      showError(error, label);
    },
  );
  return figure;
}

/** A "Frame size" select (128/192/256 px) kept in the `frame` state key; returns {node, sync(state)}. */
export function createFrameSizeControl(id) {
  const select = el("select", { id },
    ...FRAME_SIZES.map((size) => el("option", { value: String(size) }, `${size} px`)));
  select.addEventListener("change", () => setState({ frame: Number(select.value) }));
  const node = el("label", { class: "field" }, "Frame size ", select);
  return { node, sync: (state) => { select.value = String(state.frame); } };
}

/** Show every framed strip under `root` at `frameSize` px a frame (no new fetch). */
export function resizeFrames(root, frameSize) {
  for (const figure of root.querySelectorAll(".framed-strip")) figure.style.setProperty("--frame", `${frameSize}px`);
}
