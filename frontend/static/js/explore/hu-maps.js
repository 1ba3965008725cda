// HU arrays drawn on canvases (pure helpers): a window to 8-bit grey as the server does it, the inverse of the
// full-range window (HU back from an 8-bit image, with its resolution), and a difference in HU as a diverging map
// (blue: lower, white: equal, red: higher) with a legend.

import { el } from "../ui.js";

/** HU -> grey 0..255 through window [width, level], rounded as the server's `window_to_uint8`. */
export function huToGrey(hu, [width, level]) {
  const g = Math.round((hu - (level - width / 2)) * (255 / width));
  return g < 0 ? 0 : g > 255 ? 255 : g;
}

/** HU of grey value `g` of a full-range image of a model with `huRange` [lo, hi]. */
export const greyToHu = (g, [lo, hi]) => lo + (g * (hi - lo)) / 255;

/** Half a grey level of the full-range window in HU: how far `greyToHu` may be from the true value. */
export const fullRangeResolution = ([lo, hi]) => (hi - lo) / 510;

function putPixels(canvas, size, rgbaAt) {
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i += 1) {
    const [r, g, b] = rgbaAt(i);
    image.data.set([r, g, b, 255], i * 4);
  }
  ctx.putImageData(image, 0, 0);
}

/** Draw `values` (size x size HU, row by row) through window [width, level]. */
export function drawHu(canvas, size, values, window) {
  putPixels(canvas, size, (i) => {
    const g = huToGrey(values[i], window);
    return [g, g, g];
  });
}

/** The diverging colour of `t` in [-1, 1]: blue below 0, white at 0, red above. */
export function divergingColour(t) {
  const s = Math.max(-1, Math.min(1, t));
  const [r, g, b] = s < 0 ? [33, 102, 172] : [178, 24, 43];
  const a = Math.abs(s);
  return [Math.round(255 + (r - 255) * a), Math.round(255 + (g - 255) * a), Math.round(255 + (b - 255) * a)];
}

const SCALE_QUANTILE = 0.98; // a few edge pixels (air against bone) would wash out every other difference

/**
 * A round HU scale for a difference map: the 98th percentile of |difference| rounded up to 1, 2 or 5 x 10^k (at
 * least 10 HU); the few larger differences are drawn at full colour.
 */
export function differenceScale(differences) {
  const sorted = Float64Array.from(differences, Math.abs).sort();
  const target = Math.max(10, sorted.length ? sorted[Math.floor((sorted.length - 1) * SCALE_QUANTILE)] : 0);
  const power = 10 ** Math.floor(Math.log10(target));
  return [1, 2, 5, 10].map((m) => m * power).find((v) => v >= target);
}

/** Draw `differences` (size x size HU) on `canvas`, ±`scale` HU at full colour. */
export function drawDifference(canvas, size, differences, scale) {
  putPixels(canvas, size, (i) => divergingColour(differences[i] / scale));
}

/** A colour legend for difference maps: `legend.element`, `legend.set(scale)` writes its HU labels. */
export function createDifferenceLegend(caption) {
  const bar = el("canvas", { class: "diff-legend-bar", width: 64, height: 1, "aria-hidden": "true" });
  const ctx = bar.getContext("2d");
  const image = ctx.createImageData(64, 1);
  for (let x = 0; x < 64; x += 1) image.data.set([...divergingColour((x / 63) * 2 - 1), 255], x * 4);
  ctx.putImageData(image, 0, 0);
  const low = el("span", {}, "");
  const high = el("span", {}, "");
  const element = el("div", { class: "diff-legend", title: "beyond the ends: full colour" },
    el("span", { class: "diff-legend-caption" }, `${caption}, HU`), low, bar, high);
  return {
    element,
    set(scale) {
      low.textContent = `−${scale}`;
      high.textContent = `+${scale}`;
      element.dataset.scale = String(scale);
    },
  };
}
