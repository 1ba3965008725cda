// "Compare with unshifted": beside the grid, the first sample at shift 0 (in the current window) and the difference
// shifted − unshifted in HU as a diverging map with its legend (both from the full-range images, see hu-probe.js).

import * as api from "../api.js";
import { el, showError } from "../ui.js";
import { createDifferenceLegend, differenceScale, drawDifference } from "./hu-maps.js";
import { renderBody, renderKey } from "./keys.js";

const UPDATE_DELAY_MS = 120; // a drag asks once it pauses, not for every step

/** `viewer` (the grid's region) gets the panel; `probe` (createHuProbe) gives HU images. Returns {element, sync, toggle}. */
export function createCompareUnshifted(viewer, probe) {
  const unshifted = el("canvas", { id: "explore-compare-unshifted", class: "compare-image", width: 1, height: 1, role: "img", "aria-label": "The first sample at shift 0" });
  const difference = el("canvas", { id: "explore-compare-difference", class: "compare-image", width: 1, height: 1, role: "img", "aria-label": "Shifted minus unshifted, in HU" });
  const caption = el("figcaption", {}, "Unshifted");
  const legend = createDifferenceLegend("shifted − unshifted");
  const element = el("div", { class: "compare-unshifted", id: "explore-compare", hidden: true },
    el("figure", {}, unshifted, caption),
    el("figure", {}, difference, el("figcaption", {}, "Difference"), legend.element));
  viewer.append(element);
  let on = false;
  let timer = null;
  let shownKey = "";

  async function update(state) {
    const seed = state.seed;
    const key = `${renderKey(state, seed)}`;
    if (key === shownKey) return;
    const noShift = {};
    const image = state.latent
      ? api.renderLatent(state.model, renderBody(state, noShift))
      : api.fetchImage(state.model, { seed, set: state.set, shifts: noShift, window: state.window });
    const [bitmap, before, after] = await Promise.all([
      image.then((blob) => createImageBitmap(blob)), probe.huImage(state, seed, noShift), probe.huImage(state, seed),
    ]);
    if (!on) return;
    unshifted.width = bitmap.width;
    unshifted.height = bitmap.height;
    unshifted.getContext("2d").drawImage(bitmap, 0, 0);
    const differences = after.hu.map((v, i) => v - before.hu[i]);
    const scale = differenceScale(differences);
    drawDifference(difference, after.width, differences, scale);
    legend.set(scale);
    caption.textContent = `${state.latent ? "Encoded slice" : `Seed ${seed}`} at shift 0`;
    shownKey = key;
    element.dataset.key = key; // what the panel shows (for tests)
  }

  /** Follow `state` (debounced) while the comparison is on. */
  function sync(state) {
    if (!on || !state.model || !state.set) return;
    window.clearTimeout(timer);
    timer = window.setTimeout(() => update(state).catch((error) => showError(error, "Compare with unshifted")), UPDATE_DELAY_MS);
  }

  function toggle(value, state) {
    on = value;
    element.hidden = !on;
    viewer.classList.toggle("is-comparing", on);
    shownKey = "";
    if (on) sync(state);
  }

  return { element, sync, toggle };
}
