// What the annotator looks through in Label: the HU window (Explore's preset buttons and custom W/L, no number keys
// here: digits choose terms), the first of the seeds shown (typed or random) and the shift range ±extent.

import { createWindowControls } from "../explore/window-controls.js";
import { snapShifts } from "../explore/keys.js";
import { getState, MAX_SEED, randomSeed, setState } from "../state.js";
import { el, showError } from "../ui.js";

export const LABEL_EXTENTS = [3, 6, 10, 15, 30];

function onSeedTyped(input) {
  const text = input.value.trim();
  if (!/^\d+$/.test(text) || Number(text) > MAX_SEED) {
    showError(new Error(`seed ${JSON.stringify(text)} is not allowed; use a whole number from 0 to ${MAX_SEED}`), "Seed");
    input.value = String(getState().seed);
    return;
  }
  setState({ seed: Number(text) });
}

/** els: {presets, windowForm, width, level, seed, random, extent}. Returns {sync(state, model)}. */
export function createViewControls(els) {
  const windows = createWindowControls({ presets: els.presets, form: els.windowForm, width: els.width, level: els.level });
  for (const button of els.presets.querySelectorAll("[aria-keyshortcuts]")) {
    button.removeAttribute("aria-keyshortcuts"); // in Label the digits choose terms
    button.title = button.title.replace(/ \(key \d\)$/, "");
  }
  els.extent.replaceChildren(...LABEL_EXTENTS.map((v) => el("option", { value: String(v) }, `±${v}`)));
  els.seed.addEventListener("change", () => onSeedTyped(els.seed));
  els.random.addEventListener("click", () => setState({ seed: randomSeed() }));
  els.extent.addEventListener("change", () => {
    const extent = Number(els.extent.value);
    setState({ extent, shifts: snapShifts(getState().shifts, extent) }); // Explore's sliders stay on their steps
  });

  function sync(state, model) {
    windows.sync(state, model);
    if (document.activeElement !== els.seed) els.seed.value = String(state.seed);
    if (![...els.extent.options].some((o) => Number(o.value) === state.extent)) {
      els.extent.append(el("option", { value: String(state.extent) }, `±${state.extent}`));
    }
    els.extent.value = String(state.extent);
  }

  return { sync };
}
