// Explore's sample controls and toolbar: seed (typed or random), number of samples, slider range, reset, copy link.

import { flushUrl, getState, MAX_SEED, randomSeed, setState } from "../state.js";
import { copyText, el, notify, showError } from "../ui.js";
import { snapShifts } from "./keys.js";

function onSeedTyped(input) {
  const text = input.value.trim();
  const seed = Number(text);
  if (!/^\d+$/.test(text) || seed > MAX_SEED) {
    showError(new Error(`seed ${JSON.stringify(text)} is not allowed; use a whole number from 0 to ${MAX_SEED}`), "Seed");
    input.value = String(getState().seed);
    return;
  }
  setState({ seed });
}

function copyLink() {
  flushUrl();
  return copyText(window.location.href).then(() => notify("Link copied: it reproduces this view"), (e) => showError(e, "Copy link"));
}

/** els: {seed, random, samples, extent, reset, copyLink}. Returns {sync(state)}. */
export function createSampleControls(els) {
  els.seed.addEventListener("change", () => onSeedTyped(els.seed));
  els.random.addEventListener("click", () => setState({ seed: randomSeed() }));
  els.samples.addEventListener("change", () => setState({ samples: Number(els.samples.value) }));
  els.extent.addEventListener("change", () => {
    const extent = Number(els.extent.value);
    setState({ extent, shifts: snapShifts(getState().shifts, extent) });
  });
  els.reset.addEventListener("click", () => setState({ shifts: {} }));
  els.copyLink.addEventListener("click", copyLink);

  function sync(state) {
    if (document.activeElement !== els.seed) els.seed.value = String(state.seed);
    els.samples.value = String(state.samples);
    if (![...els.extent.options].some((o) => Number(o.value) === state.extent)) {
      els.extent.append(el("option", { value: String(state.extent) }, String(state.extent)));
    }
    els.extent.value = String(state.extent);
    for (const input of [els.samples, els.seed, els.random]) input.disabled = Boolean(state.latent); // one encoded slice
  }

  return { sync };
}
